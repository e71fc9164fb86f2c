import type { Manifest } from '../types.js';

/** Where meshctl records what it owns on a gateway (SPEC §3). */
export const MANIFEST_PATH = '/etc/meshctl/manifest.json';

const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * Parse a gateway's manifest, checking every field: a manifest decides which files meshctl may delete, so a
 * half-valid one is treated as no manifest at all. Returns the reason when it is rejected.
 */
export function parseManifest(text: string): { manifest: Manifest } | { problem: string } {
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
