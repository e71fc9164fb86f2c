import type { ListrTask } from 'listr2';
import type { GatewayRun } from '../execute/gateway.js';
import { runEngine } from '../execute/run.js';
import { printSummary, runsToJson } from '../execute/summary.js';
import { readOldContents } from '../facts/index.js';
import type { Output } from '../output.js';
import { formatPlans, type HostPlan, planToJson } from '../plan/index.js';
import { type ConnectingOptions, type EngineDeps, prepare } from './engine.js';

/**
 * `meshctl diff`: connect, read each gateway's state, print what apply would do (unified diffs with key material
 * hidden). Exit 0 when nothing would change, 2 when apply would change something, 1 on any error.
 */
export async function run(options: ConnectingOptions, out: Output, deps: EngineDeps = {}): Promise<number> {
  const { desired, selected, connector, done } = await prepare('meshctl diff', options, out, deps);
  const oldContents = new Map<string, Record<string, string>>();
  const readOld = (runs: GatewayRun[]): ListrTask[] => [
    {
      title: 'Read current contents of changed files',
      task: async () => {
        await Promise.all(
          runs
            .filter((r) => r.plan && !r.failure)
            .map(async (r) => oldContents.set(r.name, await readOldContents(r.conn!, r.plan!))),
        );
      },
    },
  ];
  try {
    const { runs } = await runEngine(desired.states, selected, {
      apply: false,
      after: readOld,
      forks: options.forks,
      acceptNew: Boolean(options.acceptNew),
      connector,
      out: out.json || process.stdout.isTTY ? out : { ...out, json: true },
      tunnelTimeoutMs: 0,
    });
    const plans = new Map<string, HostPlan>(
      runs.filter((r) => r.plan && !r.failure).map((r) => [r.name, r.plan!]),
    );
    out.info('');
    out.info(
      formatPlans(plans, { color: out.color, desired: desired.states, oldContents, verbose: out.verbose }),
    );
    printSummary(runs, false, out);
    const failed = runs.some((r) => r.failure);
    const changes = [...plans.values()].some((p) => p.actions.length > 0);
    out.result({
      ok: !failed,
      command: 'diff',
      changes,
      mesh: desired.mesh.name,
      gateways: runsToJson(runs, false),
      plans: [...plans.values()].map(planToJson),
    });
    return failed ? 1 : changes ? 2 : 0;
  } finally {
    done();
  }
}
