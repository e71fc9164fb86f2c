import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(globalThis.crypto);

/** Every key meshctl creates: EC P-256, used with ECDSA SHA-256. */
export const EC_KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const;
export const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** A key pair ready for signing, plus its PKCS#8 PEM (what lands in private/). */
export interface SigningKeyPair {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  pem: string;
}

export async function generateKeyPair(): Promise<SigningKeyPair> {
  const pair = await crypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify']);
  const pkcs8 = await crypto.subtle.exportKey('pkcs8', pair.privateKey);
  return {
    privateKey: pair.privateKey,
    publicKey: pair.publicKey,
    pem: toPem(Buffer.from(pkcs8), 'PRIVATE KEY'),
  };
}

/**
 * Parses an existing private key PEM (PKCS#8 or SEC1). Returns undefined rather than the parser's message, so no
 * caller can echo key bytes by accident.
 */
export function parsePrivateKey(pem: string): KeyObject | undefined {
  try {
    const key = createPrivateKey({ key: pem, format: 'pem' });
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1')
      return undefined;
    return key;
  } catch {
    return undefined;
  }
}

/** Imports a parsed private key (and its public half) into WebCrypto for signing with @peculiar/x509. */
export async function importKeyPair(key: KeyObject, pem: string): Promise<SigningKeyPair> {
  const pkcs8 = new Uint8Array(key.export({ type: 'pkcs8', format: 'der' }));
  const privateKey = await crypto.subtle.importKey('pkcs8', pkcs8, EC_KEY, false, ['sign']);
  const spki = new Uint8Array(publicKeyDer(key));
  const publicKey = await crypto.subtle.importKey('spki', spki, EC_KEY, true, ['verify']);
  return { privateKey, publicKey, pem };
}

/** DER SubjectPublicKeyInfo of a private key's public half: compared with a certificate's to pair them. */
export function publicKeyDer(key: KeyObject): Buffer {
  return createPublicKey(key).export({ type: 'spki', format: 'der' });
}

export function toPem(der: Buffer, label: string): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
