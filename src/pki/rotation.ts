import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as x509 from '@peculiar/x509';
import { PkiError } from '../errors.js';
import { removeFileDurably } from './atomic-file.js';
import { certificatePem, certSerial, createGatewayCertificate, randomSerial } from './certificates.js';
import { createCrl, crlPem } from './crl.js';
import { PkiWriter } from './ensure.js';
import { inspectPki, pkiErrorFrom } from './inspect.js';
import { generateKeyPair, importKeyPair, type SigningKeyPair } from './keys.js';
import { PUBLIC_MODE, rel, SECRET_MODE } from './layout.js';
import { readPlainFile } from './pki-files.js';
import type { PkiProblem } from './problems.js';
import { type PkiState, parsePkiState, serializePkiState } from './state.js';
import { generateTlsCryptKey } from './tls-crypt.js';
import { EXPIRED_CA_FIX } from './warnings.js';

/**
 * A rotation's record in pki_dir (rotation.json) and the material it keeps aside (private/rotation/). A rotation
 * changes pki_dir first and converges the gateways second; until the outcome is known the previous material stays
 * here, so a run interrupted anywhere can tell exactly where it stopped: the same `meshctl rotate` again finishes
 * it (or puts the previous material back when its tunnels do not come up). Every step is idempotent and ordered so
 * that the record is written before what it describes and removed before what it kept.
 *
 *   pair:    previous-pair-<k>.key kept → record → new tls-crypt/pair-<k>.key → converge both ends
 *            → verified: record removed, copy removed | rolled back: previous key back, record removed
 *   gateway: previous-<gw>.key/.crt kept → new key + certificate issued (serial recorded in pki.json) as
 *            next-<gw>.key/.crt → record (switching) → installed as private/<gw>.key, issued/<gw>.crt → converge
 *            <gw> and its peers → verified: old serial revoked, CRL renewed (record: revoking) → CRL to every
 *            gateway → record removed, copies removed | rolled back: previous key and certificate back
 */

import {
  type RotationRecord,
  rotationCommand,
  serializeRecord,
  sweepRotationDir,
} from './rotation-record.js';

export { type RotationRecord, readRotation, rotationCommand } from './rotation-record.js';

function readKept(dir: string, relative: string, what: string, record: RotationRecord): string {
  const problems: PkiProblem[] = [];
  const text = readPlainFile(join(dir, relative), true, problems);
  if (problems.length > 0) throw pkiErrorFrom(problems);
  if (text === undefined) {
    throw new PkiError(
      `${join(dir, relative)}: missing, but ${join(dir, rel.rotation)} says ${rotationCommand(record)} kept ${what} there; the previous material cannot be put back. Fix: run \`${rotationCommand(record)}\` again to finish with the new material`,
    );
  }
  return text;
}

/**
 * Ends a rotation: the record goes first (from then on nothing is pending), then everything kept aside. A run
 * stopped in between leaves kept files without a record: the next rotation sweeps them before it starts.
 */
export async function clearRotation(dir: string, _record: RotationRecord): Promise<void> {
  await removeFileDurably(join(dir, rel.rotation));
  await sweepRotationDir(dir);
}

/**
 * `rotate --pair`: keeps the current tls-crypt key of pair `pair` aside, records the rotation, writes a new key.
 * The key must exist (a pair never applied has nothing to rotate: apply creates its key).
 */
export async function beginPairRotation(opts: {
  dir: string;
  mesh: string;
  pair: number;
  ends: [string, string];
  now?: Date;
}): Promise<RotationRecord> {
  const { snapshot, problems } = await inspectPki(
    { dir: opts.dir, mesh: opts.mesh, lans: [], pairs: [opts.pair] },
    'use',
  );
  if (problems.length > 0) throw pkiErrorFrom(problems);
  const current = snapshot.tlsCrypt.get(opts.pair);
  if (snapshot.state === undefined || current === undefined) {
    throw new PkiError(
      `${join(opts.dir, rel.tlsCrypt(opts.pair))}: no tls-crypt key of pair ${opts.pair} (${opts.ends.join(' <-> ')}) yet, so there is nothing to rotate. Fix: run \`meshctl apply\`, which creates it`,
    );
  }
  await sweepRotationDir(opts.dir);
  const writer = new PkiWriter(opts.dir);
  const record: RotationRecord = {
    format: 1,
    kind: 'pair',
    pair: opts.pair,
    ends: opts.ends,
    startedAt: (opts.now ?? new Date()).toISOString(),
  };
  // an earlier rotation's leftover copy (its record already gone) is replaced
  await writer.write(rel.previousTlsCrypt(opts.pair), current, SECRET_MODE, true);
  await writer.write(rel.rotation, serializeRecord(record), PUBLIC_MODE, true);
  await writer.write(rel.tlsCrypt(opts.pair), generateTlsCryptKey(), SECRET_MODE, true);
  return record;
}

/**
 * A pair rotation being resumed: the new key must be in place. A run stopped between writing the record and
 * writing the new key left the previous key as the pair's key; a resume would then converge nothing, check no
 * tunnel and call the rotation done with the old key still in use. So the key is replaced now when it is still
 * the previous one (or missing). Returns whether it wrote one.
 */
