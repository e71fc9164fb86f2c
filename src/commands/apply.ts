import { runEngine } from '../execute/run.js';
import { printSummary, runSucceeded, runsToJson } from '../execute/summary.js';
import { diagnosticsToJson } from '../inventory/format.js';
import type { Output } from '../output.js';
import { refusePlaceholders } from './desired.js';
import { type CommandDeps, type ConnectingOptions, engineBase, prepare } from './prepare.js';

/**
 * `meshctl apply`: converge every selected gateway in parallel; restart only tunnels whose config changed at
 * either end; verify every touched tunnel; exit 0 when all converged, 1 otherwise.
 */
export async function run(options: ConnectingOptions, out: Output, deps: CommandDeps = {}): Promise<number> {
  const { desired, selected, connector, done } = await prepare('meshctl apply', options, out, deps, 'create');
  try {
    // apply never pushes a preview's placeholders, whatever prepared the state
    refusePlaceholders(desired.states);
    const { runs } = await runEngine(desired.states, selected, {
      apply: true,
      ...engineBase(options, out, connector),
    });
    printSummary(runs, true, out);
    const ok = runs.every(runSucceeded);
    out.result('apply', {
      ok,
      mesh: desired.mesh.name,
      gateways: runsToJson(runs, true),
      pkiCreated: desired.created,
      warnings: diagnosticsToJson(desired.warnings),
    });
    return ok ? 0 : 1;
  } finally {
    done();
  }
}
