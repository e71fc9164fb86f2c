import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_TRANSIT } from '../../src/inventory/mesh-file.js';
import { pairIndex, pairTransit } from '../../src/mesh/allocate.js';
import { Lab, type LabSpec, reapOrphans } from '../lab/lab.js';
import { meshctl, parseJson, skipUnlessLabUsable, statusUntil, tunnelPids } from './helpers/gateways.js';
import { changingActions, type RunJson, statuses } from './helpers/results.js';

/**
 * SPEC §7 `routing: bgp` on real gateways (FRR's bgpd and bfdd in each): one lab, one story. A running static
 * mesh is switched to bgp by an apply (the longest LAN-pair outage measured); then a broken core↔core tunnel heals
 * through a third LAN and traffic comes back to the direct tunnel; a leaf homed on two cores survives its first
 * core's gateway going away, which comes back by itself after the reboot; a gateway announcing someone else's
 * prefix by hand is ignored by its neighbours while an allowed one is accepted; add-lan and remove-lan restart no
 * session and no tunnel; and back to static. One gateway starts without FRR: apply installs it from the lab's
 * local package folder.
 */

const ASN_BASE = 4200000000;
const PORT_BASE = 11000;

const SPEC: LabSpec = {
  name: 'bgp',
  portBase: PORT_BASE,
  gateways: [
    { name: 'ka', id: 1, subnets: ['10.81.0.0/24'], persistent: true },
    { name: 'kb', id: 2, subnets: ['10.82.0.0/24'] },
    { name: 'kc', id: 3, subnets: ['10.83.0.0/24'] },
    { name: 'kd', id: 4, subnets: ['10.84.0.0/24'], frr: false },
    { name: 'leaf', id: 5, subnets: ['10.85.0.0/24'] },
    { name: 'late', id: 6, subnets: ['10.86.0.0/24'] },
  ],
};

/** The LANs of the story: four cores and a leaf homed on ka and kb (late joins through add-lan). */
const CORES = ['ka', 'kb', 'kc', 'kd'];
const MESH = [...CORES, 'leaf'];

interface Session {
  state: string;
  pfxRcd: number;
  /** Sessions established since bgpd started: a reset makes it grow. */
  connectionsEstablished?: number;
}

