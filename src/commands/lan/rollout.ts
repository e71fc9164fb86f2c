import type { ListrTask } from 'listr2';
import type { Connector } from '../../connection/types.js';
import type { GatewayRun } from '../../execute/gateway.js';
import { acceptable, describeOutcome } from '../../execute/outcomes.js';
import { type EngineOptions, runEngine } from '../../execute/run.js';
import { runSucceeded } from '../../execute/summary.js';
import type { Output } from '../../output.js';
import type { DesiredState } from '../../types.js';
import { refusePlaceholders } from '../desired.js';
import { type ConnectingOptions, engineBase } from '../prepare.js';
import { parseIpv4Addresses } from './advice.js';

/** One apply pass of the push engine over `selected`, as add-lan and remove-lan run it. */
export async function rolloutPhase(
  states: Map<string, DesiredState>,
  selected: string[],
  ctx: {
    options: ConnectingOptions;
    out: Output;
    connector: Connector;
    /** When given, filled with each reached gateway's IPv4 addresses (for the routes add-lan prints). */
    addresses?: Map<string, string[]>;
    /** Converge these first, the others only once they did (see EngineOptions). */
    convergeFirst?: EngineOptions['convergeFirst'];
  },
): Promise<GatewayRun[]> {
  const { addresses } = ctx;
  // add-lan and remove-lan push through here: never a preview's placeholders
  refusePlaceholders(states);
  const { runs } = await runEngine(states, selected, {
    apply: true,
    ...engineBase(ctx.options, ctx.out, ctx.connector),
    ...(ctx.convergeFirst ? { convergeFirst: ctx.convergeFirst } : {}),
    ...(addresses ? { after: (all: GatewayRun[]) => [learnAddresses(all, addresses)] } : {}),
  });
  return runs;
}

/** A read-only look at each reached gateway's addresses: the next hop its LAN's routers need. */
function learnAddresses(runs: GatewayRun[], addresses: Map<string, string[]>): ListrTask {
  return {
    title: 'Read the gateways’ LAN addresses (next hops for the routes below)',
    task: async () => {
      await Promise.all(
        runs
          .filter((run) => run.conn)
          .map(async (run) => {
            try {
              const result = await run.conn!.exec(
                ['sh', '-c', 'PATH="$PATH:/usr/sbin:/sbin" exec ip -4 -o addr show'],
                { privileged: false, timeoutMs: 15_000 },
              );
              if (result.code === 0) addresses.set(run.name, parseIpv4Addresses(result.stdout));
            } catch {
              // a gateway lost mid-run: its routes are printed with a placeholder next hop
            }
          }),
      );
    },
  };
}

/** What a re-run must still do: one entry per gateway that did not converge. */
export function leftOver(runs: GatewayRun[]): { lan: string; reason: string }[] {
  return runs
    .filter((run) => !runSucceeded(run))
    .map((run) => ({
      lan: run.name,
      reason: run.failure
        ? `${run.failure.stage}: ${run.failure.message}`
        : run.tunnels
            .filter((t) => !acceptable(t.outcome))
            .map((t) => `tunnel to ${t.peer}: ${describeOutcome(t.outcome, t.peer)}`)
            .join('; '),
    }));
}
