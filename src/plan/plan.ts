import type { Facts } from '../facts/types.js';
import { gatewayPaths, KEY_DIR, MESHCTL_DIR } from '../gateway/layout.js';
import type { DesiredState } from '../types.js';
import { summarize } from './actions.js';
import { HostPlanError } from './errors.js';
import { compareFiles, type FileChange } from './file-changes.js';
import { manifestDifference } from './manifest-diff.js';
import { type MeshView, PhasedActions } from './phases.js';
import { planFiles, planStale } from './plan-files.js';
import { planSystem } from './plan-system.js';
import { planUnits } from './plan-units.js';
import {
  checkFrr,
  checkFrrConfig,
  checkManifestEntries,
  checkOpenvpn,
  checkOwnership,
  checkSystemd,
  releaseName,
} from './preconditions.js';
import { checkPreflight, type PreflightOptions } from './preflight.js';
import type { HostPlan, Noop } from './types.js';

/**
 * The pure planner (ARCHITECTURE rule 1): desired state + facts → what apply must do, and why nothing else is
 * needed. No SSH, filesystem, clock or randomness. The executor runs the actions in the order given.
 */

export interface PlanOptions extends PreflightOptions {
  /** The gateways being acted on (--limit, or all). Every one of them should have facts. */
  limit: string[];
  /** Tunnels restarted (and verified) though no file of theirs changed: see MeshView.restart. */
  restart?: ReadonlyMap<string, string>;
}

/**
 * A gateway leaving the mesh: its firewall unit's stop removes meshctl's chains and jumps, but when that unit is
 * already stopped (or gone) they may still be loaded: firewall.sh stop removes them directly, before the script
 * itself is removed. Never the operator's rules.
 */
function planRetiredFirewall(facts: Facts, phases: PhasedActions, noops: Noop[]): void {
  const script = gatewayPaths.firewallScript;
  const loaded = facts.firewall.chains || facts.firewall.jumps;
  if (loaded && facts.files[script]) {
    phases.stop.push({
      kind: 'remove-firewall',
      script,
      reason: "meshctl's iptables chains and jumps are loaded",
    });
  } else {
    noops.push({
      subject: script,
      reason: loaded
        ? `meshctl's chains are loaded but ${script} is gone: remove them by hand`
        : 'no meshctl chain loaded',
    });
  }
}

/** Plan every gateway in `limit`. A gateway that cannot be planned gets its HostPlanError; the others are unaffected. */
export function planHosts(
  desired: Map<string, DesiredState>,
  facts: Map<string, Facts>,
  opts: PlanOptions,
): Map<string, HostPlan | HostPlanError> {
  const cache = new Map<string, FileChange[] | null>();
  // each gateway's pre-flight result, computed once: its own plan and each of its peers' plans ask for it
  const preflightCache = new Map<string, string[] | HostPlanError>();
  const preflight = (lan: string, d: DesiredState, f: Facts): string[] => {
    if (!preflightCache.has(lan)) {
      try {
        preflightCache.set(lan, checkPreflight(d, f, desired, opts));
      } catch (error) {
        if (!(error instanceof HostPlanError)) throw error;
        preflightCache.set(lan, error);
      }
    }
    const result = preflightCache.get(lan)!;
    if (result instanceof HostPlanError) throw result;
    return result;
  };
  const limit = new Set(opts.limit);
  const view: MeshView = {
    desired,
    facts,
    limit,
    ...(opts.restart ? { restart: opts.restart } : {}),
    changes(lan) {
      if (!cache.has(lan)) {
        const d = desired.get(lan);
        const f = facts.get(lan);
        cache.set(lan, d && f ? compareFiles(d, f) : null);
      }
      return cache.get(lan)!;
    },
    peerChanges(peer) {
      if (!limit.has(peer)) return { unknown: `${peer} is outside --limit` };
      const d = desired.get(peer);
      const f = facts.get(peer);
      const changes = this.changes(peer);
      if (!d || !f || !changes) return { unknown: `${peer} has no facts` };
      try {
        checkOwnership(d, f);
        checkManifestEntries(d, f);
        preflight(peer, d, f);
      } catch {
        // a refused peer is not touched, so its files are not "changing" either
        return { unknown: `${peer} is refused` };
      }
      return { changes };
    },
  };
  const result = new Map<string, HostPlan | HostPlanError>();
  // desired's order (render sorts by id) keeps output stable whatever order --limit was typed in
  const names = [...desired.keys()].filter((name) => limit.has(name));
  for (const name of opts.limit) if (!desired.has(name)) names.push(name);
  for (const name of names) {
    try {
      result.set(name, planHost(name, view, preflight));
    } catch (error) {
      if (error instanceof HostPlanError) result.set(name, error);
      else throw error;
    }
  }
  return result;
}

