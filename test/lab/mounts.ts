import { readFileSync } from 'node:fs';
import { run } from './run.js';

/** Mount points at or below `dir` in this process's mount namespace, deepest first. */
export function mountsUnder(dir: string): string[] {
  const root = dir.replace(/\/+$/, '');
  const points: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const field = line.split(' ')[4];
    if (!field) continue;
    // mountinfo escapes space, tab, newline and backslash as octal
    const point = field.replace(/\\([0-7]{3})/g, (_, octal: string) =>
      String.fromCharCode(Number.parseInt(octal, 8)),
    );
    if (point === root || point.startsWith(`${root}/`)) points.push(point);
  }
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/**
 * Lazily unmounts everything at or below `dir` (e.g. the /proc an interrupted debootstrap left in its target),
 * so that a later recursive delete can never reach into a mounted file system.
 */
export async function unmountUnder(dir: string): Promise<void> {
  for (const point of mountsUnder(dir)) await run(['umount', '-l', point]);
}

/** Deletes a directory tree without crossing into any other file system, after unmounting what is below it. */
export async function removeTree(dir: string): Promise<void> {
  await unmountUnder(dir);
  await run(['rm', '-rf', '--one-file-system', '--', dir]);
}
