/**
 * Maps key paths of a parsed YAML document (`gateway.ssh.port`, `subnets[1]`) to the 1-based line where they are
 * written, so that every finding about a value present in a file can point at its line. The node tree comes from
 * yaml-internals.ts, which alone knows how js-yaml reports nodes; this module only walks it.
 */

import type { YamlNode } from './yaml-internals.js';

interface Entry {
  line: number;
  /** Source text of a scalar value, e.g. `1.0` where the parsed value is just 1. */
  raw?: string;
}

/** Appends a mapping key to a dotted path. */
export function childPath(parent: string, key: string): string {
  return parent === '' ? key : `${parent}.${key}`;
}

export function itemPath(parent: string, index: number): string {
  return `${parent}[${index}]`;
}

function parentOf(path: string): string | undefined {
  const match = /(\.[^.[\]]+|\[\d+\])$/.exec(path);
  if (match) return path.slice(0, match.index);
  return path === '' ? undefined : '';
}

export class LineIndex {
  private readonly entries = new Map<string, Entry>();
  private readonly lineStarts: number[] = [0];

  constructor(
    private readonly source: string,
    root: YamlNode | undefined,
  ) {
    for (let i = 0; i < source.length; i++) if (source.charCodeAt(i) === 10) this.lineStarts.push(i + 1);
    // An empty document parses to null: there is no line to point at.
    if (root && root.result !== null && root.result !== undefined) {
      this.entries.set('', { line: this.lineAt(root.start) });
      this.visit(root, '');
    }
  }

  /** The line of `path`, or of its nearest ancestor present in the file (a missing key points at its parent). */
  lineOf(path: string): number | undefined {
    for (let p: string | undefined = path; p !== undefined; p = parentOf(p)) {
      const entry = this.entries.get(p);
      if (entry) return p === '' && path !== '' ? undefined : entry.line;
    }
    return undefined;
  }

  /** True when the key or item at `path` is written in the file. */
  has(path: string): boolean {
    return this.entries.has(path);
  }

  /** The source text of the scalar at `path`, as written. */
  rawOf(path: string): string | undefined {
    return this.entries.get(path)?.raw;
  }

  /** 1-based line of a character offset. */
  lineAt(offset: number): number {
    let low = 0;
    let high = this.lineStarts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (this.lineStarts[mid]! <= offset) low = mid;
      else high = mid - 1;
    }
    return low + 1;
  }

  private record(path: string, at: number, value: YamlNode | undefined): void {
    const entry: Entry = { line: this.lineAt(at) };
    if (value && value.kind === 'scalar') entry.raw = stripComment(this.source.slice(value.start, value.end));
    this.entries.set(path, entry);
  }

  private visit(node: YamlNode, path: string): void {
    for (const { key, keyStart, value } of node.entries) {
      // a key that did not make it into the data (a merge key `<<`) has no path of its own
      if (!Object.hasOwn(node.result as object, key)) continue;
      const p = childPath(path, key);
      this.record(p, keyStart, value);
      this.visit(value, p);
    }
    node.items.forEach((item, i) => {
      if (!item) return;
      const p = itemPath(path, i);
      this.record(p, item.start, item);
      this.visit(item, p);
    });
  }
}

function stripComment(text: string): string {
  return text.replace(/\s+#.*$/s, '').trim();
}
