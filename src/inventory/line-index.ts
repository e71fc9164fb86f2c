/**
 * Maps key paths of a parsed YAML document (`gateway.ssh.port`, `subnets[1]`) to the 1-based line where they are
 * written, so that every finding about a value present in a file can point at its line. The tree is built from
 * js-yaml's parse events (see yaml-source.ts); this module only interprets it.
 */

/** One node as reported by js-yaml's `listener`: where it starts and ends, what kind it is and what it parsed to. */
export interface ParsedNode {
  start: number;
  end: number;
  kind: string | null;
  result: unknown;
  children: ParsedNode[];
}

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
    root: ParsedNode | undefined,
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

  private record(path: string, at: number, value: ParsedNode | undefined): void {
    const entry: Entry = { line: this.lineAt(at) };
    if (value && value.kind === 'scalar') entry.raw = stripComment(this.source.slice(value.start, value.end));
    this.entries.set(path, entry);
  }

  private visit(node: ParsedNode, path: string): void {
    const n = unwrap(node);
    if (n.kind === 'mapping' && isPlainObject(n.result)) {
      // Block and flow mappings report their children as key, value, key, value, …
      for (let i = 0; i + 1 < n.children.length; i += 2) {
        const keyNode = unwrap(n.children[i]!);
        const valueNode = n.children[i + 1]!;
        const key = String(keyNode.result);
        if (!Object.hasOwn(n.result, key)) continue;
        const p = childPath(path, key);
        this.record(p, keyNode.start, unwrap(valueNode));
        this.visit(valueNode, p);
      }
    } else if (n.kind === 'sequence' && Array.isArray(n.result)) {
      let c = 0;
      n.result.forEach((item, i) => {
        const child = n.children[c];
        if (!child) return;
        const u = unwrap(child);
        // An empty block entry (`-` alone) parses to null without reporting a node of its own.
        if (item === null && u.result !== null) return;
        c++;
        const p = itemPath(path, i);
        this.record(p, u.start, u);
        this.visit(u, p);
      });
    }
  }
}

/** js-yaml sometimes reports one value as nested nodes with the same start (a key candidate that had no `:`). */
function unwrap(node: ParsedNode): ParsedNode {
  let n = node;
  while (n.children.length === 1 && n.children[0]!.start === n.start && n.children[0]!.kind === n.kind) {
    n = n.children[0]!;
  }
  return n;
}

function stripComment(text: string): string {
  return text.replace(/\s+#.*$/s, '').trim();
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
