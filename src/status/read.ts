import { PassThrough } from 'node:stream';
import type { Connection, Connector } from '../connection/types.js';
import { ConnectError } from '../errors.js';
import { connectOptions } from '../execute/gateway.js';
import { gatewayPaths, tunnelUnitOf } from '../gateway/layout.js';
import type { Gateway, Mesh } from '../types.js';
import { lanAddressOf, type ProbePlan, planProbes } from './merge.js';
import { parseAddresses, parseReading } from './parse.js';
import { probeInput, READY_LINE, type StatusTarget, statusCommand } from './script.js';
import type { Reading } from './types.js';

/**
 * Reads every gateway of the mesh for `meshctl status` (SPEC §8): ONE read-only command per gateway (status.sh),
 * all in parallel. The command has two phases: it prints what it reads at once (units, OpenVPN's management
 * interface, FRR, its addresses) and `ready`, then waits on stdin for the LAN-to-LAN probes to run. The probes
 * need every gateway's LAN address, which only that gateway knows, so the reader collects the first phase of
 * every gateway, plans the probes (merge.ts planProbes) and sends each gateway its own. A gateway that cannot be
 * connected or read is a Reading failure; it never holds up the others for longer than `readyWaitMs`.
 *
 * Connections stay open between reads (`--watch`); `close()` ends them.
 */

export interface ReaderOptions {
  /** At most this many SSH connections are being set up at once. */
  forks: number;
  acceptNew: boolean;
  connector: Connector;
  /** The whole command's limit on a gateway. */
  commandTimeoutMs?: number;
  /**
   * How long, after the first gateway is ready, the others may take to be ready before the probes are sent
   * without them (their LAN addresses unknown, their probes not run).
   */
  readyWaitMs?: number;
}

const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;
const DEFAULT_READY_WAIT_MS = 8_000;

/** What status.sh is asked on `gateway`: each of its tunnels, and where its password and certificate are. */
export function statusTargets(mesh: Mesh, gateway: Gateway): StatusTarget[] {
  return (mesh.tunnels.get(gateway.name) ?? []).map((t) => ({
    unit: tunnelUnitOf(t.name),
    peer: t.peer.name,
    config: gatewayPaths.tunnelConfig(t.name),
    managementPort: t.port,
    peerAddress: t.peerAddress,
  }));
}

