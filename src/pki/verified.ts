import { createHash, createHmac } from 'node:crypto';
import { lstatSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePrivateDirectory, writeFileAtomic } from './atomic-file.js';
import { DIR_MODE, rel, SECRET_MODE } from './layout.js';

/**
 * The record of gateway certificates and keys already verified (private/verified.json): what lets a re-check of a
 * big mesh skip parsing 150 private keys, 150 signature checks and 150 key/certificate matches it did before.
 *
 * An entry is a tag: an HMAC-SHA256, keyed with a key derived from the CA's private key, over the exact bytes of
 * the CA certificate, the gateway's certificate and its private key (and the LAN name and the version of the
 * checks). A tag is recomputed from the files read on every run, and a gateway's checks are skipped only when it
 * equals the recorded one, so:
 * - any change to any of those files, whatever its mtime, size or inode, gives another tag: checked in full again;
 * - the file cannot be forged: writing a tag that passes needs the CA's private key, and whoever has that can sign
 *   certificates anyway;
 * - it holds no secret (an HMAC tells nothing about its key or its input) and no copy of any key.
 *
 * File stat identity (size, mtime, ctime, inode) is deliberately not used: the contents are read on every run
 * anyway (they are what the gateways get), hashing 300 small files costs well under a millisecond, and a stat
 * identity can be restored after tampering (mtime by anyone, ctime by whoever sets the clock).
 *
 * What a tag vouches for is only what does not depend on anything else: the certificate parses, its CN is the
 * LAN's name, it is signed by this CA, and the key is a P-256 key matching it. Revocation (pki.json), the CA's own
 * checks, file and directory modes, symlinks, tls-crypt keys and the CRL are checked on every run.
 *
 * The file is an optimisation only: missing, unreadable, malformed or from another CA, it is ignored (everything
 * is checked in full); ensurePki rewrites it when its content changes and ignores a failed write. Read-only
 * commands read it and never write it.
 */

const FORMAT = 1;
/** Raise when the checks a tag vouches for change: every recorded tag then misses once. */
const CHECKS_VERSION = 'gateway-checks-1';
const ABOUT =
  "meshctl's record of the gateway certificates and keys it verified (no secret in it; safe to delete)";

export interface Verified {
  /** The tag of a gateway's certificate and key as they are now. */
  tag(lan: string, certPem: string, keyPem: string): string;
  /** Whether `tag` is the one recorded for `lan`. */
  recorded(lan: string, tag: string): boolean;
  /** The file's text as read ('' when there was none): ensurePki writes only a different one. */
  readonly text: string;
}

/**
 * The record of `dir`, for the CA given by its certificate and private key PEM (which must have passed their own
 * checks: the tags are only as good as the CA they are bound to). Never throws.
 */
export function readVerified(dir: string, caCertPem: string, caKeyPem: string): Verified {
  const macKey = createHash('sha256').update('meshctl verified.json v1\0').update(caKeyPem).digest();
  const caDigest = createHash('sha256').update(caCertPem).digest('hex');
  const text = readRecord(join(dir, rel.verified));
  const tags = parseTags(text);
  return {
    tag: (lan, certPem, keyPem) =>
      createHmac('sha256', macKey)
        .update(JSON.stringify([CHECKS_VERSION, caDigest, lan, certPem, keyPem]))
        .digest('base64url'),
    recorded: (lan, tag) => tags.get(lan) === tag,
    text,
  };
}

/** The file's text for these tags (LAN name → tag). */
export function serializeVerified(tags: Map<string, string>): string {
  const gateways = Object.fromEntries([...tags].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return `${JSON.stringify({ format: FORMAT, about: ABOUT, gateways }, null, 2)}\n`;
}

/**
 * Writes the record when it changed. Best effort: a PKI that needs nothing else still works where this file cannot
 * be written (a read-only pki_dir); the next run then checks everything in full again.
 */
export async function writeVerified(dir: string, previous: string, tags: Map<string, string>): Promise<void> {
  const text = serializeVerified(tags);
  if (text === previous) return;
  try {
    await ensurePrivateDirectory(join(dir, 'private'), DIR_MODE);
    await writeFileAtomic(join(dir, rel.verified), text, SECRET_MODE, { replace: true });
  } catch {
    // ignored on purpose (see above)
  }
}

function readRecord(file: string): string {
  try {
    // a symlink or anything but a plain file is not read (like every other file of pki_dir)
    if (!lstatSync(file).isFile()) return '';
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function parseTags(text: string): Map<string, string> {
  const tags = new Map<string, string>();
  if (text === '') return tags;
  try {
    const raw = JSON.parse(text) as { format?: unknown; gateways?: unknown };
    if (raw?.format !== FORMAT || typeof raw.gateways !== 'object' || raw.gateways === null) return tags;
    for (const [lan, tag] of Object.entries(raw.gateways)) if (typeof tag === 'string') tags.set(lan, tag);
  } catch {
    // not JSON: ignored, like a missing file
  }
  return tags;
}
