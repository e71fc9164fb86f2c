import type { Connection, ConnectOptions, Connector } from '../connection/types.js';
import { RemoteCommandError } from '../errors.js';
import { parseFacts, probeCommand } from '../facts/index.js';
import type { Facts } from '../facts/types.js';
import type { HostPlan, VerifyBgpAction, VerifyTunnelAction } from '../plan/types.js';
import type { DesiredState, Gateway } from '../types.js';
import type { EndCheck, GatewayFailure, Stage, TunnelResult } from './outcomes.js';

/** Everything one run learns and does on one gateway; the per-gateway summary is built from it. */
export interface GatewayRun {
  name: string;
  desired: DesiredState;
  conn?: Connection;
  facts?: Facts;
  plan?: HostPlan;
  /** Set when the gateway failed; later phases skip it. `stage` says where. */
  failure?: GatewayFailure;
  /** Files written this run: updated ones have a rollback copy, created ones did not exist. */
  updated: string[];
  created: string[];
  /** Every file whose content this run wrote (a rollback does not shrink it): what the manifest must vouch for. */
  landed: string[];
  /** Tunnel units stopped in the converge phase, to start in the start phase (a restart split in two). */
  toStart: string[];
  /**
   * Restart this gateway's changed tunnels one at a time, each waited for (and its BGP session, with bgp) before
   * the next, instead of stopping them all and starting them together (rotate --ca with bgp: the other tunnels
   * carry the traffic meanwhile).
   */
  rolling?: { timeoutMs: number };
  /**
   * Tunnel units restarted (again) because their BGP session stayed down after the tunnel was up — by a rolling
   * restart or by the BGP verification (waitForBgpOrRestart) — and why; at most once per unit and run.
   */
  restartedAgain: Map<string, string>;
  /** Units stopped by this run and not started again yet: an interrupted run starts them before it exits. */
  stopped: string[];
  /** Files a rollback put back (or removed again): the manifest records their previous state. */
  restored: string[];
  /** Tunnel units whose start failed (OpenVPN refused the new config): verified as down at once, rolled back. */
  startFailed: Set<string>;
  /** Tunnels to verify after every gateway has started its tunnels. */
  verify: VerifyTunnelAction[];
  /** With routing: bgp, the sessions to check once the tunnels are decided. */
  verifyBgp?: VerifyBgpAction;
  /** Every session of `verifyBgp` was checked and seen up: only then does the manifest vouch for FRR's files. */
  bgpConfirmed: boolean;
  /** What verification saw at this end; rollback is decided per pair from both ends. */
  checks: EndCheck[];
  /** One outcome per tunnel this run touched, decided once both ends were checked. */
  tunnels: TunnelResult[];
  startedAt: number;
  finishedAt?: number;
}

export function newRun(desired: DesiredState): GatewayRun {
  return {
    name: desired.gateway.name,
    desired,
    updated: [],
    created: [],
    landed: [],
    toStart: [],
    stopped: [],
    startFailed: new Set(),
    restartedAgain: new Map(),
    restored: [],
    verify: [],
    bgpConfirmed: false,
    checks: [],
    tunnels: [],
    startedAt: Date.now(),
  };
}

export function fail(run: GatewayRun, stage: Stage, error: unknown, step?: string): void {
  const message = error instanceof Error ? error.message : String(error);
  run.failure ??= { stage, ...(step ? { step } : {}), message };
  run.finishedAt ??= Date.now();
}

export interface ConnectSettings {
  connector: Connector;
  acceptNew: boolean;
}

/** How to reach a LAN's gateway over SSH, from its inventory settings. */
export function connectOptions(lan: Gateway, acceptNew: boolean): ConnectOptions {
  return {
    name: lan.name,
    host: lan.sshHost,
    port: lan.ssh.port,
    user: lan.ssh.user,
    ...(lan.ssh.identityFile ? { identityFile: lan.ssh.identityFile } : {}),
    knownHosts: lan.ssh.knownHosts,
    acceptNew,
    become: lan.ssh.become,
  };
}

/** Opens the SSH connection (host key verified) for a gateway. */
export async function connectGateway(run: GatewayRun, settings: ConnectSettings): Promise<Connection> {
  run.conn = await settings.connector(connectOptions(run.desired.gateway, settings.acceptNew));
  return run.conn;
}

/** The one read-only probe: everything the planner needs, in one round trip. */
export async function gatherFacts(run: GatewayRun): Promise<Facts> {
  const conn = run.conn!;
  const paths = [...run.desired.files.map((f) => f.path), run.desired.manifestPath];
  const argv = probeCommand(paths, run.desired.firewall);
  const result = await conn.exec(argv, { timeoutMs: 60_000 });
  if (result.code !== 0) {
    throw new RemoteCommandError(run.name, ['sh', '-c', '(meshctl probe)'], result.code, result.stderr);
  }
  run.facts = parseFacts(result.stdout, run.name, run.desired.firewall);
  return run.facts;
}

export async function closeAll(runs: GatewayRun[]): Promise<void> {
  await Promise.allSettled(runs.map((run) => run.conn?.close()));
}
