import { LAN_NAME_PATTERN } from '../gateway/layout.js';

/** Mesh and LAN names end up in file names, systemd unit names and certificate CNs: keep them boring. */
export const NAME_PATTERN = LAN_NAME_PATTERN;

export const NAME_RULE =
  'it becomes a file name, a systemd unit name and a certificate CN, so it may hold only lowercase letters, digits ' +
  'and "-", must start with a letter or digit and be at most 31 characters (no dots, slashes, spaces or shell characters)';

/**
 * Names a gateway cannot take although they follow the rule: its key and certificate files are named after it, in
 * the same directories as the mesh CA's (`ca.crt`, `ca.key`) and the pairs' tls-crypt keys (`pair-<k>.key`), on
 * the gateway and in pki_dir. A gateway called `ca` would overwrite the CA.
 */
export function reservedName(name: string): string | null {
  if (name === 'ca') return "the mesh CA's files are ca.crt and ca.key";
  if (/^pair-\d+$/.test(name)) return "the pairs' tls-crypt keys are pair-<k>.key";
  return null;
}

/** A name that follows the rule and resembles the bad one, for the fix. */
export function suggestName(bad: string): string {
  const cleaned = bad
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 31)
    .replace(/-+$/, '');
  return cleaned === '' ? 'site-1' : cleaned;
}
