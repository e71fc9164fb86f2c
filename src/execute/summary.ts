import stringWidth from 'string-width';
import { peerOfTunnelUnit } from '../gateway/layout.js';
import type { Output } from '../output.js';
import { summaryLine } from '../plan/index.js';
import type { GatewayRun } from './gateway.js';
import { acceptable, describeOutcome } from './outcomes.js';

export type GatewayStatus = 'failed' | 'unchanged' | 'changed' | 'pending';

/** A gateway's outcome: failed, unchanged, or changed (apply) / pending (diff: apply would change it). */
export function statusOf(run: GatewayRun, applied: boolean): GatewayStatus {
  if (run.failure) return 'failed';
  if (!run.plan || run.plan.actions.length === 0) return 'unchanged';
  return applied ? 'changed' : 'pending';
}

/** A gateway converged and every tunnel it touched came up (tunnels to a failed peer wait for the re-run). */
export function runSucceeded(run: GatewayRun): boolean {
  return !run.failure && run.tunnels.every((t) => acceptable(t.outcome));
}

function seconds(run: GatewayRun): string {
  return `${(((run.finishedAt ?? Date.now()) - run.startedAt) / 1000).toFixed(1)} s`;
}

/** Pads to a display width: colour codes take no columns, wide characters take two (string-width knows both). */
export function padColumn(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - stringWidth(text)));
}

/** `verify: …`, or `converge (write 3 files): …` when the failure happened in a named step. */
function failureText(run: GatewayRun): string {
  const f = run.failure!;
  return `${f.stage}${f.step ? ` (${f.step})` : ''}: ${f.message}`;
}

/** The per-gateway summary that ends every diff and apply (SPEC §6). */
export function printSummary(runs: GatewayRun[], applied: boolean, out: Output): void {
  const width = Math.max(...runs.map((r) => stringWidth(r.name)), 7);
  out.info('');
  out.info(out.color.bold(applied ? 'Summary' : 'Summary (nothing was changed)'));
  for (const run of runs) {
    const status = statusOf(run, applied);
    const name = padColumn(run.name, width);
    const label = {
      failed: out.color.red('FAILED'),
      unchanged: out.color.green('ok'),
      changed: out.color.yellow('changed'),
      pending: out.color.yellow('changes'),
    }[status];
    if (status === 'failed') {
      out.info(`  ${name}  ${padColumn(label, 10)} ${failureText(run)}`);
    } else {
      const plan = run.plan!;
      const line = plan.actions.length === 0 ? 'no changes' : summaryLine(plan.summary);
      out.info(`  ${name}  ${padColumn(label, 10)} ${line}  (${seconds(run)})`);
    }
    for (const t of run.tunnels) {
      if (t.outcome.kind === 'verified' && !t.outcome.restartedAgain) continue;
      const label = t.outcome.kind === 'verified' ? out.color.yellow('tunnel') : out.color.red('tunnel');
      out.info(`  ${' '.repeat(width)}  ${label} ${t.peer}: ${describeOutcome(t.outcome, t.peer)}`);
    }
    // a tunnel this run did not otherwise touch, restarted for its stuck BGP session
    const touched = new Set(run.tunnels.map((t) => t.unit));
    for (const [unit, why] of run.restartedAgain) {
      if (touched.has(unit)) continue;
      out.info(
        `  ${' '.repeat(width)}  ${out.color.yellow('tunnel')} ${peerOfTunnelUnit(unit) ?? unit}: restarted: ${why}`,
      );
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
    host: run.desired.gateway.sshHost,
    status: statusOf(run, applied),
    ...(run.failure ? { error: run.failure } : {}),
    ...(run.plan ? { summary: run.plan.summary, summaryLine: summaryLine(run.plan.summary) } : {}),
    tunnels: run.tunnels.map((t) => ({
      unit: t.unit,
      peer: t.peer,
      up: t.outcome.kind === 'verified',
      outcome: t.outcome,
      note: describeOutcome(t.outcome, t.peer),
    })),
    // every tunnel restarted (again) because its BGP session stayed down, touched by this run or not
    ...(run.restartedAgain.size > 0
      ? {
          restartedForBgp: [...run.restartedAgain].map(([unit, why]) => ({
            unit,
            peer: peerOfTunnelUnit(unit),
            why,
          })),
        }
      : {}),
    seconds: Number((((run.finishedAt ?? Date.now()) - run.startedAt) / 1000).toFixed(3)),
  }));
}
