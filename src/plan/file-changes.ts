import { createHash } from 'node:crypto';
import type { Facts, FileFact } from '../facts/types.js';
import type { DesiredFile, DesiredState } from '../types.js';

/** How one desired file compares with the gateway. `same` includes mode and owner. */
export interface FileChange {
  file: DesiredFile;
  status: 'same' | 'create' | 'update' | 'mode-only';
  /** sha256 of the desired content. */
  sha256: string;
  /** What the probe found; null when absent. */
  fact: FileFact | null;
  /**
   * The content matches, but the gateway's manifest (written last, once a run has verified everything) records
   * other content: a run that was interrupted landed this file, so what it notifies may still run the old one.
   */
  unconfirmed?: true;
}

export function sha256Of(content: string): string {
  return createHash('sha256').update(content, 'utf8').digest('hex');
}

/** Compare every desired file with the facts, in the desired (render's) order. Pure. */
export function compareFiles(desired: DesiredState, facts: Facts): FileChange[] {
  return desired.files.map((file) => {
    const sha256 = file.sha256 ?? sha256Of(file.content);
    const fact = facts.files[file.path] ?? null;
    let status: FileChange['status'];
    if (fact === null) status = 'create';
    else if (fact.sha256 !== sha256) status = 'update';
    else if (fact.mode !== file.mode || fact.owner !== file.owner) status = 'mode-only';
    else status = 'same';
    const recorded = facts.manifest?.files[file.path];
    if (status !== 'create' && status !== 'update' && recorded !== undefined && recorded !== sha256) {
      return { file, status, sha256, fact, unconfirmed: true };
    }
    return { file, status, sha256, fact };
  });
}

/** A content change (not mode-only): what a running OpenVPN would not see until restarted. */
export function contentChanged(change: FileChange): boolean {
  return change.status === 'create' || change.status === 'update';
}

/** Files whose content changes (or landed unconfirmed) and which notify `unit`. */
export function changesNotifying(changes: FileChange[], unit: string): FileChange[] {
  return changes.filter(
    (change) => (contentChanged(change) || change.unconfirmed) && change.file.notifies.includes(unit),
  );
}

/** A changed path for a reason: an unconfirmed one says why it counts although its content matches. */
export function changedPath(change: FileChange): string {
  return change.unconfirmed
    ? `${change.file.path} (landed by a run that did not finish, maybe not loaded yet)`
    : change.file.path;
}
