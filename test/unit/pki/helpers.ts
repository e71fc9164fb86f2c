import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { treeSnapshot } from '../../helpers/snapshot.js';

/** A fresh temporary directory; the PKI goes in `<root>/pki` so the test also covers its creation. */
export async function tempRoot(): Promise<{ root: string; pki: string; cleanup: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'meshctl-pki-'));
  return { root, pki: join(root, 'pki'), cleanup: () => rm(root, { recursive: true, force: true }) };
}

export function run(command: string, args: string[], input?: string): { status: number | null; out: string } {
  const result = spawnSync(command, args, { encoding: 'utf8', input, timeout: 30_000 });
  if (result.error) throw result.error;
  return { status: result.status, out: `${result.stdout}${result.stderr}` };
}

/** Base64 body lines of every PEM private key under `dir`: no error message may contain any of them. */
export async function secretLines(dir: string): Promise<string[]> {
  const lines: string[] = [];
  for (const [path, entry] of treeSnapshot(dir)) {
    if (entry.kind !== 'file' || !(path.startsWith('private/') || path.startsWith('tls-crypt/'))) continue;
    for (const line of (await readFile(join(dir, path), 'utf8')).split('\n')) {
      if (line.length >= 16 && !line.startsWith('-----') && !line.startsWith('#')) lines.push(line);
    }
  }
  return lines;
}
