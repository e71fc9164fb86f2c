import { X509Certificate } from 'node:crypto';
import * as asn1js from 'asn1js';
import { PkiError } from '../errors.js';
import type { PkiMaterial } from '../types.js';
import { EXPIRY_WARNING_DAYS, rel } from './layout.js';
import { pemBlocks } from './pem.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/*
 * Expiry is judged by commands that must start fast (validate, status): node's own X509 parser for certificates and
 * asn1js for a CRL's nextUpdate, not @peculiar/x509, whose loading alone costs about 0.1 s.
 */

function certificate(pem: string): X509Certificate | undefined {
  try {
    return new X509Certificate(pem);
  } catch {
    return undefined;
  }
}

function notAfter(cert: X509Certificate | undefined): Date | undefined {
  if (cert === undefined) return undefined;
  const date = new Date(cert.validTo);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function cnOf(cert: X509Certificate | undefined): string {
  return (cert && /^CN=(.*)$/m.exec(cert.subject)?.[1]) ?? '?';
}

/**
 * A PEM CRL's nextUpdate (RFC 5280 §5.1: the optional Time after thisUpdate in tbsCertList); undefined when it has
 * none or is not a readable CRL (never throws: expiry is judged on files as they are).
 */
export function crlNextUpdate(pem: string): Date | undefined {
  const body = /-----BEGIN (?:X509 )?CRL-----([\s\S]*?)-----END (?:X509 )?CRL-----/.exec(pem)?.[1];
  if (body === undefined) return undefined;
  try {
    const der = Buffer.from(body.replace(/\s+/g, ''), 'base64');
    const parsed = asn1js.fromBER(new Uint8Array(der).buffer);
    if (parsed.offset === -1 || !(parsed.result instanceof asn1js.Sequence)) return undefined;
    const tbs = parsed.result.valueBlock.value[0];
    if (!(tbs instanceof asn1js.Sequence)) return undefined;
    // direct children only: thisUpdate, then nextUpdate when present (revocation dates sit inside
    // revokedCertificates, a SEQUENCE)
    const times = tbs.valueBlock.value.filter(
      (v): v is asn1js.UTCTime | asn1js.GeneralizedTime =>
        v instanceof asn1js.UTCTime || v instanceof asn1js.GeneralizedTime,
    );
    const date = times.length >= 2 ? times[1]!.toDate() : undefined;
    // a malformed time decodes to nonsense (asn1js reads a bad UTCTime as 1899): only a sane date counts
    if (date === undefined || Number.isNaN(date.getTime()) || date.getUTCFullYear() < 1950) return undefined;
    return date;
  } catch {
    return undefined;
  }
}

/** One certificate or the CRL near or past its end (SPEC §10): a warning from 90 days, an error once past. */
export interface ExpiryFinding {
  severity: 'warning' | 'error';
  /** What it is and where: `the certificate of alpha (pki_dir/issued/alpha.crt)`. */
  what: string;
  expires: Date;
  /** The command that fixes it. */
  fix: string;
  message: string;
  /** The gateway whose certificate it is (none for the CA and the CRL, which every gateway holds). */
  gateway?: string;
}

/** The public parts expiry is judged on; any may be missing (validate and status read what exists). */
export interface ExpiryInput {
  caCert?: string;
  crl?: string;
  /** Certificate PEM per gateway name. */
  certs: Map<string, string>;
}

export const ROTATE_CA_FIX =
  '`meshctl rotate --ca` (a new CA, every certificate reissued under it, one gateway at a time, before the old CA expires)';
/** Once the CA has expired no tunnel can be verified, so a staged rotation cannot run: a new PKI is the way out. */
export const EXPIRED_CA_FIX =
  'point pki_dir in mesh.yml at an empty directory and run `meshctl apply`, which issues a new CA and new certificates (every tunnel restarts once)';

export function rotateGatewayFix(gateway: string): string {
  return `\`meshctl rotate --gateway ${gateway}\` issues a new key and certificate`;
}

/** Every certificate and the CRL that expire within 90 days (warning) or have expired (error), sorted by name. */
export function expiryFindings(input: ExpiryInput, now: Date): ExpiryFinding[] {
  const findings: ExpiryFinding[] = [];
  const horizon = now.getTime() + EXPIRY_WARNING_DAYS * DAY_MS;
  const check = (
    what: string,
    expires: Date | undefined,
    effect: string,
    fix: string,
    expiredFix = fix,
    gateway?: string,
  ) => {
    if (expires === undefined || expires.getTime() > horizon) return;
    const expired = expires.getTime() <= now.getTime();
    if (expired) fix = expiredFix;
    const verb = expired ? 'expired' : 'expires';
    const day = expires.toISOString().slice(0, 10);
    findings.push({
      severity: expired ? 'error' : 'warning',
      what,
      expires,
      fix,
      message: `${what} ${verb} on ${day}: ${expired ? effect.replace(' then', ' now') : effect}. Fix: ${fix}`,
      ...(gateway === undefined ? {} : { gateway }),
    });
  };
  if (input.caCert !== undefined) {
    // while `rotate --ca` runs, gateways hold both CAs: each is judged (the new one named by its CN)
    const cas = pemBlocks(input.caCert).map(certificate);
    cas.forEach((ca, i) => {
      const what =
        i === 0
          ? `the mesh CA certificate (pki_dir/${rel.caCert})`
          : `the new mesh CA certificate ("${cnOf(ca)}", pki_dir/${rel.nextCaCert})`;
      check(what, notAfter(ca), 'every tunnel stops then', ROTATE_CA_FIX, EXPIRED_CA_FIX);
    });
  }
  for (const [name, cert] of [...input.certs].sort(([a], [b]) => a.localeCompare(b))) {
    check(
      `the certificate of ${name} (pki_dir/${rel.gatewayCert(name)})`,
      notAfter(certificate(cert)),
      'its tunnels stop then',
      rotateGatewayFix(name),
      rotateGatewayFix(name),
      name,
    );
  }
  if (input.crl !== undefined) {
    pemBlocks(input.crl).forEach((crl, i) => {
      check(
        i === 0 ? `the CRL (pki_dir/${rel.crl})` : `the new CA's CRL (pki_dir/${rel.nextCrl})`,
        crlNextUpdate(crl),
        'OpenVPN refuses every peer then',
        i === 0
          ? '`meshctl apply`, which renews it'
          : '`meshctl rotate --ca` to finish the rotation (then apply renews it)',
      );
    });
  }
  return findings;
}

export function expiryOfMaterial(material: PkiMaterial): ExpiryInput {
  return {
    caCert: material.caCert,
    crl: material.crl,
    certs: new Map([...material.gateways].map(([name, { cert }]) => [name, cert])),
  };
}

/** A message for each certificate or CRL that expires within 90 days (or has expired): name, date and fix. */
export function pkiWarnings(material: PkiMaterial, now: Date): string[] {
  return expiryFindings(expiryOfMaterial(material), now).map((f) => f.message);
}

/** Refuses expired material (SPEC §10: an error, before any gateway is touched), every finding at once. */
export function refuseExpired(findings: ExpiryFinding[]): void {
  const errors = findings.filter((f) => f.severity === 'error');
  if (errors.length === 0) return;
  throw new PkiError(
    `expired key material (its tunnels cannot come up; nothing was changed):\n  ${errors.map((f) => f.message).join('\n  ')}`,
  );
}

/** SHA-256 fingerprint of a PEM certificate as colon-separated uppercase hex (as `openssl x509 -fingerprint`). */
export function certFingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}
