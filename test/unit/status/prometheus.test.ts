import assert from 'node:assert/strict';
import { escapeLabelValue, formatPrometheus } from '../../../src/status/format/prometheus.js';
import { mergeStatus } from '../../../src/status/merge.js';
import { certificateExpiring, fullMesh, healthyReadings, NOW, readingOf } from './fixture.js';
import { healthyReport, troubledReport } from './scenarios.js';

/**
 * `status --prometheus FILE`: node_exporter's textfile format. The checker below follows the text exposition
 * format's grammar: HELP and TYPE once per family and before its samples, metric and label names, quoted and
 * escaped label values, a float value, samples of a family together, no series twice.
 */

const METRIC = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const VALUE = /^(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|NaN|[+-]Inf)$/;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the text, throwing on anything the exposition format does not allow. */
function parseExposition(text: string): { samples: Sample[]; types: Map<string, string> } {
  assert.ok(text.endsWith('\n'), 'ends with a newline');
  const help = new Set<string>();
  const types = new Map<string, string>();
  const done = new Set<string>();
  const series = new Set<string>();
  const samples: Sample[] = [];
  let current: string | undefined;
  for (const [n, line] of text.slice(0, -1).split('\n').entries()) {
    const where = `line ${n + 1}: ${line}`;
    const comment = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (comment) {
      const [, kind, name, rest] = comment;
      assert.match(name!, METRIC, where);
      assert.ok(!done.has(name!), `${where}: family ${name} appears again after other families`);
      if (current !== name && current !== undefined) done.add(current);
      current = name;
      if (kind === 'HELP') {
        assert.ok(!help.has(name!), `${where}: second HELP`);
        assert.ok(!/\\[^\\n]/.test(rest!.replace(/\\\\/g, '')), `${where}: bad escape in HELP`);
        help.add(name!);
      } else {
        assert.ok(!types.has(name!), `${where}: second TYPE`);
        assert.ok(['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest!), where);
        assert.ok(!samples.some((s) => s.name === name), `${where}: TYPE after a sample`);
        types.set(name!, rest!);
      }
      continue;
    }
    assert.ok(!line.startsWith('#') && line.trim() !== '', `${where}: not a sample`);
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$/.exec(line);
    assert.ok(m, `${where}: not a sample line`);
    const [, name, labelText = '', value] = m;
    assert.match(value!, VALUE, where);
    assert.equal(name, current, `${where}: a sample outside its family's block`);
    const labels: Record<string, string> = {};
    let rest = labelText;
    while (rest !== '') {
      const l = /^([^=]+)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/.exec(rest);
      assert.ok(l, `${where}: bad labels at ${rest}`);
      assert.match(l[1]!, LABEL_NAME, where);
      assert.ok(!(l[1]! in labels), `${where}: label ${l[1]} twice`);
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
      rest = rest.slice(l[0].length);
    }
    const key = `${name}{${Object.keys(labels)
      .sort()
      .map((k) => `${k}=${JSON.stringify(labels[k])}`)
      .join(',')}}`;
    assert.ok(!series.has(key), `${where}: series twice`);
    series.add(key);
    samples.push({ name: name!, labels, value: Number(value) });
  }
  for (const name of types.keys()) assert.ok(help.has(name), `${name} has no HELP`);
  for (const name of help) assert.ok(types.has(name), `${name} has no TYPE`);
  for (const s of samples) assert.ok(types.has(s.name), `${s.name} has no TYPE`);
  return { samples, types };
}

const find = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));

