import assert from 'node:assert/strict';
import { gatewayAsn } from '../../../src/render/render.js';
import { lanAddressOf, mergeStatus, planProbes } from '../../../src/status/merge.js';
import type { StatusReport } from '../../../src/status/types.js';
import {
  certificateExpiring,
  fullMesh,
  healthyReadings,
  hubMesh,
  lanAddresses,
  NOW,
  readingOf,
  tunnelIn,
  UP_SINCE_S,
  zonesMesh,
} from './fixture.js';

/** SPEC §8: both ends of each tunnel merged, LAN probes into LAN pairs, and the health that sets the exit code. */

const tunnel = (report: StatusReport, low: string, high: string) => {
  const t = report.tunnels.find((x) => x.low === low && x.high === high);
  assert.ok(t, `tunnel ${low}-${high}`);
  return t;
};
const lanPair = (report: StatusReport, a: string, b: string) => {
  const p = report.lanPairs.find((x) => x.a === a && x.b === b);
  assert.ok(p, `LAN pair ${a}-${b}`);
  return p;
};

describe('lanAddressOf', () => {
  const mesh = zonesMesh();
  const euA = mesh.inventory.gateways.find((g) => g.name === 'eu-a')!;

  it('takes the first address inside its own subnets, never on a mesh tun device', () => {
    assert.equal(
      lanAddressOf(euA, [
        { device: 'mtun3', cidr: '10.30.9.9/30' },
        { device: 'eth0', cidr: '198.51.100.3/24' },
        { device: 'eth1', cidr: '10.31.0.1/16' },
        { device: 'eth2', cidr: '10.30.0.7/24' },
        { device: 'eth3', cidr: '10.30.0.8/24' },
      ]),
      '10.30.0.7',
    );
  });

  it('goes by subnet order first, then address order', () => {
    const g = { ...euA, subnets: ['10.40.0.0/16', '10.30.0.0/16'] };
    assert.equal(
      lanAddressOf(g, [
        { device: 'eth1', cidr: '10.30.0.1/16' },
        { device: 'eth2', cidr: '10.40.0.1/16' },
      ]),
      '10.40.0.1',
    );
  });

  it('null when none fits, and garbage is skipped rather than thrown on', () => {
    assert.equal(lanAddressOf(euA, [{ device: 'mtun1', cidr: '10.30.0.1/30' }]), null);
    assert.equal(lanAddressOf(euA, [{ device: 'eth1', cidr: 'not-an-address' }]), null);
    assert.equal(lanAddressOf(euA, []), null);
  });
});

describe('planProbes', () => {
  it('every gateway of a to every gateway of b, a before b in id order, one direction only', () => {
    const mesh = zonesMesh();
    const plans = planProbes(mesh, lanAddresses(mesh));
    const flat = [...plans].flatMap(([from, list]) => list.map((p) => `${from}>${p.target}`));
    assert.deepEqual(flat, ['hq>dc', 'hq>eu-a', 'hq>eu-b', 'dc>eu-a', 'dc>eu-b']);
    assert.deepEqual(plans.get('hq')![1], { target: 'eu-a', source: '10.1.0.1', destination: '10.30.0.1' });
  });

  it('leaf LANs are probed with each other (the hub carries their traffic)', () => {
    const mesh = hubMesh();
    const plans = planProbes(mesh, lanAddresses(mesh));
    assert.deepEqual(
      [...plans].flatMap(([from, list]) => list.map((p) => `${from}>${p.target}`)),
      ['hq>shop', 'hq>depot', 'shop>depot'],
    );
  });

  it('skips a probe whose source or destination address is unknown', () => {
    const mesh = fullMesh(3);
    const addresses = lanAddresses(mesh);
    addresses.set('l2', null);
    const plans = planProbes(mesh, addresses);
    assert.deepEqual(
      [...plans].flatMap(([from, list]) => list.map((p) => `${from}>${p.target}`)),
      ['l1>l3'],
    );
  });
});

