export { ProbeOutputError } from './errors.js';
export { MANIFEST_PATH, parseManifest } from './manifest.js';
export {
  FETCH_OLD_SCRIPT,
  fetchOldContentsCommand,
  parseOldContents,
  pathsToFetch,
  readOldContents,
} from './old-contents.js';
export { FIREWALL_CHAIN_PREFIX, PROBE_FORMAT, parseFacts } from './parse.js';
export { PROBE_SCRIPT, probeCommand } from './probe.js';
export type { Facts, FileFact, FirewallFacts, OsFacts, OsFamily, PackageManager, UnitFact } from './types.js';
