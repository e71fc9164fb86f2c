import { posix } from 'node:path';
import type { Connection } from '../connection/types.js';
import { RemoteCommandError } from '../errors.js';
import {
  FIREWALL_UNIT,
  FRR_UNIT,
  gatewayPaths,
  isTunnelUnit,
  isUnitFile,
  MODES,
  TUNNEL_UNIT_TEMPLATE,
  tunnelUnitOfConfig,
  unitOfUnitFile,
} from '../gateway/layout.js';
import type {
  Action,
  InstallPackageAction,
  UnitAction,
  UnitActionKind,
  WriteFileAction,
} from '../plan/types.js';
import { manifestText } from '../render/index.js';
import type { Manifest } from '../types.js';
import { type BgpNeighborCheck, describeSession, neighborDetails, sessionUp, waitForBgp } from './bgp.js';
import {
  commitScript,
  installScript,
  removeScript,
  restoreScript,
  sequenceScript,
  widenRulesScript,
} from './bundle.js';
import type { GatewayRun } from './gateway.js';
import { confirmedManifestFiles, type KeptFile, type TunnelOutcome, unconfirmed } from './outcomes.js';
import { DEFAULT_REMOTE_TIMEOUT_MS, mustExec, mustRunScript, systemctl } from './remote.js';
import { parseShow, type TunnelProbe, waitForTunnels } from './tunnels.js';

/**
 * Runs one gateway's plan, batching consecutive actions of a kind into one remote command (one bundle for all
 * files, one `systemctl enable` for all units). Restarts are split in two: the converge phase stops the tunnel,
 * the start phase (after every gateway has converged) starts it, so both ends of a changed pair come up together
 * and neither end negotiates with the other's old process.
 */

export interface Step {
  title: string;
  run: () => Promise<void>;
}

/**
 * Install commands. apt-get refreshes its package lists first (a fresh cloud image often has none) and waits for
 * the dpkg lock (unattended-upgrades at first boot) instead of failing at once.
 */
const APT_INSTALL = [
  'export DEBIAN_FRONTEND=noninteractive',
  'apt-get -q -o DPkg::Lock::Timeout=300 update || echo "meshctl: apt-get update failed; installing from the lists there are" >&2',
  'exec apt-get -q -y -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confold install "$@"',
].join('\n');

function installArgv(manager: InstallPackageAction['manager'], packages: string[]): string[] {
  if (manager === 'apt-get') return ['sh', '-c', APT_INSTALL, 'meshctl-install', ...packages];
  return [manager, 'install', '-y', '-q', ...packages];
}

/** What to tell the operator when the package manager could not install OpenVPN or FRR. */
const INSTALL_HINT: Record<InstallPackageAction['manager'], string> = {
  'apt-get': 'check that the gateway reaches its package mirrors, then re-run',
  dnf: "on RHEL-family systems OpenVPN comes from EPEL (dnf install epel-release) and FRR from the OS or FRR's own repository: enable them, then re-run",
  yum: "on RHEL-family systems OpenVPN comes from EPEL (yum install epel-release) and FRR from the OS or FRR's own repository: enable them, then re-run",
};

function ofKind<K extends Action['kind']>(actions: Action[], kind: K): Extract<Action, { kind: K }>[] {
  return actions.filter((a): a is Extract<Action, { kind: K }> => a.kind === kind);
}

