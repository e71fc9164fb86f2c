import type { Output } from '../output.js';
import { summaryLine } from '../plan/index.js';
import type { GatewayRun } from './gateway.js';

export type GatewayStatus = 'failed' | 'unchanged' | 'changed' | 'pending';

/** A gateway's outcome: failed, unchanged, or changed (apply) / pending (diff: apply would change it). */
export function statusOf(run: GatewayRun, applied: boolean): GatewayStatus {
  if (run.failure) return 'failed';
  if (!run.plan || run.plan.actions.length === 0) return 'unchanged';
  return applied ? 'changed' : 'pending';
}

function seconds(run: GatewayRun): string {
  return `${(((run.finishedAt ?? Date.now()) - run.startedAt) / 1000).toFixed(1)} s`;
}

/** The per-gateway summary that ends every diff and apply (SPEC §6). */
export function printSummary(runs: GatewayRun[], applied: boolean, out: Output): void {
  const width = Math.max(...runs.map((r) => r.name.length), 7);
  out.info('');
  out.info(out.color.bold(applied ? 'Summary' : 'Summary (nothing was changed)'));
  for (const run of runs) {
    const status = statusOf(run, applied);
    const name = run.name.padEnd(width);
    if (status === 'failed') {
      out.info(`  ${name}  ${out.color.red('FAILED')}     ${run.failure!.stage}: ${run.failure!.message}`);
    } else {
      const label = {
        unchanged: out.color.green('ok'),
        changed: out.color.yellow('changed'),
        pending: out.color.yellow('changes'),
      }[status];
      const plan = run.plan!;
      const line = plan.actions.length === 0 ? 'no changes' : summaryLine(plan.summary);
      out.info(
        `  ${name}  ${label.padEnd(10 + (label.length - out.color.reset(label).length))} ${line}  (${seconds(run)})`,
      );
    }
    for (const t of run.tunnels.filter((t) => !t.up)) {
      out.info(`  ${' '.repeat(width)}  ${out.color.red('tunnel')} ${t.peer}: ${t.note ?? 'down'}`);
    }
  }
  const failed = runs.filter((r) => r.failure);
  if (failed.length > 0) {
    out.info(
      out.color.red(
        `\n${failed.length} of ${runs.length} gateway(s) failed: ${failed.map((r) => r.name).join(', ')}. ` +
          'The others were not affected; fix the cause and re-run (it converges what is left).',
      ),
    );
  }
}

export function runsToJson(runs: GatewayRun[], applied: boolean): Record<string, unknown>[] {
  return runs.map((run) => ({
    lan: run.name,
    host: run.desired.lan.sshHost,
    status: statusOf(run, applied),
    ...(run.failure ? { error: run.failure } : {}),
    ...(run.plan ? { summary: run.plan.summary, summaryLine: summaryLine(run.plan.summary) } : {}),
    tunnels: run.tunnels,
    seconds: Number((((run.finishedAt ?? Date.now()) - run.startedAt) / 1000).toFixed(3)),
  }));
}
