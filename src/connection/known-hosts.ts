/**
 * OpenSSH known_hosts: parsing, host matching and key verification (pure), plus the one writer used by
 * --accept-new. Follows sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT" and OpenSSH's hostfile.c/match.c behaviour.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { mkdir, open, readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

export type HostKeyMarker = 'revoked' | 'cert-authority';

export interface KnownHostEntry {
  /** 1-based line number in the file. */
  line: number;
  marker?: HostKeyMarker;
  /** The host field as written: a pattern list or a hashed `|1|salt|hash`. */
  hosts: string;
  /** e.g. `ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`. */
  keyType: string;
  /** The decoded public key blob (SSH wire format). */
  keyBlob: Buffer;
}

export type HostKeyVerdict = 'match' | 'unknown' | 'changed' | 'revoked';

/** The name a host is recorded under: `host` on port 22, `[host]:port` otherwise (lower-cased, as OpenSSH does). */
export function knownHostName(host: string, port: number): string {
  const name = host.toLowerCase();
  return port === 22 ? name : `[${name}]:${port}`;
}

/** The key type a public key blob declares (its first SSH string), or undefined when the blob is malformed. */
export function keyTypeOfBlob(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const length = blob.readUInt32BE(0);
  if (length === 0 || length > 64 || blob.length < 4 + length) return undefined;
  return blob.subarray(4, 4 + length).toString('latin1');
}

/** Fingerprint as OpenSSH prints it: `SHA256:` + unpadded base64 of the blob's SHA-256. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function parseLine(raw: string, line: number): KnownHostEntry | undefined {
  const text = raw.trim();
  if (text === '' || text.startsWith('#')) return undefined;
  const fields = text.split(/[ \t]+/);
  let marker: HostKeyMarker | undefined;
  if (fields[0]?.startsWith('@')) {
    const name = fields.shift();
    if (name === '@revoked') marker = 'revoked';
    else if (name === '@cert-authority') marker = 'cert-authority';
    else return undefined; // an unknown marker: OpenSSH skips the line too
  }
  const [hosts, keyType, keyBase64] = fields;
  if (hosts === undefined || keyType === undefined || keyBase64 === undefined || !BASE64.test(keyBase64)) {
    return undefined; // includes SSH-1 `bits exponent modulus` lines, which no current server uses
  }
  const keyBlob = Buffer.from(keyBase64, 'base64');
  if (keyTypeOfBlob(keyBlob) !== keyType) return undefined;
  return marker === undefined ? { line, hosts, keyType, keyBlob } : { line, marker, hosts, keyType, keyBlob };
}

/** Every usable line of a known_hosts file; comments, blank and malformed lines are skipped (as OpenSSH does). */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const entry = parseLine(raw, index + 1);
    if (entry !== undefined) entries.push(entry);
  });
  return entries;
}

