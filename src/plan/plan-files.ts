import type { Facts } from '../facts/types.js';
import { isUnitFile } from '../gateway/layout.js';
import type { DesiredState } from '../types.js';
import type { FileChange } from './file-changes.js';
import { octal, shortSha, shortUnit } from './labels.js';
import type { PhasedActions } from './phases.js';
import { staleResources } from './stale.js';
import type { Noop } from './types.js';
import { isEnabled, isRunning, unitState } from './unit-state.js';

/** Files and units the old manifest lists but meshctl no longer wants: stop, disable, remove. */
export function planStale(desired: DesiredState, facts: Facts, phases: PhasedActions, noops: Noop[]): void {
  const stale = staleResources(desired, facts);
  for (const unit of stale.units) {
    const fact = unitState(facts, unit);
    const short = shortUnit(unit);
    if (fact === undefined || isRunning(fact)) {
      const why = fact ? `running (PID ${fact.mainPid})` : 'its state is unknown';
      phases.stop.push({ kind: 'stop-unit', unit, reason: `${short} is no longer wanted and ${why}` });
    } else {
      noops.push({ subject: unit, reason: `${short} no longer wanted, already stopped (${fact.active})` });
    }
    if (fact === undefined || isEnabled(fact)) {
      phases.stop.push({
        kind: 'disable-unit',
        unit,
        reason: `${short} is no longer wanted: not started at boot`,
      });
    } else {
      noops.push({
        subject: unit,
        reason: `${short} no longer wanted, already not enabled (${fact.enabled || 'no unit file'})`,
      });
    }
  }
  let unitFileRemoved: string | null = null;
  for (const path of stale.paths) {
    if (facts.files[path] === null) {
      noops.push({ subject: path, reason: `${path} no longer wanted and already absent` });
      continue;
    }
    phases.remove.push({
      kind: 'remove-file',
      path,
      reason: `${path} is in meshctl's manifest but no longer wanted`,
    });
    if (isUnitFile(path)) unitFileRemoved ??= path;
  }
  if (unitFileRemoved) {
    phases.reload.push({ kind: 'daemon-reload', reason: `unit file ${unitFileRemoved} is removed` });
  }
  for (const path of stale.foreignPaths) {
    noops.push({
      subject: path,
      reason: `${path} was not created by meshctl (not in its manifest): left alone`,
    });
  }
  for (const unit of stale.foreignUnits) {
    noops.push({
      subject: unit,
      reason: `${shortUnit(unit)} was not created by meshctl (not in its manifest): left alone`,
    });
  }
}

/** One write per desired file that is absent, different, or has the wrong mode or owner. */
export function planFiles(changes: FileChange[], phases: PhasedActions, noops: Noop[]): void {
  let unitFileChanged: string | null = null;
  for (const { file, status, sha256, fact } of changes) {
    const { path, secret } = file;
    if (status === 'same') {
      const what = secret ? 'key material, checksum not shown' : `sha256 ${shortSha(sha256)}`;
      noops.push({ subject: path, reason: `${path} unchanged (${what})` });
      continue;
    }
    let reason: string;
    if (status === 'create') reason = `${path} is absent`;
    else if (status === 'update') {
      reason = secret
        ? `${path} differs (key material)`
        : `${path} differs (gateway sha256 ${shortSha(fact!.sha256)}, wanted ${shortSha(sha256)})`;
    } else {
      reason = `${path} content matches; ${metadataDrift(file.mode, fact!.mode, fact!.owner)}`;
    }
    phases.write.push({
      kind: 'write-file',
      change: status,
      path,
      mode: file.mode,
      owner: file.owner,
      secret,
      ...(secret || !fact ? {} : { oldSha256: fact.sha256 }),
      ...(secret ? {} : { newSha256: sha256 }),
      ...(fact ? { oldMode: fact.mode } : {}),
      reason,
    });
    if (status === 'mode-only' && file.notifies.length > 0) {
      // OpenVPN runs as root here and already holds the file's content: a mode or owner fix changes nothing it uses.
      noops.push({
        subject: path,
        reason: `${path}: only mode/owner drifted, no restart needed (the content the service loaded is unchanged)`,
      });
    }
    if (status === 'update' && file.notifies.length === 0) {
      noops.push({
        subject: path,
        reason: path.endsWith('/crl.pem')
          ? `${path} changes without a restart: OpenVPN loads a changed CRL when it sets up its next TLS session`
          : isUnitFile(path)
            ? `${path} changes without a restart: systemctl daemon-reload applies it`
            : `${path} changes without a restart: no service reads it at start only`,
      });
    }
    if (status !== 'mode-only' && isUnitFile(path)) unitFileChanged ??= path;
  }
  if (unitFileChanged) {
    phases.reload.push({ kind: 'daemon-reload', reason: `unit file ${unitFileChanged} changes` });
  }
}

function metadataDrift(wantedMode: number, mode: number, owner: string): string {
  const parts: string[] = [];
  if (mode !== wantedMode) parts.push(`mode ${octal(mode)} → ${octal(wantedMode)}`);
  if (owner !== 'root') parts.push(`owner ${owner} → root`);
  return parts.join(', ');
}
