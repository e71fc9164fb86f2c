import yaml from 'js-yaml';

/**
 * Where meshctl leans on how js-yaml parses, beyond the data `load()` returns: the node positions behind every
 * file:line, and the refusal of anchors and aliases before anything is expanded. Only documented API is used —
 * `load()` with its `listener` option and the typed `State` fields `input`, `position`, `kind` and `result` — but
 * what the listener reports, and when, is js-yaml's own behaviour, relied on here and nowhere else:
 *
 *   1. 'open' fires before the node's separating blanks and comments: the node starts at the first non-blank
 *      character after that position, with its properties (`!tag`, `&anchor`) or an alias (`*name`) first.
 *   2. 'close' fires with `position` just past the node's content (a plain scalar's trailing blanks may be
 *      included; an empty node ends where it starts), and with `kind`/`result` of that node.
 *   3. Events nest: a node's children open and close between its own two events.
 *   4. A mapping's children arrive key, value, key, value; a value may arrive wrapped in a node with the same
 *      start and kind (js-yaml tried it as a key first).
 *   5. An empty block sequence entry (`-` alone) parses to null without a node of its own.
 *   6. A YAMLException's `mark` counts lines and columns from 0; a key given twice is told apart only by the
 *      reason text 'duplicated mapping key', its mark on the second key's line.
 *
 * test/unit/inventory/yaml-internals.test.ts pins each one, so a js-yaml upgrade that changes them fails a test
 * instead of shifting line numbers or letting an anchor through.
 */

/** One node of the document, normalised: no wrappers, mapping entries paired, sequence items aligned. */
export interface YamlNode {
  /** Offset of the node's first character (its properties, when it has any). */
  start: number;
  /** Offset just past the node: a scalar is written at `source.slice(start, end)`, trailing blanks aside. */
  end: number;
  kind: string | null;
  result: unknown;
  /** A mapping's entries in source order (empty for other kinds). */
  entries: YamlEntry[];
  /** A sequence's items, one per element of `result`; undefined where js-yaml reported no node (empty `-`). */
  items: (YamlNode | undefined)[];
}

export interface YamlEntry {
  key: string;
  keyStart: number;
  value: YamlNode;
}

/** What loadWithNodes returns: the data as `yaml.load` gives it, and where each node of it is written. */
export interface NodedYaml {
  data: unknown;
  /** The document's top node; undefined when js-yaml reported none. */
  root: YamlNode | undefined;
}

/** Thrown from the parse listener to stop at the first anchor or alias, before anything is expanded. */
export class AliasRefused extends Error {
  constructor(
    readonly kind: 'anchor' | 'alias',
    readonly offset: number,
  ) {
    super(kind);
  }
}

/** A YAML syntax error in meshctl's terms: lines and columns from 1, a duplicated key told apart. */
export interface YamlSyntaxError {
  reason: string;
  line: number | undefined;
  column: number | undefined;
  /** The same key twice in one mapping; `line` is that of the second one. */
  duplicateKey: boolean;
}

/** `e` read as a YAML syntax error, or undefined when it is not one. */
export function syntaxErrorOf(e: unknown): YamlSyntaxError | undefined {
  if (!(e instanceof yaml.YAMLException)) return undefined;
  return {
    reason: e.reason,
    line: e.mark ? e.mark.line + 1 : undefined,
    column: e.mark ? e.mark.column + 1 : undefined,
    duplicateKey: e.reason === 'duplicated mapping key',
  };
}

/** A node as the listener reports it, before normalisation. */
interface RawNode {
  start: number;
  end: number;
  kind: string | null;
  result: unknown;
  children: RawNode[];
}

/**
 * `yaml.load(text)` plus the node tree of the document. Throws js-yaml's YAMLException on a syntax error, and
 * AliasRefused on the first anchor or alias.
 */
export function loadWithNodes(text: string): NodedYaml {
  const stack: { open: number; children: RawNode[] }[] = [{ open: 0, children: [] }];
  const data = yaml.load(text, {
    listener(event, state) {
      if (event === 'open') {
        stack.push({ open: state.position, children: [] });
        return;
      }
      const frame = stack.pop()!;
      const start = skipBlank(state.input, frame.open);
      if (hasAnchor(state.input, start, state.position)) throw new AliasRefused('anchor', start);
      if (state.input.charCodeAt(start) === 0x2a /* * */) throw new AliasRefused('alias', start);
      const node = {
        start,
        end: state.position,
        kind: state.kind,
        result: state.result,
        children: frame.children,
      };
      stack[stack.length - 1]!.children.push(node);
    },
  });
  // a single document reports one top-level node; should js-yaml report more, the last one is the document
  const top = stack[0]!.children.at(-1);
  return { data, root: top ? normalise(top) : undefined };
}

/** Skips spaces, line breaks and comments: js-yaml reports a node's opening before its separating blanks. */
function skipBlank(input: string, from: number): number {
  let p = from;
  while (p < input.length) {
    const c = input[p];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') p++;
    else if (c === '#') while (p < input.length && input[p] !== '\n') p++;
    else break;
  }
  return p;
}

/**
 * True when the node written from `start` to `end` has an `&anchor`: a node has at most a tag and an anchor, in
 * either order, before its content. An empty node (`key:` alone) ends where it starts, before the next line's text.
 */
function hasAnchor(input: string, start: number, end: number): boolean {
  let p = start;
  for (let property = 0; property < 2 && p < end; property++) {
    if (input[p] === '&') return true;
    if (input[p] !== '!') return false;
    p = afterTag(input, p);
    p = skipBlank(input, p);
  }
  return false;
}

/** Past the tag at `p`: a verbatim tag `!<…>` ends at its `>`, any other at the next blank (as js-yaml reads them). */
function afterTag(input: string, p: number): number {
  if (input[p + 1] === '<') {
    const close = input.indexOf('>', p);
    return close === -1 ? input.length : close + 1;
  }
  let q = p;
  while (q < input.length && !/\s/.test(input[q]!)) q++;
  return q;
}

function normalise(raw: RawNode): YamlNode {
  const { start, end, kind, result, children } = unwrap(raw);
  return {
    start,
    end,
    kind,
    result,
    entries: kind === 'mapping' && isPlainObject(result) ? pairEntries(children) : [],
    items: kind === 'sequence' && Array.isArray(result) ? alignItems(result, children) : [],
  };
}

/** Block and flow mappings report their children as key, value, key, value, … */
function pairEntries(children: RawNode[]): YamlEntry[] {
  const entries: YamlEntry[] = [];
  for (let i = 0; i + 1 < children.length; i += 2) {
    const key = unwrap(children[i]!);
    entries.push({ key: String(key.result), keyStart: key.start, value: normalise(children[i + 1]!) });
  }
  return entries;
}

/** One entry per parsed item: an empty block entry (`-` alone) parses to null without a node of its own. */
function alignItems(result: unknown[], children: RawNode[]): (YamlNode | undefined)[] {
  let c = 0;
  return result.map((item) => {
    const child = children[c];
    if (!child) return undefined;
    if (item === null && unwrap(child).result !== null) return undefined;
    c++;
    return normalise(child);
  });
}

/** js-yaml sometimes reports one value as nested nodes with the same start (a key candidate that had no `:`). */
function unwrap(node: RawNode): RawNode {
  let n = node;
  while (n.children.length === 1 && n.children[0]!.start === n.start && n.children[0]!.kind === n.kind) {
    n = n.children[0]!;
  }
  return n;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