describe('mergeStatus', () => {
  it('a full mesh with everything up is healthy (exit 0), with the details of each end', () => {
    const mesh = fullMesh(4);
    const report = mergeStatus(mesh, healthyReadings(mesh), { now: NOW });
    assert.equal(report.health, 'healthy');
    assert.equal(report.exitCode, 0);
    assert.equal(report.mesh, 'test');
    assert.equal(report.routing, 'static');
    assert.equal(report.checkedAt, NOW.toISOString());
    assert.deepEqual(report.lans, ['l1', 'l2', 'l3', 'l4']);
    assert.equal(report.tunnels.length, 6);
    assert.ok(report.tunnels.every((t) => t.state === 'up' && t.disagreeing === null));
    assert.equal(report.lanPairs.length, 6);
    assert.ok(report.lanPairs.every((p) => p.state === 'up'));
    const t = tunnel(report, 'l1', 'l2');
    assert.deepEqual([t.pair, t.kind, t.device, t.port], [1, 'core', 'mtun1', 11001]);
    const [low] = t.ends;
    assert.equal(low.gateway, 'l1');
    assert.equal(low.since, new Date(UP_SINCE_S * 1000).toISOString());
    assert.equal(low.peerAddress, '198.51.100.2:11001');
    assert.deepEqual([low.bytesIn, low.bytesOut, low.rateIn, low.rateOut], [10000, 20000, null, null]);
    assert.deepEqual([low.rttMs, low.lossPercent, low.problem, low.bgp], [1.5, 0, null, null]);
    assert.deepEqual(low.lastReceived, { within: 2 });
    assert.deepEqual(lanPair(report, 'l1', 'l3').probes, [
      {
        from: 'l1',
        to: 'l3',
        source: '10.1.0.1',
        destination: '10.3.0.1',
        ok: true,
        rttMs: 2.5,
        lossPercent: 0,
        path: ['l3'],
        problem: null,
      },
    ]);
    const g = report.gateways[0]!;
    assert.deepEqual(g, {
      name: 'l1',
      lan: 'l1',
      read: true,
      error: null,
      lanAddress: '10.1.0.1',
      certificateDaysLeft: null,
      durationMs: 1000,
      unreadable: 0,
      problem: null,
    });
  });

  it('one end stopped and the other unanswered: the pair is down and blames the stopped end', () => {
    const mesh = fullMesh(3);
    const readings = healthyReadings(mesh);
    Object.assign(tunnelIn(readings, 'l1', 'l2'), {
      activeState: 'inactive',
      openvpnState: null,
      ping: null,
    });
    Object.assign(tunnelIn(readings, 'l2', 'l1'), {
      ping: { sent: 5, received: 0, lossPercent: 100, rttMs: null },
    });
    const t = tunnel(mergeStatus(mesh, readings, { now: NOW }), 'l1', 'l2');
    assert.deepEqual(
      t.ends.map((e) => e.state),
      ['not-running', 'down'],
    );
    assert.equal(t.state, 'down');
    assert.equal(t.disagreeing, null);
    assert.equal(t.blame, 'l1');
  });

  it("one end's unit stopped: that pair disagrees naming the end, the others stay up, exit 2", () => {
    const mesh = fullMesh(4);
    const readings = healthyReadings(mesh);
    Object.assign(tunnelIn(readings, 'l3', 'l2'), { activeState: 'failed', openvpnState: null, ping: null });
    const report = mergeStatus(mesh, readings, { now: NOW });
    const t = tunnel(report, 'l2', 'l3');
    assert.equal(t.state, 'disagree');
    assert.equal(t.disagreeing, 'l3');
    assert.equal(t.blame, 'l3');
    assert.deepEqual(
      t.ends.map((e) => e.state),
      ['up', 'not-running'],
    );
    assert.match(t.ends[1].problem!, /openvpn-server@mesh-l2\.service is failed/);
    assert.equal(t.ends[1].since, null);
    assert.ok(report.tunnels.filter((x) => x !== t).every((x) => x.state === 'up'));
    assert.equal(report.health, 'degraded');
    assert.equal(report.exitCode, 2);
  });

  it('both ends down (CONNECTED, no answer): down; not deployed and connecting ends say so', () => {
    const mesh = fullMesh(3);
    const readings = healthyReadings(mesh);
    for (const [g, p] of [
      ['l1', 'l2'],
      ['l2', 'l1'],
    ]) {
      tunnelIn(readings, g!, p!).ping = { sent: 3, received: 0, lossPercent: 100, rttMs: null };
    }
    Object.assign(tunnelIn(readings, 'l1', 'l3'), { deployed: false, activeState: 'inactive' });
    Object.assign(tunnelIn(readings, 'l3', 'l1'), { openvpnState: 'RECONNECTING' });
    const report = mergeStatus(mesh, readings, { now: NOW });
    const down = tunnel(report, 'l1', 'l2');
    assert.equal(down.state, 'down');
    assert.equal(down.disagreeing, null);
    assert.deepEqual(
      down.ends.map((e) => e.state),
      ['down', 'down'],
    );
    assert.match(down.ends[0].problem!, /172\.19\.0\.6 answers none of 3 pings/);
    const other = tunnel(report, 'l1', 'l3');
    assert.equal(other.state, 'down');
    assert.deepEqual(
      other.ends.map((e) => e.state),
      ['not-deployed', 'connecting'],
    );
    assert.match(other.ends[1].problem!, /OpenVPN is RECONNECTING/);
    assert.equal(report.exitCode, 2);
  });

  it('a gateway that could not be read: error (exit 1), its tunnels unknown, the others read', () => {
    const mesh = fullMesh(4);
    const readings = healthyReadings(mesh);
    readings.set('l3', { gateway: 'l3', error: 'connect ECONNREFUSED 198.51.100.3:22' });
    const report = mergeStatus(mesh, readings, { now: NOW });
    assert.equal(report.health, 'error');
    assert.equal(report.exitCode, 1);
    const l3 = report.gateways.find((g) => g.name === 'l3')!;
    assert.deepEqual(
      [l3.read, l3.error, l3.lanAddress],
      [false, 'connect ECONNREFUSED 198.51.100.3:22', null],
    );
    for (const t of report.tunnels) {
      const touches = t.low === 'l3' || t.high === 'l3';
      assert.equal(t.state, touches ? 'unknown' : 'up', `${t.low}-${t.high}`);
    }
    const t = tunnel(report, 'l1', 'l3');
    assert.equal(t.ends[0].state, 'up', 'the end that was read keeps its state');
    assert.equal(t.ends[1].state, 'unknown');
    assert.match(t.ends[1].problem!, /ECONNREFUSED/);
    const p = lanPair(report, 'l1', 'l3');
    assert.equal(p.state, 'unknown');
    assert.match(p.probes[0]!.problem!, /l3 was not read/);
    assert.equal(lanPair(report, 'l3', 'l4').probes[0]!.problem, 'l3 could not be read');
    assert.equal(lanPair(report, 'l1', 'l2').state, 'up');
  });

  it('a gateway missing from the readings counts as not read', () => {
    const mesh = fullMesh(2);
    const readings = healthyReadings(mesh);
    readings.delete('l2');
    const report = mergeStatus(mesh, readings, { now: NOW });
    assert.equal(report.exitCode, 1);
    assert.equal(report.gateways[1]!.read, false);
  });

  it('a probe failing while the tunnels are up: that LAN pair is down (exit 2)', () => {
    const mesh = fullMesh(3);
    const readings = healthyReadings(mesh);
    readingOf(readings, 'l1').probes[1]!.ping = { sent: 3, received: 0, lossPercent: 100, rttMs: null };
    const report = mergeStatus(mesh, readings, { now: NOW });
    assert.ok(report.tunnels.every((t) => t.state === 'up'));
    const p = lanPair(report, 'l1', 'l3');
    assert.equal(p.state, 'down');
    assert.equal(p.probes[0]!.ok, false);
    assert.match(p.probes[0]!.problem!, /10\.3\.0\.1 does not answer 10\.1\.0\.1 \(100% loss, via mtun2\)/);
    assert.equal(lanPair(report, 'l1', 'l2').state, 'up');
    assert.equal(report.exitCode, 2);
  });

  it('a probe with no route: down, saying so; a probe with no result: unknown', () => {
    const mesh = fullMesh(3);
    const readings = healthyReadings(mesh);
    Object.assign(readingOf(readings, 'l1').probes[0]!, {
      device: null,
      ping: { sent: 3, received: 0, lossPercent: 100, rttMs: null },
    });
    readingOf(readings, 'l2').probes = [];
    const report = mergeStatus(mesh, readings, { now: NOW });
    assert.equal(lanPair(report, 'l1', 'l2').state, 'down');
    assert.equal(lanPair(report, 'l1', 'l2').probes[0]!.problem, 'no route from l1 to 10.2.0.1');
    assert.equal(lanPair(report, 'l1', 'l2').probes[0]!.path, null);
    assert.equal(lanPair(report, 'l2', 'l3').state, 'unknown');
    assert.equal(lanPair(report, 'l2', 'l3').probes[0]!.problem, "no result for this probe in l2's output");
  });

  it('a leaf LAN via a hub: leaf to leaf goes [hub, target], leaf tunnels are of kind leaf', () => {
    const mesh = hubMesh();
    const report = mergeStatus(mesh, healthyReadings(mesh), { now: NOW });
    assert.equal(report.exitCode, 0);
    assert.deepEqual(
      report.tunnels.map((t) => `${t.low}-${t.high} ${t.kind}`),
      ['hq-shop leaf', 'hq-depot leaf'],
    );
    assert.deepEqual(lanPair(report, 'shop', 'depot').probes[0]!.path, ['hq', 'depot']);
    assert.deepEqual(lanPair(report, 'hq', 'shop').probes[0]!.path, ['shop']);
    assert.deepEqual(report.lans, ['hq', 'shop', 'depot']);
  });

  it('with bgp: the path is the AS path mapped to gateway names, and each end has its session', () => {
    const mesh = fullMesh(3, { routing: 'bgp' });
    const readings = healthyReadings(mesh);
    const asn = (name: string) => gatewayAsn(mesh, mesh.inventory.gateways.find((g) => g.name === name)!);
    // l1 reaches l3 through l2 (its direct tunnel is down): the route leaves by l1-l2's device
    Object.assign(readingOf(readings, 'l1').probes[1]!, { device: 'mtun1', asPath: [asn('l2'), asn('l3')] });
    readingOf(readings, 'l2').bgp![1]!.state = 'Active';
    const report = mergeStatus(mesh, readings, { now: NOW });
    assert.equal(report.routing, 'bgp');
    assert.deepEqual(lanPair(report, 'l1', 'l3').probes[0]!.path, ['l2', 'l3']);
    assert.deepEqual(lanPair(report, 'l1', 'l2').probes[0]!.path, ['l2']);
    const [low] = tunnel(report, 'l1', 'l2').ends;
    assert.deepEqual(low.bgp, { state: 'Established', prefixesReceived: 2 });
    const high = tunnel(report, 'l2', 'l3').ends[0];
    assert.equal(high.bgp!.state, 'Active');
    assert.match(high.problem!, /BGP session with l3 is Active/);
  });

  it('a prepended AS path (a backup) gives each gateway once', () => {
    const mesh = fullMesh(3, { routing: 'bgp' });
    const readings = healthyReadings(mesh);
    const asn = (name: string) => gatewayAsn(mesh, mesh.inventory.gateways.find((g) => g.name === name)!);
    Object.assign(readingOf(readings, 'l1').probes[1]!, {
      device: 'mtun1',
      asPath: [asn('l2'), asn('l3'), asn('l3'), 64512],
    });
    const report = mergeStatus(mesh, readings, { now: NOW });
    assert.deepEqual(lanPair(report, 'l1', 'l3').probes[0]!.path, ['l2', 'l3', 'AS64512']);
  });

  it('a LAN with two gateways: each has its tunnels and is probed on its own', () => {
    const mesh = zonesMesh();
    const readings = healthyReadings(mesh);
    for (const [g, p] of [
      ['hq', 'eu-a'],
      ['eu-a', 'hq'],
    ]) {
      tunnelIn(readings, g!, p!).ping = { sent: 3, received: 0, lossPercent: 100, rttMs: null };
    }
    readingOf(readings, 'hq').probes.find((p) => p.target === 'eu-a')!.ping = {
      sent: 3,
      received: 0,
      lossPercent: 100,
      rttMs: null,
    };
    const report = mergeStatus(mesh, readings, { now: NOW });
    assert.deepEqual(
      report.tunnels.map((t) => `${t.low}-${t.high} ${t.state}`),
      ['hq-dc up', 'hq-eu-a down', 'dc-eu-a up', 'hq-eu-b up', 'dc-eu-b up'],
    );
    const hqEu = lanPair(report, 'hq', 'eu');
    assert.equal(hqEu.state, 'down');
    assert.deepEqual(
      hqEu.probes.map((p) => `${p.to} ${p.ok}`),
      ['eu-a false', 'eu-b true'],
    );
    assert.equal(lanPair(report, 'dc', 'eu').state, 'up');
    assert.deepEqual(
      report.gateways.map((g) => `${g.name} ${g.lan} ${g.lanAddress}`),
      ['hq hq 10.1.0.1', 'dc dc 10.2.0.1', 'eu-a eu 10.30.0.1', 'eu-b eu 10.31.0.1'],
    );
  });

  it('rates: bytes grown since the previous report, per second; null when a counter went back', () => {
    const mesh = fullMesh(2);
    const first = mergeStatus(mesh, healthyReadings(mesh), { now: new Date(NOW.getTime() - 10_000) });
    const readings = healthyReadings(mesh);
    Object.assign(tunnelIn(readings, 'l1', 'l2'), { bytesIn: 15_000, bytesOut: 21_000 });
    Object.assign(tunnelIn(readings, 'l2', 'l1'), { bytesIn: 500 });
    const report = mergeStatus(mesh, readings, { now: NOW, previous: first });
    const [low, high] = report.tunnels[0]!.ends;
    assert.deepEqual([low.rateIn, low.rateOut], [500, 100]);
    assert.deepEqual([high.rateIn, high.rateOut], [null, 0]);
  });

  it("certificate days: the peer's certificate, as deployed on the peer, floor of days left", async () => {
    const mesh = fullMesh(3);
    const readings = healthyReadings(mesh);
    readingOf(readings, 'l2').certificatePem = await certificateExpiring(
      new Date(NOW.getTime() + 30.5 * 86400_000),
    );
    readingOf(readings, 'l3').certificatePem = await certificateExpiring(new Date(NOW.getTime() - 3600_000));
    readingOf(readings, 'l1').certificatePem = 'not a certificate';
    const report = mergeStatus(mesh, readings, { now: NOW });
    const [atL1, atL2] = tunnel(report, 'l1', 'l2').ends;
    assert.equal(atL1.peerCertificateDaysLeft, 30);
    assert.equal(atL2.peerCertificateDaysLeft, null, "l1's certificate could not be parsed");
    assert.equal(tunnel(report, 'l1', 'l3').ends[0].peerCertificateDaysLeft, -1);
    assert.deepEqual(
      report.gateways.map((g) => g.certificateDaysLeft),
      [null, 30, -1],
    );
  });

  it('unreadable lines: the tunnel they are about is unknown, the rest is read, degraded, no crash', () => {
    const mesh = fullMesh(3);
    const readings = healthyReadings(mesh);
    const l1 = readingOf(readings, 'l1');
    l1.tunnels = l1.tunnels.filter((t) => t.peer !== 'l2');
    l1.unreadable = ['tunnel mesh-l2 active ?? garbage'];
    const l3 = readingOf(readings, 'l3');
    l3.unreadable = ['ping mtun3 ### 0 received'];
    const l2 = readingOf(readings, 'l2');
    l2.unreadable = ['something new'];
    const report = mergeStatus(mesh, readings, { now: NOW });
    const t12 = tunnel(report, 'l1', 'l2');
    assert.equal(t12.ends[0].state, 'unknown');
    assert.match(t12.ends[0].problem!, /could not be read: tunnel mesh-l2 active/);
    assert.equal(t12.state, 'unknown');
    const t23 = tunnel(report, 'l2', 'l3');
    assert.equal(t23.ends[1].state, 'unknown', 'an up end with a garbled line about it is not trusted');
    assert.equal(tunnel(report, 'l1', 'l3').state, 'up');
    assert.deepEqual(
      report.gateways.map((g) => g.unreadable),
      [1, 1, 1],
    );
    assert.equal(report.exitCode, 2);
  });

  it('a reading with nothing in it (and odd values) gives unknowns, never a throw', () => {
    const mesh = fullMesh(3);
    const readings = healthyReadings(mesh);
    Object.assign(readingOf(readings, 'l2'), {
      tunnels: [],
      probes: [],
      addresses: [],
      certificatePem: null,
      gatewayTime: null,
    });
    Object.assign(tunnelIn(readings, 'l1', 'l3'), { stateSince: Number.NaN, activeState: null });
    const report = mergeStatus(mesh, readings, { now: NOW });
    assert.equal(tunnel(report, 'l1', 'l2').state, 'unknown');
    assert.equal(tunnel(report, 'l1', 'l3').state, 'unknown');
    assert.equal(report.gateways[1]!.lanAddress, null);
    assert.match(lanPair(report, 'l1', 'l2').probes[0]!.problem!, /l2 has no address in its subnets/);
    assert.equal(report.exitCode, 2);
  });
});

