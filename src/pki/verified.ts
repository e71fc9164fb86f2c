import { createHash, createHmac } from 'node:crypto';
import { lstatSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePrivateDirectory, writeFileAtomic } from './atomic-file.js';
import { DIR_MODE, rel, SECRET_MODE } from './layout.js';

/**
 * The record of gateway certificates and keys already verified (private/verified.json): what lets a re-check of a
 * big mesh skip parsing 150 private keys, 150 signature checks and 150 key/certificate matches it did before.
 *
 * An entry is the certificate's serial and a tag: an HMAC-SHA256, keyed with a key derived from the CA's private
 * key, over the exact bytes of the CA certificate, the gateway's certificate and its private key, that serial, the
 * LAN name and the version of the checks. A tag is recomputed from the files read on every run, and a gateway's
 * checks are skipped only when it equals the recorded one (the serial then needs no certificate parse), so:
 * - any change to any of those files, whatever its mtime, size or inode, gives another tag: checked in full again;
 * - the file cannot be forged: writing a tag that passes needs the CA's private key, and whoever has that can sign
 *   certificates anyway;
 * - it holds no secret (an HMAC tells nothing about its key or its input) and no copy of any key.
 *
 * File stat identity (size, mtime, ctime, inode) is deliberately not used: the contents are read on every run
 * anyway (they are what the gateways get), hashing 300 small files costs about a millisecond, and a stat
 * identity can be restored after tampering (mtime by anyone, ctime by whoever sets the clock).
 *
 * What a tag vouches for is only what does not depend on anything else: the certificate parses, has that serial,
 * its CN is the LAN's name, it is signed by this CA, and the key is a P-256 key matching it. Revocation of the
 * serial (pki.json), the CA's own checks, file and directory modes, symlinks, tls-crypt keys and the CRL are
 * checked on every run.
 *
 * The file is an optimisation only: missing, unreadable, malformed or from another CA, it is ignored (everything
 * is checked in full); ensurePki rewrites it when its content changes and ignores a failed write. Read-only
 * commands read it and never write it. While a CA rotation runs (two CAs trusted) it is neither read nor written.
 */

const FORMAT = 1;
/** Raise when the checks a tag vouches for change: every recorded tag then misses once. */
const CHECKS_VERSION = 'gateway-checks-1';
const ABOUT =
  "meshctl's record of the gateway certificates and keys it verified (no secret in it; safe to delete)";

/** What the record says of one gateway. */
export interface VerifiedPair {
  serial: string;
  tag: string;
}

export interface Verified {
  /** The tag of a gateway's certificate (whose serial is `serial`) and key as they are now. */
  tag(lan: string, certPem: string, keyPem: string, serial: string): string;
  /** The recorded serial and tag of `lan` when these very bytes were verified before, else undefined. */
  verifiedBefore(lan: string, certPem: string, keyPem: string): VerifiedPair | undefined;
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
  const pairs = parsePairs(text);
  const tag = (lan: string, certPem: string, keyPem: string, serial: string) =>
    createHmac('sha256', macKey)
      .update(JSON.stringify([CHECKS_VERSION, caDigest, lan, serial, certPem, keyPem]))
      .digest('base64url');
  return {
    tag,
    verifiedBefore: (lan, certPem, keyPem) => {
      const pair = pairs.get(lan);
      return pair !== undefined && tag(lan, certPem, keyPem, pair.serial) === pair.tag ? pair : undefined;
    },
    text,
  };
}

/** The file's text for these gateways (LAN name → serial and tag). */
export function serializeVerified(pairs: Map<string, VerifiedPair>): string {
  const sorted = [...pairs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const gateways = Object.fromEntries(sorted.map(([lan, { serial, tag }]) => [lan, { serial, tag }]));
  return `${JSON.stringify({ format: FORMAT, about: ABOUT, gateways }, null, 2)}\n`;
}

/**
 * Writes the record when it changed. Best effort: a PKI that needs nothing else still works where this file cannot
 * be written (a read-only pki_dir); the next run then checks everything in full again.
 */
export async function writeVerified(
  dir: string,
  previous: string,
  pairs: Map<string, VerifiedPair>,
): Promise<void> {
  const text = serializeVerified(pairs);
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

function parsePairs(text: string): Map<string, VerifiedPair> {
  const pairs = new Map<string, VerifiedPair>();
  if (text === '') return pairs;
  try {
    const raw = JSON.parse(text) as { format?: unknown; gateways?: unknown };
    if (raw?.format !== FORMAT || typeof raw.gateways !== 'object' || raw.gateways === null) return pairs;
    for (const [lan, entry] of Object.entries(raw.gateways as Record<string, unknown>)) {
      const { serial, tag } = (entry ?? {}) as Partial<Record<keyof VerifiedPair, unknown>>;
      if (typeof serial === 'string' && typeof tag === 'string') pairs.set(lan, { serial, tag });
    }
  } catch {
    // not JSON: ignored, like a missing file
  }
  return pairs;
}
