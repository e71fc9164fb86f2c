import type { Facts } from '../facts/types.js';
import { FIREWALL_UNIT, isSysctlFile, ROUTES_UNIT } from '../gateway/layout.js';
import type { DesiredState } from '../types.js';
import { changedPath, changesNotifying, type FileChange } from './file-changes.js';
import type { PhasedActions } from './phases.js';
import type { Noop } from './types.js';
import { isRunning, unitState } from './unit-state.js';

const IP_FORWARD_ON = /^\s*net\.ipv4\.ip_forward\s*=\s*1\s*$/m;

/** Forwarding (sysctl) and the firewall: loaded before tunnels start. */
export function planSystem(
  desired: DesiredState,
  facts: Facts,
  changes: FileChange[],
  phases: PhasedActions,
  noops: Noop[],
  notes: string[],
): void {
  for (const change of changes.filter((c) => isSysctlFile(c.file.path))) {
    const { path } = change.file;
    if (change.status === 'create' || change.status === 'update') {
      phases.system.push({
        kind: 'apply-sysctl',
        path,
        reason: `${path} changes: load it now, not only at boot`,
      });
    } else if (IP_FORWARD_ON.test(change.file.content) && facts.ipForward === false) {
      phases.system.push({
        kind: 'apply-sysctl',
        path,
        reason: `net.ipv4.ip_forward is 0 at runtime although ${path} sets 1 (changed since boot)`,
      });
    } else if (facts.ipForward === null) {
      notes.push('net.ipv4.ip_forward could not be read: forwarding is not checked');
    } else {
      noops.push({
        subject: path,
        reason: `${path} loaded (net.ipv4.ip_forward = ${facts.ipForward ? 1 : 0})`,
      });
    }
  }

  planRoutesReload(desired, facts, changes, phases, noops);
  const firewall = desired.units.find((unit) => unit.name === FIREWALL_UNIT);
  if (!firewall) return;
  const fact = unitState(facts, FIREWALL_UNIT);
  // not running yet: starting it (planUnits) loads the rules, a reload would only repeat that
  if (!fact || !isRunning(fact)) return;
  const changed = changesNotifying(changes, FIREWALL_UNIT).filter((c) => !isSysctlFile(c.file.path));
  let reason: string | null = null;
  if (changed.length > 0) reason = `${changed.map(changedPath).join(', ')} changed`;
  else if (facts.firewall.readable && !facts.firewall.chains) {
    reason = "meshctl's iptables chains are missing (rules flushed since boot)";
  } else if (facts.firewall.readable && !facts.firewall.jumps) {
    reason = "the jumps from INPUT and FORWARD into meshctl's chains are missing";
  }
  if (reason) phases.system.push({ kind: 'reload-firewall', unit: FIREWALL_UNIT, reason });
  else if (facts.firewall.readable) {
    noops.push({
      subject: FIREWALL_UNIT,
      reason: "firewall loaded: meshctl's chains and jumps present, no rule file changes",
    });
  } else {
    notes.push('iptables could not be read: the loaded firewall is not checked');
  }
}

/**
 * The transit routes (SPEC §7) are re-applied in place when they change: `systemctl reload` reruns routes.sh,
 * which replaces what differs. A restart would remove every route first (its stop clears them).
 */
function planRoutesReload(
  desired: DesiredState,
  facts: Facts,
  changes: FileChange[],
  phases: PhasedActions,
  noops: Noop[],
): void {
  if (!desired.units.some((unit) => unit.name === ROUTES_UNIT)) return;
  const fact = unitState(facts, ROUTES_UNIT);
  // not running yet: starting it (planUnits) installs the routes
  if (!fact || !isRunning(fact)) return;
  const changed = changesNotifying(changes, ROUTES_UNIT);
  if (changed.length > 0) {
    phases.system.push({
      kind: 'reload-routes',
      unit: ROUTES_UNIT,
      reason: `${changed.map(changedPath).join(', ')} changed: re-apply the routes in place`,
    });
  } else noops.push({ subject: ROUTES_UNIT, reason: 'routes through peers installed, no change' });
}
