import type { Manifest } from '../types.js';

/** Why the gateway's manifest must be rewritten, or null when it already says what meshctl would write. */
export function manifestDifference(wanted: Manifest, actual: Manifest | null): string | null {
  if (actual === null) return 'the gateway has no usable meshctl manifest yet';
  const reasons: string[] = [];
  if (actual.version !== wanted.version) {
    reasons.push(`the manifest was written by meshctl ${actual.version}, this is ${wanted.version}`);
  }
  const paths = new Set([...Object.keys(wanted.files), ...Object.keys(actual.files)]);
  const differing = [...paths].filter((path) => wanted.files[path] !== actual.files[path]).length;
  if (differing > 0) reasons.push(`the manifest records ${differing} path(s) differently`);
  const units = (list: string[]) => [...new Set(list)].sort().join('\n');
  if (units(wanted.units) !== units(actual.units)) reasons.push('the manifest lists other units');
  return reasons.length > 0 ? reasons.join('; ') : null;
}
