import type { KeyObject } from 'node:crypto';
import { join } from 'node:path';
import type * as x509 from '@peculiar/x509';
import {
  caCommonName,
  caGeneration,
  certSerial,
  commonName,
  isCaCertificate,
  isSignedBy,
  parseCertificate,
} from './certificates.js';
import { importKeyPair, parsePrivateKey, publicKeyDer } from './keys.js';
import { rel } from './layout.js';
import type { PkiProblem } from './problems.js';
import type { Verified, VerifiedPair } from './verified.js';

/** Checks of an existing CA and gateway certificates and keys: they judge what they are given and report refusals. */

/** `use`: material about to be handed to gateways. `revoke`: a gateway's cert is being revoked (its key may be gone). */
export type InspectPurpose = 'use' | 'revoke';

export interface GatewaySnapshot {
  /** Signed by the new CA of a `rotate --ca` in progress (not by pki_dir's ca.crt). */
  byNewCa?: boolean;
  certPem?: string;
  /** The parsed certificate. For a pair verified before (`verified`), parsed only when first read. */
  cert?: x509.X509Certificate;
  /** The certificate's serial (lowercase hex): set whenever the certificate parses (or was verified before). */
  serial?: string;
  keyPem?: string;
  /** The parsed key. For a pair verified before (`verified`), parsed only when first read. */
  key?: KeyObject;
  /**
   * The tag of the pair (see ./verified.ts) when the certificate and key both exist and pass every check of a
   * pair: this run, or an earlier one that recorded this tag. Revocation is not part of it.
   */
  verified?: string;
}

/** The gateway has a private key that parses (without parsing it again when it was verified before). */
export function hasUsableKey(gateway: GatewaySnapshot): boolean {
  return gateway.keyPem !== undefined && (gateway.verified !== undefined || gateway.key !== undefined);
}

/** The gateway has a certificate that parses (without parsing it again when it was verified before). */
export function hasUsableCert(gateway: GatewaySnapshot): boolean {
  return gateway.certPem !== undefined && gateway.serial !== undefined;
}

export type CaSnapshot = GatewaySnapshot & { publicKey?: CryptoKey };

/** The CA: its CN names this mesh, it is a self-signed CA, its key matches. */
export async function inspectCa(
  dir: string,
  mesh: string,
  certPem: string | undefined,
  keyPem: string | undefined,
  problems: PkiProblem[],
  files: { cert: string; key: string } = { cert: rel.caCert, key: rel.caKey },
): Promise<CaSnapshot> {
  const certFile = join(dir, files.cert);
  const keyFile = join(dir, files.key);
  const newPki = `point pki_dir in mesh.yml at an empty directory to start a new PKI (every gateway then gets new certificates on apply)`;
  const ca: CaSnapshot = {};
  if (keyPem !== undefined) {
    ca.keyPem = keyPem;
    ca.key = parsePrivateKey(keyPem);
    if (ca.key === undefined) {
      problems.push({
        file: keyFile,
        problem: 'is not a PEM EC P-256 private key',
        fix: `restore ${keyFile} from a backup, or ${newPki}`,
      });
    }
  }
  if (certPem !== undefined) {
    ca.certPem = certPem;
    ca.cert = parseCertificate(certPem);
    const cert = ca.cert;
    if (cert === undefined) {
      problems.push({
        file: certFile,
        problem: 'is not a PEM certificate',
        fix: `restore ${certFile} from git`,
      });
    } else {
      const cn = commonName(cert);
      const publicKey = await cert.publicKey.export();
      if (caGeneration(mesh, cn) === undefined) {
        problems.push({
          file: certFile,
          problem: `is the CA "${cn}", not the CA of mesh "${mesh}" ("${caCommonName(mesh)}")`,
          fix: `set pki_dir in mesh.yml to this mesh's own PKI directory, or ${newPki}`,
        });
      } else if (!isCaCertificate(cert) || !(await isSignedBy(cert, publicKey))) {
        problems.push({
          file: certFile,
          problem: 'is not a self-signed CA certificate',
          fix: `restore ${certFile} from git, or ${newPki}`,
        });
      } else {
        ca.publicKey = publicKey;
      }
      if (keyPem === undefined) {
        problems.push({
          file: keyFile,
          problem: `is missing next to the existing CA certificate ${certFile}; every gateway certificate depends on it, so meshctl never replaces it on its own`,
          fix: `restore ${keyFile} from a backup (keys are not in git), or ${newPki}`,
        });
      } else if (ca.key !== undefined && !publicKeyDer(ca.key).equals(Buffer.from(cert.publicKey.rawData))) {
        problems.push({
          file: keyFile,
          problem: `does not belong to ${certFile}`,
          fix: `restore the matching ${keyFile} from a backup, or ${newPki}`,
        });
        ca.publicKey = undefined;
      }
    }
  } else if (ca.key !== undefined) {
    // An interrupted first run: the key was written, the certificate not yet. Gateways verify against its public half.
    ca.publicKey = (await importKeyPair(ca.key, keyPem!)).publicKey;
  }
  return ca;
}

/**
 * A gateway's certificate and key: parseable, CN = file name, signed by the CA, not revoked, a matching pair. A pair
 * whose tag `ca.verified` recorded (the same bytes, checked against this CA before) skips every check but
 * revocation; a pair that passes them all gets its tag in `verified`.
 */
