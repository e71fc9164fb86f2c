import assert from 'node:assert/strict';
import { stripVTControlCharacters } from 'node:util';
import { Chalk } from 'chalk';
import stringWidth from 'string-width';
import { formatMatrix } from '../../../src/status/format/matrix.js';
import { mergeStatus } from '../../../src/status/merge.js';
import { fullMesh, healthyReadings, hubMesh, meshOf, NOW, tunnelIn } from './fixture.js';
import { healthyReport, troubledReport } from './scenarios.js';

/** The terminal matrix of `status` (SPEC §8): fits 80 columns up to a dozen LANs, plain without colour. */

const plain = new Chalk({ level: 0 });
const coloured = new Chalk({ level: 1 });

const widest = (text: string) =>
  Math.max(...text.split('\n').map((l) => stringWidth(stripVTControlCharacters(l))));

/** The cells of a matrix row (the row label first), split on the column grid. */
function rowOf(text: string, label: string): string[] {
  const line = text.split('\n').find((l) => l.startsWith(`${label} `))!;
  assert.ok(line, `row ${label}`);
  return line.trim().split(/\s+/);
}

describe('formatMatrix', () => {
  it('3 LANs all up: a small matrix, blank diagonal, the healthy summary', () => {
    const text = formatMatrix(healthyReport(), { color: plain });
    const lines = text.split('\n');
    assert.equal(lines[0], '   l1   l2   l3');
    assert.equal(lines[1], 'l1      up   up');
    assert.equal(lines[2], 'l2 up        up');
    assert.equal(lines[3], 'l3 up   up');
    assert.ok(!text.includes('Problems'));
    assert.equal(lines.at(-2), 'healthy: 3 LANs, 3 tunnels up, 3 LAN pairs reach each other');
    assert.ok(widest(text) <= 80);
  });

  it('problems: DOWN, !X naming the LAN whose end is not up, ? for a gateway not read; each listed', () => {
    const { report } = troubledReport(4);
    const text = formatMatrix(report, { color: plain });
    assert.deepEqual(rowOf(text, 'l1'), ['l1', 'DOWN', 'DOWN', '?']);
    assert.deepEqual(rowOf(text, 'l2'), ['l2', 'DOWN', '!l3', '?']);
    assert.deepEqual(rowOf(text, 'l3'), ['l3', 'DOWN', '!l3', '?']);
    assert.match(
      text,
      /- tunnel l2 <-> l3 \(pair 3, mtun3\) disagree: l3 is not up; l2 up; l3 not-running\n {2}\(openvpn-server@mesh-l2\.service is failed\)/,
    );
    assert.match(text, /- tunnel l1 <-> l2 \(pair 1, mtun1\) down: l1 down/);
    assert.match(text, /- gateway l4 \(LAN l4\) could not be read: connect ETIMEDOUT/);
    assert.match(text, /- LAN l1 -> l3: probe l1 \(10\.1\.0\.1\) -> l3 \(10\.3\.0\.1\) failed/);
    assert.ok(!/l4 .*did not run/.test(text), 'probes of an unread gateway are covered by its own line');
    assert.match(
      text,
      /\nerror: 1 of 4 gateways not read, 4 LANs, 1 of 6 tunnels up \(1 down, 1 disagree,\s+3 unknown\), 2 of 6 LAN pairs reach each other \(1 down, 3 unknown\)\n$/,
    );
    assert.ok(widest(text) <= 80);
  });

  it('12 LANs with long names fit 80 columns: letter columns, a legend, cells still short', () => {
    const mesh = meshOf(
      Array.from({ length: 12 }, (_, i) => ({
        name: `branch-office-${String(i + 1).padStart(2, '0')}`,
        id: i + 1,
      })),
    );
    const readings = healthyReadings(mesh);
    Object.assign(tunnelIn(readings, 'branch-office-12', 'branch-office-11'), {
      activeState: 'inactive',
      openvpnState: null,
    });
    const text = formatMatrix(mergeStatus(mesh, readings, { now: NOW }), { color: plain });
    assert.ok(widest(text) <= 80, `${widest(text)} columns:\n${text}`);
    const lines = text.split('\n');
    assert.match(lines[0]!, /^\s+A {4}B {4}C .* L$/);
    assert.match(lines[1]!, /^A branch-office-01\s+up {3}up/);
    const last = lines[12]!;
    assert.match(last, /^L branch-office-12 (up {3}){10}!L$/);
    assert.match(lines[11]!, /!L\s*$/, 'both sides name the LAN whose end is not up');
  });

  it('12 short names: the names are the column headers, no legend needed', () => {
    const text = formatMatrix(healthyReport(fullMesh(12)), { color: plain });
    assert.ok(widest(text) <= 80);
    assert.match(text.split('\n')[0]!, /^ {4}l1 {3}l2 .* l12$/);
    assert.ok(!text.includes('LANs: '));
  });

  it('20 LANs do not fit: a per-pair list instead, one line per LAN pair', () => {
    const text = formatMatrix(healthyReport(fullMesh(20)), { color: plain, width: 80 });
    const pairLines = text.split('\n').filter((l) => / - l\d+ +\S/.test(l));
    assert.equal(pairLines.length, 190);
    assert.match(text, /^l1 - l2 {3,}up$/m);
    assert.ok(widest(text) <= 80);
    assert.match(text, /healthy: 20 LANs, 190 tunnels up, 190 LAN pairs reach each other/);
  });

  it('a narrower width switches to the list sooner', () => {
    const text = formatMatrix(healthyReport(fullMesh(6)), { color: plain, width: 20 });
    assert.match(text, /^l1 - l2 {2}up$/m);
  });

  it('leaves of one hub: every pair is routed, leaf to leaf too (no "not connected")', () => {
    const mesh = hubMesh();
    const text = formatMatrix(healthyReport(mesh), { color: plain });
    assert.deepEqual(rowOf(text, 'B'), ['B', 'shop', 'up', 'up']);
    assert.deepEqual(rowOf(text, 'C'), ['C', 'depot', 'up', 'up']);
    assert.ok(!text.split('\n').slice(0, 4).join('\n').includes('·'));
  });

  it('a LAN pair with no route and no tunnel shows "·" (not connected)', () => {
    const report = healthyReport(fullMesh(3));
    report.lanPairs = report.lanPairs.filter((p) => !(p.a === 'l1' && p.b === 'l3'));
    report.tunnels = report.tunnels.filter((t) => !(t.low === 'l1' && t.high === 'l3'));
    const text = formatMatrix(report, { color: plain });
    assert.deepEqual(rowOf(text, 'l1'), ['l1', 'up', '·']);
  });

  it('chalk level 0 (NO_COLOR, not a TTY): no escape codes; with colour: red, green, yellow', () => {
    const { report } = troubledReport(5);
    assert.ok(!formatMatrix(report, { color: plain }).includes('\u001b'));
    const text = formatMatrix(report, { color: coloured });
    assert.ok(text.includes('\u001b[32mup'), 'green up');
    assert.ok(text.includes('\u001b[31m'), 'red');
    assert.ok(text.includes('\u001b[33m'), 'yellow');
    assert.equal(stripVTControlCharacters(text), formatMatrix(report, { color: plain }));
  });
});

describe('status problem lines: what a gateway sent cannot drive the terminal', () => {
  it('control characters (escape sequences, OSC) become ?', async () => {
    const { printable } = await import('../../../src/status/format/summary.js');
    assert.equal(printable('a\u001b]52;c;ZXZpbA==\u0007b\u009b2J\tc'), 'a?]52;c;ZXZpbA==?b?2J?c');
    assert.equal(printable('plain text: 10.1.0.1 -> 10.2.0.1'), 'plain text: 10.1.0.1 -> 10.2.0.1');
  });
});
