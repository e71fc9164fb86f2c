import { spawnSync } from 'node:child_process';
import { lstat, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

/** A fresh temporary directory; the PKI goes in `<root>/pki` so the test also covers its creation. */
export async function tempRoot(): Promise<{ root: string; pki: string; cleanup: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'meshctl-pki-'));
  return { root, pki: join(root, 'pki'), cleanup: () => rm(root, { recursive: true, force: true }) };
}

export interface Entry {
  kind: 'dir' | 'file';
  mode: number;
  mtimeMs: number;
  content?: string;
}

/** Every entry under `dir` (relative path → kind, permission bits, mtime, content) to prove nothing changed. */
export async function treeSnapshot(dir: string): Promise<Map<string, Entry>> {
  const entries = new Map<string, Entry>();
  const walk = async (current: string) => {
    const info = await lstat(current);
    const key = relative(dir, current) || '.';
    if (info.isDirectory()) {
      entries.set(key, { kind: 'dir', mode: info.mode & 0o7777, mtimeMs: info.mtimeMs });
      for (const name of (await readdir(current)).sort()) await walk(join(current, name));
    } else {
      entries.set(key, {
        kind: 'file',
        mode: info.mode & 0o7777,
        mtimeMs: info.mtimeMs,
        content: await readFile(current, 'utf8'),
      });
    }
  };
  await walk(dir);
  return entries;
}

export function run(command: string, args: string[], input?: string): { status: number | null; out: string } {
  const result = spawnSync(command, args, { encoding: 'utf8', input, timeout: 30_000 });
  if (result.error) throw result.error;
  return { status: result.status, out: `${result.stdout}${result.stderr}` };
}

/** Base64 body lines of every PEM private key under `dir`: no error message may contain any of them. */
export async function secretLines(dir: string): Promise<string[]> {
  const lines: string[] = [];
  for (const [path, entry] of await treeSnapshot(dir)) {
    if (entry.kind !== 'file' || !(path.startsWith('private/') || path.startsWith('tls-crypt/'))) continue;
    for (const line of entry.content!.split('\n')) {
      if (line.length >= 16 && !line.startsWith('-----') && !line.startsWith('#')) lines.push(line);
    }
  }
  return lines;
}
