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
