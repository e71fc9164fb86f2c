/** Pure builders of the host-key refusal messages: what was presented, what was expected, and the exact fix. */
import { HostKeyError } from '../errors.js';
import { fingerprint, type KnownHostEntry, knownHostName } from './known-hosts.js';
import { quote } from './quote.js';

export interface PresentedHostKey {
  /** The LAN name, for messages. */
  name: string;
  host: string;
  port: number;
  knownHostsFile: string;
  keyType: string;
  keyBlob: Buffer;
}

/** `ssh-keyscan -t` takes short type names. */
function keyscanType(keyType: string): string {
  if (keyType === 'ssh-ed25519') return 'ed25519';
  if (keyType.startsWith('ecdsa-sha2-')) return 'ecdsa';
  if (keyType === 'ssh-rsa') return 'rsa';
  return keyType;
}

/** A shell word for a fix the operator will paste. */
function shellWord(word: string): string {
  return quote([word]);
}

function where(key: PresentedHostKey): string {
  return `${key.name}: host key of ${key.host} port ${key.port}`;
}

function presented(key: PresentedHostKey): string {
  return `${key.keyType} ${fingerprint(key.keyBlob)}`;
}

export function unknownHostKeyError(
  key: PresentedHostKey,
  ignoredCertAuthorities: KnownHostEntry[],
): HostKeyError {
  const caNote =
    ignoredCertAuthorities.length > 0
      ? ` (${key.knownHostsFile}:${ignoredCertAuthorities.map((entry) => entry.line).join(',')} ` +
        '@cert-authority line(s) match this host, but host certificates are not supported: add the host key itself)'
      : '';
  const keyscan =
    `ssh-keyscan -p ${key.port} -t ${keyscanType(key.keyType)} ${shellWord(key.host)} ` +
    `>> ${shellWord(key.knownHostsFile)}`;
  return new HostKeyError(
    key.host,
    'unknown',
    `${where(key)} is not known: ${presented(key)} is not in ${key.knownHostsFile}${caNote}. ` +
      `Fix: verify that fingerprint out of band (on the gateway: ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), ` +
      `then re-run with --accept-new, or add it with \`${keyscan}\` after checking it.`,
  );
}

export function changedHostKeyError(key: PresentedHostKey, recorded: KnownHostEntry[]): HostKeyError {
  const sameType = recorded.filter((entry) => entry.keyType === key.keyType);
  const shown = sameType.length > 0 ? sameType : recorded;
  const expected = shown
    .map((entry) => `${entry.keyType} ${fingerprint(entry.keyBlob)} (${key.knownHostsFile}:${entry.line})`)
    .join(', ');
  const typeNote =
    sameType.length > 0
      ? ''
      : ` (the server no longer offers the recorded key type, which is just as suspicious)`;
  const removal = `ssh-keygen -R ${shellWord(knownHostName(key.host, key.port))} -f ${shellWord(key.knownHostsFile)}`;
  return new HostKeyError(
    key.host,
    'changed',
    `${where(key)} CHANGED: expected ${expected}, the server presented ${presented(key)}${typeNote}. ` +
      'This may be an attack (someone in the middle) or a reinstalled gateway; it is refused, even with ' +
      `--accept-new. Fix: verify the new fingerprint out of band, then remove the old entry with \`${removal}\` ` +
      `(or edit ${key.knownHostsFile}:${shown.map((entry) => entry.line).join(',')}) and re-run with --accept-new.`,
  );
}

export function revokedHostKeyError(key: PresentedHostKey, revoked: KnownHostEntry[]): HostKeyError {
  const lines = revoked.map((entry) => `${key.knownHostsFile}:${entry.line}`).join(', ');
  return new HostKeyError(
    key.host,
    'revoked',
    `${where(key)} is REVOKED: ${presented(key)} is marked @revoked at ${lines}; the connection is refused. ` +
      'Fix: give the gateway a new host key, verify its fingerprint out of band and record it.',
  );
}
