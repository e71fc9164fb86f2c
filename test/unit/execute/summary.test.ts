import assert from 'node:assert/strict';
import { stripVTControlCharacters } from 'node:util';
import type { GatewayRun } from '../../../src/execute/gateway.js';
import { printSummary } from '../../../src/execute/summary.js';
import { createOutput } from '../../../src/output.js';
import type { HostPlan } from '../../../src/plan/types.js';

/** Only what printSummary reads of a run. */
function run(name: string, actions: number, failure?: GatewayRun['failure']): GatewayRun {
  const plan = {
    actions: Array.from({ length: actions }, () => ({ kind: 'daemon-reload', reason: '' })),
    summary: { add: actions, change: 0, remove: 0, restart: 0 },
  } as unknown as HostPlan;
  return {
    name,
    plan,
    tunnels: [],
    restartedAgain: new Map(),
    startedAt: 0,
    finishedAt: 1000,
    ...(failure ? { failure } : {}),
  } as unknown as GatewayRun;
}

function summaryLines(color: boolean): string[] {
  const lines: string[] = [];
  const out = createOutput({
    color,
    env: {},
    stdout: { write: (s: string) => lines.push(s), isTTY: true },
    stderr: { write: () => {} },
  });
  printSummary([run('alpha', 0), run('beta-long-name', 2), run('gamma', 1)], true, out);
  return lines
    .join('')
    .split('\n')
    .filter((l) => l.startsWith('  '));
}

describe('the summary', () => {
  it('aligns the column after the status label with colour on, as with colour off', () => {
    const colored = summaryLines(true);
    assert.ok(
      colored.some((l) => l.includes('\x1b[')),
      'colour is really on',
    );
    const plain = summaryLines(false);
    const column = (lines: string[]) =>
      lines.map((l) => stripVTControlCharacters(l).search(/(no changes|1 to add|2 to add)/));
    assert.deepEqual(column(colored), column(plain));
    assert.equal(new Set(column(plain)).size, 1, `one column: ${plain.join('\n')}`);
  });
});
