import { mergeStatus } from '../../../src/status/merge.js';
import type { StatusReport } from '../../../src/status/types.js';
import type { Mesh } from '../../../src/types.js';
import { fullMesh, healthyReadings, NOW, readingOf, tunnelIn } from './fixture.js';

/** Reports the formatter tests share: healthy, and one with a bit of everything wrong. */

export function healthyReport(mesh: Mesh = fullMesh(3)): StatusReport {
  return mergeStatus(mesh, healthyReadings(mesh), { now: NOW });
}

/**
 * In a full mesh of `n` (≥ 4) LANs: l1-l2 down at both ends, l2-l3 disagree (l3's unit failed), l4 not read, the
 * probe l1 → l3 failing.
 */
export function troubledReport(n = 4): { mesh: Mesh; report: StatusReport } {
  const mesh = fullMesh(n);
  const readings = healthyReadings(mesh);
  for (const [g, p] of [
    ['l1', 'l2'],
    ['l2', 'l1'],
  ]) {
    tunnelIn(readings, g!, p!).ping = { sent: 3, received: 0, lossPercent: 100, rttMs: null };
  }
  Object.assign(tunnelIn(readings, 'l3', 'l2'), { activeState: 'failed', openvpnState: null, ping: null });
  readingOf(readings, 'l1').probes.find((p) => p.target === 'l3')!.ping = {
    sent: 3,
    received: 0,
    lossPercent: 100,
    rttMs: null,
  };
  readings.set('l4', { gateway: 'l4', error: 'connect ETIMEDOUT 198.51.100.4:22' });
  return { mesh, report: mergeStatus(mesh, readings, { now: NOW }) };
}
