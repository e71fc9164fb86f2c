import { join } from 'node:path';
import { PkiError } from '../errors.js';
import type { PkiMaterial } from '../types.js';
import { trustBundle } from './ca-bundle.js';
import { certificatePem } from './certificates.js';
import { inspectPki, type PkiRequest, pkiErrorFrom } from './inspect.js';
import { rel } from './layout.js';

/**
 * The complete PKI material, for a read-only use that cannot go on without it: never creates or changes a file.
 * Everything missing is named at once; the fix is to run a command that creates it. (`diff` shows what is missing
 * as "would be created" instead: previewPki in ./preview.ts.)
 */
export async function loadPkiReadOnly(opts: PkiRequest): Promise<PkiMaterial> {
  const { snapshot, problems } = await inspectPki(opts, 'use');
  if (problems.length > 0) throw pkiErrorFrom(problems);
  const fix = 'run `meshctl render` or `meshctl apply`, which create it';
  if (!snapshot.dirExists) {
    throw new PkiError(`${opts.dir}: the PKI directory does not exist yet. Fix: ${fix}`);
  }
  const missing: string[] = [];
  const need = (relative: string) => missing.push(join(opts.dir, relative));
  if (snapshot.state === undefined) need(rel.state);
  if (snapshot.ca.cert === undefined) need(rel.caCert);
  if (snapshot.ca.keyPem === undefined) need(rel.caKey);
  const gateways = new Map<string, { cert: string; key: string }>();
  for (const lan of opts.lans) {
    const { certPem, keyPem } = snapshot.gateways.get(lan) ?? {};
    if (certPem === undefined) need(rel.gatewayCert(lan));
    if (keyPem === undefined) need(rel.gatewayKey(lan));
    if (certPem !== undefined && keyPem !== undefined) gateways.set(lan, { cert: certPem, key: keyPem });
  }
  const tlsCrypt = new Map<number, string>();
  for (const k of opts.pairs) {
    const key = snapshot.tlsCrypt.get(k);
    if (key === undefined) need(rel.tlsCrypt(k));
    else tlsCrypt.set(k, key);
  }
  const crl = snapshot.crl;
  if (crl === undefined) {
    need(rel.crl);
  } else if (snapshot.state !== undefined) {
    const wanted = snapshot.state.revoked.map((r) => r.serial).sort();
    if (!crl.signedByCa || wanted.join(',') !== crl.serials.join(',')) {
      throw new PkiError(
        `${join(opts.dir, rel.crl)}: is not the CA's current CRL (its revoked serials differ from pki.json), so a revoked gateway could still connect. Fix: ${fix.replace(', which create it', ', which renew it')}`,
      );
    }
  }
  if (missing.length > 0) {
    throw new PkiError(`PKI material missing:\n  ${missing.join('\n  ')}\nFix: ${fix}`);
  }
  return { ...trustBundle(snapshot, certificatePem(snapshot.ca.cert!), crl!.pem), gateways, tlsCrypt };
}
