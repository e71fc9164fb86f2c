import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { sha256 } from './hash.js';

/** One entry of a directory tree as lstat sees it (links are not followed), a file's content by its hash. */
export interface TreeEntry {
  kind: 'dir' | 'file' | 'link' | 'other';
  /** Permission bits only. */
  mode: number;
  size: number;
  mtimeNs: bigint;
  /** Files only. */
  sha256?: string;
}

/**
 * Every entry under `dir`, by path relative to it ('.' for `dir` itself): two snapshots are equal only when
 * nothing was created, removed, rewritten, re-permissioned or touched in between.
 */
export function treeSnapshot(dir: string): Map<string, TreeEntry> {
  const entries = new Map<string, TreeEntry>();
  const walk = (relative: string) => {
    const full = path.join(dir, relative);
    const entry = entryOf(full);
    entries.set(relative === '' ? '.' : relative, entry);
    if (entry.kind === 'dir') for (const name of readdirSync(full).sort()) walk(path.join(relative, name));
  };
  walk('');
  return entries;
}

/**
 * The files under `dir` (relative path → sha256 of the content): what a command wrote, regardless of file times
 * and directories, for tests that expect some files to be added and every other one to keep its bytes.
 */
export function fileHashes(dir: string): Record<string, string> {
  const hashes: Record<string, string> = {};
  for (const [relative, entry] of treeSnapshot(dir))
    if (entry.sha256 !== undefined) hashes[relative] = entry.sha256;
  return hashes;
}

function entryOf(full: string): TreeEntry {
  const st = lstatSync(full, { bigint: true });
  const kind = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'link' : 'other';
  const entry: TreeEntry = {
    kind,
    mode: Number(st.mode & 0o7777n),
    size: Number(st.size),
    mtimeNs: st.mtimeNs,
  };
  if (kind === 'file') entry.sha256 = sha256(readFileSync(full));
  return entry;
}
