import { isDeepStrictEqual } from 'node:util';
import yaml from 'js-yaml';

/**
 * remove-lan records the removed LAN's id in mesh.yml `retired_ids` with the smallest textual edit that does it,
 * so the operator's comments, order, quoting and blank lines keep their bytes: an id is added inside an existing
 * flow list (`[3, 5]` → `[3, 5, 7]`), as one more item line of a block list (same indentation and dash), after
 * the colon of an empty key, or as a new `retired_ids: [7]` key at the end. The result is parsed back and must
 * differ from the original in exactly that id; anything else is refused, never written. Pure.
 */

export class RetireEditError extends Error {}

const KEY_LINE = /^(["']?)retired_ids\1[ \t]*:/;

/** `text` with `id` added to retired_ids (unchanged when it is there already). Throws RetireEditError. */
export function retireIdText(text: string, id: number): string {
  const before = parseMesh(text);
  const current = retiredOf(before);
  if (current.includes(id)) return text;
  const edited = insertId(text, id);
  const after = parseMesh(edited);
  const expected = { ...before, retired_ids: [...current, id] };
  if (!isDeepStrictEqual(after, expected)) {
    throw new RetireEditError(
      `adding ${id} to retired_ids by a minimal edit would change more than retired_ids (unusual formatting of the list)`,
    );
  }
  return edited;
}

function parseMesh(text: string): Record<string, unknown> {
  let data: unknown;
  try {
    data = yaml.load(text);
  } catch (error) {
    throw new RetireEditError(`mesh.yml is not valid YAML (${(error as Error).message.split('\n')[0]})`);
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) throw new RetireEditError('mesh.yml is not a mapping');
  return data as Record<string, unknown>;
}

function retiredOf(data: Record<string, unknown>): number[] {
  const value = data.retired_ids;
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new RetireEditError('retired_ids in mesh.yml is not a list');
  return value as number[];
}

function insertId(text: string, id: number): string {
  const lines = text.split('\n');
  const keyIndex = lines.findIndex((line) => KEY_LINE.test(line));
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  if (keyIndex === -1) {
    const separator = text === '' || text.endsWith('\n') ? '' : eol;
    return `${text}${separator}# LAN ids of removed LANs: never given out again (meshctl remove-lan appends)${eol}retired_ids: [${id}]${eol}`;
  }
  const keyLine = lines[keyIndex]!;
  const colon = KEY_LINE.exec(keyLine)![0].length;
  const value = stripComment(keyLine.slice(colon)).trim();
  if (value.startsWith('[')) {
    const offset = lines.slice(0, keyIndex).reduce((sum, line) => sum + line.length + 1, 0) + colon;
    return insertIntoFlowList(text, offset, id);
  }
  if (value !== '') throw new RetireEditError(`retired_ids holds ${JSON.stringify(value)}, not a list`);
  const items = blockItems(lines, keyIndex);
  if (items.length === 0) {
    // `retired_ids:` with nothing after it (null): the list goes right after the colon
    lines[keyIndex] = `${keyLine.slice(0, colon)} [${id}]${keyLine.slice(colon)}`;
    return lines.join('\n');
  }
  const last = items[items.length - 1]!;
  const lastLine = lines[last]!;
  const dash = /^([ \t]*-[ \t]+)/.exec(lastLine)![1]!;
  const cr = lastLine.endsWith('\r') ? '\r' : '';
  lines.splice(last + 1, 0, `${dash}${id}${cr}`);
  // the item was the file's last line without a newline: it gets one now, the new last line has none, as before
  return lines.join('\n');
}

/** The line without a trailing `# comment` (a `#` after whitespace, or at the start). */
function stripComment(line: string): string {
  const match = /(^|[ \t])#/.exec(line);
  return match ? line.slice(0, match.index) : line;
}

/** Line indices of the block-sequence items under the key at `keyIndex` (blank and comment lines skipped). */
function blockItems(lines: string[], keyIndex: number): number[] {
  const items: number[] = [];
  for (let i = keyIndex + 1; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    if (line.trim() === '' || line.trim().startsWith('#')) continue;
    if (/^[ \t]*-([ \t]|$)/.test(line)) items.push(i);
    else break;
  }
  return items;
}

/** Inserts `id` before the `]` that closes the flow list starting after `from` (comments skipped). */
function insertIntoFlowList(text: string, from: number, id: number): string {
  let inComment = false;
  let open = -1;
  for (let i = from; i < text.length; i++) {
    const c = text[i]!;
    if (inComment) {
      if (c === '\n') inComment = false;
      continue;
    }
    if (c === '#' && (i === 0 || /\s/.test(text[i - 1]!))) inComment = true;
    else if (c === '[') {
      if (open !== -1) throw new RetireEditError('retired_ids is a nested list');
      open = i;
    } else if (c === ']') {
      const inner = text.slice(open + 1, i);
      const content = inner.split('\n').map(stripComment).join('\n');
      if (content.trim() === '') return `${text.slice(0, open + 1)}${id}${text.slice(open + 1)}`;
      // after the last item, in the style of the list's own separators
      let end = i;
      while (/\s/.test(text[end - 1]!)) end--;
      const separator = /,\S/.test(content) && !/, /.test(content) ? ',' : ', ';
      return `${text.slice(0, end)}${separator}${id}${text.slice(end)}`;
    }
  }
  throw new RetireEditError('the flow list of retired_ids has no closing "]"');
}
