import {
  isManagedPath,
  isManagedUnit,
  MANAGED_PATHS_RULE,
  MANAGED_UNITS_RULE,
  MANIFEST_PATH,
} from '../gateway/layout.js';
import type { Manifest } from '../types.js';

export { MANIFEST_PATH };

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** How to get past a manifest meshctl refuses, for messages. */
export const MANIFEST_FIX = `remove that entry from ${MANIFEST_PATH} or delete the file; meshctl then writes a fresh one`;

/**
 * Entries of a manifest that name something meshctl never creates (it would delete or stop them as stale), each
 * as `file PATH` or `unit NAME`. Only meshctl's own directories and names are allowed (gateway/layout.ts).
 */
export function foreignManifestEntries(manifest: Manifest): string[] {
  return [
    ...Object.keys(manifest.files)
      .filter((path) => !isManagedPath(path))
      .map((path) => `file ${JSON.stringify(path)}`),
    ...manifest.units.filter((unit) => !isManagedUnit(unit)).map((unit) => `unit ${JSON.stringify(unit)}`),
  ];
}

/** Why foreign entries are refused, in one sentence naming the first. */
export function foreignEntriesProblem(entries: string[]): string {
  const more = entries.length > 1 ? ` (and ${entries.length - 1} more)` : '';
  return (
    `it lists ${entries[0]}${more}, which meshctl never creates: it only manages ${MANAGED_PATHS_RULE}, and ` +
    `the units ${MANAGED_UNITS_RULE}`
  );
}

/**
 * A manifest meshctl may act on (remove-lan's cleanup): well-formed, and naming only meshctl's own paths and
 * units, since everything it lists gets deleted or stopped. Returns the reason when it is refused.
 */
export function parseManifest(text: string): { manifest: Manifest } | { problem: string } {
  const read = readManifest(text);
  if ('problem' in read) return read;
  const foreign = foreignManifestEntries(read.manifest);
  if (foreign.length > 0) return { problem: `${foreignEntriesProblem(foreign)}. Fix: ${MANIFEST_FIX}` };
  return read;
}

/**
 * Parse a gateway's manifest, checking every field: a manifest decides which files meshctl may delete, so a
 * half-valid one is treated as no manifest at all. Returns the reason when it is rejected. It does not judge the
 * entries (see foreignManifestEntries): the planner refuses a gateway whose manifest names foreign ones.
 */
export function readManifest(text: string): { manifest: Manifest } | { problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { problem: `it is not valid JSON (${(error as Error).message})` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { problem: 'it is not a JSON object' };
  }
  const record = value as Record<string, unknown>;
  for (const key of ['mesh', 'version', 'lan'] as const) {
    if (typeof record[key] !== 'string' || record[key] === '') {
      return { problem: `its "${key}" is ${JSON.stringify(record[key])}, not a non-empty string` };
    }
  }
  const files = record.files;
  if (typeof files !== 'object' || files === null || Array.isArray(files)) {
    return { problem: 'its "files" is not an object of path → sha256' };
  }
  for (const [path, sha] of Object.entries(files)) {
    if (!path.startsWith('/'))
      return { problem: `its "files" lists ${JSON.stringify(path)}, not an absolute path` };
    if (typeof sha !== 'string' || !SHA256_HEX.test(sha)) {
      return { problem: `its "files" entry ${path} has ${JSON.stringify(sha)}, not a sha256 hex string` };
    }
  }
  const units = record.units;
  if (!Array.isArray(units) || units.some((unit) => typeof unit !== 'string')) {
    return { problem: 'its "units" is not an array of unit names' };
  }
  return {
    manifest: {
      mesh: record.mesh as string,
      version: record.version as string,
      lan: record.lan as string,
      files: { ...(files as Record<string, string>) },
      units: [...(units as string[])],
    },
  };
}
