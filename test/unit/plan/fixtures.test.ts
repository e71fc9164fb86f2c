import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeAction, summaryLine } from '../../../src/plan/actions.js';
import { HostPlanError } from '../../../src/plan/errors.js';
import { planHosts } from '../../../src/plan/plan.js';
import type { HostPlan } from '../../../src/plan/types.js';
import { packageRoot } from '../../../src/version.js';
import { buildDesired, buildFacts, type DesiredSpec, type FactsSpec } from './build-case.js';

/**
 * Plan tests as data (ARCHITECTURE rule 6): each test/fixtures/plan/<case>.json gives a compact desired state,
 * the facts of each gateway, --limit, and per gateway the exact ordered actions (`kind subject`), substrings
 * that must each appear in some no-op reason and note, and the summary line — or the refusal.
 */

interface ExpectedPlan {
  actions?: string[];
  noops?: string[];
  notes?: string[];
  summary?: string;
  /** Every action's reason must contain these, per action line. */
  reasons?: Record<string, string>;
  error?: { kind: string; message: string[] };
}

interface PlanCase {
  description: string;
  desired: DesiredSpec;
  facts: Record<string, FactsSpec>;
  limit: string[];
  expected: Record<string, ExpectedPlan>;
}

const dir = join(packageRoot(), 'test', 'fixtures', 'plan');
const cases = readdirSync(dir)
  .filter((name) => name.endsWith('.json'))
  .sort();

function checkPlan(name: string, plan: HostPlan, expected: ExpectedPlan): void {
  const lines = plan.actions.map(describeAction);
  if (expected.actions) assert.deepEqual(lines, expected.actions, `${name}: actions`);
  for (const wanted of expected.noops ?? []) {
    assert.ok(
      plan.noops.some((noop) => noop.reason.includes(wanted)),
      `${name}: no no-op says ${JSON.stringify(wanted)}; no-ops:\n  ${plan.noops.map((n) => n.reason).join('\n  ')}`,
    );
  }
  for (const wanted of expected.notes ?? []) {
    assert.ok(
      plan.notes.some((note) => note.includes(wanted)),
      `${name}: no note says ${JSON.stringify(wanted)}; notes:\n  ${plan.notes.join('\n  ')}`,
    );
  }
  for (const [line, wanted] of Object.entries(expected.reasons ?? {})) {
    const action = plan.actions[lines.indexOf(line)];
    assert.ok(action, `${name}: no action ${line}`);
    assert.ok(
      action.reason.includes(wanted),
      `${name}: reason of ${line} is ${JSON.stringify(action.reason)}`,
    );
  }
  if (expected.summary) assert.equal(summaryLine(plan.summary), expected.summary, `${name}: summary`);

  // invariants of every plan
  for (const noop of plan.noops)
    assert.ok(noop.reason.trim().length > 10, `${name}: a no-op without a reason`);
  for (const action of plan.actions)
    assert.ok(action.reason.trim().length > 5, `${name}: ${describeAction(action)}`);
  const manifestAt = plan.actions.findIndex((action) => action.kind === 'write-manifest');
  assert.ok(manifestAt === -1 || manifestAt === plan.actions.length - 1, `${name}: write-manifest is last`);
  assert.equal(
    manifestAt === -1,
    plan.actions.length === 0,
    `${name}: the manifest is written iff anything changes`,
  );
  const allZero = Object.values(plan.summary).every((n) => n === 0);
  assert.equal(
    allZero,
    plan.actions.length === 0,
    `${name}: the summary is all zeros iff there is nothing to do`,
  );
}

describe('planHosts fixtures (test/fixtures/plan)', () => {
  it('has the cases the plan contract names', () => {
    assert.ok(cases.length >= 10, `only ${cases.length} fixtures`);
  });

  for (const file of cases) {
    const planCase = JSON.parse(readFileSync(join(dir, file), 'utf8')) as PlanCase;
    it(`${file.replace(/\.json$/, '')}: ${planCase.description}`, () => {
      const desired = buildDesired(planCase.desired);
      const facts = new Map(
        Object.entries(planCase.facts).map(([lan, spec]) => [lan, buildFacts(lan, spec, planCase.desired)]),
      );
      const plans = planHosts(desired, facts, { limit: planCase.limit });
      assert.deepEqual(
        [...plans.keys()].sort(),
        [...planCase.limit].sort(),
        'one result per gateway in --limit',
      );
      for (const [name, expected] of Object.entries(planCase.expected)) {
        const result = plans.get(name);
        assert.ok(result, `no result for ${name}`);
        if (expected.error) {
          assert.ok(result instanceof HostPlanError, `${name}: expected a refusal, got a plan`);
          assert.equal(result.kind, expected.error.kind);
          for (const part of expected.error.message) assert.ok(result.message.includes(part), result.message);
          continue;
        }
        assert.ok(
          !(result instanceof HostPlanError),
          `${name}: unexpected refusal: ${(result as Error).message}`,
        );
        checkPlan(name, result, expected);
      }
      // planning is pure: same inputs, same plans
      const again = planHosts(desired, facts, { limit: planCase.limit });
      assert.deepEqual(
        [...again.values()].map((r) => (r instanceof Error ? r.message : r)),
        [...plans.values()].map((r) => (r instanceof Error ? r.message : r)),
      );
    });
  }
});
