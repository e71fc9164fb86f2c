import * as x509 from '@peculiar/x509';
import { addYears } from './certificates.js';
import { SIGNING_ALGORITHM, type SigningKeyPair, toPem } from './keys.js';
import { normalizeSerial, type RevokedRecord } from './state.js';

/** An expired CRL makes OpenVPN refuse every peer, so the next update is far away (and renewed when near). */
const CRL_YEARS = 10;
const CRL_NUMBER_OID = '2.5.29.20';

/** A v2 CRL signed by the CA listing every revoked serial, with authority key identifier and CRL number. */
export async function createCrl(opts: {
  ca: x509.X509Certificate;
  caKey: SigningKeyPair;
  revoked: RevokedRecord[];
  crlNumber: number;
  now: Date;
}): Promise<x509.X509Crl> {
  return x509.X509CrlGenerator.create({
    issuer: opts.ca.subjectName,
    thisUpdate: opts.now,
    nextUpdate: addYears(opts.now, CRL_YEARS),
    signingKey: opts.caKey.privateKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    entries: opts.revoked.map((entry) => ({
      serialNumber: entry.serial,
      revocationDate: new Date(entry.revokedAt),
      reason: x509.X509CrlReason.cessationOfOperation,
    })),
    extensions: [
      await x509.AuthorityKeyIdentifierExtension.create(opts.caKey.publicKey),
      new x509.Extension(CRL_NUMBER_OID, false, derInteger(opts.crlNumber)),
    ],
  });
}

export function parseCrl(pem: string): x509.X509Crl | undefined {
  try {
    return new x509.X509Crl(pem);
  } catch {
    return undefined;
  }
}

export function crlSerials(crl: x509.X509Crl): string[] {
  return crl.entries.map((entry) => normalizeSerial(entry.serialNumber)).sort();
}

export async function isCrlSignedBy(crl: x509.X509Crl, caKey: CryptoKey): Promise<boolean> {
  try {
    return await crl.verify({ publicKey: caKey });
  } catch {
    return false;
  }
}

/** PEM with the `X509 CRL` label OpenSSL (and so OpenVPN's crl-verify) requires. */
export function crlPem(crl: x509.X509Crl): string {
  return toPem(Buffer.from(crl.rawData), 'X509 CRL');
}

/** DER INTEGER of a non-negative safe integer (the CRL number extension's value). */
function derInteger(value: number): ArrayBuffer {
  const bytes: number[] = [];
  let rest = BigInt(value);
  do {
    bytes.unshift(Number(rest & 0xffn));
    rest >>= 8n;
  } while (rest > 0n);
  if (bytes[0]! & 0x80) bytes.unshift(0);
  return Uint8Array.from([0x02, bytes.length, ...bytes]).buffer;
}
