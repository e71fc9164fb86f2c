export { ProbeOutputError } from './errors.js';
export {
  foreignEntriesProblem,
  foreignManifestEntries,
  MANIFEST_FIX,
  MANIFEST_PATH,
  parseManifest,
  readManifest,
} from './manifest.js';
export {
  FETCH_OLD_SCRIPT,
  fetchOldContentsCommand,
  parseOldContents,
  pathsToFetch,
  readOldContents,
} from './old-contents.js';
export { PROBE_FORMAT, parseFacts } from './parse.js';
export { PROBE_SCRIPT, probeCommand, probeSettings } from './probe.js';
export type { Facts, FileFact, FirewallFacts, OsFacts, OsFamily, PackageManager, UnitFact } from './types.js';
