import { X509Certificate } from 'node:crypto';
import type { PkiMaterial } from '../types.js';
import { parseCertificate } from './certificates.js';
import { parseCrl } from './crl.js';
import { EXPIRY_WARNING_DAYS, rel } from './layout.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/** A message for each certificate or CRL that expires within 90 days (or has expired): name, date and fix. */
export function pkiWarnings(material: PkiMaterial, now: Date): string[] {
  const warnings: string[] = [];
  const horizon = now.getTime() + EXPIRY_WARNING_DAYS * DAY_MS;
  const check = (what: string, expires: Date | undefined, fix: string) => {
    if (expires === undefined || expires.getTime() > horizon) return;
    const verb = expires.getTime() <= now.getTime() ? 'expired' : 'expires';
    warnings.push(`${what} ${verb} on ${expires.toISOString().slice(0, 10)}: ${fix}`);
  };
  const ca = parseCertificate(material.caCert);
  check(
    `the mesh CA certificate (pki_dir/${rel.caCert})`,
    ca?.notAfter,
    'every tunnel stops then; build a new PKI (point pki_dir at an empty directory) and run `meshctl apply`',
  );
  for (const [lan, { cert }] of [...material.gateways].sort(([a], [b]) => a.localeCompare(b))) {
    check(
      `the certificate of ${lan} (pki_dir/${rel.gatewayCert(lan)})`,
      parseCertificate(cert)?.notAfter,
      `its tunnels stop then; move pki_dir/${rel.gatewayCert(lan)} and pki_dir/${rel.gatewayKey(lan)} away and run \`meshctl apply\` to issue a new one`,
    );
  }
  check(
    `the CRL (pki_dir/${rel.crl})`,
    parseCrl(material.crl)?.nextUpdate,
    'OpenVPN refuses every peer once it is past; run `meshctl apply`, which renews it',
  );
  return warnings;
}

/** SHA-256 fingerprint of a PEM certificate as colon-separated uppercase hex (as `openssl x509 -fingerprint`). */
export function certFingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}
