import assert from 'node:assert/strict';
import { unknownNetwork } from '../../../src/facts/network.js';
import { HostPlanError, planHosts, preflightFindings } from '../../../src/plan/index.js';
import { buildDesired, buildFacts, type DesiredSpec } from './build-case.js';

/**
 * The pre-flight checks as pure functions of desired state and facts (test/unit/plan/preflight-memory.test.ts
 * drives them through diff and apply). Here: the checks a full mesh does not switch on, and the planner's inputs.
 */

const SPEC: DesiredSpec = { mesh: 'corp', lans: { hq: 1, branch: 2 } };

function setup(network: Parameters<typeof buildFacts>[1]['network']) {
  const desired = buildDesired(SPEC);
  const facts = buildFacts('hq', { base: 'converged', network }, SPEC);
  return { desired, facts };
}

describe('pre-flight: rp_filter, a check for topologies with asymmetric paths', () => {
  const network = {
    ...unknownNetwork(),
    addresses: [{ iface: 'eth1', cidr: '10.1.0.1/16' }],
    rpFilter: { all: 0, default: 1, eth1: 1, eth0: 1, mtun1: 2 },
  };

  it('says nothing for the full mesh: every path there is symmetric', () => {
    const { desired, facts } = setup(network);
    assert.deepEqual(preflightFindings(desired.get('hq')!, facts, desired), []);
  });

  it('switched on, names the strict interfaces that matter (new tunnel devices and the LAN side) and the fix', () => {
    const { desired, facts } = setup(network);
    const findings = preflightFindings(desired.get('hq')!, facts, desired, { asymmetricPaths: true });
    assert.equal(findings.length, 1);
    assert.equal(findings[0]!.severity, 'warning');
    assert.match(
      findings[0]!.message,
      /^hq \(198\.51\.100\.1\): rp_filter is strict \(1\) on new tunnel devices \(default\), eth1, and .*Fix: loose mode, "net\.ipv4\.conf\.all\.rp_filter = 2"/,
    );
  });

  it('switched on, is quiet where rp_filter is loose or off', () => {
    const { desired, facts } = setup({ ...network, rpFilter: { all: 2, default: 1, eth1: 1 } });
    assert.deepEqual(preflightFindings(desired.get('hq')!, facts, desired, { asymmetricPaths: true }), []);
  });
});

describe('pre-flight: the planner', () => {
  it('checks the clock only when given the bastion’s time', () => {
    const { desired, facts } = setup({ ...unknownNetwork(), clock: 1_000_000 });
    const facts2 = buildFacts('branch', { base: 'converged' }, SPEC);
    const all = new Map([
      ['hq', facts],
      ['branch', facts2],
    ]);
    const without = planHosts(desired, all, { limit: ['hq', 'branch'] });
    assert.ok(!(without.get('hq') instanceof HostPlanError));
    const withNow = planHosts(desired, all, { limit: ['hq', 'branch'], now: (1_000_000 + 3600) * 1000 });
    const refused = withNow.get('hq');
    assert.ok(refused instanceof HostPlanError);
    assert.equal(refused.kind, 'preflight');
    assert.match(refused.message, /the gateway's clock is 60 min behind the bastion's/);
  });
});