export async function ensurePairReplaced(
  dir: string,
  record: RotationRecord & { kind: 'pair' },
): Promise<boolean> {
  const previous = readKept(dir, rel.previousTlsCrypt(record.pair), 'the previous key', record);
  const problems: PkiProblem[] = [];
  const current = readPlainFile(join(dir, rel.tlsCrypt(record.pair)), true, problems);
  if (problems.length > 0) throw pkiErrorFrom(problems);
  if (current !== undefined && current.trim() !== previous.trim()) return false;
  await new PkiWriter(dir).write(rel.tlsCrypt(record.pair), generateTlsCryptKey(), SECRET_MODE, true);
  return true;
}

/** The pair's tunnel did not come up and the gateways went back to the previous key: so does pki_dir. */
export async function undoPairRotation(
  dir: string,
  record: RotationRecord & { kind: 'pair' },
): Promise<void> {
  const previous = readKept(dir, rel.previousTlsCrypt(record.pair), 'the previous key', record);
  await new PkiWriter(dir).write(rel.tlsCrypt(record.pair), previous, SECRET_MODE, true);
  await clearRotation(dir, record);
}

/**
 * `rotate --gateway`: keeps the current key and certificate of `gateway` aside, issues a new key and certificate
 * (same CN, new serial, recorded in pki.json so it is never issued again), records the rotation and puts the new
 * pair in place. The old certificate stays valid until revokePrevious.
 */
export async function beginGatewayRotation(opts: {
  dir: string;
  mesh: string;
  gateway: string;
  now?: Date;
}): Promise<RotationRecord & { kind: 'gateway' }> {
  const now = opts.now ?? new Date();
  const { snapshot, problems } = await inspectPki(
    { dir: opts.dir, mesh: opts.mesh, lans: [opts.gateway], pairs: [] },
    'use',
  );
  if (problems.length > 0) throw pkiErrorFrom(problems);
  const { state } = snapshot;
  const { cert: ca, key: caKeyObject, keyPem: caKeyPem } = snapshot.ca;
  const existing = snapshot.gateways.get(opts.gateway);
  if (
    state === undefined ||
    ca === undefined ||
    caKeyObject === undefined ||
    caKeyPem === undefined ||
    existing?.cert === undefined ||
    existing.certPem === undefined ||
    existing.keyPem === undefined
  ) {
    throw new PkiError(
      `${join(opts.dir, rel.gatewayCert(opts.gateway))}: gateway ${opts.gateway} has no certificate and key yet, so there is nothing to rotate. Fix: run \`meshctl apply\`, which issues them`,
    );
  }
  if (ca.notAfter.getTime() <= now.getTime()) {
    throw new PkiError(
      `${join(opts.dir, rel.caCert)}: the mesh CA expired on ${ca.notAfter.toISOString().slice(0, 10)}; a certificate it signs now is not valid either. Fix: ${EXPIRED_CA_FIX}`,
    );
  }
  await sweepRotationDir(opts.dir);
  const writer = new PkiWriter(opts.dir);
  await writer.write(rel.previousKey(opts.gateway), existing.keyPem, SECRET_MODE, true);
  await writer.write(rel.previousCert(opts.gateway), existing.certPem, SECRET_MODE, true);

  const taken = new Set([
    ...state.issued.map((i) => i.serial),
    ...state.revoked.map((r) => r.serial),
    certSerial(ca),
    certSerial(existing.cert),
  ]);
  const keys = await generateKeyPair();
  const caKey = await importKeyPair(caKeyObject, caKeyPem);
  const cert = await issueRecorded({
    writer,
    state,
    taken,
    lan: opts.gateway,
    publicKey: keys.publicKey,
    ca,
    caKey,
    now,
  });
  await writer.write(rel.nextKey(opts.gateway), keys.pem, SECRET_MODE, true);
  await writer.write(rel.nextCert(opts.gateway), certificatePem(cert), SECRET_MODE, true);
  const record: RotationRecord & { kind: 'gateway' } = {
    format: 1,
    kind: 'gateway',
    gateway: opts.gateway,
    oldSerial: certSerial(existing.cert),
    newSerial: certSerial(cert),
    phase: 'switching',
    startedAt: now.toISOString(),
  };
  await writer.write(rel.rotation, serializeRecord(record), PUBLIC_MODE, true);
  await installNext(opts.dir, record);
  return record;
}

/**
 * A gateway certificate of `ca` with a serial not in `taken`, recorded in pki.json (written) before the certificate
 * exists anywhere, so its serial is never handed out again. The caller writes the certificate.
 */
export async function issueRecorded(opts: {
  writer: PkiWriter;
  state: PkiState;
  taken: ReadonlySet<string>;
  lan: string;
  publicKey: CryptoKey;
  ca: x509.X509Certificate;
  caKey: SigningKeyPair;
  now: Date;
}): Promise<x509.X509Certificate> {
  const { state, lan, publicKey, ca, caKey, now } = opts;
  const cert = await createGatewayCertificate({
    lan,
    publicKey,
    ca,
    caKey,
    serial: randomSerial(opts.taken),
    now,
  });
  state.issued.push({
    lan,
    serial: certSerial(cert),
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
  });
  await opts.writer.write(rel.state, serializePkiState(state), PUBLIC_MODE, true);
  return cert;
}

