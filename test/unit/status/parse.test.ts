import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAddresses, parsePing, parseReading } from '../../../src/status/parse.js';
import { READY_LINE } from '../../../src/status/script.js';
import type { GatewayReading, TunnelReading } from '../../../src/status/types.js';
import { packageRoot } from '../../../src/version.js';

/**
 * status.sh output recorded on lab gateways (test/unit/status/fixtures/, see its README): a static mesh of
 * alpha (bullseye, OpenVPN 2.5.1), bravo (sid, 2.7.8) and charlie (bookworm, 2.6) and a bgp one of alpha
 * (bullseye, FRR 7.5), bravo (sid, FRR 10.7) and charlie (trixie, FRR 10.3); all up, one unit stopped, a peer
 * powered off (seconds after, and after OpenVPN's ping-restart), and then cut or mangled.
 */

const dir = join(packageRoot(), 'test', 'unit', 'status', 'fixtures');
const fixture = (name: string) => readFileSync(join(dir, `${name}.txt`), 'utf8');
const unit = (peer: string) => `openvpn-server@mesh-${peer}.service`;
const PEERS: Record<string, string[]> = {
  alpha: ['bravo', 'charlie'],
  bravo: ['alpha', 'charlie'],
  charlie: ['alpha', 'bravo'],
};

function parse(name: string, text = fixture(name)): GatewayReading {
  const gateway = name.split('-').at(-1)!;
  const peers = new Map(PEERS[gateway]!.map((p) => [unit(p), p]));
  return parseReading(gateway, text, { startedAt: 1000, finishedAt: 2000, peers });
}

function tunnel(reading: GatewayReading, peer: string): TunnelReading {
  const found = reading.tunnels.find((t) => t.peer === peer);
  assert.ok(found, `${reading.gateway}: no tunnel to ${peer}`);
  return found;
}

