import { Listr, type ListrTask } from 'listr2';
import type { Connector } from '../connection/types.js';
import { peerOfTunnelUnit } from '../gateway/layout.js';
import type { Output } from '../output.js';
import { HostPlanError, planHosts } from '../plan/index.js';
import type { DesiredState } from '../types.js';
import { describeSession, lastResets, sessionUp } from './bgp.js';
import {
  convergeSteps,
  finish,
  rollbackTunnels,
  startStopped,
  startSupportUnits,
  startTunnels,
  WAITING_FOR_NHT,
  waitForBgpOrRestart,
} from './converge.js';
import { closeAll, connectGateway, fail, type GatewayRun, gatherFacts, newRun } from './gateway.js';
import { type EndCheck, pairVerdict, type Stage, type TunnelOutcome, verdictError } from './outcomes.js';
import { waitForTunnels } from './tunnels.js';

/**
 * The push engine: phases across all gateways, each phase a listr2 task with one subtask per gateway (bounded by
 * --forks, failures isolated: exitOnError false). A gateway that fails leaves the later phases; the others go on.
 *
 *   connect + facts → plan (pure) → converge (files, system, units; changed tunnels stopped)
 *   → start tunnels (both ends of a pair together) → verify (roll back a tunnel that does not come up) → manifest
 */

export interface EngineOptions {
  forks: number;
  acceptNew: boolean;
  connector: Connector;
  out: Output;
  /** How long a touched tunnel may take to come up. */
  tunnelTimeoutMs: number;
  /** Pause on the gateway between two checks of tunnels not up yet (default 100 ms). */
  pollIntervalMs?: number;
  /**
   * All or nothing before the first write (rotate): when one selected gateway cannot be reached or planned, none
   * is converged, so the two ends of a changed key never end up on different keys.
   */
  together?: boolean;
  /** Tunnels restarted and verified though none of their files changed (`gateway unit` → reason). */
  restart?: ReadonlyMap<string, string>;
  /**
   * Verify a touched tunnel whose other end is not in the run at this end alone (rotate --ca converges one
   * gateway at a time; the other end runs, converged earlier): it must come up here, or it is rolled back here.
   * Without it such a tunnel is reported `peer-not-in-run`, unchecked (--limit, add-lan's first phase).
   */
  verifyAlone?: boolean;
  /** Restart each gateway's changed tunnels one at a time, each verified before the next (GatewayRun.rolling). */
  rolling?: boolean;
  /**
   * Converge these gateways first (add-lan: the new one), then the others, and the others only when every one of
   * these converged: one of `names` that cannot be reached, planned or converged leaves the others as they
   * are. Everything else (facts, the start of the tunnels, verification) is one phase for all, so the tunnels of
   * both waves still start at the same instant. The titles name the two converge phases.
   */
  convergeFirst?: { names: string[]; title: string; othersTitle: string };
}

function renderer(out: Output): { renderer: 'silent' | 'default'; fallbackRenderer: 'simple' } {
  return { renderer: out.json ? 'silent' : 'default', fallbackRenderer: 'simple' };
}

function rootListr(tasks: ListrTask[], out: Output): Listr {
  return new Listr(tasks, {
    ...renderer(out),
    exitOnError: false,
    registerSignalListeners: false,
    rendererOptions: { collapseSubtasks: false, collapseErrors: false, showErrorMessage: true },
    fallbackRendererOptions: { timestamp: undefined },
  } as ConstructorParameters<typeof Listr>[1]);
}

/**
 * A gateway's line in a phase. The tree shows the phase above it; the line renderer of CI logs shows no tree, so
 * there the line says the phase too.
 */
function gatewayTitle(run: GatewayRun, stage: string): string {
  return process.stdout.isTTY ? run.name : `${run.name}: ${stage}`;
}

function alive(runs: GatewayRun[]): GatewayRun[] {
  return runs.filter((run) => !run.failure);
}

