import type { Facts, UnitFact } from '../facts/types.js';
import { FIREWALL_UNIT, FRR_UNIT, gatewayPaths, ROUTES_UNIT } from '../gateway/layout.js';
import type { DesiredState, DesiredUnit } from '../types.js';
import { changedPath, changesNotifying, type FileChange } from './file-changes.js';
import { shortUnit } from './labels.js';
import type { MeshView, PhasedActions } from './phases.js';
import type { Noop, UnitAction } from './types.js';
import { isEnabled, isRunning, unitState } from './unit-state.js';

/** Enable, start or restart every desired unit; verify every tunnel that (re)starts. */
export function planUnits(
  lan: string,
  desired: DesiredState,
  facts: Facts,
  changes: FileChange[],
  view: MeshView,
  phases: PhasedActions,
  noops: Noop[],
  notes: string[],
): void {
  const firewallFact = unitState(facts, FIREWALL_UNIT);
  const firewallRunning = firewallFact !== undefined && isRunning(firewallFact);
  // units without a tunnel (the firewall) first: the rules that admit a tunnel are loaded before it starts
  const ordered = [...desired.units.filter((u) => !u.tunnel), ...desired.units.filter((u) => u.tunnel)];
  let frrRestarts = false;
  for (const unit of ordered) {
    const fact = unitState(facts, unit.name);
    const short = shortUnit(unit.name);
    if (unit.enabled && !isEnabled(fact)) {
      phases.enable.push({
        kind: 'enable-unit',
        unit: unit.name,
        reason: `${short} is ${fact?.enabled || 'not installed'} at boot`,
      });
    } else if (unit.enabled) {
      noops.push({ subject: unit.name, reason: `${short} enabled` });
    }
    if (!unit.running) {
      if (fact && isRunning(fact)) {
        phases.stop.push({ kind: 'stop-unit', unit: unit.name, reason: `${short} must not run` });
      }
      continue;
    }
    let action: UnitAction | null = null;
    if (unit.name === FRR_UNIT) {
      action = planFrr(facts, fact, changes, phases, noops);
    } else if (!fact || !isRunning(fact)) {
      const state = !fact
        ? 'in an unknown state'
        : fact.load === 'not-found'
          ? 'not installed yet (no unit file)'
          : `${fact.active} (${fact.sub})`;
      action = { kind: 'start-unit', unit: unit.name, reason: `${short} is ${state}` };
    } else if (unit.tunnel) {
      action = planTunnelRestart(lan, unit, fact, changes, view, noops, notes);
      if (!action && !firewallRunning) {
        // bound to the firewall unit (BindsTo=): the daemon-reload or the firewall's start may stop it, and
        // nothing would start it again; `systemctl start` of a running unit changes nothing, so start and verify
        action = {
          kind: 'start-unit',
          unit: unit.name,
          reason: `${short} runs while ${FIREWALL_UNIT} does not: it is bound to the firewall unit, so it is started (again) after it and verified`,
        };
      }
    } else if (unit.name !== FIREWALL_UNIT && unit.name !== ROUTES_UNIT) {
      const changed = changesNotifying(changes, unit.name);
      if (changed.length > 0) {
        action = {
          kind: 'restart-unit',
          unit: unit.name,
          reason: `${changed.map(changedPath).join(', ')} changed`,
        };
      } else {
        noops.push({ subject: unit.name, reason: `${short} running, no config change` });
      }
    } else {
      // the firewall and the routes are reloaded in place when their files change (plan-system)
      noops.push({ subject: unit.name, reason: `${short} active (${fact.sub})` });
    }
    if (!action) continue;
    phases.start.push(action);
    if (unit.name === FRR_UNIT) frrRestarts = true;
    if (unit.tunnel) {
      phases.verify.push({
        kind: 'verify-tunnel',
        unit: unit.name,
        peer: unit.tunnel.peer,
        peerAddress: unit.tunnel.peerAddress,
        reason: `${short} ${action.kind === 'start-unit' ? 'starts' : 'restarts'}: wait until ${unit.tunnel.peer} answers on ${unit.tunnel.peerAddress}`,
      });
    }
  }
  planBgpVerify(desired, phases, frrRestarts);
}

/**
 * FRR (routing: bgp). A changed frr.conf is loaded in place (frr-reload: sessions stay up, bgpd keeps running);
 * a changed `daemons` file (which daemons run: the first bgp apply) needs a restart. An FRR this run installs is
 * already running the package's defaults (apt starts it), so it is restarted, not merely started.
 */
