import { join } from 'node:path';
import { PkiError } from '../errors.js';
import { removeFileDurably } from './atomic-file.js';
import { certSerial } from './certificates.js';
import { createCrl, crlPem } from './crl.js';
import { crlNeedsRenewal, PkiWriter } from './ensure.js';
import { inspectPki, pkiErrorFrom } from './inspect.js';
import { importKeyPair } from './keys.js';
import { PUBLIC_MODE, rel } from './layout.js';
import { serializePkiState } from './state.js';

/**
 * Revokes the certificate of `lan` (remove-lan): its serial joins the revoked list in pki.json and the CRL, the
 * certificate moves to revoked/<lan>-<serial>.crt for audit, its private key is deleted, and the name is recorded
 * as retired. The name itself may be used again later: ensurePki then issues a new certificate with a new serial,
 * and the old serial stays revoked (see PkiState.retired). `pairs`: the LAN's pair indices, whose tls-crypt keys
 * are deleted too — the removed gateway held them, and its id is retired, so those indices never come back.
 *
 * Each step is idempotent and ordered so that an interrupted revocation is finished by running it again:
 * pki.json first (the source of truth), then the CRL, then the files.
 */
export async function revokeGateway(opts: {
  dir: string;
  mesh: string;
  lan: string;
  pairs?: number[];
  now?: Date;
}): Promise<void> {
  const now = opts.now ?? new Date();
  const request = { dir: opts.dir, mesh: opts.mesh, lans: [opts.lan], pairs: [] };
  const { snapshot, problems } = await inspectPki(request, 'revoke');
  if (problems.length > 0) throw pkiErrorFrom(problems);
  if (snapshot.caRotation !== undefined) {
    throw new PkiError(
      `${join(opts.dir, rel.rotation)}: a CA rotation is in progress (phase ${snapshot.caRotation.record.phase}); while gateways trust two CAs a revocation would have to reach both CRLs. Nothing was changed. Fix: run \`meshctl rotate --ca\` to finish it first (it needs every gateway reachable), then this command again`,
    );
  }
  const state = snapshot.state;
  const { cert: caCert, key: caKeyObject, keyPem: caKeyPem } = snapshot.ca;
  if (state === undefined || caCert === undefined || caKeyObject === undefined || caKeyPem === undefined) {
    throw new PkiError(
      `${opts.dir}: no PKI of mesh "${opts.mesh}" here (pki.json, ca.crt or private/ca.key missing), so there is no certificate of "${opts.lan}" to revoke. Fix: check pki_dir in mesh.yml`,
    );
  }

  const certFile = join(opts.dir, rel.gatewayCert(opts.lan));
  const cert = snapshot.gateways.get(opts.lan)?.cert;
  const writer = new PkiWriter(opts.dir);
  if (cert === undefined) {
    if (!state.revoked.some((r) => r.lan === opts.lan)) {
      throw new PkiError(
        `${certFile}: missing, and pki.json has no revoked certificate of "${opts.lan}": nothing to revoke. Fix: check the LAN name and pki_dir in mesh.yml`,
      );
    }
    // Already revoked by an earlier run: only finish what that run may have left (below).
  } else {
    const serial = certSerial(cert);
    if (!state.revoked.some((r) => r.serial === serial)) {
      state.revoked.push({ lan: opts.lan, serial, revokedAt: now.toISOString() });
      if (!state.retired.includes(opts.lan)) state.retired.push(opts.lan);
      await writer.write(rel.state, serializePkiState(state), PUBLIC_MODE, true);
    }
  }

  if (crlNeedsRenewal(snapshot, state, now)) {
    // pki.json takes the number before the CRL carrying it exists: an interrupted run skips a number, never reuses one
    state.crlNumber += 1;
    await writer.write(rel.state, serializePkiState(state), PUBLIC_MODE, true);
    const caKey = await importKeyPair(caKeyObject, caKeyPem);
    const crl = await createCrl({
      ca: caCert,
      caKey,
      revoked: state.revoked,
      crlNumber: state.crlNumber,
      now,
    });
    await writer.write(rel.crl, crlPem(crl), PUBLIC_MODE, true);
  }

  if (cert !== undefined) {
    const certPem = snapshot.gateways.get(opts.lan)!.certPem!;
    await writer.write(rel.revokedCert(opts.lan, certSerial(cert)), certPem, PUBLIC_MODE, true);
    await removeFileDurably(certFile);
  }
  await removeFileDurably(join(opts.dir, rel.gatewayKey(opts.lan)));
  for (const k of opts.pairs ?? []) await removeFileDurably(join(opts.dir, rel.tlsCrypt(k)));
}
