import { join } from 'node:path';
import type * as x509 from '@peculiar/x509';
import { PkiError } from '../errors.js';
import type { PkiMaterial } from '../types.js';
import { ensurePrivateDirectory, writeFileAtomic, writeNewFilesAtomic } from './atomic-file.js';
import { trustBundle } from './ca-bundle.js';
import {
  certificatePem,
  certSerial,
  createCaCertificate,
  createGatewayCertificate,
  randomSerial,
} from './certificates.js';
import { createCrl, crlPem } from './crl.js';
import { inspectPki, type PkiRequest, type PkiSnapshot, pkiErrorFrom } from './inspect.js';
import { hasUsableKey } from './inspect-material.js';
import { generateKeyPair, importKeyPair, type SigningKeyPair } from './keys.js';
import { DIR_MODE, EXPIRY_WARNING_DAYS, GITIGNORE_CONTENT, PUBLIC_MODE, rel, SECRET_MODE } from './layout.js';
import { readRotation, sweepRotationDir } from './rotation-record.js';
import { newPkiState, type PkiState, serializePkiState } from './state.js';
import { generateTlsCryptKey } from './tls-crypt.js';
import { readVerified, type VerifiedPair, writeVerified } from './verified.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Makes sure the PKI in `dir` (layout: ./layout.ts) holds a CA, a certificate and key for every LAN in `lans`, a
 * tls-crypt key for every pair index in `pairs` and a current CRL, creating only what is missing. Existing material
 * is reused byte for byte: a run that needs nothing writes nothing (no byte, no mtime). Anything unsafe or
 * inconsistent (see inspect.ts) is refused before the first write, with the fix.
 *
 * `created` lists the files this run wrote, relative to `dir`, in write order (pki.json is listed when the run
 * recorded something in it). Not in it: private/verified.json, the record of verified gateway pairs
 * (./verified.ts), rewritten last when its content changed (a new or changed pair; the first run of a version
 * that keeps it) — a run that needs nothing else and finds it current writes nothing there either.
 */
export async function ensurePki(
  opts: PkiRequest & { now?: Date },
): Promise<{ material: PkiMaterial; created: string[] }> {
  const now = opts.now ?? new Date();
  const { snapshot, problems } = await inspectPki(opts, 'use');
  if (problems.length > 0) throw pkiErrorFrom(problems);

  if (snapshot.caRotation !== undefined) {
    const uncertified = [...new Set(opts.lans)].filter(
      (lan) => snapshot.gateways.get(lan)?.cert === undefined,
    );
    if (uncertified.length > 0) {
      throw new PkiError(
        `${join(opts.dir, rel.gatewayCert(uncertified[0]!))}: ${uncertified.join(', ')} ${uncertified.length > 1 ? 'have' : 'has'} no certificate yet, and a CA rotation is in progress (${join(opts.dir, rel.rotation)}); a certificate issued now would miss some of its phases. Nothing was written. Fix: run \`meshctl rotate --ca\` to finish it, then this command again`,
      );
    }
  }
  const writer = new PkiWriter(opts.dir);
  if (!snapshot.dirExists) await ensurePrivateDirectory(opts.dir, DIR_MODE);
  // a rotation stopped after its record was removed may have left what it kept aside (old private keys)
  else if (readRotation(opts.dir) === undefined) await sweepRotationDir(opts.dir);

  let state = snapshot.state;
  let stateChanged = false;
  if (state === undefined) {
    // Written first: from now on the directory belongs to this mesh, even if the run is interrupted.
    state = newPkiState(opts.mesh);
    await writer.write(rel.state, serializePkiState(state), PUBLIC_MODE, true);
  }
  if (!snapshot.gitignoreExists) await writer.write(rel.gitignore, GITIGNORE_CONTENT, PUBLIC_MODE, false);

  const taken = takenSerials(state, snapshot);
  const { ca, caKey } = await ensureCa(opts.mesh, snapshot, writer, now, taken);

  // every gateway pair verified by this run or an earlier one, and every pair issued now
  const verified = snapshot.verified ?? readVerified(opts.dir, certificatePem(ca), caKey.pem);
  const verifiedPairs = new Map<string, VerifiedPair>();
  const gateways = new Map<string, { cert: string; key: string }>();
  for (const lan of new Set(opts.lans)) {
    const existing = snapshot.gateways.get(lan) ?? {};
    let keyPem = existing.keyPem;
    let publicKey: CryptoKey | undefined;
    if (keyPem === undefined || !hasUsableKey(existing)) {
      const generated = await generateKeyPair();
      await writer.write(rel.gatewayKey(lan), generated.pem, SECRET_MODE, false);
      keyPem = generated.pem;
      publicKey = generated.publicKey;
    }
    let certPem = existing.certPem;
    let serial = existing.serial;
    let issued: x509.X509Certificate | undefined;
    if (certPem === undefined || serial === undefined) {
      // A key without its certificate is an interrupted run: certify that key rather than replace it.
      publicKey ??= (await importKeyPair(existing.key!, keyPem)).publicKey;
      serial = randomSerial(taken);
      taken.add(serial);
      issued = await createGatewayCertificate({ lan, publicKey, ca, caKey, serial, now });
      certPem = certificatePem(issued);
      await writer.write(rel.gatewayCert(lan), certPem, PUBLIC_MODE, false);
      verifiedPairs.set(lan, { serial, tag: verified.tag(lan, certPem, keyPem, serial) });
    } else if (existing.verified !== undefined) {
      verifiedPairs.set(lan, { serial, tag: existing.verified });
    }
    // the certificate is parsed only when pki.json does not list it yet (a verified one may not be parsed at all)
    stateChanged = recordIssued(state, lan, serial, () => issued ?? existing.cert!) || stateChanged;
    gateways.set(lan, { cert: certPem, key: keyPem });
  }

  const tlsCrypt = new Map<number, string>();
  const newKeys: { relative: string; content: string; mode: number }[] = [];
  for (const k of new Set(opts.pairs)) {
    let key = snapshot.tlsCrypt.get(k);
    if (key === undefined) {
      key = generateTlsCryptKey();
      newKeys.push({ relative: rel.tlsCrypt(k), content: key, mode: SECRET_MODE });
    }
    tlsCrypt.set(k, key);
  }
  // one per pair: thousands in a big mesh, written together (nothing reads them before ensurePki returns)
  await writer.writeNew(newKeys);

  let crl = snapshot.crl?.pem;
  if (crl === undefined || crlNeedsRenewal(snapshot, state, now)) {
    state.crlNumber += 1;
    // pki.json takes the number before the CRL carrying it exists: an interrupted run skips a number, never
    // reuses one
    await writer.write(rel.state, serializePkiState(state), PUBLIC_MODE, true);
    stateChanged = false;
    crl = crlPem(await createCrl({ ca, caKey, revoked: state.revoked, crlNumber: state.crlNumber, now }));
    await writer.write(rel.crl, crl, PUBLIC_MODE, true);
  }

  if (stateChanged) await writer.write(rel.state, serializePkiState(state), PUBLIC_MODE, true);
  // not PKI material, so not in `created`; rewritten only when its content changes (never while a CA rotation
  // runs: see inspect.ts)
  if (snapshot.caRotation === undefined) await writeVerified(opts.dir, verified.text, verifiedPairs);
  return {
    material: { ...trustBundle(snapshot, certificatePem(ca), crl), gateways, tlsCrypt },
    created: [...new Set(writer.written)],
  };
}

