import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PkiError } from '../errors.js';
import {
  caGeneration,
  certificatePem,
  certSerial,
  commonName,
  createCaCertificate,
  parseCertificate,
} from './certificates.js';
import { createCrl, crlPem, isCrlSignedBy, parseCrl } from './crl.js';
import { PkiWriter } from './ensure.js';
import { inspectPki, type PkiSnapshot, pkiErrorFrom } from './inspect.js';
import { generateKeyPair, importKeyPair } from './keys.js';
import { PUBLIC_MODE, rel, SECRET_MODE } from './layout.js';
import { readPlainFile } from './pki-files.js';
import type { PkiProblem } from './problems.js';
import { clearRotation, issueRecorded } from './rotation.js';
import { type CaPhase, type CaRotationRecord, serializeRecord, sweepRotationDir } from './rotation-record.js';
import { serializePkiState } from './state.js';
import { EXPIRED_CA_FIX } from './warnings.js';

/**
 * `rotate --ca` in pki_dir (SPEC §10). The gateways are converged one at a time between these steps
 * (src/commands/rotate.ts); this module only changes pki_dir, each step idempotent and recorded in rotation.json
 * so that a run stopped anywhere is finished by the same command:
 *
 *   begin     new CA key and certificate (CN `<mesh> meshctl CA <n>`) and its CRL kept as private/rotation/next-*;
 *             record phase trust. From now on every gateway's material trusts both CAs and both CRLs
 *             (trustBundle), and no new gateway certificate is issued until the rotation ends.
 *   trust     each gateway converged in turn gets the bundle (its tunnels restart, still on old certificates).
 *   reissue   per gateway: its certificate re-signed by the new CA (same key, new serial; the old one kept as
 *             private/rotation/previous-<gw>.crt), then that gateway converged; rolled back: the old one is put back.
 *   retire    the old CA kept aside (previous-ca.*), the new CA, its key and its CRL become ca.crt, private/ca.key
 *             and crl.pem; each gateway converged in turn trusts the new CA alone.
 *   finish    the record goes, the old CA certificate stays as revoked/ca-<serial>.crt, the rest is removed.
 */

function write(dir: string): PkiWriter {
  return new PkiWriter(dir);
}

async function saveRecord(dir: string, record: CaRotationRecord): Promise<CaRotationRecord> {
  await write(dir).write(rel.rotation, serializeRecord(record), PUBLIC_MODE, true);
  return record;
}

function readKept(dir: string, relative: string, what: string): string {
  const problems: PkiProblem[] = [];
  const text = readPlainFile(join(dir, relative), true, problems);
  if (problems.length > 0) throw pkiErrorFrom(problems);
  if (text === undefined) {
    throw new PkiError(
      `${join(dir, relative)}: missing, but ${join(dir, rel.rotation)} records a CA rotation that keeps ${what} there. Fix: restore it from a backup; nothing was changed`,
    );
  }
  return text;
}

/**
 * What a CA rotation needs before it begins, read only: the CA valid, and every gateway of the inventory with its
 * certificate and key, not expired (a rotation that could not finish would block every certificate change until
 * it does). Throws the refusal with its fixes; returns the snapshot.
 */
export async function checkCaRotationReady(opts: {
  dir: string;
  mesh: string;
  gateways: string[];
  now?: Date;
}): Promise<PkiSnapshot> {
  const now = opts.now ?? new Date();
  const { snapshot, problems } = await inspectPki(
    { dir: opts.dir, mesh: opts.mesh, lans: opts.gateways, pairs: [] },
    'use',
  );
  if (problems.length > 0) throw pkiErrorFrom(problems);
  const { cert: ca } = snapshot.ca;
  if (snapshot.state === undefined || ca === undefined || snapshot.ca.key === undefined) {
    throw new PkiError(
      `${join(opts.dir, rel.caCert)}: there is no CA yet, so there is nothing to rotate. Fix: run \`meshctl apply\`, which creates it`,
    );
  }
  if (ca.notAfter.getTime() <= now.getTime()) {
    throw new PkiError(
      `${join(opts.dir, rel.caCert)}: the mesh CA expired on ${ca.notAfter.toISOString().slice(0, 10)}, so no tunnel can be verified during a staged rotation. Fix: ${EXPIRED_CA_FIX}`,
    );
  }
  const unready: string[] = [];
  for (const name of opts.gateways) {
    const g = snapshot.gateways.get(name);
    if (g?.cert === undefined || g.key === undefined) {
      unready.push(
        `${name} has no certificate and key yet (fix: \`meshctl apply\` first, which issues them)`,
      );
    } else if (g.cert.notAfter.getTime() <= now.getTime()) {
      unready.push(
        `the certificate of ${name} expired on ${g.cert.notAfter.toISOString().slice(0, 10)}, so its tunnels cannot be verified (fix: \`meshctl rotate --gateway ${name}\` first)`,
      );
    }
  }
  if (unready.length > 0) {
    throw new PkiError(
      `rotate --ca needs every gateway's tunnels verifiable, and nothing was changed:\n  ${unready.join('\n  ')}`,
    );
  }
  return snapshot;
}