/** One subtask per live gateway, at most `forks` at a time; an error fails that gateway only. */
function perGateway(
  select: () => GatewayRun[],
  forks: number,
  stage: Stage,
  work: (run: GatewayRun, setOutput: (s: string) => void, setTitle: (s: string) => void) => Promise<void>,
): (ctx: unknown, task: { newListr: (tasks: ListrTask[], opts: object) => Listr }) => Listr {
  return (_ctx, task) =>
    task.newListr(
      select().map((run) => ({
        title: gatewayTitle(run, stage),
        task: async (_c: unknown, sub: { output: string; title: string }) => {
          try {
            await work(
              run,
              (s) => {
                sub.output = s;
              },
              (s) => {
                sub.title = s;
              },
            );
          } catch (error) {
            fail(run, stage, error);
            throw error;
          }
        },
      })),
      { concurrent: Math.max(1, forks), exitOnError: false },
    );
}

/** Connect to every selected gateway and run the probe; then plan the whole selection at once. */
export function gatherTasks(
  runs: GatewayRun[],
  desired: Map<string, DesiredState>,
  opts: EngineOptions,
): ListrTask[] {
  return [
    {
      title: 'Connect and gather facts',
      task: perGateway(
        () => runs,
        opts.forks,
        'connect',
        async (run, _output, setTitle) => {
          await connectGateway(run, { connector: opts.connector, acceptNew: opts.acceptNew });
          const facts = await gatherFacts(run);
          const os = `${facts.os.id || 'unknown OS'} ${facts.os.versionId}`.trim();
          setTitle(`${run.name}: ${os}, openvpn ${facts.openvpnVersion ?? 'not installed'}`);
        },
      ),
    },
    {
      title: 'Plan',
      task: () => {
        const facts = new Map(alive(runs).map((run) => [run.name, run.facts!]));
        // the bastion's clock, for the pre-flight clock check (the planner reads no clock itself)
        const plans = planHosts(desired, facts, {
          limit: alive(runs).map((r) => r.name),
          now: Date.now(),
          ...(opts.restart ? { restart: opts.restart } : {}),
        });
        for (const run of runs) {
          const plan = plans.get(run.name);
          if (plan instanceof HostPlanError) fail(run, 'plan', plan);
          else if (plan) run.plan = plan;
        }
        const failed = runs.filter((run) => run.failure).map((run) => run.name);
        if (opts.together && failed.length > 0) {
          for (const run of alive(runs)) {
            fail(
              run,
              'plan',
              new Error(
                `not converged: ${failed.join(', ')} could not be reached or planned, and this run changes its gateways together or not at all`,
              ),
            );
          }
        }
      },
    },
  ];
}

/** `openvpn-server@mesh-branch.service` → `branch`. */
function shortTunnel(unit: string): string {
  return peerOfTunnelUnit(unit) ?? unit;
}

/** The other end's check of the tunnel `check` names, when the other end was checked in this run. */
function otherEnd(run: GatewayRun, check: EndCheck, byName: Map<string, GatewayRun>): EndCheck | undefined {
  return byName.get(check.probe.peer)?.checks.find((c) => c.probe.peer === run.name);
}

/** This gateway's checked tunnels whose pair is down: seen down at this end or at the other (see pairVerdict). */
export function pairDown(run: GatewayRun, byName: Map<string, GatewayRun>): string[] {
  return run.checks
    .filter((check) => pairVerdict(check, otherEnd(run, check, byName)) === 'down')
    .map((check) => check.probe.unit);
}

/** A verified tunnel restarted for its stuck BGP session (run.restartedAgain) says so in its outcome. */
function noteRestarts(run: GatewayRun): void {
  for (const t of run.tunnels) {
    const again = run.restartedAgain.get(t.unit);
    if (again && t.outcome.kind === 'verified') t.outcome = { kind: 'verified', restartedAgain: again };
  }
}

/**
 * Once every end is checked: record each pair's verdict at this end, rolling back (at this end) the tunnels whose
 * pair is down. Throws when anything is not up, so the gateway is reported failed at the verify stage.
 */