/**
 * The CRL is rewritten only when it no longer says what pki.json says (another revoked list, another signer,
 * unreadable) or when its next update is within the warning window — never on a run that changes nothing else.
 */
export function crlNeedsRenewal(snapshot: PkiSnapshot, state: PkiState, now: Date): boolean {
  const current = snapshot.crl;
  if (current === undefined || !current.signedByCa) return true;
  const wanted = state.revoked.map((r) => r.serial).sort();
  if (wanted.join(',') !== current.serials.join(',')) return true;
  const nextUpdate = current.crl.nextUpdate;
  return nextUpdate === undefined || nextUpdate.getTime() - now.getTime() < EXPIRY_WARNING_DAYS * DAY_MS;
}

async function ensureCa(
  mesh: string,
  snapshot: PkiSnapshot,
  writer: PkiWriter,
  now: Date,
  taken: Set<string>,
): Promise<{ ca: x509.X509Certificate; caKey: SigningKeyPair }> {
  let caKey: SigningKeyPair;
  if (snapshot.ca.key !== undefined && snapshot.ca.keyPem !== undefined) {
    caKey = await importKeyPair(snapshot.ca.key, snapshot.ca.keyPem);
  } else {
    caKey = await generateKeyPair();
    await writer.write(rel.caKey, caKey.pem, SECRET_MODE, false);
  }
  let ca = snapshot.ca.cert;
  if (ca === undefined) {
    ca = await createCaCertificate(mesh, caKey, now, taken);
    taken.add(certSerial(ca));
    await writer.write(rel.caCert, certificatePem(ca), PUBLIC_MODE, false);
  }
  return { ca, caKey };
}

function takenSerials(state: PkiState, snapshot: PkiSnapshot): Set<string> {
  const taken = new Set([...state.issued.map((i) => i.serial), ...state.revoked.map((r) => r.serial)]);
  if (snapshot.ca.cert !== undefined) taken.add(certSerial(snapshot.ca.cert));
  for (const gateway of snapshot.gateways.values()) {
    if (gateway.serial !== undefined) taken.add(gateway.serial);
  }
  return taken;
}

/** Records a gateway certificate in pki.json (also one written by an interrupted run); true when state changed. */
function recordIssued(
  state: PkiState,
  lan: string,
  serial: string,
  certificate: () => x509.X509Certificate,
): boolean {
  let changed = false;
  if (!state.issued.some((i) => i.serial === serial)) {
    const cert = certificate();
    state.issued.push({
      lan,
      serial,
      notBefore: cert.notBefore.toISOString(),
      notAfter: cert.notAfter.toISOString(),
    });
    changed = true;
  }
  if (state.retired.includes(lan)) {
    // The operator added a LAN with this name again: it has a new certificate now (see PkiState.retired).
    state.retired = state.retired.filter((name) => name !== lan);
    changed = true;
  }
  return changed;
}

/** Writes files under the PKI dir, creating its 0700 subdirectories on first use, and remembers what it wrote. */
export class PkiWriter {
  readonly written: string[] = [];
  constructor(private readonly dir: string) {}

  async write(relative: string, content: string, mode: number, replace: boolean): Promise<void> {
    const file = join(this.dir, relative);
    await ensurePrivateDirectory(join(file, '..'), DIR_MODE);
    await writeFileAtomic(file, content, mode, { replace });
    this.written.push(relative);
  }

  /** New files (never replacing one), written concurrently: see writeNewFilesAtomic. */
  async writeNew(files: { relative: string; content: string; mode: number }[]): Promise<void> {
    if (files.length === 0) return;
    for (const dir of new Set(files.map((f) => join(this.dir, f.relative, '..')))) {
      await ensurePrivateDirectory(dir, DIR_MODE);
    }
    await writeNewFilesAtomic(
      files.map((f) => ({ path: join(this.dir, f.relative), content: f.content, mode: f.mode })),
    );
    this.written.push(...files.map((f) => f.relative));
  }
}
