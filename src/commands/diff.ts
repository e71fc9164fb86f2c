import type { ListrTask } from 'listr2';
import type { GatewayRun } from '../execute/gateway.js';
import { runEngine } from '../execute/run.js';
import { printSummary, runsToJson } from '../execute/summary.js';
import { readOldContents } from '../facts/index.js';
import { diagnosticsToJson } from '../inventory/format.js';
import type { Output } from '../output.js';
import { formatPlans, type HostPlan, planToJson } from '../plan/index.js';
import { type Desired, pendingFiles } from './desired.js';
import { type CommandDeps, type ConnectingOptions, prepare } from './prepare.js';

/**
 * `meshctl diff`: connect, read each gateway's state, print what apply would do (unified diffs with key material
 * hidden). Exit 0 when nothing would change, 2 when apply would change something, 1 on any error.
 */
export async function run(options: ConnectingOptions, out: Output, deps: CommandDeps = {}): Promise<number> {
  // read-only like Terraform's plan: the PKI is previewed, never created (apply creates it)
  const { desired, selected, connector, done } = await prepare('meshctl diff', options, out, deps, 'preview');
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
    const pending = pendingFiles(desired.states);
    out.info(
      formatPlans(plans, {
        color: out.color,
        desired: desired.states,
        oldContents,
        verbose: out.verbose,
        pending,
      }),
    );
    printSummary(runs, false, out);
    const pki = desired.preview ?? { wouldCreate: [], wouldUpdate: [] };
    printPkiPreview(pki, desired.inventory.mesh.pkiDir, out);
    const failed = runs.some((r) => r.failure);
    // PKI files to create are changes too: apply would write them even where no gateway was reached
    const changes =
      [...plans.values()].some((p) => p.actions.length > 0) ||
      pki.wouldCreate.length + pki.wouldUpdate.length > 0;
    out.result('diff', {
      ok: !failed,
      changes,
      mesh: desired.mesh.name,
      gateways: runsToJson(runs, false),
      plans: [...plans.values()].map(planToJson),
      pki,
      warnings: diagnosticsToJson(desired.warnings),
    });
    return failed ? 1 : changes ? 2 : 0;
  } finally {
    done();
  }
}

/** The last lines of diff: the PKI files apply would create or rewrite on the bastion (diff wrote none). */
function printPkiPreview(pki: NonNullable<Desired['preview']>, pkiDir: string, out: Output): void {
  const { wouldCreate, wouldUpdate } = pki;
  if (wouldCreate.length + wouldUpdate.length === 0) return;
  const update = wouldUpdate.length > 0 ? ` and update ${wouldUpdate.length}` : '';
  out.info('');
  out.info(
    out.color.yellow(
      `pki: apply would create ${wouldCreate.length} file(s)${update} in ${pkiDir} (diff wrote none)`,
    ),
  );
  if (out.verbose) {
    for (const file of wouldCreate) out.info(`  + ${file}`);
    for (const file of wouldUpdate) out.info(`  ~ ${file}`);
  }
}