export async function inspectGateway(
  dir: string,
  lan: string,
  files: { certPem: string | undefined; keyPem: string | undefined },
  ca: {
    publicKey: CryptoKey | undefined;
    revoked: ReadonlySet<string>;
    /** The new CA while `rotate --ca` runs: a certificate it signed is accepted too. */
    alsoTrusted?: CryptoKey | undefined;
    /** Never given while a CA rotation runs (a tag vouches for one CA only): see inspect.ts. */
    verified?: Verified;
  },
  purpose: InspectPurpose,
  problems: PkiProblem[],
): Promise<GatewaySnapshot> {
  const { certPem, keyPem } = files;
  const caPublicKey = ca.publicKey;
  const revoked = ca.revoked;
  const certFile = join(dir, rel.gatewayCert(lan));
  const keyFile = join(dir, rel.gatewayKey(lan));
  const reissue = `move ${certFile} away (and ${keyFile}, if the key is not trusted), then run meshctl again: it issues a new certificate for ${lan}`;
  const revocation = (serial: string) => {
    if (purpose === 'use' && revoked.has(serial)) {
      problems.push({
        file: certFile,
        problem: `serial ${serial} is revoked (a revocation was interrupted)`,
        fix: `run \`meshctl remove-lan ${lan}\` again to finish it, or move ${certFile} and ${keyFile} away`,
      });
    }
  };
  const verified = caPublicKey === undefined ? undefined : ca.verified;
  if (verified !== undefined && certPem !== undefined && keyPem !== undefined) {
    const before = verified.verifiedBefore(lan, certPem, keyPem);
    if (before !== undefined) {
      revocation(before.serial);
      return verifiedBefore(certPem, keyPem, before);
    }
  }
  const gateway: GatewaySnapshot = {};
  // false once a check of the pair fails (revocation is not one: it is judged on every run)
  let pairOk = verified !== undefined;
  const refuse = (problem: PkiProblem) => {
    problems.push(problem);
    pairOk = false;
  };
  if (keyPem !== undefined) {
    gateway.keyPem = keyPem;
    gateway.key = parsePrivateKey(keyPem);
    if (gateway.key === undefined) {
      refuse({
        file: keyFile,
        problem: 'is not a PEM EC P-256 private key',
        fix: `restore ${keyFile} from a backup, or move it and ${certFile} away so meshctl issues new ones`,
      });
    }
  }
  if (certPem === undefined) return gateway;
  gateway.certPem = certPem;
  const cert = parseCertificate(certPem);
  if (cert === undefined) {
    problems.push({ file: certFile, problem: 'is not a PEM certificate', fix: reissue });
    return gateway;
  }
  const serial = certSerial(cert);
  gateway.cert = cert;
  gateway.serial = serial;
  const cn = commonName(cert);
  if (cn !== lan) {
    refuse({
      file: certFile,
      problem: `has CN ${JSON.stringify(cn ?? null)} but its file names LAN "${lan}"`,
      fix: reissue,
    });
  }
  const byCa = caPublicKey !== undefined && (await isSignedBy(cert, caPublicKey));
  if (!byCa && ca.alsoTrusted !== undefined && (await isSignedBy(cert, ca.alsoTrusted))) {
    gateway.byNewCa = true;
  }
  if (caPublicKey !== undefined && !byCa && !gateway.byNewCa) {
    refuse({
      file: certFile,
      problem: `is not signed by this PKI's CA (${join(dir, rel.caCert)}${ca.alsoTrusted ? `, nor by the new CA ${join(dir, rel.nextCaCert)}` : ''})`,
      fix: reissue,
    });
  }
  revocation(serial);
  if (keyPem === undefined) {
    if (purpose === 'use') {
      problems.push({
        file: keyFile,
        problem: `is missing next to the existing certificate ${certFile}; meshctl never replaces key material on its own`,
        fix: `restore ${keyFile} from a backup (keys are not in git), or ${reissue}`,
      });
    }
  } else if (
    gateway.key !== undefined &&
    !publicKeyDer(gateway.key).equals(Buffer.from(cert.publicKey.rawData))
  ) {
    refuse({ file: keyFile, problem: `does not belong to ${certFile}`, fix: reissue });
  }
  if (pairOk && keyPem !== undefined) gateway.verified = verified!.tag(lan, certPem, keyPem, serial);
  return gateway;
}

/**
 * A pair whose tag was recorded: the same bytes passed every check against this CA before, so the certificate
 * and the key are parsed only if something reads them (a re-check of an unchanged PKI reads neither).
 */
function verifiedBefore(certPem: string, keyPem: string, { serial, tag }: VerifiedPair): GatewaySnapshot {
  const gateway: GatewaySnapshot = { certPem, serial, keyPem, verified: tag };
  let cert: x509.X509Certificate | undefined;
  let key: KeyObject | undefined;
  Object.defineProperties(gateway, {
    cert: { enumerable: true, get: () => (cert ??= parseCertificate(certPem)) },
    key: { enumerable: true, get: () => (key ??= parsePrivateKey(keyPem)) },
  });
  return gateway;
}