describe('routing: bgp on the lab: FRR sessions, failover, filters (root + systemd-nspawn)', function () {
  this.timeout(900_000);
  let lab: Lab | undefined;
  const figures: string[] = [];
  /** mesh.yml as the lab wrote it (name, port_base, ssh settings). */
  let labMesh = '';

  function mesh(routing: 'static' | 'bgp'): void {
    writeFileSync(
      join(lab!.inventoryDir, 'mesh.yml'),
      `${labMesh}routing: ${routing}\n` +
        (routing === 'bgp'
          ? `bgp: { asn_base: ${ASN_BASE}, bfd: { interval_ms: 300, multiplier: 3 } }\n`
          : ''),
    );
  }

  /** Rewrites lans/ to exactly these LANs, one gateway each as the lab made them; the leaf via ka and kb. */
  function shape(lans: string[]): void {
    const dir = join(lab!.inventoryDir, 'lans');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    for (const name of lans) {
      const gw = lab!.gateway(name);
      const via = name === 'leaf' ? 'via: [ka, kb]\n' : '';
      writeFileSync(
        join(dir, `${name}.yml`),
        `id: ${gw.id}\nsubnets: [${gw.subnets.join(', ')}]\n${via}gateway:\n  endpoint: ${lab!.publicAddress(name)}\n`,
      );
    }
  }

  const asn = (name: string) => ASN_BASE + lab!.gateway(name).id;

  /** The transit address of `peer` on its tunnel with `local` (SPEC §2: the /30 of their pair). */
  function transitOf(local: string, peer: string): string {
    const [a, b] = [lab!.gateway(local).id, lab!.gateway(peer).id];
    const transit = pairTransit(DEFAULT_TRANSIT, pairIndex(a, b));
    return a < b ? transit.high : transit.low;
  }

  function device(a: string, b: string): string {
    return `mtun${pairIndex(lab!.gateway(a).id, lab!.gateway(b).id)}`;
  }

  async function sessions(gateway: string): Promise<Record<string, Session>> {
    const shown = await lab!.exec(gateway, ['vtysh', '-c', 'show bgp ipv4 unicast summary json']);
    assert.equal(shown.code, 0, `${gateway}: vtysh failed: ${shown.stderr}`);
    const data = JSON.parse(shown.stdout) as { peers?: Record<string, Session> };
    return data.peers ?? {};
  }

  async function pidOf(gateway: string, program: string): Promise<number> {
    const found = await lab!.exec(gateway, ['pidof', program]);
    assert.equal(found.code, 0, `${gateway}: ${program} is not running`);
    return Number(found.stdout.trim().split(/\s+/)[0]);
  }

  /** The kernel's route to `subnet` on `gateway`: its device and protocol. */
  async function route(
    gateway: string,
    subnet: string,
  ): Promise<{ dev: string; proto: string; line: string }> {
    const shown = await lab!.exec(gateway, ['ip', '-4', 'route', 'show', 'exact', subnet]);
    const line = shown.stdout.trim().split('\n')[0] ?? '';
    return {
      dev: /\bdev (\S+)/.exec(line)?.[1] ?? '',
      proto: /\bproto (\S+)/.exec(line)?.[1] ?? '',
      line,
    };
  }

  async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) assert.fail(`${what}: not within ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** Every session of `gateways` Established (their peers among `within`), each with something received. */
  async function allEstablished(gateways: string[], within: string[]): Promise<string[]> {
    const problems: string[] = [];
    for (const gw of gateways) {
      const table = await sessions(gw);
      const peers = within.filter((p) => p !== gw && tunnelled(gw, p, within));
      for (const peer of peers) {
        const s = table[transitOf(gw, peer)];
        if (s?.state !== 'Established' || s.pfxRcd < 1) {
          problems.push(`${gw} -> ${peer}: ${s ? `${s.state}, ${s.pfxRcd} received` : 'no session'}`);
        }
      }
      if (Object.keys(table).length !== peers.length) {
        problems.push(`${gw}: ${Object.keys(table).length} sessions, ${peers.length} expected`);
      }
    }
    return problems;
  }

  /** Is there a tunnel between a and b under the story's topology? */
  function tunnelled(a: string, b: string, within: string[]): boolean {
    if (!within.includes(a) || !within.includes(b)) return false;
    if (a === 'leaf') return ['ka', 'kb'].includes(b);
    if (b === 'leaf') return ['ka', 'kb'].includes(a);
    return true;
  }

  /** LAN-host pings between every pair of `lans`; the pairs without an answer. */
  async function unanswered(lans: string[]): Promise<string[]> {
    const failed: string[] = [];
    await Promise.all(
      lans.flatMap((a) =>
        lans
          .filter((b) => b !== a)
          .map(async (b) => {
            const ping = await lab!.execLan(a, [
              'ping',
              '-n',
              '-q',
              '-c',
              '3',
              '-i',
              '0.2',
              '-W',
              '1',
              lab!.lanHostAddress(b),
            ]);
            if (!/ [1-9]\d* received/.test(ping.stdout)) failed.push(`${a} -> ${b}`);
          }),
      ),
    );
    return failed.sort();
  }

  /**
   * Pings from `from`'s LAN host to `to`'s every 0.1 s while `action` runs; returns the longest run of missing
   * replies, in seconds (the outage).
   */
  async function outageDuring(
    from: string,
    to: string,
    seconds: number,
    action: () => Promise<void>,
  ): Promise<number> {
    const ping = lab!.execLan(
      from,
      ['ping', '-n', '-i', '0.1', '-W', '1', '-w', String(seconds), lab!.lanHostAddress(to)],
      0,
      { timeoutMs: (seconds + 10) * 1000 },
    );
    await new Promise((r) => setTimeout(r, 1000));
    await action();
    const result = await ping;
    return longestGap(result.stdout, seconds);
  }

  /** The longest run of icmp_seq numbers without a reply (at 0.1 s each), in seconds. */
  function longestGap(stdout: string, seconds: number): number {
    const seen = [...stdout.matchAll(/icmp_seq=(\d+)/g)].map((m) => Number(m[1]));
    assert.ok(seen.length > 0, `no reply at all:\n${stdout}`);
    const sent = Number(/(\d+) packets transmitted/.exec(stdout)?.[1] ?? seconds * 10);
    const got = new Set(seen);
    let longest = 0;
    let run = 0;
    for (let seq = 1; seq <= sent; seq++) {
      run = got.has(seq) ? 0 : run + 1;
      longest = Math.max(longest, run);
    }
    return longest / 10;
  }

  /** Pings every ordered pair of `lans` every 0.1 s while `action` runs; the longest outage of any pair. */
  async function longestPairOutage(
    lans: string[],
    seconds: number,
    action: () => Promise<void>,
  ): Promise<{ pair: string; seconds: number }> {
    const pairs = lans.flatMap((a) => lans.filter((b) => b !== a).map((b) => [a, b] as const));
    const pings = pairs.map(([a, b]) =>
      lab!.execLan(
        a,
        ['ping', '-n', '-i', '0.1', '-W', '1', '-w', String(seconds), lab!.lanHostAddress(b)],
        0,
        {
          timeoutMs: (seconds + 10) * 1000,
        },
      ),
    );
    await new Promise((r) => setTimeout(r, 1000));
    await action();
    const results = await Promise.all(pings);
    let worst = { pair: '', seconds: -1 };
    results.forEach((result, i) => {
      const gap = longestGap(result.stdout, seconds);
      if (gap > worst.seconds) worst = { pair: `${pairs[i]![0]} -> ${pairs[i]![1]}`, seconds: gap };
    });
    return worst;
  }

  before(async function () {
    skipUnlessLabUsable(this, 'dist/test/e2e/bgp.test.js');
    await reapOrphans();
    lab = await Lab.up(SPEC);
    labMesh = readFileSync(join(lab.inventoryDir, 'mesh.yml'), 'utf8');
  });

  after(async () => {
    if (figures.length > 0) console.log(`      bgp figures: ${figures.join('; ')}`);
    // MESHCTL_LAB_KEEP=1 leaves the lab up for a look (`npm run lab -- down bgp` removes it)
    if (process.env.MESHCTL_LAB_KEEP === '1') lab?.keep();
    else await lab?.down();
  });

  it('a running static mesh switched to bgp by one apply: FRR installed where missing, every session Established with BFD, routes from BGP', async () => {
    mesh('static');
    shape(MESH);
    await meshctl(lab!, ['apply', '--accept-new'], 0);
    assert.deepEqual(await unanswered(MESH), []);

    mesh('bgp');
    const planned = parseJson<RunJson>(await meshctl(lab!, ['diff', '--json'], 2));
    const installs = changingActions(planned).filter((a) => a.includes('install-package'));
    assert.deepEqual(installs, ['kd install-package frr'], 'FRR installed only where it was missing');
    const frrStarts = changingActions(planned).filter((a) => / (re)?start-unit frr\.service$/.test(a));
    assert.equal(frrStarts.length, MESH.length, `FRR (re)started on every gateway: ${frrStarts.join(', ')}`);
    let applied: RunJson | undefined;
    const worst = await longestPairOutage(MESH, 40, async () => {
      applied = parseJson<RunJson>(await meshctl(lab!, ['apply', '--json'], 0));
    });
    figures.push(
      `static -> bgp switch: longest LAN-pair outage ${worst.seconds.toFixed(1)} s (${worst.pair})`,
    );
    assert.deepEqual(
      Object.values(statuses(applied!)),
      MESH.map(() => 'changed'),
    );

    assert.deepEqual(await allEstablished(MESH, MESH), []);
    for (const gw of MESH) {
      const bfd = await lab!.exec(gw, ['vtysh', '-c', 'show bfd peers json']);
      const peers = JSON.parse(bfd.stdout) as { peer: string; status: string }[];
      const expected = MESH.filter((p) => p !== gw && tunnelled(gw, p, MESH)).length;
      assert.equal(
        peers.filter((p) => p.status === 'up').length,
        expected,
        `${gw}: BFD up with every neighbour`,
      );
      for (const other of MESH.filter((p) => p !== gw)) {
        const r = await route(gw, lab!.gateway(other).subnets[0]!);
        assert.equal(r.proto, 'bgp', `${gw}: the route to ${other} comes from BGP: ${r.line}`);
      }
      // no `route` lines left in the tunnel configs, no routes.sh
      const routes = await lab!.exec(gw, [
        'sh',
        '-c',
        'grep -l "^route " /etc/openvpn/server/mesh-*.conf; true',
      ]);
      assert.equal(routes.stdout.trim(), '', `${gw}: tunnel configs carry no route`);
    }
    assert.deepEqual(await unanswered(MESH), []);
    // the leaf is nobody's transit: it announces only its own subnet
    const fromLeaf = await sessions('ka');
    assert.equal(fromLeaf[transitOf('ka', 'leaf')]?.pfxRcd, 1, 'ka receives one prefix from the leaf');
  });

  it('a second apply changes nothing and restarts neither bgpd nor a tunnel', async () => {
    const bgpd = new Map(await Promise.all(MESH.map(async (g) => [g, await pidOf(g, 'bgpd')] as const)));
    const pids = await tunnelPids(lab!, ['late']);
    await meshctl(lab!, ['diff'], 0);
    const again = parseJson<RunJson>(await meshctl(lab!, ['apply', '--json'], 0));
    assert.deepEqual(
      Object.values(statuses(again)),
      MESH.map(() => 'unchanged'),
    );
    for (const g of MESH) assert.equal(await pidOf(g, 'bgpd'), bgpd.get(g), `${g}: bgpd kept its PID`);
    assert.deepEqual(await tunnelPids(lab!, ['late']), pids);
  });

  it('status with bgp: every session Established at both ends with prefixes, every LAN pair up, the leaf reached through a core', async () => {
    const status = await statusUntil(lab!, 0, 30_000);
    assert.equal(status.health, 'healthy');
    for (const t of status.tunnels) {
      for (const end of t.ends) {
        assert.equal(
          end.bgp?.state,
          'Established',
          `${end.gateway} on ${t.low}-${t.high}: ${JSON.stringify(end)}`,
        );
        assert.ok((end.bgp?.prefixesReceived ?? 0) > 0, `${end.gateway} received prefixes from its peer`);
      }
    }
    const leafPairs = status.lanPairs.filter((p) => p.a === 'leaf' || p.b === 'leaf');
    assert.equal(leafPairs.length, 4, 'the leaf is probed from every core');
    for (const pair of leafPairs) {
      assert.equal(pair.state, 'up');
      for (const probe of pair.probes) {
        const core = probe.from === 'leaf' ? probe.to : probe.from;
        const homed = core === 'ka' || core === 'kb';
        assert.ok(probe.path, `a path: ${JSON.stringify(probe)}`);
        if (homed) assert.equal(probe.path.length, 1, `${probe.from} -> ${probe.to}: direct`);
        else {
          assert.equal(probe.path.length, 2, `${probe.from} -> ${probe.to} crosses a core: ${probe.path}`);
          assert.ok(['ka', 'kb'].includes(probe.path[0] === 'leaf' ? probe.path[1]! : probe.path[0]!));
        }
      }
    }
  });

  it('a core-to-core tunnel cut at one end heals through a third LAN within 5 s; traffic returns to it once it is back', async () => {
    const direct = device('ka', 'kb');
    assert.equal((await route('ka', '10.82.0.0/24')).dev, direct, 'ka reaches kb directly');
    const port = String(PORT_BASE + pairIndex(1, 2));
    // drop kb's packets for this tunnel at ka (the link stays up: only BFD can tell)
    const cut = ['iptables', '-w', '-I', 'INPUT', '1', '-p', 'udp', '--dport', port, '-j', 'DROP'];
    const outage = await outageDuring('ka', 'kb', 12, async () => {
      const r = await lab!.exec('ka', cut);
      assert.equal(r.code, 0, r.stderr);
    });
    figures.push(`core tunnel cut: outage ${outage.toFixed(1)} s`);
    assert.ok(outage <= 5, `the ka <-> kb pair was cut off for ${outage} s (promise: 5 s)`);
    const detour = await route('ka', '10.82.0.0/24');
    assert.notEqual(detour.dev, direct, `ka now reaches kb through a third LAN: ${detour.line}`);
    assert.deepEqual(await unanswered(['ka', 'kb']), []);

    const heal = await lab!.exec(
      'ka',
      cut.map((w) => (w === '-I' ? '-D' : w)).filter((w) => w !== '1'),
    );
    assert.equal(heal.code, 0, heal.stderr);
    await waitFor('traffic back on the direct tunnel', 60_000, async () => {
      return (
        (await route('ka', '10.82.0.0/24')).dev === direct &&
        (await route('kb', '10.81.0.0/24')).dev === direct
      );
    });
    assert.deepEqual(await unanswered(['ka', 'kb']), []);
  });

  it('a leaf homed on two cores stays reachable within 5 s when its first core stops; that core comes back alone after the reboot', async () => {
    // kc reaches the leaf through ka (the lower id wins the tie, as in static routing)
    assert.equal((await route('kc', '10.85.0.0/24')).dev, device('kc', 'ka'));
    const outage = await outageDuring('kc', 'leaf', 12, () => lab!.stop('ka'));
    figures.push(`leaf's first core stopped: outage ${outage.toFixed(1)} s`);
    assert.ok(outage <= 5, `kc lost the leaf for ${outage} s (promise: 5 s)`);
    assert.equal((await route('kc', '10.85.0.0/24')).dev, device('kc', 'kb'), 'now through kb');
    assert.deepEqual(await unanswered(['kb', 'kc', 'kd', 'leaf']), []);

    // the reboot: no meshctl run; tunnels, firewall and FRR come back by themselves
    await lab!.start('ka');
    await waitFor('ka: every session Established again', 90_000, async () => {
      return (await allEstablished(['ka'], MESH)).length === 0;
    });
    assert.deepEqual(await unanswered(MESH), []);
  });

  it("a gateway announcing another LAN's prefix or a more-specific by hand: its neighbours install neither; an allowed announcement is accepted", async () => {
    const vtysh = (gw: string, ...commands: string[]) =>
      lab!.exec(gw, [
        'vtysh',
        '-c',
        'configure terminal',
        '-c',
        `router bgp ${asn(gw)}`,
        '-c',
        'address-family ipv4 unicast',
        ...commands.flatMap((c) => ['-c', c]),
      ]);
    // kc swaps its own outbound filter for one that lets everything out (so only its neighbours' filters stand in
    // the way), then claims ka's LAN, a more-specific of kb's and a default route
    const open = await lab!.exec('kc', [
      'vtysh',
      '-c',
      'configure terminal',
      '-c',
      'route-map HIJACK permit 10',
    ]);
    assert.equal(open.code, 0, open.stderr);
    const unfiltered = ['ka', 'kb', 'kd'].map((n) => `neighbor ${transitOf('kc', n)} route-map HIJACK out`);
    const hijack = await vtysh(
      'kc',
      ...unfiltered,
      'network 10.81.0.0/24',
      'network 10.82.0.128/25',
      'network 0.0.0.0/0',
    );
    assert.equal(hijack.code, 0, hijack.stderr);
    await new Promise((r) => setTimeout(r, 6000));
    const sent = await lab!.exec('kc', [
      'vtysh',
      '-c',
      `show bgp ipv4 unicast neighbors ${transitOf('kc', 'kd')} advertised-routes json`,
    ]);
    assert.match(sent.stdout, /10\.82\.0\.128\/25/, 'kc really sends the more-specific to kd');
    for (const gw of ['ka', 'kb', 'kd', 'leaf']) {
      assert.equal((await route(gw, '10.82.0.128/25')).line, '', `${gw} installed no more-specific`);
      assert.ok(
        !(await route(gw, '0.0.0.0/0')).line.includes('proto bgp'),
        `${gw} installed no default route`,
      );
      const table = await lab!.exec(gw, ['vtysh', '-c', 'show bgp ipv4 unicast 10.81.0.0/24 json']);
      const paths =
        (JSON.parse(table.stdout || '{}') as { paths?: { aspath?: { string?: string } }[] }).paths ?? [];
      for (const p of paths) {
        assert.ok(
          !`${p.aspath?.string ?? ''}`.endsWith(String(asn('kc'))),
          `${gw} holds no path originated by kc for ka's LAN`,
        );
      }
    }
    assert.notEqual(
      (await route('kd', '10.81.0.0/24')).dev,
      device('kd', 'kc'),
      "kd's route to ka does not go to kc",
    );
    // everyone but the hijacker still reaches everyone (kc itself now prefers its own claim to ka's LAN)
    assert.deepEqual(await unanswered(MESH.filter((g) => g !== 'kc')), []);

    // the control: kc withdraws its own LAN by hand (kd loses it), then announces it again (kd accepts it)
    assert.equal((await vtysh('kc', 'no network 10.83.0.0/24')).code, 0);
    await waitFor(
      'kd drops the route to kc',
      15_000,
      async () => (await route('kd', '10.83.0.0/24')).proto !== 'bgp',
    );
    assert.equal((await vtysh('kc', 'network 10.83.0.0/24')).code, 0);
    await waitFor('kd accepts kc announcing its own LAN', 15_000, async () => {
      const r = await route('kd', '10.83.0.0/24');
      return r.proto === 'bgp' && r.dev === device('kd', 'kc');
    });
    // FRR back to meshctl's configuration, in place
    assert.equal((await lab!.exec('kc', ['systemctl', 'reload', 'frr'])).code, 0);
    await waitFor(
      "kc back on meshctl's configuration: it reaches ka's LAN over their tunnel again",
      20_000,
      async () => (await route('kc', '10.81.0.0/24')).dev === device('kc', 'ka'),
    );
    assert.deepEqual(await unanswered(MESH), []);
  });

  it('add-lan and remove-lan in a bgp mesh: no existing session or tunnel restarts', async () => {
    const before = await tunnelPids(lab!, ['late']);
    const bgpd = new Map(await Promise.all(MESH.map(async (g) => [g, await pidOf(g, 'bgpd')] as const)));
    const epochs = new Map<string, number | undefined>();
    for (const g of MESH) {
      for (const [peer, s] of Object.entries(await sessions(g)))
        epochs.set(`${g}/${peer}`, s.connectionsEstablished);
    }

    await meshctl(
      lab!,
      ['add-lan', 'late', '--id', '6', '--subnet', '10.86.0.0/24', '--endpoint', lab!.publicAddress('late')],
      0,
    );
    const grown = [...MESH, 'late'];
    assert.deepEqual(await allEstablished(grown, grown), []);
    assert.deepEqual(await unanswered(grown), []);
    const check = async (when: string) => {
      const after = await tunnelPids(lab!, ['late']);
      // every tunnel that ran before (a tunnel to late did not exist yet)
      for (const [unit, pid] of before) {
        if (pid !== 0) assert.equal(after.get(unit), pid, `${when}: ${unit} kept its MainPID`);
      }
      assert.ok([...before.values()].filter((pid) => pid !== 0).length >= 10, 'the tunnels were running');
      for (const g of MESH)
        assert.equal(await pidOf(g, 'bgpd'), bgpd.get(g), `${when}: ${g}'s bgpd kept its PID`);
      for (const g of MESH) {
        const table = await sessions(g);
        for (const [key, epoch] of epochs) {
          const [gw, peer] = key.split('/');
          if (gw !== g) continue;
          assert.ok(epoch !== undefined, `${key}: FRR reports connectionsEstablished`);
          assert.equal(table[peer!]?.state, 'Established', `${when}: ${key} still Established`);
          assert.equal(table[peer!]?.connectionsEstablished, epoch, `${when}: ${key} was not reset`);
        }
      }
    };
    await check('add-lan');

    await meshctl(lab!, ['remove-lan', 'late'], 0);
    assert.deepEqual(await allEstablished(MESH, MESH), []);
    assert.deepEqual(await unanswered(MESH), []);
    await check('remove-lan');
  });

  it('back to static by one apply: routes from the tunnel configs and routes.sh again, FRR stopped', async () => {
    mesh('static');
    const worst = await longestPairOutage(MESH, 40, async () => {
      await meshctl(lab!, ['apply'], 0);
    });
    figures.push(
      `bgp -> static switch: longest LAN-pair outage ${worst.seconds.toFixed(1)} s (${worst.pair})`,
    );
    for (const gw of MESH) {
      const active = await lab!.exec(gw, ['systemctl', 'is-active', 'frr.service']);
      assert.notEqual(active.stdout.trim(), 'active', `${gw}: FRR stopped`);
    }
    assert.deepEqual(await unanswered(MESH), []);
  });
});
