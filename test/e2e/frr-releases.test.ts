import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Lab, type LabSpec, reapOrphans } from '../lab/lab.js';
import { run } from '../lab/run.js';
import { names, type Release } from '../lab/spec.js';
import { factsFixture } from '../unit/facts/fixture-path.js';
import { skipUnlessLabUsable } from './helpers/gateways.js';

/**
 * FRR in the gateway image of every release (bullseye 7.5, bookworm 8.4, trixie 10.3, sid 10.7), before meshctl
 * configures any of it: two gateways per release joined by a veth pair (A 172.19.0.5/30, B .6/30), each given the
 * portable frr.conf and daemons of test/unit/facts/fixtures/frr/ (one text for all four versions). The image ships
 * frr.service disabled; the config parses (`vtysh -C`), the eBGP session comes up with BFD, its route is installed
 * as `proto bgp`; `systemctl reload frr` adds a second session and a prefix-list entry without restarting bgpd or
 * resetting the first session; when B's packets are dropped, BFD takes the sessions down and the floating blackhole
 * replaces the route. Needs root and systemd-nspawn; otherwise skipped, loudly.
 */

const PAIRS: { release: Release; version: RegExp }[] = [
  { release: 'bullseye', version: /^bgpd version 7\.5\./ },
  { release: 'bookworm', version: /^bgpd version 8\.4\./ },
  { release: 'trixie', version: /^bgpd version 10\.3\b/ },
  { release: 'sid', version: /^bgpd version 10\.7\./ },
];
const prefix = (release: Release) => release.slice(0, 4);
const spec: LabSpec = {
  name: 'frr1',
  gateways: PAIRS.flatMap(({ release }, i) => [
    { name: `${prefix(release)}a`, id: 2 * i + 1, subnets: [`10.171.${2 * i}.0/24`], release },
    { name: `${prefix(release)}b`, id: 2 * i + 2, subnets: [`10.171.${2 * i + 1}.0/24`], release },
  ]),
};

const fixture = (name: string) => readFileSync(factsFixture(`frr/${name}`), 'utf8');
/** The file written to /etc/frr/frr.conf: FRR keeps the system hostname, so the config names it too. */
const INSTALL_CONF = 'sed "s/^hostname HOST$/hostname $(hostname)/" > /etc/frr/frr.conf';

async function sh(lab: Lab, gw: string, script: string, stdin?: string): Promise<string> {
  const result = await lab.exec(gw, ['sh', '-c', script], { timeoutMs: 60_000, ...(stdin ? { stdin } : {}) });
  assert.equal(result.code, 0, `${gw}: ${script}\n${result.stdout}${result.stderr}`);
  return result.stdout;
}

interface Neighbour {
  bgpState: string;
  connectionsEstablished: number;
}

async function neighbour(lab: Lab, gw: string, address: string): Promise<Neighbour | undefined> {
  const out = await sh(lab, gw, `vtysh -c 'show bgp neighbors ${address} json'`);
  return (JSON.parse(out) as Record<string, Neighbour>)[address];
}