describe('mergeStatus: an end whose OpenVPN could not be asked', () => {
  it('the ping through the tunnel answered: up, with the problem said; no answer: unknown, never "connecting"', () => {
    const mesh = fullMesh(3);
    const readings = healthyReadings(mesh);
    Object.assign(tunnelIn(readings, 'l1', 'l2'), {
      openvpnState: null,
      stateSince: null,
      problem: 'its management interface did not answer: 127.0.0.1:1 timed out',
    });
    Object.assign(tunnelIn(readings, 'l1', 'l3'), {
      openvpnState: null,
      problem: 'its management interface did not answer: 127.0.0.1:2 timed out',
      ping: { sent: 5, received: 0, lossPercent: 100, rttMs: null },
    });
    const report = mergeStatus(mesh, readings, { now: NOW });
    const answered = tunnel(report, 'l1', 'l2');
    assert.equal(answered.state, 'up');
    assert.match(answered.ends[0].problem ?? '', /timed out/);
    const silent = tunnel(report, 'l1', 'l3');
    assert.equal(silent.ends[0].state, 'unknown');
    assert.equal(silent.state, 'unknown');
    assert.equal(silent.blame, 'l1');
  });

  it('a unit still activating is connecting, not "not running"', () => {
    const mesh = fullMesh(2);
    const readings = healthyReadings(mesh);
    Object.assign(tunnelIn(readings, 'l1', 'l2'), {
      activeState: 'activating',
      openvpnState: null,
      ping: null,
    });
    const t = tunnel(mergeStatus(mesh, readings, { now: NOW }), 'l1', 'l2');
    assert.equal(t.ends[0].state, 'connecting');
  });
});