describe('formatPrometheus', () => {
  it('a healthy mesh: every family documented and typed, meshctl_ prefix, parses', () => {
    const { samples, types } = parseExposition(formatPrometheus(healthyReport(fullMesh(3))));
    for (const name of types.keys()) assert.match(name, /^meshctl_/);
    for (const [name, type] of types) if (type === 'counter') assert.match(name, /_total$/);
    assert.deepEqual(
      find(samples, 'meshctl_status_health').map((s) => s.value),
      [0],
    );
    assert.deepEqual(find(samples, 'meshctl_status_timestamp_seconds')[0], {
      name: 'meshctl_status_timestamp_seconds',
      labels: { mesh: 'test' },
      value: NOW.getTime() / 1000,
    });
    assert.deepEqual(find(samples, 'meshctl_tunnel_up', { gateway: 'l1', peer: 'l2' })[0]!.labels, {
      mesh: 'test',
      lan: 'l1',
      gateway: 'l1',
      peer: 'l2',
      pair: '1',
    });
    assert.equal(find(samples, 'meshctl_tunnel_up').length, 6);
    assert.deepEqual(find(samples, 'meshctl_tunnel_pair_up', { pair: '3' })[0]!.labels, {
      mesh: 'test',
      pair: '3',
      low: 'l2',
      high: 'l3',
    });
    assert.equal(
      find(samples, 'meshctl_tunnel_rtt_seconds', { gateway: 'l1', peer: 'l2' })[0]!.value,
      0.0015,
    );
    assert.equal(find(samples, 'meshctl_tunnel_loss_ratio')[0]!.value, 0);
    assert.equal(find(samples, 'meshctl_tunnel_bytes_received_total')[0]!.value, 10000);
    assert.equal(find(samples, 'meshctl_tunnel_bytes_sent_total')[0]!.value, 20000);
    assert.deepEqual(find(samples, 'meshctl_tunnel_last_received_seconds')[0]!.labels.bound, 'le');
    assert.equal(
      find(samples, 'meshctl_tunnel_since_timestamp_seconds')[0]!.value,
      NOW.getTime() / 1000 - 3600,
    );
    assert.deepEqual(
      find(samples, 'meshctl_lan_pair_reachable').map((s) => `${s.labels.a}-${s.labels.b} ${s.value}`),
      ['l1-l2 1', 'l1-l3 1', 'l2-l3 1'],
    );
    assert.deepEqual(
      find(samples, 'meshctl_gateway_read_ok').map((s) => s.value),
      [1, 1, 1],
    );
    assert.equal(find(samples, 'meshctl_bgp_session_up').length, 0, 'static routing: no BGP samples');
    assert.equal(find(samples, 'meshctl_peer_certificate_expiry_days').length, 0, 'no certificate read');
  });

  it('unknown values give no sample (no fake zeros); known bad ones give 0', () => {
    const { samples } = parseExposition(formatPrometheus(troubledReport(4).report));
    assert.equal(find(samples, 'meshctl_status_health')[0]!.value, 1);
    assert.equal(find(samples, 'meshctl_gateway_read_ok', { gateway: 'l4' })[0]!.value, 0);
    assert.equal(find(samples, 'meshctl_tunnel_up', { gateway: 'l4' }).length, 0);
    assert.equal(find(samples, 'meshctl_tunnel_up', { gateway: 'l1', peer: 'l4' })[0]!.value, 1);
    assert.equal(find(samples, 'meshctl_tunnel_pair_up', { high: 'l4' }).length, 0);
    assert.equal(find(samples, 'meshctl_tunnel_bytes_received_total', { gateway: 'l4' }).length, 0);
    assert.equal(find(samples, 'meshctl_tunnel_up', { gateway: 'l3', peer: 'l2' })[0]!.value, 0);
    assert.equal(find(samples, 'meshctl_tunnel_pair_up', { pair: '3' })[0]!.value, 0, 'disagree is not up');
    assert.equal(find(samples, 'meshctl_tunnel_rtt_seconds', { gateway: 'l1', peer: 'l2' }).length, 0);
    assert.equal(find(samples, 'meshctl_tunnel_loss_ratio', { gateway: 'l1', peer: 'l2' })[0]!.value, 1);
    assert.equal(find(samples, 'meshctl_lan_pair_reachable', { a: 'l1', b: 'l3' })[0]!.value, 0);
    assert.equal(find(samples, 'meshctl_lan_pair_reachable', { b: 'l4' }).length, 0);
  });

  it('bgp sessions and certificate days', async () => {
    const mesh = fullMesh(3, { routing: 'bgp' });
    const readings = healthyReadings(mesh);
    readingOf(readings, 'l2').certificatePem = await certificateExpiring(
      new Date(NOW.getTime() + 90 * 86400_000),
    );
    readingOf(readings, 'l1').bgp![0]!.state = 'Connect';
    const { samples } = parseExposition(formatPrometheus(mergeStatus(mesh, readings, { now: NOW })));
    assert.equal(
      find(samples, 'meshctl_peer_certificate_expiry_days', { gateway: 'l1', peer: 'l2' })[0]!.value,
      90,
    );
    assert.equal(find(samples, 'meshctl_gateway_certificate_expiry_days', { gateway: 'l2' })[0]!.value, 90);
    assert.equal(find(samples, 'meshctl_bgp_session_up', { gateway: 'l1', peer: 'l2' })[0]!.value, 0);
    assert.equal(find(samples, 'meshctl_bgp_session_up', { gateway: 'l2', peer: 'l1' })[0]!.value, 1);
    assert.equal(find(samples, 'meshctl_bgp_prefixes_received', { gateway: 'l2', peer: 'l1' })[0]!.value, 2);
  });

  it('label values are escaped per the exposition format', () => {
    assert.equal(escapeLabelValue('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
    const report = healthyReport(fullMesh(2));
    report.mesh = 'we"ird\\name\nx';
    const { samples } = parseExposition(formatPrometheus(report));
    assert.equal(find(samples, 'meshctl_status_health')[0]!.labels.mesh, 'we"ird\\name\nx');
  });
});
