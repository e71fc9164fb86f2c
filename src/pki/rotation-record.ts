import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PkiError } from '../errors.js';
import { removeFileDurably } from './atomic-file.js';
import { LAN_NAME, rel } from './layout.js';

/** The record of an unfinished `meshctl rotate` in pki_dir (rotation.json): what it rotates and how far it got. */

export const ROTATION_FORMAT = 1;

/** The phases of `rotate --ca`, in order (SPEC §10). */
export const CA_PHASES = ['trust', 'reissue', 'retire'] as const;
export type CaPhase = (typeof CA_PHASES)[number];

export type RotationRecord =
  | { format: 1; kind: 'pair'; pair: number; ends: [string, string]; startedAt: string }
  | {
      format: 1;
      kind: 'gateway';
      gateway: string;
      oldSerial: string;
      newSerial: string;
      /** switching: the new certificate is in place, not yet verified; revoking: verified, the CRL goes out. */
      phase: 'switching' | 'revoking';
      startedAt: string;
    }
  | {
      format: 1;
      kind: 'ca';
      /** Serial of the CA being replaced, and of its replacement. */
      oldCa: string;
      newCa: string;
      /**
       * trust: gateways get both CAs (and both CRLs); reissue: each gateway gets a certificate of the new CA;
       * retire: pki_dir's CA is the new one, gateways get it alone.
       */
      phase: CaPhase;
      /** The gateways done in this phase (converged and every tunnel verified), in the order they were done. */
      done: string[];
      startedAt: string;
    };

export type CaRotationRecord = RotationRecord & { kind: 'ca' };

/** The command that started (and so finishes) a rotation. */
export function rotationCommand(record: RotationRecord): string {
  switch (record.kind) {
    case 'pair':
      return `meshctl rotate --pair ${record.ends.join(',')}`;
    case 'gateway':
      return `meshctl rotate --gateway ${record.gateway}`;
    case 'ca':
      return 'meshctl rotate --ca';
  }
}

/** Where a rotation stands, in words: `phase reissue, 2 of 5 gateways done (ga, gb)`. */
export function rotationProgress(record: RotationRecord, gateways?: number): string {
  if (record.kind === 'pair') return '';
  if (record.kind === 'gateway') return `phase ${record.phase}`;
  const step = CA_PHASES.indexOf(record.phase) + 1;
  const done = record.done.length === 0 ? 'no gateway done yet' : `done: ${record.done.join(', ')}`;
  return `phase ${step} of 3 (${record.phase}), ${gateways === undefined ? '' : `${record.done.length} of ${gateways} gateways; `}${done}`;
}

export function serializeRecord(record: RotationRecord): string {
  return `${JSON.stringify(record, null, 2)}\n`;
}

/** The pending rotation of `dir`, if any. An unreadable record is refused: guessing could lose the old key. */
export function readRotation(dir: string): RotationRecord | undefined {
  const file = join(dir, rel.rotation);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw error;
  }
  const bad = (why: string) =>
    new PkiError(
      `${file}: ${why}; it records an unfinished key rotation. Fix: restore it from a backup, or (once you have checked which key each gateway holds) move it away`,
    );
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw bad('is not valid JSON');
  }
  if (typeof raw !== 'object' || raw === null || raw.format !== ROTATION_FORMAT) {
    throw bad(`is not a rotation record of format ${ROTATION_FORMAT}`);
  }
  const name = (v: unknown) => typeof v === 'string' && LAN_NAME.test(v);
  // serials become file names (revoked/<serial>.crt): hex only, never a path
  const serial = (v: unknown) => typeof v === 'string' && /^[0-9a-f]{1,64}$/i.test(v);
  if (
    raw.kind === 'pair' &&
    Number.isSafeInteger(raw.pair) &&
    (raw.pair as number) > 0 &&
    Array.isArray(raw.ends) &&
    raw.ends.length === 2 &&
    raw.ends.every(name)
  ) {
    return raw as unknown as RotationRecord;
  }
  if (
    raw.kind === 'gateway' &&
    name(raw.gateway) &&
    serial(raw.oldSerial) &&
    serial(raw.newSerial) &&
    (raw.phase === 'switching' || raw.phase === 'revoking')
  ) {
    return raw as unknown as RotationRecord;
  }
  if (
    raw.kind === 'ca' &&
    serial(raw.oldCa) &&
    serial(raw.newCa) &&
    raw.oldCa !== raw.newCa &&
    CA_PHASES.includes(raw.phase as CaPhase) &&
    Array.isArray(raw.done) &&
    raw.done.every(name) &&
    typeof raw.startedAt === 'string'
  ) {
    return raw as unknown as RotationRecord;
  }
  throw bad('does not describe a pair, gateway or CA rotation');
}

/**
 * Removes what private/rotation/ holds. Only while no rotation is recorded: with one rotation at a time, every
 * file there belongs to the one that ended (or never began), and an old private key must not linger.
 */
export async function sweepRotationDir(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(join(dir, rel.rotationDir));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  for (const name of names.sort()) await removeFileDurably(join(dir, rel.rotationDir, name));
}

/**
 * For the other commands: a warning when a rotation is not finished (its previous material is still kept aside,
 * and another rotation is refused until it is). Never throws: an unreadable record is rotate's to refuse.
 */
export function pendingRotationWarning(dir: string): string | undefined {
  try {
    const record = readRotation(dir);
    if (!record) return undefined;
    const progress = rotationProgress(record);
    const phase = progress === '' ? '' : ` (${progress})`;
    return `a key rotation started ${record.startedAt} is not finished${phase}. Fix: run \`${rotationCommand(record)}\` to finish it`;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}