/** A new CA and its CRL beside the current one; the record (phase trust) is written last. */
export async function beginCaRotation(opts: {
  dir: string;
  mesh: string;
  /** Every gateway of the inventory (see checkCaRotationReady). */
  gateways: string[];
  now?: Date;
}): Promise<CaRotationRecord> {
  const now = opts.now ?? new Date();
  const snapshot = await checkCaRotationReady({ ...opts, now });
  const state = snapshot.state!;
  const ca = snapshot.ca.cert!;
  await sweepRotationDir(opts.dir);
  const generation = (caGeneration(opts.mesh, commonName(ca)) ?? 1) + 1;
  const taken = new Set([
    ...state.issued.map((i) => i.serial),
    ...state.revoked.map((r) => r.serial),
    certSerial(ca),
  ]);
  const keys = await generateKeyPair();
  const next = await createCaCertificate(opts.mesh, keys, now, taken, generation);
  const writer = write(opts.dir);
  // the CRL number is taken in pki.json before the CRL carrying it exists
  state.crlNumber += 1;
  await writer.write(rel.state, serializePkiState(state), PUBLIC_MODE, true);
  const crl = crlPem(
    await createCrl({ ca: next, caKey: keys, revoked: state.revoked, crlNumber: state.crlNumber, now }),
  );
  await writer.write(rel.nextCaKey, keys.pem, SECRET_MODE, true);
  await writer.write(rel.nextCaCert, certificatePem(next), SECRET_MODE, true);
  await writer.write(rel.nextCrl, crl, SECRET_MODE, true);
  return saveRecord(opts.dir, {
    format: 1,
    kind: 'ca',
    oldCa: certSerial(ca),
    newCa: certSerial(next),
    phase: 'trust',
    done: [],
    startedAt: now.toISOString(),
  });
}

/** `gateway` is done in the current phase (converged, every tunnel verified). */
export async function markCaDone(
  dir: string,
  record: CaRotationRecord,
  gateway: string,
): Promise<CaRotationRecord> {
  if (record.done.includes(gateway)) return record;
  return saveRecord(dir, { ...record, done: [...record.done, gateway] });
}

export async function enterCaPhase(
  dir: string,
  record: CaRotationRecord,
  phase: CaPhase,
): Promise<CaRotationRecord> {
  return saveRecord(dir, { ...record, phase, done: [] });
}

/**
 * Phase reissue: `gateway`'s certificate signed again, by the new CA (same key: its management password and
 * everything else on the gateway stay; a new serial, recorded in pki.json). The current certificate is kept aside
 * for a rollback. Returns false when it already is the new CA's (a resumed run).
 */