function planFrr(
  facts: Facts,
  fact: UnitFact | undefined,
  changes: FileChange[],
  phases: PhasedActions,
  noops: Noop[],
): UnitAction | null {
  const short = shortUnit(FRR_UNIT);
  const changed = changesNotifying(changes, FRR_UNIT);
  const daemons = changed.some((c) => c.file.path === gatewayPaths.frrDaemons);
  if (facts.frr.version === null) {
    return {
      kind: 'restart-unit',
      unit: FRR_UNIT,
      reason: `${short} is installed by this run: start it on meshctl's configuration`,
    };
  }
  if (!fact || !isRunning(fact)) {
    const state = !fact ? 'in an unknown state' : `${fact.active} (${fact.sub})`;
    return { kind: daemons ? 'restart-unit' : 'start-unit', unit: FRR_UNIT, reason: `${short} is ${state}` };
  }
  if (daemons) {
    return {
      kind: 'restart-unit',
      unit: FRR_UNIT,
      reason: `${gatewayPaths.frrDaemons} changed: the daemons FRR runs change, which takes a restart`,
    };
  }
  if (changed.length > 0) {
    const files = changed.map(changedPath).join(', ');
    const installing = phases.install.some((a) => a.kind === 'install-package' && a.package === 'frr');
    if (!facts.frr.reload && !installing) {
      return {
        kind: 'restart-unit',
        unit: FRR_UNIT,
        reason: `${files} changed (no frr-reload here: restart)`,
      };
    }
    phases.system.push({
      kind: 'reload-frr',
      unit: FRR_UNIT,
      reason: `${files} changed: load it in place (frr-reload), without restarting bgpd or dropping sessions`,
    });
    return null;
  }
  noops.push({ subject: FRR_UNIT, reason: `${short} running, no config change` });
  return null;
}

/**
 * The BGP sessions apply checks afterwards (SPEC §7 "verification after apply"): every session when FRR (re)starts
 * or reloads, otherwise those of the tunnels that (re)start. Each must be Established with the peer's own subnets
 * received.
 */
export function planBgpVerify(desired: DesiredState, phases: PhasedActions, frrTouched: boolean): void {
  if (!desired.bgp) return;
  const touched = new Set(phases.verify.flatMap((a) => (a.kind === 'verify-tunnel' ? [a.peer] : [])));
  const reloads = phases.system.some((a) => a.kind === 'reload-frr');
  const neighbors = desired.bgp.neighbors
    .filter((n) => frrTouched || reloads || touched.has(n.peer))
    .map((n) => ({ peer: n.peer, address: n.address, expects: n.expects }));
  if (neighbors.length === 0) return;
  phases.verify.push({
    kind: 'verify-bgp',
    unit: FRR_UNIT,
    neighbors,
    reason: `wait until ${neighbors.length === 1 ? `the session with ${neighbors[0]!.peer} is` : `the ${neighbors.length} sessions are`} Established, each with its peer's subnets received`,
  });
}

/**
 * A running tunnel restarts when a file notifying it changes at either end (SPEC §5: restart both ends). The
 * peer's end is judged from its own desired state and facts, so both plans agree without coordination.
 */
function planTunnelRestart(
  lan: string,
  unit: DesiredUnit,
  fact: UnitFact,
  changes: FileChange[],
  view: MeshView,
  noops: Noop[],
  notes: string[],
): UnitAction | null {
  const peer = unit.tunnel!.peer;
  const short = shortUnit(unit.name);
  const here = changesNotifying(changes, unit.name).map(changedPath);
  const pid = `PID ${fact.mainPid}`;
  const peerView = view.peerChanges(peer);
  if ('unknown' in peerView) {
    const why = peerView.unknown;
    if (here.length > 0) {
      notes.push(
        `${why}: only this end of ${short} restarts; re-run with ${peer} in --limit to restart its end too`,
      );
      return { kind: 'restart-unit', unit: unit.name, reason: `${here.join(', ')} changed here` };
    }
    noops.push({
      subject: unit.name,
      reason: `${short} running since ${pid}, no config change here (${why}: its end not checked)`,
    });
    return null;
  }
  const peerUnit = view.desired.get(peer)?.units.find((u) => u.tunnel?.peer === lan)?.name;
  const there = peerUnit ? changesNotifying(peerView.changes, peerUnit).map(changedPath) : [];
  const forced = view.restart?.get(`${lan} ${unit.name}`);
  if (here.length === 0 && there.length === 0 && forced !== undefined) {
    return { kind: 'restart-unit', unit: unit.name, reason: forced };
  }
  if (here.length === 0 && there.length === 0) {
    noops.push({
      subject: unit.name,
      reason: `${short} running since ${pid}, no config change at either end`,
    });
    return null;
  }
  const reasons: string[] = [];
  if (here.length > 0) reasons.push(`${here.join(', ')} changed here`);
  if (there.length > 0) reasons.push(`${there.join(', ')} changed on ${peer}`);
  return { kind: 'restart-unit', unit: unit.name, reason: reasons.join('; ') };
}
