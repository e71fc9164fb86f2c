import { posix } from 'node:path';
import type { Connection } from '../../connection/types.js';
import { removeScript } from '../../execute/bundle.js';
import { mustExec, mustRunScript } from '../../execute/remote.js';
import { MANIFEST_PATH, parseManifest } from '../../facts/manifest.js';
import {
  FIREWALL_UNIT,
  gatewayPaths,
  isManagedPath,
  isManagedUnit,
  tunnelUnitOfConfig,
} from '../../gateway/layout.js';
import type { Manifest } from '../../types.js';

/**
 * Cleaning the gateway of a removed LAN (remove-lan): only what its manifest says meshctl owns is touched (SPEC §3).
 * Tunnels are stopped and disabled, the firewall unit is stopped (its firewall.sh stop removes meshctl's chains
 * and jumps, never the operator's rules), every managed file goes, the manifest last — so an interrupted cleanup
 * is finished by running it again. IP forwarding stays as it is now: other software on the host may rely on it.
 */

export interface CleanupPlan {
  /** Tunnel units: stopped, then disabled. */
  tunnels: string[];
  /** The firewall unit, when the manifest lists it. */
  firewallUnit?: string;
  /** firewall.sh, when the manifest lists it: run with `stop` even if its unit is not active. */
  firewallScript?: string;
  /** Every managed file, the manifest excluded. */
  files: string[];
  /** Directories meshctl created, removed when empty. */
  directories: string[];
}

/** Refused cleanups: the manifest belongs to another mesh or LAN, or names something meshctl never manages. */
export class CleanupRefused extends Error {}

/** What to undo on the gateway of `lan` of mesh `mesh`, from its manifest. Pure. */
export function cleanupPlan(manifest: Manifest, expect: { mesh: string; lan: string }): CleanupPlan {
  if (manifest.mesh !== expect.mesh || manifest.lan !== expect.lan) {
    throw new CleanupRefused(
      `its manifest ${MANIFEST_PATH} says mesh "${manifest.mesh}", LAN "${manifest.lan}", not mesh "${expect.mesh}", LAN "${expect.lan}": it is not this gateway; nothing was touched`,
    );
  }
  const files = Object.keys(manifest.files).sort();
  for (const file of files) {
    if (!isManagedPath(file)) {
      throw new CleanupRefused(
        `its manifest lists ${JSON.stringify(file)}, which is not meshctl's to remove`,
      );
    }
  }
  const units = new Set(manifest.units);
  for (const file of files) {
    const unit = tunnelUnitOfConfig(file);
    if (unit) units.add(unit);
  }
  for (const unit of units) {
    if (!isManagedUnit(unit)) {
      throw new CleanupRefused(
        `its manifest lists unit ${JSON.stringify(unit)}, which is not meshctl's to stop`,
      );
    }
  }
  const plan: CleanupPlan = {
    tunnels: [...units].filter((u) => u !== FIREWALL_UNIT).sort(),
    files: files.filter((f) => f !== MANIFEST_PATH),
    directories: [posix.dirname(gatewayPaths.caCert), posix.dirname(MANIFEST_PATH)],
  };
  if (units.has(FIREWALL_UNIT)) plan.firewallUnit = FIREWALL_UNIT;
  if (files.includes(gatewayPaths.firewallScript)) plan.firewallScript = gatewayPaths.firewallScript;
  return plan;
}

export type CleanupOutcome =
  | { status: 'cleaned'; tunnels: string[]; files: number }
  | { status: 'nothing'; reason: string };

/** Runs the cleanup over an open connection. Throws (RemoteCommandError, CleanupRefused) when it cannot finish. */
export async function cleanGateway(
  conn: Connection,
  expect: { mesh: string; lan: string },
): Promise<CleanupOutcome> {
  const read = await conn.exec(
    ['sh', '-c', 'if [ -e "$1" ]; then cat -- "$1"; else echo ABSENT; fi', 'meshctl-read', MANIFEST_PATH],
    {
      timeoutMs: 30_000,
    },
  );
  if (read.code !== 0) {
    throw new CleanupRefused(`could not read ${MANIFEST_PATH} (exit ${read.code}): ${read.stderr.trim()}`);
  }
  if (read.stdout.trim() === 'ABSENT') {
    return {
      status: 'nothing',
      reason: `no ${MANIFEST_PATH}: meshctl manages nothing there (already cleaned)`,
    };
  }
  const parsed = parseManifest(read.stdout);
  if ('problem' in parsed) {
    throw new CleanupRefused(
      `its manifest ${MANIFEST_PATH} is unusable (${parsed.problem}); nothing was touched`,
    );
  }
  const plan = cleanupPlan(parsed.manifest, expect);
  await stopAndDisable(conn, plan.tunnels);
  if (plan.firewallUnit) await stopAndDisable(conn, [plan.firewallUnit]);
  if (plan.firewallScript) {
    // the unit may have been inactive (stop then ran nothing): remove the chains and jumps directly
    await mustExec(conn, [
      'sh',
      '-c',
      'if [ -f "$1" ]; then sh "$1" stop; fi',
      'meshctl-firewall',
      plan.firewallScript,
    ]);
  }
  await mustRunScript(conn, 'remove managed files', removeScript(plan.files));
  await mustRunScript(conn, 'remove the manifest', removeScript([MANIFEST_PATH]));
  await mustExec(conn, ['systemctl', 'daemon-reload']);
  await mustExec(conn, [
    'sh',
    '-c',
    'for d do rmdir -- "$d" 2>/dev/null || true; done',
    'meshctl-rmdir',
    ...plan.directories,
  ]);
  return { status: 'cleaned', tunnels: plan.tunnels, files: plan.files.length + 1 };
}

/**
 * Per unit, so one unit systemd no longer knows (OpenVPN uninstalled by hand) does not keep the others running;
 * what counts is the check after it: none of them may still be active.
 */
const STOP_SCRIPT = [
  'for u do systemctl disable --now -- "$u" >/dev/null 2>&1 || systemctl stop -- "$u" >/dev/null 2>&1 || true; done',
  'for u do if systemctl is-active --quiet -- "$u"; then echo "$u is still active after systemctl stop" >&2; exit 1; fi; done',
].join('\n');

async function stopAndDisable(conn: Connection, units: string[]): Promise<void> {
  if (units.length === 0) return;
  await mustExec(conn, ['sh', '-c', STOP_SCRIPT, 'meshctl-stop', ...units], { timeoutMs: 120_000 });
}
