import { join } from 'node:path';

/**
 * The PKI directory (SPEC §4), created by `ensurePki`:
 *
 *   pki.json                  record: mesh name, format version, CRL number, every serial ever issued,
 *                             the revoked serials and the retired LAN names (see PkiState)
 *   ca.crt                    mesh CA certificate (public, 0644)
 *   crl.pem                   CRL signed by the CA, listing every revoked serial (public, 0644)
 *   .gitignore                keeps private/ and tls-crypt/ out of git (0644)
 *   issued/<lan>.crt          one certificate per gateway, CN = LAN name (public, 0644)
 *   revoked/<lan>-<serial>.crt  certificates of revoked gateways, kept for audit (public, 0644)
 *   private/ca.key            CA private key (0600)
 *   private/<lan>.key         gateway private keys (0600)
 *   private/verified.json     tags of the gateway certificates and keys already verified, so a re-check skips
 *                             their signature checks (0600, no secret in it, safe to delete: see ./verified.ts)
 *   tls-crypt/pair-<k>.key    one OpenVPN static key V1 per pair index k, used by tls-crypt (0600)
 *   rotation.json             only while a `meshctl rotate` is not finished: what it rotates and how far it got
 *   private/rotation/         the material that rotation keeps aside until its outcome is known (0600 files):
 *                             previous-pair-<k>.key, previous-<gw>.key/.crt, next-<gw>.key/.crt; for
 *                             `rotate --ca`: next-ca.crt/.key and next-crl.pem (the new CA and its CRL until
 *                             it replaces the old one), previous-ca.crt/.key (the old CA, once replaced)
 *   revoked/ca-<serial>.crt   a CA retired by `rotate --ca`, kept for audit (public, 0644)
 *
 * Every directory is 0700. Public files are committed with the inventory; the .gitignore keeps secrets out.
 */

export const DIR_MODE = 0o700;
export const SECRET_MODE = 0o600;
export const PUBLIC_MODE = 0o644;

/** Paths relative to the PKI directory; `created` lists use these. */
export const rel = {
  state: 'pki.json',
  caCert: 'ca.crt',
  caKey: join('private', 'ca.key'),
  crl: 'crl.pem',
  gitignore: '.gitignore',
  gatewayCert: (lan: string) => join('issued', `${lan}.crt`),
  gatewayKey: (lan: string) => join('private', `${lan}.key`),
  revokedCert: (lan: string, serial: string) => join('revoked', `${lan}-${serial}.crt`),
  tlsCrypt: (pairIndex: number) => join('tls-crypt', `pair-${pairIndex}.key`),
  verified: join('private', 'verified.json'),
  rotation: 'rotation.json',
  rotationDir: join('private', 'rotation'),
  previousTlsCrypt: (pairIndex: number) => join('private', 'rotation', `previous-pair-${pairIndex}.key`),
  previousKey: (lan: string) => join('private', 'rotation', `previous-${lan}.key`),
  previousCert: (lan: string) => join('private', 'rotation', `previous-${lan}.crt`),
  nextKey: (lan: string) => join('private', 'rotation', `next-${lan}.key`),
  nextCert: (lan: string) => join('private', 'rotation', `next-${lan}.crt`),
  nextCaCert: join('private', 'rotation', 'next-ca.crt'),
  nextCaKey: join('private', 'rotation', 'next-ca.key'),
  nextCrl: join('private', 'rotation', 'next-crl.pem'),
  previousCaCert: join('private', 'rotation', 'previous-ca.crt'),
  previousCaKey: join('private', 'rotation', 'previous-ca.key'),
  retiredCaCert: (serial: string) => join('revoked', `ca-${serial}.crt`),
} as const;

/** Directories that hold secrets: checked for group/other access before anything is read. */
export const SECRET_DIRS = ['private', 'tls-crypt', rel.rotationDir] as const;

/** What `.gitignore` must contain (one entry per line). */
export const GITIGNORE_ENTRIES = ['private/', 'tls-crypt/'] as const;
export const GITIGNORE_CONTENT =
  '# Written by meshctl: private keys and tls-crypt keys must never enter git.\nprivate/\ntls-crypt/\n';

/** LAN names are file names here: the inventory rule (SPEC §1) also keeps them free of `/` and `..`. */
export const LAN_NAME = /^[a-z0-9][a-z0-9-]{0,30}$/;

/** Certificates and the CRL expiring within this window are reported (and the CRL renewed). */
export const EXPIRY_WARNING_DAYS = 90;