/** OpenSSH's match_pattern: `*` is any run of characters, `?` exactly one; case-insensitive. */
function matchesPattern(name: string, pattern: string): boolean {
  const source = [...pattern.toLowerCase()]
    .map((char) => (char === '*' ? '.*' : char === '?' ? '.' : char.replace(/[\\^$.|+()[\]{}]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`, 's').test(name);
}

/** OpenSSH's match_pattern_list: a matching `!pattern` vetoes the line; otherwise any positive match wins. */
function matchesPatternList(name: string, list: string): boolean {
  let positive = false;
  for (const item of list.split(',')) {
    if (item.startsWith('!')) {
      if (matchesPattern(name, item.slice(1))) return false;
    } else if (matchesPattern(name, item)) {
      positive = true;
    }
  }
  return positive;
}

/** A hashed host field `|1|base64(salt)|base64(HMAC-SHA1(salt, name))` (HashKnownHosts / ssh-keygen -H). */
function matchesHashed(name: string, field: string): boolean {
  const parts = field.split('|');
  if (parts.length !== 4 || parts[1] !== '1') return false;
  const salt = Buffer.from(parts[2] ?? '', 'base64');
  const expected = Buffer.from(parts[3] ?? '', 'base64');
  const actual = createHmac('sha1', salt).update(name).digest();
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** Does a known_hosts host field name this host (`host` on port 22, `[host]:port` otherwise)? */
export function hostFieldMatches(field: string, host: string, port: number): boolean {
  const name = knownHostName(host, port);
  return field.startsWith('|') ? matchesHashed(name, field) : matchesPatternList(name, field);
}

/** The entries (with their line numbers) that apply to host:port, in file order. */
export function lookupHost(text: string, host: string, port: number): KnownHostEntry[] {
  return parseKnownHosts(text).filter((entry) => hostFieldMatches(entry.hosts, host, port));
}

/**
 * Judge the key a server presented against the entries for its host:
 * - `revoked`: an `@revoked` line lists this very key;
 * - `match`: a plain line has this key;
 * - `changed`: plain lines exist for the host but none has this key — whether of the same type or of another
 *   type (the connector prefers the recorded types, so a server offering only a new type is treated as changed);
 * - `unknown`: no plain line for the host (`@cert-authority` lines are not supported and do not count).
 */
export function verifyHostKey(
  entries: KnownHostEntry[],
  presentedKeyType: string,
  presentedKeyBlob: Buffer,
): HostKeyVerdict {
  const sameKey = (entry: KnownHostEntry) =>
    entry.keyType === presentedKeyType && entry.keyBlob.equals(presentedKeyBlob);
  if (entries.some((entry) => entry.marker === 'revoked' && sameKey(entry))) return 'revoked';
  const plain = entries.filter((entry) => entry.marker === undefined);
  if (plain.some(sameKey)) return 'match';
  return plain.length > 0 ? 'changed' : 'unknown';
}

/** ssh2 host-key algorithm names per known_hosts key type (an RSA key signs with SHA-2 algorithms). */
const ALGORITHMS_BY_KEY_TYPE: Record<string, string[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256'],
};

/** The host-key algorithms offered to a server that has no recorded key (SHA-1 `ssh-rsa`/`ssh-dss` left out). */
const DEFAULT_HOST_KEY_ALGORITHMS = Object.values(ALGORITHMS_BY_KEY_TYPE).flat();

/**
 * Host-key algorithms in preference order: the types already recorded for the host first (as OpenSSH orders
 * them), so a server holding several keys presents the one we can check instead of looking "changed".
 */
export function hostKeyAlgorithmsFor(entries: KnownHostEntry[]): string[] {
  const recorded = entries
    .filter((entry) => entry.marker === undefined)
    .flatMap((entry) => ALGORITHMS_BY_KEY_TYPE[entry.keyType] ?? []);
  return [...new Set([...recorded, ...DEFAULT_HOST_KEY_ALGORITHMS])];
}

/** Appends in progress per file: concurrent --accept-new connects must not interleave or duplicate lines. */
const pendingAppends = new Map<string, Promise<unknown>>();

async function readIfExists(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw error;
  }
}

async function appendUnlessKnown(
  file: string,
  host: string,
  port: number,
  keyType: string,
  blob: Buffer,
): Promise<boolean> {
  const text = await readIfExists(file);
  const verdict = verifyHostKey(lookupHost(text, host, port), keyType, blob);
  if (verdict === 'match') return false;
  if (verdict !== 'unknown') {
    throw new Error(
      `refusing to record the ${keyType} key ${fingerprint(blob)} for ${knownHostName(host, port)} in ${file}: ` +
        `that file says the key is ${verdict}; check the host and edit ${file} by hand`,
    );
  }
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const handle = await open(file, 'a', 0o600);
  try {
    const separator = text === '' || text.endsWith('\n') ? '' : '\n';
    await handle.write(`${separator}${knownHostName(host, port)} ${keyType} ${blob.toString('base64')}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return true;
}

/**
 * Record a host key (--accept-new). Creates the file 0600 (and its directory 0700) when missing, never
 * duplicates an entry, and refuses a key the file says is changed or revoked.
 * Returns true when a line was appended, false when the key was already recorded.
 */
export function appendKnownHost(
  file: string,
  host: string,
  port: number,
  keyType: string,
  blob: Buffer,
): Promise<boolean> {
  const key = resolve(file);
  const previous = pendingAppends.get(key) ?? Promise.resolve();
  const result = previous
    .catch(() => undefined)
    .then(() => appendUnlessKnown(key, host, port, keyType, blob));
  const settled = result.catch(() => undefined);
  pendingAppends.set(key, settled);
  void settled.then(() => {
    if (pendingAppends.get(key) === settled) pendingAppends.delete(key);
  });
  return result;
}
