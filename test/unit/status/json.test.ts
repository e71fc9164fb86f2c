import assert from 'node:assert/strict';
import { statusToJson } from '../../../src/status/format/json.js';
import { mergeStatus } from '../../../src/status/merge.js';
import { fullMesh, healthyReadings, NOW } from './fixture.js';
import { healthyReport, troubledReport } from './scenarios.js';

/** The body of `status --json` (docs/status.md): everything in the report, stable keys, plain JSON values. */

describe('statusToJson', () => {
  it('round-trips through JSON text unchanged, and holds everything in the report', () => {
    for (const report of [healthyReport(), troubledReport(4).report]) {
      const body = statusToJson(report);
      assert.deepEqual(JSON.parse(JSON.stringify(body)), body);
      assert.deepEqual(body, { ...report });
    }
  });

  it('keys in a stable, documented order, health and exit code first', () => {
    const body = statusToJson(troubledReport(4).report);
    assert.deepEqual(Object.keys(body), [
      'health',
      'exitCode',
      'mesh',
      'routing',
      'checkedAt',
      'lans',
      'gateways',
      'tunnels',
      'lanPairs',
    ]);
    assert.equal(body.health, 'error');
    assert.equal(body.exitCode, 1);
    const tunnel = (body.tunnels as Record<string, unknown>[])[0]!;
    assert.deepEqual(Object.keys(tunnel), [
      'pair',
      'kind',
      'port',
      'device',
      'low',
      'high',
      'state',
      'disagreeing',
      'blame',
      'ends',
    ]);
    assert.deepEqual(Object.keys((tunnel.ends as Record<string, unknown>[])[0]!), [
      'gateway',
      'state',
      'since',
      'peerAddress',
      'bytesIn',
      'bytesOut',
      'rateIn',
      'rateOut',
      'lastReceived',
      'rttMs',
      'lossPercent',
      'peerCertificateDaysLeft',
      'bgp',
      'problem',
    ]);
  });

  it('unknown values are null, never left out', () => {
    const body = statusToJson(troubledReport(4).report);
    const l4 = (body.gateways as Record<string, unknown>[]).find((g) => g.name === 'l4')!;
    assert.deepEqual(l4, {
      name: 'l4',
      lan: 'l4',
      read: false,
      error: 'connect ETIMEDOUT 198.51.100.4:22',
      lanAddress: null,
      certificateDaysLeft: null,
      durationMs: null,
      unreadable: 0,
      problem: null,
    });
  });

  it('does not share objects with the report (a caller may change one freely)', () => {
    const mesh = fullMesh(2);
    const report = mergeStatus(mesh, healthyReadings(mesh), { now: NOW });
    const body = statusToJson(report) as { tunnels: { ends: { lastReceived: { within: number } }[] }[] };
    body.tunnels[0]!.ends[0]!.lastReceived.within = 99;
    assert.deepEqual(report.tunnels[0]!.ends[0]!.lastReceived, { within: 2 });
  });
});
