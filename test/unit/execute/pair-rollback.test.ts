import assert from 'node:assert/strict';
import type { GatewayRun } from '../../../src/execute/gateway.js';
import { pairDown } from '../../../src/execute/run.js';
import type { VerifyTunnelAction } from '../../../src/plan/types.js';

/** Only what pairDown reads of a run: its name and what verification saw at its end. */
function end(name: string, seen: Record<string, boolean>): GatewayRun {
  const checks = Object.entries(seen).map(([peer, up]) => ({
    probe: {
      kind: 'verify-tunnel',
      unit: `openvpn-server@mesh-${peer}.service`,
      peer,
      peerAddress: '172.19.0.1',
      reason: '',
    } as VerifyTunnelAction,
    seen: up ? 'up' : 'down',
  }));
  return { name, checks } as unknown as GatewayRun;
}

describe('rollback is decided per pair, from both ends', () => {
  it('rolls back both ends when only one end saw the tunnel down', () => {
    const a = end('a', { b: true, c: true });
    const b = end('b', { a: false, c: true });
    const c = end('c', { a: true, b: true });
    const byName = new Map([a, b, c].map((r) => [r.name, r]));
    assert.deepEqual(pairDown(a, byName), ['openvpn-server@mesh-b.service']);
    assert.deepEqual(pairDown(b, byName), ['openvpn-server@mesh-a.service']);
    assert.deepEqual(pairDown(c, byName), []);
  });

  it('leaves a tunnel alone when its peer was not verified in this run (failed, or outside --limit)', () => {
    const a = end('a', { b: true });
    const byName = new Map([[a.name, a]]);
    assert.deepEqual(pairDown(a, byName), []);
  });
});