describe('status: parsing what lab gateways printed', () => {
  const names = readdirSync(dir)
    .filter((f) => f.endsWith('.txt'))
    .map((f) => f.slice(0, -4));

  it('every fixture parses whole: no unreadable line, no problem, every tunnel asked for, probes and certificate', () => {
    assert.ok(names.length >= 14);
    for (const name of names) {
      const reading = parse(name);
      assert.deepEqual(reading.unreadable, [], name);
      assert.equal(reading.problem, undefined, name);
      assert.equal(reading.tunnels.length, 2, name);
      assert.equal(reading.probes.length, 2, name);
      assert.match(
        reading.certificatePem ?? '',
        /^-----BEGIN CERTIFICATE-----\n[\s\S]+\n-----END CERTIFICATE-----\n$/,
      );
      assert.ok(reading.gatewayTime! > 1_700_000_000, name);
      assert.equal(reading.bgp === null, name.startsWith('static-'), name);
    }
  });

  it('holds no secret: no management password (64 hex digits) and no private key', () => {
    for (const name of names) {
      const text = fixture(name);
      assert.ok(!/[0-9a-f]{64}/.test(text), `${name} holds something shaped like the management password`);
      assert.ok(!text.includes('PRIVATE KEY'), name);
    }
  });

  it('all up, OpenVPN 2.5 (bullseye): CONNECTED since, peer address, bytes, received within the read, pinged', () => {
    const reading = parse('static-up-alpha');
    const bravo = tunnel(reading, 'bravo');
    assert.equal(bravo.deployed, true);
    assert.equal(bravo.activeState, 'active');
    assert.equal(bravo.openvpnState, 'CONNECTED');
    assert.ok(bravo.stateSince! <= reading.gatewayTime!);
    assert.equal(bravo.peerAddress, '198.18.0.2:11001');
    assert.ok(bravo.bytesIn! > 0 && bravo.bytesOut! > 0);
    assert.ok(bravo.lastReceived && 'within' in bravo.lastReceived && bravo.lastReceived.within < 5);
    assert.equal(bravo.ping?.sent, 5);
    assert.equal(bravo.ping?.received, 5);
    assert.equal(bravo.ping?.lossPercent, 0);
    assert.ok(bravo.ping!.rttMs! > 0);
    assert.equal(bravo.problem, null);
    assert.deepEqual(
      reading.addresses.filter((a) => a.device !== 'lo'),
      [
        { device: 'eth0', cidr: '198.18.0.1/24' },
        { device: 'eth1', cidr: '10.10.1.1/24' },
        ...reading.addresses.filter((a) => a.device.startsWith('mtun')),
      ],
    );
    assert.ok(reading.addresses.some((a) => a.device === 'mtun1' && a.cidr === '172.19.0.5/32'));
    const probe = reading.probes.find((p) => p.target === 'bravo')!;
    assert.deepEqual(
      { ...probe, ping: { ...probe.ping!, rttMs: probe.ping!.rttMs! > 0 } },
      {
        target: 'bravo',
        source: '10.10.1.1',
        destination: '10.10.2.1',
        ping: { sent: 3, received: 3, lossPercent: 0, rttMs: true },
        device: 'mtun1',
        asPath: null,
      },
    );
  });

  it('all up, OpenVPN 2.7 (sid) and 2.6 (bookworm): the same fields', () => {
    for (const name of ['static-up-bravo', 'static-up-charlie']) {
      for (const t of parse(name).tunnels) {
        assert.equal(t.openvpnState, 'CONNECTED', `${name} ${t.peer}`);
        assert.match(t.peerAddress ?? '', /^198\.18\.0\.\d:110\d\d$/);
        assert.ok(t.bytesIn! > 0);
        assert.equal(t.ping?.received, 5);
      }
    }
  });

  it('bgp, FRR 7.5, 10.7 and 10.3: every session Established with its prefixes, each probe its AS path', () => {
    const asn = { alpha: 4200000001, bravo: 4200000002, charlie: 4200000003 };
    for (const gateway of ['alpha', 'bravo', 'charlie'] as const) {
      const reading = parse(`bgp-up-${gateway}`);
      assert.equal(reading.bgp?.length, 2);
      for (const session of reading.bgp!) {
        assert.equal(session.state, 'Established');
        assert.ok(session.prefixesReceived >= 1);
      }
      for (const probe of reading.probes) {
        assert.deepEqual(
          probe.asPath,
          [asn[probe.target as keyof typeof asn]],
          `${gateway} → ${probe.target}`,
        );
        assert.equal(probe.ping?.received, 3);
      }
    }
  });

  it('a unit stopped: that end inactive with no OpenVPN fields and no "missing" problem; the probe leaves by eth0', () => {
    const here = parse('static-stopped-alpha');
    const stopped = tunnel(here, 'charlie');
    assert.equal(stopped.deployed, true);
    assert.equal(stopped.activeState, 'inactive');
    assert.equal(stopped.openvpnState, null);
    assert.equal(stopped.bytesIn, null);
    assert.equal(stopped.lastReceived, null);
    assert.equal(stopped.ping?.received, 0);
    assert.equal(stopped.problem, null);
    const probe = here.probes.find((p) => p.target === 'charlie')!;
    assert.equal(probe.ping?.received, 0);
    assert.equal(probe.ping?.lossPercent, 100);
    assert.equal(probe.ping?.rttMs, null);
    assert.equal(probe.device, 'eth0', 'without the tunnel the route is the default one');
  });

  it('the other end of the stopped unit: still CONNECTED, but no answer and nothing received (down)', () => {
    const there = tunnel(parse('static-stopped-charlie'), 'alpha');
    assert.equal(there.openvpnState, 'CONNECTED');
    assert.equal(there.ping?.received, 0);
    assert.ok(there.lastReceived && 'over' in there.lastReceived);
  });

  it('a peer powered off: CONNECTED without answer at first; after ping-restart WAIT, no peer address', () => {
    const first = tunnel(parse('static-unreachable-alpha'), 'bravo');
    assert.equal(first.openvpnState, 'CONNECTED');
    assert.equal(first.ping?.received, 0);
    const later = tunnel(parse('static-reconnecting-alpha'), 'bravo');
    assert.equal(later.openvpnState, 'WAIT');
    assert.equal(later.peerAddress, null);
    assert.ok(later.lastReceived && 'over' in later.lastReceived);
    const bgp = parse('bgp-reconnecting-bravo');
    assert.equal(tunnel(bgp, 'charlie').openvpnState, 'WAIT');
    const session = bgp.bgp!.find((s) => s.address === '172.19.0.14')!;
    assert.notEqual(session.state, 'Established');
    assert.equal(session.prefixesReceived, 0);
    const probe = bgp.probes.find((p) => p.target === 'charlie')!;
    assert.equal(probe.asPath, null, 'no route to a LAN whose gateway is gone');
    assert.equal(probe.device, null);
  });
});

