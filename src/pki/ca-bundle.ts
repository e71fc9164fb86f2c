import type { PkiSnapshot } from './inspect.js';

/**
 * What gateways trust: pki_dir's CA and CRL, and while `rotate --ca` is in its first two phases, the new CA and its
 * CRL too, as one bundle each. OpenVPN reads every certificate of its `ca` file and every CRL of its `crl-verify`
 * file; with CRL checking on, a certificate verifies only when its issuer's CRL is there, so both CRLs go along.
 */
export function trustBundle(
  snapshot: PkiSnapshot,
  caCert: string,
  crl: string,
): { caCert: string; crl: string } {
  const rotation = snapshot.caRotation;
  const nextCa = rotation?.next?.certPem;
  if (nextCa === undefined || rotation?.nextCrlPem === undefined) return { caCert, crl };
  return { caCert: joinPem(caCert, nextCa), crl: joinPem(crl, rotation.nextCrlPem) };
}

function joinPem(first: string, second: string): string {
  const line = (text: string) => (text.endsWith('\n') ? text : `${text}\n`);
  return line(first) + line(second);
}
