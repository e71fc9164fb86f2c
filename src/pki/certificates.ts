import { randomBytes } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { SIGNING_ALGORITHM, type SigningKeyPair } from './keys.js';
import { normalizeSerial } from './state.js';

const CA_YEARS = 20;
const GATEWAY_YEARS = 10;
/** Gateways' clocks may lag the bastion's: a certificate valid from "now" could be refused for a while. */
const BACKDATE_MS = 60 * 60 * 1000;

/**
 * The CA's CN: `<mesh> meshctl CA`, and `<mesh> meshctl CA <n>` for the n-th CA `rotate --ca` made (n ≥ 2): while
 * a rotation runs, gateways trust both CAs, and distinct names keep OpenSSL's lookup of issuer and CRL unambiguous.
 */
export function caCommonName(mesh: string, generation = 1): string {
  return generation <= 1 ? `${mesh} meshctl CA` : `${mesh} meshctl CA ${generation}`;
}

/** The generation a CA's CN names for `mesh` (1 for the first CA), or undefined when it is not this mesh's CA. */
export function caGeneration(mesh: string, cn: string | undefined): number | undefined {
  if (cn === caCommonName(mesh)) return 1;
  const prefix = `${caCommonName(mesh)} `;
  if (cn === undefined || !cn.startsWith(prefix)) return undefined;
  const n = cn.slice(prefix.length);
  return /^[1-9][0-9]{0,5}$/.test(n) && Number(n) >= 2 ? Number(n) : undefined;
}

export function addYears(date: Date, years: number): Date {
  const result = new Date(date.getTime());
  result.setUTCFullYear(result.getUTCFullYear() + years);
  return result;
}

/** A random positive serial of 16 bytes (first byte 0x01..0x7f: positive and minimally DER-encoded). */
export function randomSerial(taken: ReadonlySet<string>): string {
  for (;;) {
    const bytes = randomBytes(16);
    bytes[0] = (bytes[0]! & 0x7f) | 0x01;
    const serial = bytes.toString('hex');
    if (!taken.has(serial)) return serial;
  }
}

/** Self-signed mesh CA: basicConstraints CA (critical), keyCertSign + cRLSign, subject key identifier. */
export async function createCaCertificate(
  mesh: string,
  keys: SigningKeyPair,
  now: Date,
  taken: ReadonlySet<string>,
  generation = 1,
): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(taken),
    name: [{ CN: [caCommonName(mesh, generation)] }],
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: addYears(now, CA_YEARS),
    keys: { privateKey: keys.privateKey, publicKey: keys.publicKey },
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
}

/**
 * Gateway certificate: CN = LAN name, EKU serverAuth + clientAuth (each gateway is TLS server of some pairs and
 * client of others), digitalSignature + keyAgreement, CA:false, authority key identifier. Never outlives the CA.
 */
export async function createGatewayCertificate(opts: {
  lan: string;
  publicKey: CryptoKey;
  ca: x509.X509Certificate;
  caKey: SigningKeyPair;
  serial: string;
  now: Date;
}): Promise<x509.X509Certificate> {
  const notAfter = addYears(opts.now, GATEWAY_YEARS);
  return x509.X509CertificateGenerator.create({
    serialNumber: opts.serial,
    subject: [{ CN: [opts.lan] }],
    issuer: opts.ca.subjectName,
    notBefore: new Date(opts.now.getTime() - BACKDATE_MS),
    notAfter: new Date(Math.min(notAfter.getTime(), opts.ca.notAfter.getTime())),
    publicKey: opts.publicKey,
    signingKey: opts.caKey.privateKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement,
        true,
      ),
      new x509.ExtendedKeyUsageExtension([
        x509.ExtendedKeyUsage.serverAuth,
        x509.ExtendedKeyUsage.clientAuth,
      ]),
      await x509.SubjectKeyIdentifierExtension.create(opts.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(opts.caKey.publicKey),
    ],
  });
}

export { pemBlocks } from './pem.js';

/** Parses a PEM certificate; undefined when it is not one. */
export function parseCertificate(pem: string): x509.X509Certificate | undefined {
  try {
    return new x509.X509Certificate(pem);
  } catch {
    return undefined;
  }
}

export function commonName(cert: x509.X509Certificate): string | undefined {
  const names = cert.subjectName.getField('CN');
  return names.length === 1 ? names[0] : undefined;
}

export function certSerial(cert: x509.X509Certificate): string {
  return normalizeSerial(cert.serialNumber);
}

export function isCaCertificate(cert: x509.X509Certificate): boolean {
  const constraints = cert.getExtension(x509.BasicConstraintsExtension);
  return constraints?.ca === true;
}

/** Signature check only: expiry is reported as a warning, not a refusal. */
export async function isSignedBy(cert: x509.X509Certificate, issuerKey: CryptoKey): Promise<boolean> {
  try {
    return await cert.verify({ publicKey: issuerKey, signatureOnly: true });
  } catch {
    return false;
  }
}

export function certificatePem(cert: x509.X509Certificate): string {
  return `${cert.toString('pem')}\n`;
}