describe('status: parsing malformed and truncated output (never a throw, always a clear problem)', () => {
  const whole = fixture('bgp-up-alpha');

  it('output cut at every line still parses: every tunnel listed, a problem naming what is missing', () => {
    const lines = whole.split('\n');
    // lines ends with the empty piece after the last newline: n = lines.length - 1 is the whole output
    for (let n = 0; n < lines.length - 1; n++) {
      const cut = lines.slice(0, n).join('\n') + (n > 0 ? '\n' : '');
      const reading = parse('cut-alpha', cut);
      assert.equal(reading.tunnels.length, 2, `cut at line ${n}`);
      assert.ok(reading.problem, `cut at line ${n}: a problem is said`);
      if (n === 0) assert.match(reading.problem, /no status records/);
    }
    const beforeReady = whole.slice(0, whole.indexOf(`\n${READY_LINE}\n`) + 1);
    assert.match(parse('x-alpha', beforeReady).problem ?? '', /before the probes/);
  });

  it('a line cut in the middle is not trusted: it goes to unreadable', () => {
    const at = whole.indexOf('TCP/UDP read bytes,') + 'TCP/UDP read bytes,'.length + 1;
    const reading = parse('x-alpha', whole.slice(0, at));
    assert.equal(reading.unreadable.length, 1);
    assert.match(reading.unreadable[0]!, /TCP\/UDP read bytes,\d$/);
    assert.equal(tunnel(reading, 'bravo').bytesIn, null);
    assert.ok(tunnel(reading, 'bravo').problem);
  });

  it('garbage lines are kept as unreadable; the rest still counts', () => {
    const text = whole.replace('ready\n', 'ready\nhello world\nmgmt-line\tnobody\tfirst\tx\n\u0000\u00ff\n');
    const reading = parse('x-alpha', text);
    assert.deepEqual(reading.unreadable, ['hello world', 'mgmt-line\tnobody\tfirst\tx', '\u0000\u00ff']);
    assert.equal(reading.problem, undefined);
    assert.equal(tunnel(reading, 'bravo').openvpnState, 'CONNECTED');
  });

  it('FRR JSON that is not JSON: no bgp reading, its lines unreadable; routes that are not JSON: no AS path', () => {
    const text = whole
      .replace(/^bgp-summary\t\{$/m, 'bgp-summary\t{{')
      .replace(/^bgp-routes\t\{$/m, 'bgp-routes\t[');
    const reading = parse('x-alpha', text);
    assert.equal(reading.bgp, null);
    assert.ok(reading.unreadable.some((l) => l.startsWith('bgp-summary\t')));
    assert.ok(reading.probes.every((p) => p.asPath === null));
  });

  it('a tunnel the output never mentions is still there, unknown, saying so', () => {
    const reading = parseReading('alpha', fixture('static-up-alpha'), {
      startedAt: 0,
      finishedAt: 0,
      peers: new Map([
        [unit('bravo'), 'bravo'],
        [unit('delta'), 'delta'],
      ]),
    });
    const delta = tunnel(reading, 'delta');
    assert.equal(delta.deployed, false);
    assert.equal(delta.activeState, null);
    assert.match(delta.problem ?? '', /does not mention this tunnel/);
  });

  it('a management interface that does not answer a running unit is a problem, in words', () => {
    const text = fixture('static-up-alpha')
      .split('\n')
      .filter(
        (l) =>
          !l.startsWith(`mgmt-line\t${unit('bravo')}\tfirst`) && l !== `mgmt-end\t${unit('bravo')}\tfirst`,
      )
      .join('\n')
      .replace(
        `mgmt\t${unit('bravo')}\tfirst`,
        `mgmt-failed\t${unit('bravo')}\tfirst\t127.0.0.1:11001 timed out\nmgmt\t${unit('bravo')}\tfirst`,
      );
    const bravo = tunnel(parse('x-alpha', text), 'bravo');
    assert.equal(bravo.openvpnState, null);
    assert.match(bravo.problem ?? '', /management interface/);
  });

  it('an unknown format version says so', () => {
    assert.match(parse('x-alpha', 'status\t2\nend\n').problem ?? '', /format "2"/);
    assert.match(parse('x-alpha', 'sudo: a terminal is required\n').problem ?? '', /no status records/);
  });
});

describe('status: small parsers', () => {
  it('parseAddresses reads phase 1 only as far as it goes', () => {
    const text = fixture('static-up-charlie');
    const partial = text.slice(0, text.indexOf('\ncert\t') + 1);
    assert.deepEqual(
      parseAddresses(partial).map((a) => a.device),
      ['lo', 'eth0', 'eth1', 'mtun2', 'mtun3'],
    );
    assert.deepEqual(parseAddresses('addr\t2: eth0@if9    inet 10.0.0.1/24 scope global eth0\\ x\n'), [
      { device: 'eth0', cidr: '10.0.0.1/24' },
    ]);
    assert.deepEqual(parseAddresses('addr\tnonsense\n'), []);
  });

  it('parsePing: iputils and busybox summaries, errors', () => {
    assert.deepEqual(
      parsePing(
        '5 packets transmitted, 4 received, 20% packet loss, time 800ms | rtt min/avg/max/mdev = 1/2.5/3/1 ms',
      ),
      { sent: 5, received: 4, lossPercent: 20, rttMs: 2.5 },
    );
    assert.deepEqual(
      parsePing(
        '3 packets transmitted, 3 packets received, 0% packet loss | round-trip min/avg/max = 0.1/0.2/0.3 ms',
      ),
      { sent: 3, received: 3, lossPercent: 0, rttMs: 0.2 },
    );
    assert.equal(parsePing('ping: bind: Cannot assign requested address'), null);
  });
});
