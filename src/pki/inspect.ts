import { lstat, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type * as x509 from '@peculiar/x509';
import { PkiError } from '../errors.js';
import { certSerial } from './certificates.js';
import { crlSerials, isCrlSignedBy, parseCrl } from './crl.js';
import {
  type CaSnapshot,
  type GatewaySnapshot,
  type InspectPurpose,
  inspectCa,
  inspectGateway,
} from './inspect-material.js';
import { GITIGNORE_ENTRIES, LAN_NAME, rel, SECRET_DIRS } from './layout.js';
import { checkDirMode, ignoreMissing, readPlainFile } from './pki-files.js';
import { type PkiProblem, pkiErrorFrom } from './problems.js';
import { type CaRotationRecord, readRotation } from './rotation-record.js';
import { type PkiState, parsePkiState } from './state.js';
import { tlsCryptKeyProblem } from './tls-crypt.js';
import { readVerified, type Verified } from './verified.js';

export type { GatewaySnapshot, InspectPurpose, PkiProblem };
export { pkiErrorFrom };

/**
 * The read phase shared by ensurePki, revokeGateway and loadPkiReadOnly: reads everything that exists, checks it,
 * and collects every refusal. Nothing is written here, so a refused run writes nothing at all.
 */

export interface PkiRequest {
  dir: string;
  mesh: string;
  lans: string[];
  pairs: number[];
}

export interface PkiSnapshot {
  dirExists: boolean;
  state?: PkiState;
  gitignoreExists: boolean;
  ca: CaSnapshot;
  crl?: { pem: string; crl: x509.X509Crl; serials: string[]; signedByCa: boolean };
  gateways: Map<string, GatewaySnapshot>;
  /** Existing tls-crypt keys by pair index. */
  tlsCrypt: Map<number, string>;
  /**
   * A `rotate --ca` in progress. In its first two phases gateways trust the new CA too (`next`, with its CRL);
   * in the last, pki_dir's CA already is the new one.
   */
  caRotation?: { record: CaRotationRecord; next?: CaSnapshot; nextCrlPem?: string };
  /** The record of verified gateway pairs (./verified.ts), when the CA passed its checks and no CA rotation runs. */
  verified?: Verified;
}

export function validateRequest(request: PkiRequest): void {
  for (const lan of request.lans) {
    if (!LAN_NAME.test(lan)) {
      throw new PkiError(
        `LAN name ${JSON.stringify(lan)} cannot name a certificate: names match ${LAN_NAME} (fix lans/<name>.yml)`,
      );
    }
  }
  for (const k of request.pairs) {
    if (!Number.isSafeInteger(k) || k < 1) {
      throw new PkiError(
        `pair index ${JSON.stringify(k)} is not a positive integer (allocation bug: report it)`,
      );
    }
  }
}

/**
 * The `rotate --ca` in progress, if any, with the new CA and its CRL while gateways are to trust both. An unreadable
 * record is a refusal here (the material a gateway gets depends on it).
 */
async function inspectCaRotation(
  dir: string,
  mesh: string,
  problems: PkiProblem[],
): Promise<PkiSnapshot['caRotation']> {
  let record: ReturnType<typeof readRotation>;
  try {
    record = readRotation(dir);
  } catch (error) {
    problems.push({
      file: join(dir, rel.rotation),
      problem: (error as Error).message,
      fix: 'restore it from a backup, or (once you have checked which CA each gateway trusts) move it away',
    });
    return undefined;
  }
  if (record?.kind !== 'ca') return undefined;
  if (record.phase === 'retire') return { record };
  const certPem = readPlainFile(join(dir, rel.nextCaCert), true, problems);
  const keyPem = readPlainFile(join(dir, rel.nextCaKey), true, problems);
  const nextCrlPem = readPlainFile(join(dir, rel.nextCrl), true, problems);
  const missing = [
    ...(certPem === undefined ? [rel.nextCaCert] : []),
    ...(keyPem === undefined ? [rel.nextCaKey] : []),
    ...(nextCrlPem === undefined ? [rel.nextCrl] : []),
  ];
  for (const relative of missing) {
    problems.push({
      file: join(dir, relative),
      problem: `is missing, but ${join(dir, rel.rotation)} records a CA rotation in phase ${record.phase} that keeps the new CA there`,
      fix: 'restore it from a backup (gateways may already trust that CA)',
    });
  }
  const next = await inspectCa(dir, mesh, certPem, keyPem, problems, {
    cert: rel.nextCaCert,
    key: rel.nextCaKey,
  });
  return { record, next, ...(nextCrlPem === undefined ? {} : { nextCrlPem }) };
}

export async function inspectPki(
  request: PkiRequest,
  purpose: InspectPurpose,
): Promise<{ snapshot: PkiSnapshot; problems: PkiProblem[] }> {
  validateRequest(request);
  const { dir, mesh } = request;
  const problems: PkiProblem[] = [];
  const path = (relative: string) => join(dir, relative);
  const snapshot: PkiSnapshot = {
    dirExists: false,
    gitignoreExists: false,
    ca: {},
    gateways: new Map(),
    tlsCrypt: new Map(),
  };

  // The directory itself may be a symlink (e.g. to an encrypted volume); everything inside must be plain files.
  const dirStat = await stat(dir).catch(ignoreMissing);
  if (dirStat === undefined) return { snapshot, problems };
  if (!dirStat.isDirectory()) {
    problems.push({
      file: dir,
      problem: 'is not a directory',
      fix: 'point pki_dir in mesh.yml at a directory',
    });
    return { snapshot, problems };
  }
  snapshot.dirExists = true;
  // A directory holding other things is not ours to take over (or to chmod): pki_dir probably points at the
  // wrong place, e.g. /etc or a home directory.
  const entries = await readdir(dir);
  const meshctlLayout = [rel.state, rel.caCert, rel.crl, 'private', 'issued', 'tls-crypt', 'revoked'];
  if (
    !entries.some((name) => meshctlLayout.includes(name)) &&
    entries.some((name) => name !== '.gitignore')
  ) {
    problems.push({
      file: dir,
      problem: `already holds other files (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', …' : ''}) and is not a meshctl PKI (no ${rel.state})`,
      fix: 'point pki_dir in mesh.yml at a new or empty directory',
    });
    return { snapshot, problems };
  }
  checkDirMode(dir, dirStat.mode, problems);
  for (const sub of SECRET_DIRS) {
    const subStat = await lstat(path(sub)).catch(ignoreMissing);
    if (subStat === undefined) continue;
    if (!subStat.isDirectory()) {
      problems.push({ file: path(sub), problem: 'is not a directory', fix: `move ${path(sub)} away` });
    } else {
      checkDirMode(path(sub), subStat.mode, problems);
    }
  }

  const readPublic = (relative: string) => readPlainFile(path(relative), false, problems);
  const readSecret = (relative: string) => readPlainFile(path(relative), true, problems);

  // pki.json binds the directory to one mesh; nothing else is judged when it belongs to another.
  const stateText = await readPublic(rel.state);
  const caCertPem = await readPublic(rel.caCert);
  const caKeyPem = await readSecret(rel.caKey);
  if (stateText !== undefined) {
    const parsed = parsePkiState(stateText);
    if ('problem' in parsed) {
      problems.push({
        file: path(rel.state),
        problem: parsed.problem,
        fix: `restore ${path(rel.state)} from git or a backup (it records the revoked serials)`,
      });
      return { snapshot, problems };
    }
    if (parsed.mesh !== mesh) {
      problems.push({
        file: path(rel.state),
        problem: `pki_dir belongs to mesh "${parsed.mesh}", inventory is mesh "${mesh}"`,
        fix: `set pki_dir in mesh.yml to this mesh's own PKI directory (or a new empty one); never share a CA between meshes`,
      });
      return { snapshot, problems };
    }
    snapshot.state = parsed;
  } else if (caCertPem !== undefined || caKeyPem !== undefined) {
    problems.push({
      file: path(rel.state),
      problem:
        'is missing while a CA exists: it records the revoked serials, so rebuilding it would un-revoke gateways',
      fix: `restore ${path(rel.state)} from git or a backup`,
    });
    return { snapshot, problems };
  }

  snapshot.ca = await inspectCa(dir, mesh, caCertPem, caKeyPem, problems);
  const caPublicKey = snapshot.ca.publicKey;
  const caRotation = await inspectCaRotation(dir, mesh, problems);
  if (caRotation) {
    snapshot.caRotation = caRotation;
    // the CAs must be the ones the record names: in the last phase ca.crt is the new one (a run stopped while
    // installing it left a mix, which only the rotation itself finishes)
    const { record } = caRotation;
    const expected = record.phase === 'retire' ? record.newCa : record.oldCa;
    const serial = snapshot.ca.cert === undefined ? undefined : certSerial(snapshot.ca.cert);
    const nextSerial = caRotation.next?.cert === undefined ? undefined : certSerial(caRotation.next.cert);
    if (serial !== undefined && serial !== expected) {
      problems.push({
        file: path(rel.caCert),
        problem: `is CA serial ${serial}, but ${path(rel.rotation)} says phase ${record.phase} of a CA rotation, where it is serial ${expected} (the new CA was not fully installed)`,
        fix: 'run `meshctl rotate --ca`, which installs it and goes on; move nothing away',
      });
    }
    if (nextSerial !== undefined && nextSerial !== record.newCa) {
      problems.push({
        file: path(rel.nextCaCert),
        problem: `is CA serial ${nextSerial}, not the new CA ${record.newCa} that ${path(rel.rotation)} names`,
        fix: 'restore it from a backup (gateways may already trust that CA)',
      });
    }
  }

  // A tag vouches for one CA: while a CA rotation runs (two CAs trusted, `byNewCa` to judge) every pair is checked
  // in full, and ensurePki records nothing.
  const { cert: caCert, key: caKey } = snapshot.ca;
  if (caPublicKey !== undefined && caCert !== undefined && caKey !== undefined && caRotation === undefined) {
    snapshot.verified = readVerified(dir, caCertPem!, caKeyPem!);
  }

  const revoked = new Set(snapshot.state?.revoked.map((r) => r.serial) ?? []);
  const ca = {
    publicKey: caPublicKey,
    revoked,
    alsoTrusted: caRotation?.next?.publicKey,
    verified: snapshot.verified,
  };
  for (const lan of request.lans) {
    const certPem = await readPublic(rel.gatewayCert(lan));
    const keyPem = await readSecret(rel.gatewayKey(lan));
    snapshot.gateways.set(lan, await inspectGateway(dir, lan, { certPem, keyPem }, ca, purpose, problems));
  }

  for (const k of request.pairs) {
    const text = readSecret(rel.tlsCrypt(k));
    if (text === undefined) continue;
    const problem = tlsCryptKeyProblem(text);
    if (problem !== undefined) {
      const file = path(rel.tlsCrypt(k));
      problems.push({
        file,
        problem: `${problem}: not an OpenVPN static key V1`,
        fix: `move ${file} away; meshctl writes a new key and the next apply gives it to both gateways of pair ${k}`,
      });
    } else {
      snapshot.tlsCrypt.set(k, text);
    }
  }

  const crlText = await readPublic(rel.crl);
  const crl = crlText === undefined ? undefined : parseCrl(crlText);
  if (crlText !== undefined && crl !== undefined) {
    const signedByCa = caPublicKey !== undefined && (await isCrlSignedBy(crl, caPublicKey));
    snapshot.crl = { pem: crlText, crl, serials: crlSerials(crl), signedByCa };
  }

  if (caRotation?.nextCrlPem !== undefined && caRotation.next?.publicKey !== undefined) {
    const nextCrl = parseCrl(caRotation.nextCrlPem);
    if (nextCrl === undefined || !(await isCrlSignedBy(nextCrl, caRotation.next.publicKey))) {
      problems.push({
        file: path(rel.nextCrl),
        problem: 'is not a CRL signed by the new CA of the rotation in progress',
        fix: 'run `meshctl rotate --ca` again, which writes it anew',
      });
    }
  }

  const gitignore = await readPublic(rel.gitignore);
  if (gitignore !== undefined) {
    snapshot.gitignoreExists = true;
    const entries = new Set(gitignore.split('\n').map((line) => line.trim().replace(/^\//, '')));
    const missing = GITIGNORE_ENTRIES.filter((e) => !entries.has(e) && !entries.has(e.slice(0, -1)));
    if (missing.length > 0) {
      problems.push({
        file: path(rel.gitignore),
        problem: `does not ignore ${missing.join(' and ')}, so private keys could be committed`,
        fix: `add the line(s) ${missing.map((m) => `"${m}"`).join(' and ')} to ${path(rel.gitignore)}`,
      });
    }
  }
  return { snapshot, problems };
}
