import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Finds key material in text: every private key's base64 body and every tls-crypt key's hex body from a PKI
 * directory, also as any substring of `WIDTH` characters (a leak may be re-wrapped, cut or partial). Pure except
 * for reading the PKI directory; a hit reports where and which key, never the bytes themselves.
 */

export const WIDTH = 16;

/** The name a hit gets when the bytes belong to several keys (the encoding header all private keys share). */
export const SHARED = 'the header every private key shares';

export interface Secret {
  /** The key file, relative to the PKI directory. */
  name: string;
  /** Base64 (private keys) or hex (tls-crypt) body without markers or line breaks. */
  body: string;
}

export interface Hit {
  /** Which source was scanned (a command, a gateway's journal, …). */
  source: string;
  secret: string;
  offset: number;
}

/** The body of a PEM or OpenVPN static key: the lines between the BEGIN and END markers, joined. */
export function keyBody(text: string): string {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('-----') && !line.startsWith('#'))
    .join('');
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort()
    .map((name) => join(dir, name));
}

/** The secrets of a meshctl PKI directory (private/*.key, tls-crypt/*.key) and its public text (certs, CRL). */
export function readPki(pkiDir: string): { secrets: Secret[]; publicText: string } {
  const secrets: Secret[] = [];
  for (const sub of ['private', 'tls-crypt']) {
    for (const file of filesUnder(join(pkiDir, sub)).filter((f) => f.endsWith('.key'))) {
      secrets.push({ name: `${sub}/${file.split('/').pop()}`, body: keyBody(readFileSync(file, 'utf8')) });
    }
  }
  const publicFiles = [
    join(pkiDir, 'ca.crt'),
    join(pkiDir, 'crl.pem'),
    ...filesUnder(join(pkiDir, 'issued')),
    ...filesUnder(join(pkiDir, 'revoked')),
  ].filter((f) => existsSync(f));
  return { secrets, publicText: publicFiles.map((f) => keyBody(readFileSync(f, 'utf8'))).join('\n') };
}

/**
 * Every WIDTH-character window of every secret, mapped to its key. Windows that also occur in public material are
 * left out: a private key's encoding embeds its public key, which the certificates rightly publish.
 */
export function secretWindows(secrets: Secret[], publicText = ''): Map<string, string> {
  const published = new Set<string>();
  for (const line of publicText.split('\n')) {
    for (let i = 0; i + WIDTH <= line.length; i++) published.add(line.slice(i, i + WIDTH));
  }
  const windows = new Map<string, string>();
  for (const secret of secrets) {
    for (let i = 0; i + WIDTH <= secret.body.length; i++) {
      const window = secret.body.slice(i, i + WIDTH);
      if (published.has(window)) continue;
      const owner = windows.get(window);
      // the fixed header of every PKCS#8 key is shared: still a leak, just not of one key in particular
      windows.set(window, owner === undefined || owner === secret.name ? secret.name : SHARED);
    }
  }
  return windows;
}

/** Where `text` contains a secret window (at most one hit per secret per source: the first). */
export function findSecrets(source: string, text: string, windows: Map<string, string>): Hit[] {
  const hits = new Map<string, Hit>();
  for (let i = 0; i + WIDTH <= text.length; i++) {
    const secret = windows.get(text.slice(i, i + WIDTH));
    if (secret !== undefined && !hits.has(secret)) hits.set(secret, { source, secret, offset: i });
  }
  return [...hits.values()];
}

/** A hit as one line for an assertion message: the source, the key's file and the offset — never its bytes. */
export function describeHit(hit: Hit): string {
  return `${hit.source}: bytes of ${hit.secret} at offset ${hit.offset}`;
}