async function decidePairs(
  run: GatewayRun,
  byName: Map<string, GatewayRun>,
  timeoutMs: number,
): Promise<string> {
  const down = pairDown(run, byName);
  const rolledBack = down.length > 0 ? await rollbackTunnels(run, down) : new Map<string, TunnelOutcome>();
  const unverified: string[] = [];
  for (const check of run.checks) {
    const peerCheck = otherEnd(run, check, byName);
    const verdict = pairVerdict(check, peerCheck);
    const { unit, peer } = check.probe;
    if (verdict === 'down') run.tunnels.push({ unit, peer, outcome: rolledBack.get(unit)! });
    else if (verdict === 'error') {
      run.tunnels.push({
        unit,
        peer,
        outcome: { kind: 'verify-error', error: verdictError(check, peerCheck) },
      });
      unverified.push(unit);
    } else run.tunnels.push({ unit, peer, outcome: { kind: 'verified' } });
  }
  noteRestarts(run);
  const problems: string[] = [];
  if (down.length > 0) {
    problems.push(`${down.map(shortTunnel).join(', ')}: tunnel did not come up within ${timeoutMs / 1000} s`);
  }
  if (unverified.length > 0) {
    problems.push(`${unverified.map(shortTunnel).join(', ')}: could not be verified`);
  }
  const up = run.tunnels.filter((t) => t.outcome.kind === 'verified').length;
  if (problems.length > 0) throw new Error(problems.join('; '));
  return `${up}/${run.checks.length} tunnels up`;
}