export async function reissueUnderNewCa(opts: {
  dir: string;
  mesh: string;
  gateway: string;
  now?: Date;
}): Promise<boolean> {
  const now = opts.now ?? new Date();
  const { snapshot, problems } = await inspectPki(
    { dir: opts.dir, mesh: opts.mesh, lans: [opts.gateway], pairs: [] },
    'use',
  );
  if (problems.length > 0) throw pkiErrorFrom(problems);
  const existing = snapshot.gateways.get(opts.gateway);
  const next = snapshot.caRotation?.next;
  const { state } = snapshot;
  if (
    state === undefined ||
    existing?.cert === undefined ||
    existing.certPem === undefined ||
    existing.key === undefined ||
    existing.keyPem === undefined
  ) {
    throw new PkiError(
      `${join(opts.dir, rel.gatewayCert(opts.gateway))}: ${opts.gateway} has no certificate and key to reissue. Fix: restore them from a backup`,
    );
  }
  if (existing.byNewCa) return false;
  if (next?.cert === undefined || next.key === undefined || next.keyPem === undefined) {
    throw new PkiError(
      `${join(opts.dir, rel.nextCaCert)}: the new CA is missing. Fix: restore it from a backup`,
    );
  }
  const writer = write(opts.dir);
  await writer.write(rel.previousCert(opts.gateway), existing.certPem, SECRET_MODE, true);
  const taken = new Set([
    ...state.issued.map((i) => i.serial),
    ...state.revoked.map((r) => r.serial),
    certSerial(next.cert),
    certSerial(existing.cert),
  ]);
  const { publicKey } = await importKeyPair(existing.key, existing.keyPem);
  const caKey = await importKeyPair(next.key, next.keyPem);
  const cert = await issueRecorded({
    writer,
    state,
    taken,
    lan: opts.gateway,
    publicKey,
    ca: next.cert,
    caKey,
    now,
  });
  await writer.write(rel.gatewayCert(opts.gateway), certificatePem(cert), PUBLIC_MODE, true);
  return true;
}

/** The gateway's tunnels did not come up on the reissued certificate and got the old one back: so does pki_dir. */
export async function undoReissue(dir: string, gateway: string): Promise<void> {
  const previous = readKept(dir, rel.previousCert(gateway), `the previous certificate of ${gateway}`);
  await write(dir).write(rel.gatewayCert(gateway), previous, PUBLIC_MODE, true);
}

/**
 * Phase retire begins: the old CA and its key are kept aside, the record says retire, then the new CA, its key and
 * its CRL are installed as pki_dir's own (installNewCa).
 */
export async function beginRetire(dir: string, record: CaRotationRecord): Promise<CaRotationRecord> {
  const current = readFileSync(join(dir, rel.caCert), 'utf8');
  const writer = write(dir);
  const nextCert = readKept(dir, rel.nextCaCert, 'the new CA');
  if (current !== nextCert) {
    await writer.write(rel.previousCaCert, current, SECRET_MODE, true);
    await writer.write(rel.previousCaKey, readKept(dir, rel.caKey, 'the CA key'), SECRET_MODE, true);
  }
  const retiring = await enterCaPhase(dir, record, 'retire');
  await installNewCa(dir);
  return retiring;
}

/** The new CA, its key and its CRL as ca.crt, private/ca.key and crl.pem (again, after an interruption). */
export async function installNewCa(dir: string): Promise<void> {
  const writer = write(dir);
  const install = async (from: string, to: string, mode: number, what: string) => {
    const content = readKept(dir, from, what);
    let current: string | undefined;
    try {
      current = readFileSync(join(dir, to), 'utf8');
    } catch {
      current = undefined;
    }
    if (current !== content) await writer.write(to, content, mode, true);
  };
  await install(rel.nextCaKey, rel.caKey, SECRET_MODE, 'the new CA key');
  await install(rel.nextCaCert, rel.caCert, PUBLIC_MODE, 'the new CA');
  // a CRL the new CA signed is in place already (perhaps renewed since by apply, with a higher number): keep it
  const nextCa = parseCertificate(readKept(dir, rel.nextCaCert, 'the new CA'));
  let current: string | undefined;
  try {
    current = readFileSync(join(dir, rel.crl), 'utf8');
  } catch {
    current = undefined;
  }
  const crl = current === undefined ? undefined : parseCrl(current);
  const signed =
    crl !== undefined && nextCa !== undefined && (await isCrlSignedBy(crl, await nextCa.publicKey.export()));
  if (!signed) await install(rel.nextCrl, rel.crl, PUBLIC_MODE, "the new CA's CRL");
}

/** Every gateway trusts the new CA alone: the record goes, the old CA's certificate stays for audit. */
export async function finishCaRotation(dir: string, record: CaRotationRecord): Promise<void> {
  let previous: string | undefined;
  try {
    previous = readFileSync(join(dir, rel.previousCaCert), 'utf8');
  } catch {
    previous = undefined;
  }
  if (previous !== undefined) {
    await write(dir).write(rel.retiredCaCert(record.oldCa), previous, PUBLIC_MODE, true);
  }
  await clearRotation(dir, record);
}
