import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseProcUdpLine, parseRoute } from '../../../src/facts/network.js';
import { parseFacts } from '../../../src/facts/parse.js';
import { sysctlOrder } from '../../../src/plan/preflight.js';
import { factsFixture } from './fixture-path.js';

const FIREWALL = { chainPrefix: 'MESHCTL' };

describe('parseFacts: pre-flight records', () => {
  const facts = parseFacts(readFileSync(factsFixture('preflight-records.txt'), 'utf8'), 'hq', FIREWALL);
  const n = facts.network;

  it('reads the clock, the addresses and the routes of every table but local, without default routes', () => {
    assert.equal(n.clock, 1796121855);
    assert.deepEqual(n.addresses, [
      { iface: 'lo', cidr: '127.0.0.1/8' },
      { iface: 'eth0', cidr: '198.18.0.1/24' },
      { iface: 'eth1', cidr: '10.10.1.1/24' },
      { iface: 'mtun1', cidr: '172.19.0.5/32' },
    ]);
    assert.deepEqual(
      n.routes?.map((r) => [r.dest, r.type, r.dev, r.table, r.via]),
      [
        ['10.10.1.0/24', null, 'eth1', null, false],
        ['10.10.2.0/24', null, 'mtun1', null, true],
        ['172.19.0.6/32', null, 'mtun1', null, false],
        ['10.99.0.0/16', 'blackhole', null, null, false],
        ['10.8.0.0/24', null, 'wg0', '51820', false],
      ],
    );
    assert.equal(n.routesTruncated, false);
    assert.deepEqual(facts.warnings, []);
  });

  it('reads UDP sockets with every process holding them', () => {
    assert.deepEqual(n.udp, [
      { address: '0.0.0.0', port: 11001, processes: [{ name: 'openvpn', pid: 812 }] },
      {
        address: '127.0.0.1',
        port: 53,
        processes: [
          { name: 'dnsmasq', pid: 90 },
          { name: 'dnsmasq', pid: 91 },
        ],
      },
      { address: '[::]', port: 11002, processes: [{ name: 'socat', pid: 1234 }] },
    ]);
  });

  it('reads the sysctl files, the forwarding settings, FORWARD, the nftables hooks and rp_filter', () => {
    assert.deepEqual(n.sysctlFiles, [
      '/etc/sysctl.d/99-meshctl.conf',
      '/etc/sysctl.d/99-sysctl.conf',
      '/usr/lib/sysctl.d/50-default.conf',
      '/etc/sysctl.conf',
    ]);
    assert.deepEqual(
      n.sysctlForward?.map((s) => [s.path, s.key, s.value]),
      [
        ['/etc/sysctl.d/99-meshctl.conf', 'net.ipv4.ip_forward', '1'],
        ['/etc/sysctl.d/99-sysctl.conf', 'net.ipv4.ip_forward', '0'],
        ['/etc/sysctl.conf', 'net.ipv4.ip_forward', '0'],
      ],
    );
    assert.deepEqual(n.forwardChain, [
      '-P FORWARD DROP',
      '-A FORWARD -j MESHCTL-FORWARD',
      '-A FORWARD -j DOCKER-USER',
    ]);
    assert.deepEqual(n.nftChains, [
      { table: 'ip filter', chain: 'FORWARD', hook: 'forward', policy: 'drop' },
      { table: 'inet firewalld', chain: 'filter_FORWARD', hook: 'forward', policy: 'accept' },
      { table: 'inet firewalld', chain: 'mangle_PREROUTING', hook: 'prerouting', policy: 'accept' },
    ]);
    assert.deepEqual(n.rpFilter, { all: 0, default: 1, eth0: 2 });
  });

  it('leaves every pre-flight fact unknown for a probe that printed none', () => {
    const old = parseFacts('probe\t1\nmanifest-absent\nend\n', 'hq', FIREWALL).network;
    assert.deepEqual(old, {
      clock: null,
      addresses: null,
      routes: null,
      routesTruncated: false,
      udp: null,
      sysctlFiles: null,
      sysctlForward: null,
      forwardChain: null,
      nftChains: null,
      rpFilter: null,
    });
  });

  it('reads /proc/net/udp lines when ss is missing, and skips lines it cannot read', () => {
    assert.deepEqual(
      parseProcUdpLine(
        '  12: 00000000:2AF9 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 3512',
      ),
      { address: '*', port: 11001, processes: [] },
    );
    assert.deepEqual(parseProcUdpLine('  3: 0100007F:0035 00000000:0000 07 …')?.address, '127.0.0.1');
    assert.equal(parseProcUdpLine('  sl  local_address rem_address   st tx_queue'), null);
    assert.equal(
      parseRoute('local 10.10.1.1 dev eth1 table local proto kernel scope host src 10.10.1.1'),
      null,
    );
    assert.equal(parseRoute('something new from iproute2'), null);
  });
});

describe('sysctlOrder', () => {
  it('sorts sysctl.d files by name, a name in /etc masking the same in /usr/lib, /etc/sysctl.conf last', () => {
    assert.deepEqual(
      sysctlOrder([
        '/etc/sysctl.d/99-meshctl.conf',
        '/etc/sysctl.d/50-pid-max.conf',
        '/usr/lib/sysctl.d/50-pid-max.conf',
        '/usr/lib/sysctl.d/99-zz.conf',
        '/lib/sysctl.d/10-early.conf',
        '/etc/sysctl.conf',
      ]),
      [
        '/lib/sysctl.d/10-early.conf',
        '/etc/sysctl.d/50-pid-max.conf',
        '/etc/sysctl.d/99-meshctl.conf',
        '/usr/lib/sysctl.d/99-zz.conf',
        '/etc/sysctl.conf',
      ],
    );
  });
});

describe('parseFacts: a converged lab gateway (captured probe output)', () => {
  const facts = parseFacts(readFileSync(factsFixture('lab-converged.txt'), 'utf8'), 'one', FIREWALL);
  const n = facts.network;

  it('sees each tunnel port held by the MainPID of its own tunnel unit', () => {
    const byPort = new Map(n.udp!.map((s) => [s.port, s.processes.map((p) => p.pid)]));
    assert.deepEqual(byPort.get(11001), [facts.units['openvpn-server@mesh-two.service']!.mainPid]);
    assert.deepEqual(byPort.get(11002), [facts.units['openvpn-server@mesh-three.service']!.mainPid]);
  });

  it('sees the tunnels’ routes and point-to-point addresses on their mtun devices', () => {
    assert.deepEqual(
      n.routes!.filter((r) => r.dev?.startsWith('mtun')).map((r) => r.dest),
      ['10.72.0.0/24', '10.73.0.0/24', '172.19.0.6/32', '172.19.0.10/32'],
    );
    assert.ok(n.addresses!.some((a) => a.iface === 'mtun1' && a.cidr === '172.19.0.5/32'));
    assert.deepEqual(n.forwardChain, ['-P FORWARD ACCEPT', '-A FORWARD -j MESHCTL-FORWARD']);
    assert.equal(n.sysctlForward!.length, 1);
    assert.deepEqual(facts.warnings, []);
  });
});
