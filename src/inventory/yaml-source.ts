import { readFileSync, statSync } from 'node:fs';
import type { FileFindings } from './findings.js';
import { LineIndex } from './line-index.js';
import { AliasRefused, loadWithNodes, type NodedYaml, syntaxErrorOf } from './yaml-internals.js';

/**
 * Reads one inventory YAML file defensively: size limit before reading, strict UTF-8, no anchors or aliases, and a
 * line index of every key. Problems are reported to `findings`; the result is undefined when the file is unusable.
 */

/** Inventory files are a few hundred bytes; anything this large is a mistake or an attack. */
export const MAX_INVENTORY_FILE_BYTES = 1024 * 1024;

export interface YamlDocument {
  data: unknown;
  lines: LineIndex;
}

export function readYamlFile(absolutePath: string, findings: FileFindings): YamlDocument | undefined {
  const size = statSync(absolutePath).size;
  if (size > MAX_INVENTORY_FILE_BYTES) {
    findings.error(
      '',
      size,
      `file is ${size} bytes, larger than the ${MAX_INVENTORY_FILE_BYTES}-byte limit for inventory files (not parsed)`,
      'an inventory file holds a few settings; check that this is the file you meant and shrink it below 1 MiB',
    );
    return undefined;
  }
  const text = decodeUtf8(readFileSync(absolutePath), findings);
  return text === undefined ? undefined : parseYaml(text, findings);
}

/** Parses YAML text; exported for tests and for files that are not on disk yet. */
export function parseYaml(text: string, findings: FileFindings): YamlDocument | undefined {
  let parsed: NodedYaml;
  try {
    parsed = loadWithNodes(text);
  } catch (e) {
    reportParseFailure(e, text, findings);
    return undefined;
  }
  return { data: parsed.data, lines: new LineIndex(text, parsed.root) };
}

function reportParseFailure(e: unknown, text: string, findings: FileFindings): void {
  if (e instanceof AliasRefused) {
    const line = new LineIndex(text, undefined).lineAt(e.offset);
    const sign = e.kind === 'anchor' ? '&' : '*';
    findings.errorAtLine(
      line,
      '',
      text.slice(e.offset, e.offset + 40).split(/\s/)[0],
      `YAML ${e.kind}s (${sign}name) are refused in inventory files: aliases can expand a small file into a huge document`,
      `write the value out in full at line ${line} instead of using anchors and aliases`,
    );
    return;
  }
  const syntax = syntaxErrorOf(e);
  if (syntax) {
    const { line, column, duplicateKey } = syntax;
    const key = duplicateKey && line !== undefined ? keyOnLine(text, line) : undefined;
    findings.errorAtLine(
      line,
      '',
      key,
      duplicateKey
        ? `key ${JSON.stringify(key)} is given twice in the same mapping`
        : `YAML syntax error: ${syntax.reason}`,
      duplicateKey
        ? `keep one ${JSON.stringify(key)} at line ${line} and delete the other`
        : `fix the YAML at line ${line}, column ${column} (check indentation, colons and brackets)`,
    );
    return;
  }
  throw e;
}

/** Strict UTF-8: a stray Latin-1 byte would otherwise become U+FFFD inside a name or address. */
function decodeUtf8(bytes: Buffer, findings: FileFindings): string | undefined {
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  } catch {
    const offset = firstInvalidUtf8(bytes);
    const line = bytes.subarray(0, offset).filter((b) => b === 10).length + 1;
    findings.errorAtLine(
      line,
      '',
      `0x${bytes[offset]?.toString(16).padStart(2, '0')}`,
      `byte 0x${bytes[offset]?.toString(16).padStart(2, '0')} at offset ${offset} (line ${line}) is not valid UTF-8`,
      'save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)',
    );
    return undefined;
  }
}

function firstInvalidUtf8(bytes: Buffer): number {
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i]!;
    const length =
      b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    if (length === 0) return i;
    for (let j = 1; j < length; j++) if (((bytes[i + j] ?? 0) & 0xc0) !== 0x80) return i;
    i += length;
  }
  return 0;
}

function keyOnLine(text: string, line: number): string | undefined {
  const source = text.split('\n')[line - 1] ?? '';
  const match = /^\s*(?:-\s+)?["']?([^"':#]+?)["']?\s*:/.exec(source);
  return match?.[1];
}
