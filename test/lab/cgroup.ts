import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * One cgroup per gateway: systemd inside a container fails its units (status=219/CGROUP) when all containers
 * share one. On a hybrid machine the booting shell must move in both the name=systemd v1 and the unified
 * hierarchy; on a pure v2 machine the unified one is the root.
 */

const ROOT = '/sys/fs/cgroup';

export function hierarchies(): string[] {
  if (existsSync(join(ROOT, 'cgroup.controllers'))) return [ROOT];
  const found = ['systemd', 'unified']
    .map((h) => join(ROOT, h))
    .filter((h) => existsSync(join(h, 'cgroup.procs')));
  return found;
}

/** Creates `<hierarchy>/<parent>/<leaf>` in each hierarchy; returns the leaf directories. */
export function createCgroups(parent: string, leaf: string): string[] {
  return hierarchies().map((h) => {
    const dir = join(h, parent, leaf);
    mkdirSync(dir, { recursive: true });
    return dir;
  });
}

/** The PIDs in a cgroup and every cgroup below it. */
export function processesIn(dir: string): number[] {
  if (!existsSync(dir)) return [];
  const pids: number[] = [];
  try {
    pids.push(...readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number));
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) pids.push(...processesIn(join(dir, entry.name)));
    }
  } catch {
    // the cgroup vanished while we read it
  }
  return pids;
}

/** rmdir depth-first (cgroup directories cannot be removed recursively, and only when empty). */
export function removeCgroup(dir: string): void {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) removeCgroup(join(dir, entry.name));
  }
  rmdirSync(dir);
}

/** Moves a process into a cgroup (used by tests; the boot script does the same in shell). */
export function moveInto(dir: string, pid: number): void {
  writeFileSync(join(dir, 'cgroup.procs'), String(pid));
}
