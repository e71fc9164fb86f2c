import { readFileSync } from 'node:fs';
import { runOk } from './run.js';

/** SSH keys made fresh for each lab with ssh-keygen (no passphrase: the lab is throw-away). */

/** Creates PATH and PATH.pub; returns the public key line. */
export async function generateKey(path: string, comment: string): Promise<string> {
  await runOk(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path], {
    fix: 'install openssh-client (test/lab/install-deps.sh does)',
  });
  return readFileSync(`${path}.pub`, 'utf8').trim();
}

/** One known_hosts line: `<address> <type> <key>` (the comment of the .pub line is dropped). */
export function knownHostsLine(address: string, publicKeyLine: string): string {
  const [type, key] = publicKeyLine.split(/\s+/);
  return `${address} ${type} ${key}`;
}