function planHost(
  lan: string,
  view: MeshView,
  preflight: (lan: string, desired: DesiredState, facts: Facts) => string[],
): HostPlan {
  const desired = view.desired.get(lan);
  if (!desired) {
    throw new HostPlanError(
      lan,
      'unknown-lan',
      `${lan}: not a LAN of this inventory (no lans/${lan}.yml): fix the name given to --limit`,
    );
  }
  const facts = view.facts.get(lan);
  const changes = view.changes(lan);
  if (!facts || !changes) {
    throw new HostPlanError(
      lan,
      'no-facts',
      `${lan} (${desired.gateway.sshHost}): no facts were gathered, so nothing can be planned: fix the connection ` +
        'error reported for it and re-run',
    );
  }
  checkOwnership(desired, facts);
  checkManifestEntries(desired, facts);
  checkSystemd(desired, facts);
  checkFrrConfig(desired, facts);
  // before anything is planned: a gateway whose mesh would be broken from the start is refused whole
  const preflightNotes = preflight(lan, desired, facts);

  const phases = new PhasedActions();
  const noops: Noop[] = [];
  const notes = [...facts.warnings.map((warning) => `probe: ${warning}`), ...preflightNotes];

  if (desired.retire) {
    noops.push({
      subject: 'openvpn',
      reason: 'the gateway leaves the mesh: OpenVPN stays installed, as found',
    });
  } else {
    const install = checkOpenvpn(desired, facts, noops, notes);
    if (install) phases.install.push(install);
    const frr = checkFrr(desired, facts, noops, notes);
    if (frr) phases.install.push(frr);
  }

  planStale(desired, facts, phases, noops);
  if (desired.retire) planRetiredFirewall(facts, phases, noops);
  planFiles(changes, phases, noops);
  planSystem(desired, facts, changes, phases, noops, notes);
  planUnits(lan, desired, facts, changes, view, phases, noops, notes);

  const actions = phases.ordered();
  const manifestDiff = manifestDifference(desired.manifest, facts.manifest);
  if (desired.retire) {
    if (facts.manifest) {
      actions.push({
        kind: 'remove-manifest',
        path: desired.manifestPath,
        directories: [KEY_DIR, MESHCTL_DIR],
        reason:
          'the gateway leaves the mesh: the manifest goes last, so an interrupted cleanup is finished by a re-run',
      });
    } else {
      noops.push({
        subject: desired.manifestPath,
        reason: `no ${desired.manifestPath}: meshctl manages nothing here (already cleaned)`,
      });
    }
  } else if (actions.length > 0 || manifestDiff !== null) {
    actions.push({
      kind: 'write-manifest',
      path: desired.manifestPath,
      reason: manifestDiff ?? 'records what this run converged',
    });
  } else {
    noops.push({ subject: desired.manifestPath, reason: `${desired.manifestPath} up to date` });
  }
  const tunnelUnits = new Set(desired.units.filter((unit) => unit.tunnel).map((unit) => unit.name));
  const system = {
    release: releaseName(facts),
    openvpn: facts.openvpnVersion,
    systemd: facts.systemd.state === 'running' ? facts.systemd.version : null,
    ...(desired.bgp ? { frr: facts.frr.version } : {}),
  };
  return {
    gateway: desired.gateway,
    system,
    actions,
    noops,
    notes,
    summary: summarize(actions, tunnelUnits),
  };
}