/** A bounded number of tasks at once (the SSH handshakes). */
class Gate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly limit: number) {}
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
    try {
      return await work();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class StatusReader {
  private readonly connections = new Map<string, Connection>();
  private readonly gate: Gate;
  /** The probes the last read sent, per source gateway (what the merge reports on). */
  lastProbes = new Map<string, ProbePlan[]>();

  constructor(
    private readonly mesh: Mesh,
    private readonly opts: ReaderOptions,
  ) {
    this.gate = new Gate(Math.max(1, opts.forks));
  }

  private async connection(gateway: Gateway): Promise<Connection> {
    const open = this.connections.get(gateway.name);
    if (open) return open;
    const conn = await this.gate.run(() => this.opts.connector(connectOptions(gateway, this.opts.acceptNew)));
    this.connections.set(gateway.name, conn);
    return conn;
  }

  /** One read of every gateway: name → its reading (or why it could not be read). */
  async read(): Promise<Map<string, Reading>> {
    const gateways = this.mesh.inventory.gateways;
    const bgp = this.mesh.inventory.mesh.routing === 'bgp';
    const addresses = new Map<string, string | null>();
    const stdins = new Map<string, PassThrough>();
    // every gateway settles this once: ready (its addresses known) or failed before it
    const settled = new Map<string, () => void>();
    const allSettled = Promise.all(
      gateways.map((g) => new Promise<void>((resolve) => settled.set(g.name, resolve))),
    );
    let firstReady: (() => void) | undefined;
    const anyReady = new Promise<void>((resolve) => {
      firstReady = resolve;
    });
    // the wait for late gateways starts only once every gateway's command has started (or failed): with fewer
    // --forks than gateways, the last ones connect after the first are ready
    let begun = 0;
    let everyoneBegun: (() => void) | undefined;
    const allBegun = new Promise<void>((resolve) => {
      everyoneBegun = resolve;
    });
    const began = () => {
      begun++;
      if (begun === gateways.length) everyoneBegun?.();
    };
    const settle = (name: string) => settled.get(name)?.();
    // set once the probes went out: a gateway ready after that gets none (its stdin ends at once)
    let probesSent = false;

    const readOne = async (gateway: Gateway): Promise<Reading> => {
      const startedAt = Date.now();
      const targets = statusTargets(this.mesh, gateway);
      const peers = new Map(targets.map((t) => [t.unit, t.peer]));
      let counted = false;
      const begin = () => {
        if (!counted) began();
        counted = true;
      };
      const argv = statusCommand({
        passwordFile: gatewayPaths.managementPassword,
        certFile: gatewayPaths.cert(gateway.name),
        bgp,
        tunnels: targets,
      });
      let ready = false;
      const attempt = async (conn: Connection) => {
        const stdin = new PassThrough();
        stdins.set(gateway.name, stdin);
        let seen = '';
        begin();
        try {
          return await conn.exec(argv, {
            stdin,
            timeoutMs: this.opts.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
            onStdout: (chunk) => {
              if (ready) return;
              seen += chunk.toString('utf8');
              if (seen.includes(`\n${READY_LINE}\n`) || seen.startsWith(`${READY_LINE}\n`)) {
                ready = true;
                addresses.set(gateway.name, lanAddressOf(gateway, parseAddresses(seen)));
                if (probesSent) stdin.end(probeInput([]));
                firstReady?.();
                settle(gateway.name);
              }
            },
          });
        } finally {
          // whatever happened, this stdin must not keep a command waiting
          if (!ready || probesSent) stdin.end();
        }
      };
      const drop = () => {
        const conn = this.connections.get(gateway.name);
        this.connections.delete(gateway.name);
        void conn?.close().catch(() => undefined);
      };
      try {
        const reused = this.connections.has(gateway.name);
        let result: Awaited<ReturnType<typeof attempt>>;
        try {
          result = await attempt(await this.connection(gateway));
        } catch (error) {
          // a connection kept from the previous read (--watch) may have died since: one retry on a fresh one
          if (!reused || ready || !(error instanceof ConnectError)) throw error;
          drop();
          result = await attempt(await this.connection(gateway));
        }
        settle(gateway.name);
        if (result.code !== 0) {
          const said = result.stderr.trim().split('\n').slice(-2).join(' | ');
          return {
            gateway: gateway.name,
            error: `the status command failed (exit ${result.code}${said ? `: ${said}` : ''})`,
          };
        }
        return parseReading(gateway.name, result.stdout, { startedAt, finishedAt: Date.now(), peers });
      } catch (error) {
        begin();
        settle(gateway.name);
        drop();
        return { gateway: gateway.name, error: message(error) };
      }
    };

    const readings = gateways.map((g) => readOne(g).then((r) => [g.name, r] as const));
    // the probes go out once every gateway is ready or failed, or readyWaitMs after the first one is ready
    const waitMs = this.opts.readyWaitMs ?? DEFAULT_READY_WAIT_MS;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      allSettled,
      Promise.all([anyReady, allBegun]).then(
        () =>
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, waitMs);
          }),
      ),
    ]);
    clearTimeout(timer);
    probesSent = true;
    // only the gateways ready by now probe, and only towards gateways ready by now (the others' addresses are
    // unknown: their probes are reported as not run)
    const plan = planProbes(this.mesh, addresses);
    this.lastProbes = new Map();
    for (const g of gateways) {
      const stdin = stdins.get(g.name);
      if (!stdin || stdin.writableEnded || !addresses.has(g.name)) continue;
      const probes: ProbePlan[] = plan.get(g.name) ?? [];
      this.lastProbes.set(g.name, probes);
      stdin.end(probeInput(probes));
    }
    return new Map(await Promise.all(readings));
  }

  async close(): Promise<void> {
    const open = [...this.connections.values()];
    this.connections.clear();
    await Promise.allSettled(open.map((c) => c.close()));
  }
}