/**
 * Puts the rotation's new key and certificate in place (again: a run interrupted between the two files left a key
 * that does not match its certificate, which inspectPki refuses). Idempotent.
 */
export async function installNext(dir: string, record: RotationRecord & { kind: 'gateway' }): Promise<void> {
  const key = readKept(dir, rel.nextKey(record.gateway), 'the new key', record);
  const cert = readKept(dir, rel.nextCert(record.gateway), 'the new certificate', record);
  const writer = new PkiWriter(dir);
  const current = (relative: string) => {
    try {
      return readFileSync(join(dir, relative), 'utf8');
    } catch {
      return undefined;
    }
  };
  if (current(rel.gatewayKey(record.gateway)) !== key) {
    await writer.write(rel.gatewayKey(record.gateway), key, SECRET_MODE, true);
  }
  if (current(rel.gatewayCert(record.gateway)) !== cert) {
    await writer.write(rel.gatewayCert(record.gateway), cert, PUBLIC_MODE, true);
  }
}

/** The gateway's tunnels did not come up on the new certificate and went back to the previous one: so does pki_dir. */
export async function undoGatewayRotation(
  dir: string,
  record: RotationRecord & { kind: 'gateway' },
): Promise<void> {
  const key = readKept(dir, rel.previousKey(record.gateway), 'the previous key', record);
  const cert = readKept(dir, rel.previousCert(record.gateway), 'the previous certificate', record);
  const writer = new PkiWriter(dir);
  await writer.write(rel.gatewayKey(record.gateway), key, SECRET_MODE, true);
  await writer.write(rel.gatewayCert(record.gateway), cert, PUBLIC_MODE, true);
  // the certificate that was issued and never used is revoked all the same (pki.json now lists it; the next
  // apply renews the CRL with it): its key may have reached the gateway before the rollback
  const state = parsePkiState(readFileSync(join(dir, rel.state), 'utf8'));
  if (!('problem' in state) && !state.revoked.some((r) => r.serial === record.newSerial)) {
    state.revoked.push({
      lan: record.gateway,
      serial: record.newSerial,
      revokedAt: new Date().toISOString(),
    });
    await writer.write(rel.state, serializePkiState(state), PUBLIC_MODE, true);
  }
  await clearRotation(dir, record);
}

/**
 * The new certificate is verified on every tunnel of the gateway: revoke the old serial (pki.json, then a new CRL,
 * then the old certificate kept under revoked/ for audit) and record that the CRL now goes out. Idempotent.
 */
export async function revokePrevious(opts: {
  dir: string;
  mesh: string;
  record: RotationRecord & { kind: 'gateway' };
  now?: Date;
}): Promise<RotationRecord & { kind: 'gateway' }> {
  const now = opts.now ?? new Date();
  const { record, dir } = opts;
  const { snapshot, problems } = await inspectPki(
    { dir, mesh: opts.mesh, lans: [record.gateway], pairs: [] },
    'use',
  );
  if (problems.length > 0) throw pkiErrorFrom(problems);
  const { state } = snapshot;
  const { cert: ca, key: caKeyObject, keyPem: caKeyPem } = snapshot.ca;
  if (state === undefined || ca === undefined || caKeyObject === undefined || caKeyPem === undefined) {
    throw new PkiError(`${dir}: the CA or pki.json is missing: cannot revoke serial ${record.oldSerial}`);
  }
  const writer = new PkiWriter(dir);
  if (!state.revoked.some((r) => r.serial === record.oldSerial)) {
    state.revoked.push({ lan: record.gateway, serial: record.oldSerial, revokedAt: now.toISOString() });
    await writer.write(rel.state, serializePkiState(state), PUBLIC_MODE, true);
  }
  const wanted = state.revoked.map((r) => r.serial).sort();
  const crl = snapshot.crl;
  if (crl === undefined || !crl.signedByCa || wanted.join(',') !== crl.serials.join(',')) {
    // the number is taken in pki.json before the CRL carrying it exists: a run stopped in between skips a
    // number, and never issues two CRLs with the same one
    state.crlNumber += 1;
    await writer.write(rel.state, serializePkiState(state), PUBLIC_MODE, true);
    const caKey = await importKeyPair(caKeyObject, caKeyPem);
    const pem = crlPem(
      await createCrl({ ca, caKey, revoked: state.revoked, crlNumber: state.crlNumber, now }),
    );
    await writer.write(rel.crl, pem, PUBLIC_MODE, true);
  }
  const previousCert = readKept(dir, rel.previousCert(record.gateway), 'the previous certificate', record);
  await writer.write(rel.revokedCert(record.gateway, record.oldSerial), previousCert, PUBLIC_MODE, true);
  const revoking = { ...record, phase: 'revoking' as const };
  await writer.write(rel.rotation, serializeRecord(revoking), PUBLIC_MODE, true);
  return revoking;
}