function unitsOf(actions: Action[], kind: UnitActionKind): string[] {
  return actions.filter((a): a is UnitAction => a.kind === kind).map((a) => a.unit);
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function shortUnits(units: string[]): string {
  return units.map((u) => u.replace(/\.service$/, '').replace(TUNNEL_UNIT_TEMPLATE, '')).join(', ');
}

/** A unit file or drop-in this run creates, and the unit it belongs to. */
export interface NewUnitFile {
  unit: string;
  path: string;
}

/**
 * The unit files of `actions` when every one of them is new (none updated, none removed): the case where systemd
 * may see them without a daemon-reload (see systemdSees). Null when a reload is needed whatever systemd says.
 */
export function newUnitFilesOnly(actions: Action[]): NewUnitFile[] | null {
  if (ofKind(actions, 'remove-file').some((a) => isUnitFile(a.path))) return null;
  const files: NewUnitFile[] = [];
  for (const write of ofKind(actions, 'write-file')) {
    if (!isUnitFile(write.path) || write.change === 'mode-only') continue;
    const unit = unitOfUnitFile(write.path);
    if (write.change !== 'create' || unit === null) return null;
    files.push({ unit, path: write.path });
  }
  return files.length > 0 ? files : null;
}

/**
 * Whether systemd already runs on what is on disk for `files` (all new) and the units `enabled` this run, by its
 * own account: no unit needs a daemon-reload (NeedDaemonReload=no), each file is its unit's FragmentPath or one
 * of its DropInPaths, each unit enabled shows enabled. systemd loads a unit it does not hold from disk, and
 * rebuilds its cache of the unit directories when their timestamps changed (systemd 247 and 252 do; 257 and 262
 * report NeedDaemonReload=yes for every unit once units were enabled or disabled without a reload, and get it):
 * a new tunnel's drop-in, on a gateway whose other tunnels run, then needs none. A daemon-reload re-reads every unit and takes 0.1–0.3 s on a busy gateway.
 * Any doubt (the show failing, a property missing or different) means false: reload.
 */
export async function systemdSees(
  conn: Connection,
  files: NewUnitFile[],
  enabled: string[],
): Promise<boolean> {
  const units = [...new Set([...files.map((f) => f.unit), ...enabled])];
  const props = ['Id', 'NeedDaemonReload', 'FragmentPath', 'DropInPaths', 'UnitFileState'];
  const result = await conn
    .exec(['systemctl', 'show', '--no-pager', ...props.flatMap((p) => ['-p', p]), '--', ...units], {
      timeoutMs: DEFAULT_REMOTE_TIMEOUT_MS,
    })
    .catch(() => undefined);
  if (result?.code !== 0) return false;
  const shown = parseShow(result.stdout);
  if (units.some((unit) => shown.get(unit)?.NeedDaemonReload !== 'no')) return false;
  for (const { unit, path } of files) {
    const { FragmentPath, DropInPaths = '' } = shown.get(unit)!;
    if (FragmentPath !== path && !DropInPaths.split(' ').includes(path)) return false;
  }
  return enabled.every((unit) => shown.get(unit)!.UnitFileState === 'enabled');
}

/** The steps of the converge phase for one gateway, in plan order. */
export function convergeSteps(run: GatewayRun): Step[] {
  const conn = run.conn!;
  const actions = run.plan!.actions;
  const steps: Step[] = [];
  const content = new Map(run.desired.files.map((f) => [f.path, f]));

  // one package-manager run for everything to install (one `apt-get update`, one dpkg lock)
  const installs = ofKind(actions, 'install-package');
  if (installs.length > 0) {
    const manager = installs[0]!.manager;
    const packages = [...new Set(installs.flatMap((i) => i.packages))];
    const label = installs.map((i) => i.package).join(' and ');
    steps.push({
      title: `install ${label} (${manager})`,
      run: async () => {
        const argv = installArgv(manager, packages);
        const result = await conn.exec(argv, { timeoutMs: 600_000 });
        if (result.code !== 0) {
          const said = result.stderr.trim().split('\n').slice(-3).join(' | ');
          throw new RemoteCommandError(
            run.name,
            [manager, 'install', ...packages],
            result.code,
            result.stderr,
            `${run.name}: ${manager} could not install ${packages.join(' ')} (exit ${result.code}: ${said}); ${INSTALL_HINT[manager]}`,
          );
        }
      },
    });
  }

  const stops = unitsOf(actions, 'stop-unit');
  const disables = unitsOf(actions, 'disable-unit');
  if (stops.length + disables.length > 0) {
    steps.push({
      title: `stop stale tunnels: ${shortUnits([...new Set([...stops, ...disables])])}`,
      run: async () => {
        await systemctl(conn, 'stop', stops);
        await systemctl(conn, 'disable', disables);
      },
    });
  }

  for (const firewall of ofKind(actions, 'remove-firewall')) {
    // the gateway leaves the mesh: meshctl's chains and jumps go even when its firewall unit was not running
    steps.push({
      title: "remove meshctl's firewall chains",
      run: () =>
        mustExec(conn, [
          'sh',
          '-c',
          'if [ -f "$1" ]; then sh "$1" stop; fi',
          'meshctl-firewall',
          firewall.script,
        ]).then(() => {}),
    });
  }

  const removals = ofKind(actions, 'remove-file').map((a) => a.path);
  if (removals.length > 0) {
    steps.push({
      title: `remove ${plural(removals.length, 'stale file')}`,
      run: async () => {
        await mustRunScript(conn, 'remove stale files', removeScript(removals));
      },
    });
  }

  const writes = ofKind(actions, 'write-file');
  if (writes.length > 0) {
    steps.push({
      title: `write ${plural(writes.length, 'file')} (one atomic bundle)`,
      run: async () => {
        const files = writes.map((w: WriteFileAction) => {
          const file = content.get(w.path);
          if (!file)
            throw new Error(`plan writes ${w.path}, which the desired state of ${run.name} does not hold`);
          return { path: file.path, content: file.content, mode: file.mode };
        });
        const keyDirs = [
          ...new Set(run.desired.files.filter((f) => f.secret).map((f) => posix.dirname(f.path))),
        ];
        await mustRunScript(conn, 'write files', installScript(files, keyDirs));
        for (const w of writes) {
          if (w.change === 'create') run.created.push(w.path);
          else if (w.change === 'update') run.updated.push(w.path);
          if (w.change !== 'mode-only') run.landed.push(w.path);
        }
      },
    });
  }

  const enables = unitsOf(actions, 'enable-unit');
  const reloads = ofKind(actions, 'daemon-reload').length > 0;
  if (reloads && enables.length > 0) {
    // `systemctl enable` reloads systemd itself: a second full reload (0.1–0.3 s on a busy gateway). The units are
    // enabled without one just before the daemon-reload step, which then loads both, or finds systemd showing them
    // enabled already (the new files are in place already; enabled after a reload with no reload of their own, a
    // unit systemd holds would go on showing disabled)
    steps.push({
      title: `enable ${shortUnits(enables)}`,
      run: () => systemctl(conn, 'enable', enables, undefined, ['--no-reload']),
    });
  }
  if (reloads) {
    const fresh = newUnitFilesOnly(actions);
    steps.push({
      title: fresh
        ? 'systemctl daemon-reload, unless systemd already sees the new unit files'
        : 'systemctl daemon-reload',
      run: async () => {
        if (fresh && (await systemdSees(conn, fresh, enables))) return;
        await mustExec(conn, ['systemctl', 'daemon-reload']);
      },
    });
  }
  for (const sysctl of ofKind(actions, 'apply-sysctl')) {
    steps.push({
      title: `sysctl -p ${sysctl.path}`,
      run: () => mustExec(conn, ['sysctl', '-p', sysctl.path]).then(() => {}),
    });
  }
  for (const firewall of ofKind(actions, 'reload-firewall')) {
    // reload-or-restart: a restart would run the unit's stop and drop the rules for a moment
    steps.push({
      title: 'load firewall chains',
      run: () => systemctl(conn, 'reload-or-restart', [firewall.unit]),
    });
  }

  for (const routes of ofKind(actions, 'reload-routes')) {
    steps.push({
      title: 'apply routes through peers',
      run: () => systemctl(conn, 'reload-or-restart', [routes.unit]),
    });
  }

  for (const frr of ofKind(actions, 'reload-frr')) {
    // frr-reload applies the difference to the running daemons: no restart, sessions stay up
    steps.push({ title: 'reload FRR (in place)', run: () => systemctl(conn, 'reload', [frr.unit]) });
  }

  if (enables.length > 0 && !reloads) {
    steps.push({ title: `enable ${shortUnits(enables)}`, run: () => systemctl(conn, 'enable', enables) });
  }

  const restarts = unitsOf(actions, 'restart-unit');
  const starts = unitsOf(actions, 'start-unit');
  // rolling: each tunnel is restarted in place in the start phase, one after the other
  if (restarts.length > 0 && !run.rolling) {
    steps.push({
      title: `stop ${shortUnits(restarts)} (restarted with their peers)`,
      run: async () => {
        run.stopped = restarts;
        await systemctl(conn, 'stop', restarts);
      },
    });
  }
  run.toStart = [...restarts, ...starts];
  run.verify = ofKind(actions, 'verify-tunnel');
  const bgp = ofKind(actions, 'verify-bgp')[0];
  if (bgp) run.verifyBgp = bgp;
  return steps;
}

/**
 * How long a BGP session may stay down after its tunnel is up before that tunnel is restarted once more. A session
 * over a fresh tunnel is up within FRR's connect retry (5 s) plus BFD; one still down well after that is stuck,
 * typically on next-hop tracking ("Waiting for NHT": zebra never saw the new device's address, seen on the lab
 * once in a few hundred restarts), and a second restart gives zebra the device afresh.
 */
export const BGP_NUDGE_AFTER_MS = 15_000;

/** FRR's reason for a session that waits on next-hop tracking (`show bgp neighbors json`: lastResetDueTo). */
export const WAITING_FOR_NHT = 'Waiting for NHT';

/**
 * Waits up to `timeoutMs` for the sessions of `checks`. A session still down after BGP_NUDGE_AFTER_MS (or half the
 * timeout, if shorter), not Established by FRR's own account, and picked by `stuck` (given FRR's last reset reason)
 * gets its tunnel at this end restarted once more — once per run and tunnel — recorded in `run.restartedAgain`.
 * The tunnels restarted, and then their sessions, get one new timeout between them; without a restart the wait
 * goes on for the rest of the first. The peer's own wait is not extended. Returns what waitForBgp returns; throws
 * what it throws.
 */
export async function waitForBgpOrRestart(
  run: GatewayRun,
  checks: BgpNeighborCheck[],
  timeoutMs: number,
  stuck: (reason: string | undefined) => boolean,
  onProgress?: (up: number, total: number) => void,
): ReturnType<typeof waitForBgp> {
  const conn = run.conn!;
  const nudgeAfter = Math.min(BGP_NUDGE_AFTER_MS, timeoutMs / 2);
  // FRR not answering yet is retried until the full timeout, as waitForBgp alone would
  const first = await waitForBgp(conn, checks, nudgeAfter, onProgress).catch(() => undefined);
  if (!first) return waitForBgp(conn, checks, timeoutMs - nudgeAfter, onProgress);
  const down = checks.filter((c) => !sessionUp(c, first.states.get(c.address), first.routes));
  if (down.length === 0) return first;
  // asked now, not from the last poll: a session Established meanwhile (or only missing a prefix) is not stuck
  const details = await neighborDetails(
    conn,
    down.map((c) => c.address),
  );
  const restarted: TunnelProbe[] = [];
  for (const check of down) {
    const { state, lastReset } = details.get(check.address) ?? {};
    const unit = run.desired.units.find((u) => u.tunnel?.peer === check.peer);
    if (!unit?.tunnel || run.restartedAgain.has(unit.name)) continue;
    if (state === 'Established' || !stuck(lastReset)) continue;
    run.restartedAgain.set(
      unit.name,
      `its BGP session was still ${state ?? describeSession(check, first.states.get(check.address))} after ` +
        `${nudgeAfter / 1000} s${lastReset ? ` (FRR's last reset: ${lastReset})` : ''}`,
    );
    // a failed restart is the wait's to find: the tunnel and its session then stay down and are reported
    await conn.exec(['systemctl', 'restart', unit.name], { timeoutMs: 120_000 });
    restarted.push(
      run.verify.find((v) => v.unit === unit.name) ?? {
        unit: unit.name,
        peer: check.peer,
        peerAddress: unit.tunnel.peerAddress,
      },
    );
  }
  if (restarted.length === 0) return waitForBgp(conn, checks, timeoutMs - nudgeAfter, onProgress);
  const deadline = Date.now() + timeoutMs;
  const up = await waitForTunnels(conn, restarted, timeoutMs).catch(() => new Set<string>());
  for (const probe of restarted.filter((p) => !up.has(p.unit))) {
    run.restartedAgain.set(
      probe.unit,
      `${run.restartedAgain.get(probe.unit)}; after that restart the tunnel did not come up within ${timeoutMs / 1000} s`,
    );
  }
  return waitForBgp(conn, checks, Math.max(0, deadline - Date.now()), onProgress);
}

/**
 * The rolling start phase: each unit restarted in place, then waited for (up at this end; with bgp, its session
 * Established with prefixes: see waitForBgpOrRestart) before the next, so the gateway's other tunnels carry the
 * traffic meanwhile. A unit that does not come up in time does not stop the others (every changed tunnel must load
 * its new files; the verify phase judges them all and rolls back what is down). Returns like one `systemctl start`
 * of them all.
 */
async function restartOneByOne(
  run: GatewayRun,
  units: string[],
  timeoutMs: number,
): Promise<{ code: number; stderr: string }> {
  const conn = run.conn!;
  let failed: { code: number; stderr: string } | undefined;
  for (const unit of units) {
    const result = await conn.exec(['systemctl', 'restart', unit], { timeoutMs: 120_000 });
    if (result.code !== 0) {
      failed ??= { code: result.code, stderr: result.stderr };
      continue;
    }
    const probe = run.verify.find((v) => v.unit === unit);
    if (!probe) continue;
    // a failed check only ends the wait: the verify phase judges every tunnel, and the rest must restart too
    const up = await waitForTunnels(conn, [probe], timeoutMs).catch(() => new Set<string>());
    const neighbor = run.verifyBgp?.neighbors.find((n) => n.peer === probe.peer);
    // this tunnel was just restarted: a session still down is stuck whatever FRR says; an error reading FRR is
    // the verify phase's to report, here it only ends the wait
    if (up.has(unit) && neighbor) {
      await waitForBgpOrRestart(run, [neighbor], timeoutMs, () => true).catch(() => undefined);
    }
  }
  return failed ?? { code: 0, stderr: '' };
}

/**
 * A step for a gateway converged before the others (add-lan's new gateway): start its units that are not tunnels
 * (the firewall, the routes) now, as the start phase would first. Its firewall is then up while the others
 * converge, and a firewall that does not start stops the run before any other gateway is changed. FRR stays in the
 * start phase (it must start after the tunnels), and so do the tunnels, to start with their peers.
 */
export function startSupportUnits(run: GatewayRun): Step | null {
  const units = run.toStart.filter((u) => u !== FRR_UNIT && !isTunnelUnit(u));
  if (units.length === 0) return null;
  return {
    title: `start ${shortUnits(units)} (before the other gateways converge)`,
    run: async () => {
      await systemctl(run.conn!, 'start', units);
      run.toStart = run.toStart.filter((u) => !units.includes(u));
    },
  };
}

/** The start phase: start every stopped or new tunnel of this gateway in one call. */
export async function startTunnels(run: GatewayRun): Promise<void> {
  const conn = run.conn!;
  // FRR last, once the tunnels have started: zebra misses an address that appears while it is starting up (the
  // tunnel's session would wait for a route to its peer forever). At boot FRR starts before the network is up,
  // long before the tunnels (After=network-online.target), so only apply starts them together.
  const frr = run.toStart.filter((u) => u === FRR_UNIT);
  const units = run.toStart.filter((u) => u !== FRR_UNIT);
  const argv = ['systemctl', 'start', ...units];
  const started = run.rolling
    ? await restartOneByOne(run, units, run.rolling.timeoutMs)
    : units.length > 0
      ? await conn.exec(argv, { timeoutMs: 120_000 })
      : { code: 0, stderr: '' };
  // whatever the tunnels did: with bgp a gateway without FRR has no route to any LAN
  if (frr.length > 0) await mustExec(conn, ['systemctl', 'start', ...frr], { timeoutMs: 120_000 });
  run.stopped = [];
  if (started.code === 0) return;
  // systemctl starts every unit it was given and fails if any failed: find which. A tunnel that OpenVPN refused
  // to start goes to verification as down (and is rolled back); any other unit fails the gateway.
  const show = await conn.exec(
    ['systemctl', 'show', '-p', 'Id', '-p', 'ActiveState', '-p', 'SubState', ...run.toStart],
    { timeoutMs: 30_000 },
  );
  const states = parseShow(show.stdout);
  // a unit that failed and waits to be restarted by systemd (Restart=on-failure) shows as activating/auto-restart
  const running = (u: string) => {
    const state = states.get(u);
    return (
      ['active', 'reloading'].includes(state?.ActiveState ?? '') ||
      (state?.ActiveState === 'activating' && state.SubState !== 'auto-restart')
    );
  };
  const failed = run.toStart.filter((u) => !running(u));
  const tunnels = new Set(run.verify.map((v) => v.unit));
  for (const unit of failed.filter((u) => tunnels.has(u))) run.startFailed.add(unit);
  const others = failed.filter((u) => !tunnels.has(u));
  if (others.length > 0 || failed.length === 0) {
    throw new RemoteCommandError(run.name, argv.slice(0, 4), started.code, started.stderr);
  }
}

/**
 * After an interruption: start again every tunnel this run stopped for a restart, so Ctrl-C between the converge
 * and start phases never leaves a tunnel down. Best effort, bounded; returns how many units were started.
 */
export async function startStopped(runs: GatewayRun[], timeoutMs: number): Promise<number> {
  const pending = runs.filter((run) => run.conn && run.stopped.length > 0);
  const started = await Promise.allSettled(
    pending.map(async (run) => {
      await systemctl(run.conn!, 'start', run.stopped, timeoutMs);
      const count = run.stopped.length;
      run.stopped = [];
      return count;
    }),
  );
  return started.reduce((sum, r) => sum + (r.status === 'fulfilled' ? r.value : 0), 0);
}

/**
 * Roll back the tunnels `units` of this gateway, which did not come up. Every file this run changed that only these
 * tunnels read goes back to its previous version (a file this run created is removed, and a new tunnel is
 * disabled again); a changed file that other tunnels of the gateway also read (the CA, this gateway's certificate
 * and key) is kept, because those tunnels came up on it — and the outcome says so, file by file. One restore
 * script and one restart for the whole gateway.
 */
export async function rollbackTunnels(run: GatewayRun, units: string[]): Promise<Map<string, TunnelOutcome>> {
  const down = new Set(units);
  const changed = new Set([...run.updated, ...run.created]);
  const restore: string[] = [];
  const kept = new Map<string, KeptFile[]>();
  for (const file of run.desired.files.filter((f) => changed.has(f.path))) {
    const readers = file.notifies.filter((u) => down.has(u));
    if (readers.length === 0) continue;
    const others = file.notifies.filter((u) => !down.has(u));
    if (others.length === 0) {
      restore.push(file.path);
      continue;
    }
    for (const unit of readers)
      kept.set(unit, [...(kept.get(unit) ?? []), { path: file.path, sharedWith: others }]);
  }
  const updated = restore.filter((p) => run.updated.includes(p));
  const created = restore.filter((p) => run.created.includes(p));
  const removedUnits = new Set(
    created.map((p) => tunnelUnitOfConfig(p)).filter((u): u is string => u !== null && down.has(u)),
  );
  const outcomes = new Map<string, TunnelOutcome>();
  try {
    if (restore.length > 0) {
      await mustRunScript(run.conn!, 'restore previous files', restoreScript(updated, created));
      run.updated = run.updated.filter((p) => !updated.includes(p));
      run.created = run.created.filter((p) => !created.includes(p));
      run.restored.push(...restore);
    }
    const restart = units.filter((u) => !removedUnits.has(u) && restoredFor(u, restore, run).length > 0);
    const widened = restart.length > 0 && (await keepPreviousRulesAccepted(run));
    await systemctl(run.conn!, 'disable', [...removedUnits]);
    await systemctl(run.conn!, 'stop', [...removedUnits]);
    await systemctl(run.conn!, 'restart', restart);
    for (const unit of units) {
      const restored = restoredFor(unit, restore, run);
      const keptHere = kept.get(unit) ?? [];
      if (removedUnits.has(unit)) {
        outcomes.set(unit, {
          kind: 'rolled-back',
          restored,
          kept: [],
          removed: true,
          firewallWidened: false,
        });
      } else if (restored.length === 0) {
        outcomes.set(unit, { kind: 'down', kept: keptHere });
      } else {
        outcomes.set(unit, {
          kind: 'rolled-back',
          restored,
          kept: keptHere,
          removed: false,
          firewallWidened: widened,
        });
      }
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    for (const unit of units) outcomes.set(unit, { kind: 'rollback-failed', error: message });
  }
  return outcomes;
}

/** The restored files that `unit` reads. */
function restoredFor(unit: string, restored: string[], run: GatewayRun): string[] {
  const set = new Set(restored);
  return run.desired.files.filter((f) => set.has(f.path) && f.notifies.includes(unit)).map((f) => f.path);
}

/**
 * The firewall was reloaded with this run's rules, which accept only the new ports: a tunnel put back on its
 * previous config needs its previous port accepted again (a gateway whose INPUT policy is DROP would cut it off).
 * Loads the union of both versions, once per gateway; the next successful apply loads the exact rules again.
 */
async function keepPreviousRulesAccepted(run: GatewayRun): Promise<boolean> {
  const rules = gatewayPaths.iptablesRules;
  if (!run.updated.includes(rules)) return false;
  const result = await run.conn!.exec(['sh', '-s'], { stdin: widenRulesScript(rules), timeoutMs: 60_000 });
  if (result.code === 3) return false;
  if (result.code !== 0) {
    throw new Error(
      `${run.name}: could not keep the previous firewall rules next to the new ones (exit ${result.code}: ` +
        `${result.stderr.trim().split('\n').slice(-2).join(' ')}); a rolled-back tunnel may be blocked. ` +
        'Fix: re-run apply once the failing tunnel can come up.',
    );
  }
  // the rules file is no longer this run's version: its rollback copy stays until the next bundle
  run.updated = run.updated.filter((p) => p !== rules);
  await systemctl(run.conn!, 'reload-or-restart', [FIREWALL_UNIT]);
  return true;
}

/**
 * The manifest of what is really on the gateway and confirmed: see `confirmedManifestFiles`. Recording the desired
 * checksum of a file a rollback put back, or of one an unverified tunnel reads, would make the next run believe
 * the tunnel converged.
 */
function actualManifest(run: GatewayRun): Manifest {
  const unconfirmedUnits = new Set(run.tunnels.filter((t) => unconfirmed(t.outcome)).map((t) => t.unit));
  // BGP sessions this run had to check and did not see up: FRR's files are not vouched for either
  if (run.verifyBgp && !run.bgpConfirmed) unconfirmedUnits.add(FRR_UNIT);
  // daemons is vouched for once FRR runs on it (an unconfirmed one would restart bgpd on every later run)
  const notifies = new Map(
    run.desired.files.map((f) => [f.path, f.path === gatewayPaths.frrDaemons ? [] : f.notifies]),
  );
  // a file an earlier run landed without confirming it (its content is the desired one, its manifest entry is
  // not) stays unconfirmed until a run confirms what reads it, although this run did not write it again
  const recorded = run.facts?.manifest?.files ?? {};
  const pending = Object.entries(run.desired.manifest.files)
    .filter(
      ([path, sha]) =>
        !run.landed.includes(path) &&
        recorded[path] !== undefined &&
        recorded[path] !== sha &&
        run.facts?.files[path]?.sha256 === sha,
    )
    .map(([path]) => path);
  const files = confirmedManifestFiles({
    desired: run.desired.manifest.files,
    before: Object.fromEntries(
      Object.entries(run.facts?.files ?? {}).map(([p, f]) => [p, f?.sha256 ?? null]),
    ),
    restored: run.restored,
    written: [...run.landed, ...pending].map((path) => ({ path, notifies: notifies.get(path) ?? [] })),
    unconfirmedUnits,
  });
  return { ...run.desired.manifest, files };
}

/** Drop rollback copies and write the manifest, last (or, for a gateway leaving the mesh, remove it, last). */
export async function finish(run: GatewayRun): Promise<void> {
  const conn = run.conn!;
  const writes = run.plan!.actions.some((a) => a.kind === 'write-manifest');
  // with a manifest to write, the rollback copies go in the same round trip, just before it
  if (run.updated.length > 0 && !writes) {
    await mustRunScript(conn, 'drop rollback copies', commitScript(run.updated));
  }
  for (const removal of ofKind(run.plan!.actions, 'remove-manifest')) {
    await mustRunScript(conn, 'remove the manifest', removeScript([removal.path]));
    await mustExec(conn, [
      'sh',
      '-c',
      'for d do rmdir -- "$d" 2>/dev/null || true; done',
      'meshctl-rmdir',
      ...removal.directories,
    ]);
  }
  if (writes) {
    const manifest = {
      path: run.desired.manifestPath,
      content: manifestText(actualManifest(run)),
      mode: MODES.public,
    };
    // the rollback copies of the run's files, the manifest, then the manifest's own rollback copy: in this order,
    // one round trip (a failure stops it where it is; the manifest is written only once the copies are gone)
    await mustRunScript(
      conn,
      'drop rollback copies, write manifest',
      sequenceScript([
        ...(run.updated.length > 0 ? [commitScript(run.updated)] : []),
        installScript([manifest]),
        commitScript([manifest.path]),
      ]),
    );
  }
}