/** Everything after planning, for `apply`. */
export function applyTasks(runs: GatewayRun[], opts: EngineOptions): ListrTask[] {
  const byName = new Map(runs.map((run) => [run.name, run]));
  const changing = () => alive(runs).filter((run) => run.plan!.actions.length > 0);
  const first = new Set(opts.convergeFirst?.names ?? []);
  // a gateway converged first also starts its firewall (and routes) before the others converge
  const stepsOf = (run: GatewayRun) => {
    const steps = convergeSteps(run);
    const support = first.has(run.name) ? startSupportUnits(run) : null;
    return support ? [...steps, support] : steps;
  };
  // one subtask per changing gateway, its steps in order (a failed step ends that gateway's converge only)
  const converge = (
    select: () => GatewayRun[],
  ): ((ctx: unknown, task: { newListr: (tasks: ListrTask[], opts: object) => Listr }) => Listr) => {
    return (_ctx, task) =>
      task.newListr(
        select().map((run) => ({
          title: gatewayTitle(run, 'converge'),
          task: (_c, sub) =>
            sub.newListr(
              stepsOf(run).map((step) => ({
                // the line renderer of CI logs shows no tree: say which gateway a step belongs to
                title: process.stdout.isTTY ? step.title : `${run.name}: ${step.title}`,
                task: async () => {
                  try {
                    await step.run();
                  } catch (error) {
                    fail(run, 'converge', error, step.title);
                    throw error;
                  }
                },
              })),
              { concurrent: false, exitOnError: true },
            ),
        })),
        { concurrent: Math.max(1, opts.forks), exitOnError: false },
      );
  };
  const converging: ListrTask[] = opts.convergeFirst
    ? [
        {
          title: opts.convergeFirst.title,
          task: converge(() => changing().filter((run) => first.has(run.name))),
        },
        {
          title: opts.convergeFirst.othersTitle,
          task: (ctx, task) => {
            const failed = runs.filter((run) => first.has(run.name) && run.failure).map((run) => run.name);
            if (failed.length > 0) {
              // nothing was written on them: they are left exactly as they were
              for (const run of alive(runs).filter((r) => !first.has(r.name))) {
                fail(run, 'plan', new Error(`not converged: ${failed.join(', ')} did not converge first`));
              }
              return;
            }
            return converge(() => changing().filter((run) => !first.has(run.name)))(ctx, task);
          },
        },
      ]
    : [{ title: 'Converge', task: converge(changing) }];
  return [
    ...converging,
    {
      title: 'Start changed tunnels',
      skip: () => alive(runs).every((run) => run.toStart.length === 0),
      task: perGateway(
        () => alive(runs).filter((run) => run.toStart.length > 0),
        // one command per gateway, every gateway at once: both ends of a pair start in the same instant, instead
        // of one end waiting for a --forks slot while its peer already negotiates
        Math.max(opts.forks, runs.length),
        'start',
        async (run) => startTunnels(run),
      ),
    },
    {
      title: 'Verify tunnels',
      skip: () => alive(runs).every((run) => run.verify.length === 0),
      task: perGateway(
        () => alive(runs).filter((run) => run.verify.length > 0),
        // verification mostly waits: let every gateway wait at once
        Math.max(opts.forks, runs.length),
        'verify',
        async (run, setOutput, setTitle) => {
          const probes = run.verify.filter((v) => {
            const peer = byName.get(v.peer);
            if (peer && !peer.failure) return true;
            if (!peer && opts.verifyAlone) return true;
            const outcome = peer
              ? ({ kind: 'peer-failed' } as const)
              : ({ kind: 'peer-not-in-run' } as const);
            run.tunnels.push({ unit: v.unit, peer: v.peer, outcome });
            return false;
          });
          // a tunnel whose start failed will not come up: no point waiting for it
          const waiting = probes.filter((p) => !run.startFailed.has(p.unit));
          try {
            const up = await waitForTunnels(
              run.conn!,
              waiting,
              opts.tunnelTimeoutMs,
              (n, total) => setOutput(`${n}/${total} tunnels up`),
              opts.pollIntervalMs,
            );
            run.checks = probes.map((probe) => ({ probe, seen: up.has(probe.unit) ? 'up' : 'down' }));
            setTitle(`${run.name}: ${up.size}/${probes.length} tunnels up`);
          } catch (error) {
            // the check failed, not the tunnel: its state is unknown (never "down", which would roll back a
            // tunnel that may be up, nor "up", which would let the manifest vouch for it)
            const message = error instanceof Error ? error.message : String(error);
            run.checks = probes.map((probe) => ({ probe, seen: 'error', error: message }));
            setTitle(`${run.name}: verification failed`);
          }
        },
      ),
    },
    {
      // decided per pair, once every end has been checked: a tunnel is rolled back at BOTH ends when either end
      // saw it down, so the two ends never stay on different configs
      title: 'Decide per pair; roll back tunnels that did not come up',
      skip: () => alive(runs).every((run) => run.checks.length === 0),
      task: perGateway(
        () => alive(runs).filter((run) => run.checks.length > 0),
        opts.forks,
        'verify',
        async (run, _setOutput, setTitle) => {
          setTitle(`${run.name}: ${await decidePairs(run, byName, opts.tunnelTimeoutMs)}`);
        },
      ),
    },
    {
      // routing: bgp: the tunnels are up; now the sessions over them (SPEC §7: Established, prefixes received)
      title: 'Verify BGP sessions',
      skip: () => alive(runs).every((run) => !run.verifyBgp),
      task: perGateway(
        () => alive(runs).filter((run) => run.verifyBgp),
        Math.max(opts.forks, runs.length),
        'verify',
        async (run, setOutput, setTitle) => {
          const action = run.verifyBgp!;
          // a peer that failed or is not in this run may not be configured for this session yet
          const checks = action.neighbors.filter((n) => {
            const peer = byName.get(n.peer);
            // verifyAlone: a peer outside the run was converged before, so its session must come up too
            return peer === undefined ? Boolean(opts.verifyAlone) : !peer.failure;
          });
          const skipped = action.neighbors.length - checks.length;
          if (checks.length === 0) {
            setTitle(
              `${run.name}: no BGP session checked (${skipped} with peers outside this run or failed)`,
            );
            return;
          }
          // a session FRR holds back on next-hop tracking gets its tunnel restarted once (zebra missed the device)
          const { states, routes } = await waitForBgpOrRestart(
            run,
            checks,
            opts.tunnelTimeoutMs,
            (reason) => reason === WAITING_FOR_NHT,
            (up, total) => setOutput(`${up}/${total} BGP sessions up`),
          );
          // the tunnels were decided before the sessions
          noteRestarts(run);
          const down = checks.filter((c) => !sessionUp(c, states.get(c.address), routes));
          if (down.length > 0) {
            const resets = await lastResets(
              run.conn!,
              down.map((c) => c.address),
            );
            const restarted = (c: (typeof down)[number]) =>
              run.restartedAgain.has(run.desired.units.find((u) => u.tunnel?.peer === c.peer)?.name ?? '');
            const why = (c: (typeof down)[number]) =>
              (resets.has(c.address) ? ` (FRR's last reset: ${resets.get(c.address)})` : '') +
              (restarted(c) ? ', although its tunnel was restarted once more' : '');
            throw new Error(
              `BGP session${down.length === 1 ? '' : 's'} not up within ${opts.tunnelTimeoutMs / 1000} s: ` +
                down
                  .map(
                    (c) =>
                      `${c.peer} (${c.address}): ${describeSession(c, states.get(c.address), routes)}${why(c)}`,
                  )
                  .join('; ') +
                '; the tunnels are up: check FRR on both ends (`vtysh -c "show bgp summary"`)',
            );
          }
          // a session with a peer that failed was not checked: FRR's files wait for the run that checks it
          run.bgpConfirmed = checks.length === action.neighbors.length;
          const again = [...run.restartedAgain.keys()].map((unit) => peerOfTunnelUnit(unit) ?? unit);
          setTitle(
            `${run.name}: ${checks.length}/${checks.length} BGP sessions up` +
              (skipped > 0 ? `; ${skipped} not checked (peers outside this run or failed)` : '') +
              (again.length > 0 ? `; tunnel(s) to ${again.join(', ')} restarted for it` : ''),
          );
        },
      ),
    },
    {
      title: 'Record manifests',
      // also after a rollback: the manifest then records the files that were put back
      task: perGateway(
        () =>
          // a gateway whose run got through starting its tunnels: its files are in place, and the manifest
          // vouches only for what was confirmed (a gateway that failed earlier keeps its old manifest, so the
          // next run sees its new files as unconfirmed and restarts what reads them)
          runs.filter(
            (run) =>
              run.plan && run.plan.actions.length > 0 && (!run.failure || run.failure.stage === 'verify'),
          ),
        opts.forks,
        'manifest',
        async (run) => finish(run),
      ),
    },
  ];
}

