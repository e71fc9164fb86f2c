import { UsageError } from '../errors.js';
import type { Inventory } from '../types.js';

/** Options every command receives (SPEC §5 globals). */
export interface GlobalOptions {
  inventory: string;
  limit?: string;
  forks: number;
  json: boolean;
  color: boolean;
  verbose: boolean;
}

/**
 * The LANs a command acts on: all of them, or those named by --limit. Unknown names are a usage error that
 * lists the LANs there are, so a typo never silently acts on nothing.
 */
export function selectLans(inventory: Inventory, limit: string | undefined): string[] {
  const all = inventory.lans.map((lan) => lan.name);
  if (limit === undefined || limit.trim() === '') return all;
  const wanted = [
    ...new Set(
      limit
        .split(',')
        .map((name) => name.trim())
        .filter(Boolean),
    ),
  ];
  const unknown = wanted.filter((name) => !all.includes(name));
  if (unknown.length > 0) {
    throw new UsageError(
      `--limit names ${unknown.map((n) => `"${n}"`).join(', ')}, not in the inventory ${inventory.dir}; LANs are: ${all.join(', ')}`,
    );
  }
  return all.filter((name) => wanted.includes(name));
}

/**
 * --forks must be a whole number of gateways, 1 or more. yargs turns a non-number into NaN, and a pool of NaN,
 * 0 or -1 workers runs nothing: the process would end with exit 0, no output and the lock left behind.
 */
export function checkForks(forks: number): void {
  if (Number.isInteger(forks) && forks >= 1) return;
  const got = Number.isNaN(forks) ? 'not a number' : String(forks);
  throw new UsageError(
    `--forks ${got}: it is how many gateways to work on at once, a whole number of 1 or more. Fix: pass --forks N with N ≥ 1, or leave it out (default 10)`,
  );
}