async function bfdStatus(lab: Lab, gw: string, peer: string): Promise<string | undefined> {
  const peers = JSON.parse(await sh(lab, gw, `vtysh -c 'show bfd peers json'`)) as {
    peer: string;
    status: string;
  }[];
  return peers.find((p) => p.peer === peer)?.status;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The gateway's FRR daemon PIDs (watchfrr left out: a reload restarts it, by design). */
const DAEMON_PIDS = 'pidof zebra; pidof bgpd; pidof bfdd; pidof staticd';

describe('FRR on every release: eBGP + BFD between two lab gateways (root + systemd-nspawn)', function () {
  this.timeout(300_000);
  let lab: Lab | undefined;

  before(async function () {
    skipUnlessLabUsable(this, 'dist/test/e2e/frr-releases.test.js');
    this.timeout(600_000);
    await reapOrphans();
    lab = await Lab.up(spec);
    // a point-to-point link per pair, made inside the two gateway namespaces (gone with them at teardown)
    for (const { release } of PAIRS) {
      const [a, b] = [`${prefix(release)}a`, `${prefix(release)}b`].map((gw) => names.gateway(lab!.name, gw));
      const steps = [
        ['ip', '-n', a!, 'link', 'add', 'p2p0', 'type', 'veth', 'peer', 'name', 'p2p0', 'netns', b!],
        ['ip', '-n', a!, 'addr', 'add', '172.19.0.5/30', 'dev', 'p2p0'],
        ['ip', '-n', a!, 'addr', 'add', '172.19.0.9/30', 'dev', 'p2p0'],
        ['ip', '-n', b!, 'addr', 'add', '172.19.0.6/30', 'dev', 'p2p0'],
        ['ip', '-n', b!, 'addr', 'add', '172.19.0.10/30', 'dev', 'p2p0'],
        ['ip', '-n', a!, 'link', 'set', 'p2p0', 'up'],
        ['ip', '-n', b!, 'link', 'set', 'p2p0', 'up'],
      ];
      for (const argv of steps) {
        const result = await run(argv);
        assert.equal(result.code, 0, `${argv.join(' ')}: ${result.stderr}`);
      }
    }
  });

  after(async function () {
    this.timeout(120_000);
    await lab?.down();
  });

  it('ships FRR with frr.service disabled: nothing of FRR runs until it is enabled', async () => {
    await Promise.all(
      spec.gateways.map(async (gw) => {
        const out = await sh(
          lab!,
          gw.name,
          'systemctl is-system-running --wait >/dev/null; systemctl show -p UnitFileState -p ActiveState frr.service; ' +
            'pgrep -c -f "^/usr/lib/frr/" || true; /usr/lib/frr/bgpd --version | head -n 1; ' +
            'test -x /usr/lib/frr/frr-reload.py && echo reload-tool',
        );
        const [first, second, processes, version, tool] = out.trim().split('\n');
        assert.deepEqual([first, second].sort(), ['ActiveState=inactive', 'UnitFileState=disabled'], gw.name);
        assert.equal(processes, '0', `${gw.name}: FRR processes running`);
        const expected = PAIRS.find((p) => p.release === gw.release)!.version;
        assert.match(version ?? '', expected, gw.name);
        assert.equal(tool, 'reload-tool', `${gw.name}: frr-pythontools`);
      }),
    );
  });

  it('accepts the portable frr.conf on every version; the session comes up with BFD and installs proto bgp', async () => {
    await Promise.all(
      PAIRS.map(async ({ release }) => {
        const [a, b] = [`${prefix(release)}a`, `${prefix(release)}b`];
        for (const [gw, side] of [
          [a, 'a'],
          [b, 'b'],
        ] as const) {
          await sh(lab!, gw, 'cat > /etc/frr/daemons', fixture('portable-daemons'));
          await sh(lab!, gw, INSTALL_CONF, fixture(`portable-frr-${side}.conf`));
          await sh(lab!, gw, 'vtysh -C -f /etc/frr/frr.conf');
        }
        await Promise.all([a, b].map((gw) => sh(lab!, gw, 'systemctl enable --now frr 2>/dev/null')));
        await until(
          `${release}: session A-B Established with BFD up`,
          async () =>
            (await neighbour(lab!, a, '172.19.0.6'))?.bgpState === 'Established' &&
            (await bfdStatus(lab!, a, '172.19.0.6')) === 'up',
          30_000,
        );
        await until(
          `${release}: 10.2.0.0/24 installed as proto bgp on A`,
          async () =>
            /via 172\.19\.0\.6 dev p2p0 proto bgp/.test(await sh(lab!, a, 'ip route show 10.2.0.0/24')),
          10_000,
        );
        const running = await sh(lab!, a, "vtysh -c 'show running-config'");
        assert.match(running, /^ {2}network 10\.1\.1\.0\/24 route-map MESHCTL-BACKUP$/m, release);
      }),
    );
  });

  it('systemctl reload frr adds a session and a prefix-list entry; bgpd keeps its PID and the first session', async () => {
    await Promise.all(
      PAIRS.map(async ({ release }) => {
        const [a, b] = [`${prefix(release)}a`, `${prefix(release)}b`];
        const pidsBefore = await sh(lab!, a, DAEMON_PIDS);
        const before = await neighbour(lab!, a, '172.19.0.6');
        await sh(lab!, a, INSTALL_CONF, fixture('portable-frr-a-second-neighbour.conf'));
        await sh(lab!, b, INSTALL_CONF, fixture('portable-frr-b-second-neighbour.conf'));
        await sh(lab!, a, 'systemctl reload frr');
        await sh(lab!, b, 'systemctl reload frr');
        await until(
          `${release}: second session Established with BFD up`,
          async () =>
            (await neighbour(lab!, a, '172.19.0.10'))?.bgpState === 'Established' &&
            (await bfdStatus(lab!, a, '172.19.0.10')) === 'up',
          30_000,
        );
        // the new prefix-list entry admits B's second network
        await until(
          `${release}: 10.2.1.0/24 installed as proto bgp on A`,
          async () => /proto bgp/.test(await sh(lab!, a, 'ip route show 10.2.1.0/24')),
          20_000,
        );
        assert.equal(await sh(lab!, a, DAEMON_PIDS), pidsBefore, `${release}: FRR daemons restarted`);
        const after = await neighbour(lab!, a, '172.19.0.6');
        assert.equal(after?.bgpState, 'Established', release);
        assert.equal(
          after?.connectionsEstablished,
          before?.connectionsEstablished,
          `${release}: session reset`,
        );
      }),
    );
  });

  it('BFD takes the session down when the peer goes silent; the blackhole replaces the route, and it comes back', async () => {
    await Promise.all(
      PAIRS.map(async ({ release }) => {
        const a = `${prefix(release)}a`;
        // everything from B on the link: both sessions (172.19.0.6 and .10) go silent
        const drop = 'INPUT -i p2p0 -j DROP';
        await sh(lab!, a, `iptables -I ${drop}`);
        try {
          // 300 ms × 3: detection in about a second, well before the 9 s hold time
          await until(
            `${release}: BFD down`,
            async () => (await bfdStatus(lab!, a, '172.19.0.6')) === 'down',
            5_000,
          );
          await until(
            `${release}: blackhole 10.2.0.0/24`,
            async () => /^blackhole 10\.2\.0\.0\/24 proto static/m.test(await sh(lab!, a, 'ip route show')),
            5_000,
          );
          assert.notEqual((await neighbour(lab!, a, '172.19.0.6'))?.bgpState, 'Established', release);
        } finally {
          await sh(lab!, a, `iptables -D ${drop}`);
        }
        await until(
          `${release}: session back`,
          async () => / proto bgp /.test(await sh(lab!, a, 'ip route show 10.2.0.0/24')),
          30_000,
        );
      }),
    );
  });
});