export interface EngineResult {
  runs: GatewayRun[];
}

/** The runs of engines in progress, for `recoverInterrupted`. */
const inProgress = new Set<GatewayRun[]>();

/**
 * Called on SIGINT/SIGTERM before exiting: starts the tunnels a running apply had stopped for a restart (their
 * new files are already in place). Returns how many were started.
 */
export async function recoverInterrupted(timeoutMs = 15_000): Promise<number> {
  const all = [...inProgress].flat();
  return all.length === 0 ? 0 : startStopped(all, timeoutMs);
}

/** Runs the gather phase (and apply's phases when `apply`), always closing every connection. */
export async function runEngine(
  desired: Map<string, DesiredState>,
  selected: string[],
  opts: EngineOptions & { apply: boolean; after?: (runs: GatewayRun[]) => ListrTask[] },
): Promise<EngineResult> {
  const runs = selected.map((name) => newRun(desired.get(name)!));
  if (opts.rolling) for (const run of runs) run.rolling = { timeoutMs: opts.tunnelTimeoutMs };
  const tasks = gatherTasks(runs, desired, opts);
  // every phase picks its gateways when it runs, so it sees what earlier phases decided
  if (opts.apply) tasks.push(...applyTasks(runs, opts));
  if (opts.after) tasks.push(...opts.after(runs));
  inProgress.add(runs);
  try {
    await rootListr(tasks, opts.out).run();
  } finally {
    inProgress.delete(runs);
    for (const run of runs) run.finishedAt ??= Date.now();
    await closeAll(runs);
  }
  return { runs };
}
