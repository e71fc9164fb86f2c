import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, type LabSpec, reapOrphans } from '../lab/lab.js';
import { meshctl, skipUnlessLabUsable, statusUntil, tunnelPids, tunnelUnit } from './helpers/gateways.js';

/**
 * SPEC §7 topologies on real gateways, one lab re-shaped from test to test (each step an ordinary `meshctl apply`
 * of the changed inventory): a full mesh LAN turned into a leaf, hub-and-spoke (traffic really crosses the hub,
 * a spoke cannot spoof another LAN through it), full mesh + leaf, and a LAN served by one gateway per AZ that
 * keeps the other AZ reachable when one gateway stops.
 */

const SPEC: LabSpec = {
  name: 'topo',
  gateways: [
    { name: 'hub', id: 1, subnets: ['10.71.0.0/24'] },
    { name: 'sa', id: 2, subnets: ['10.72.0.0/24'], persistent: true },
    { name: 'sb', id: 3, subnets: ['10.73.0.0/24'] },
    { name: 'sc', id: 4, subnets: ['10.74.0.0/24'] },
    { name: 'eua', id: 5, subnets: ['10.75.0.0/25'] },
    { name: 'eub', id: 6, subnets: ['10.75.0.128/25'] },
  ],
};

interface LanFile {
  name: string;
  via?: string[];
}

describe('topologies on the lab: leaves, hubs, one gateway per AZ (root + systemd-nspawn)', function () {
  this.timeout(600_000);
  let lab: Lab | undefined;

  /** Rewrites lans/ to exactly these LANs (one gateway each, as the lab made them), plus any extra files. */
  function shape(lans: LanFile[], extra: Record<string, string> = {}): void {
    const dir = join(lab!.inventoryDir, 'lans');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    for (const lan of lans) {
      const gw = lab!.gateway(lan.name);
      const via = lan.via ? `via: [${lan.via.join(', ')}]\n` : '';
      writeFileSync(
        join(dir, `${lan.name}.yml`),
        `id: ${gw.id}\nsubnets: [${gw.subnets.join(', ')}]\n${via}gateway:\n  endpoint: ${lab!.publicAddress(lan.name)}\n`,
        { flag: 'w' },
      );
    }
    for (const [name, text] of Object.entries(extra)) writeFileSync(join(dir, `${name}.yml`), text);
  }

  /** Pings from the LAN host behind `from` to the one behind `to`; returns the TTL of the reply, or null. */
  async function replyTtl(from: string, to: string, subnet = 0): Promise<number | null> {
    const target = lab!.lanHostAddress(to, subnet);
    for (let attempt = 0; attempt < 20; attempt++) {
      const result = await lab!.execLan(from, ['ping', '-n', '-c', '1', '-W', '1', target]);
      const ttl = /ttl=(\d+)/.exec(result.stdout)?.[1];
      if (ttl) return Number(ttl);
      await new Promise((r) => setTimeout(r, 250));
    }
    return null;
  }

  /** Every pair of LAN hosts of different LANs answers (`lans`: LAN → the lab gateways whose hosts it holds). */
  async function everyHostReachesEveryHost(lans: Record<string, string[]>): Promise<string[]> {
    const failed: string[] = [];
    const entries = Object.entries(lans);
    await Promise.all(
      entries.flatMap(([lanA, gatewaysA]) =>
        entries
          .filter(([lanB]) => lanB !== lanA)
          .flatMap(([, gatewaysB]) =>
            gatewaysA.flatMap((a) =>
              gatewaysB.map(async (b) => {
                if ((await replyTtl(a, b)) === null) failed.push(`${a} -> ${b}`);
              }),
            ),
          ),
      ),
    );
    return failed.sort();
  }

  async function unitsOf(gateway: string): Promise<string[]> {
    const listed = await lab!.exec(gateway, [
      'systemctl',
      'list-units',
      '--plain',
      '--no-legend',
      '--state=active',
      'openvpn-server@mesh-*',
    ]);
    return listed.stdout
      .split('\n')
      .map((line) => line.split(' ')[0]!)
      .filter(Boolean)
      .sort();
  }

  before(async function () {
    skipUnlessLabUsable(this, 'dist/test/e2e/topologies.test.js');
    await reapOrphans();
    lab = await Lab.up(SPEC);
  });

  after(async () => {
    await lab?.down();
  });

  it('a full mesh LAN turned into a leaf: only its now-unwanted tunnel goes, no other tunnel restarts', async () => {
    shape([{ name: 'hub' }, { name: 'sa' }, { name: 'sb' }]);
    await meshctl(lab!, ['apply', '--accept-new'], 0);
    assert.deepEqual(await everyHostReachesEveryHost({ hub: ['hub'], sa: ['sa'], sb: ['sb'] }), []);
    const all = ['hub', 'sa', 'sb', 'sc', 'eua', 'eub'];
    const skip = all.filter((g) => !['hub', 'sa', 'sb'].includes(g));
    const before = await tunnelPids(lab!, skip);

    shape([{ name: 'hub' }, { name: 'sa' }, { name: 'sb', via: ['hub'] }]);
    await meshctl(lab!, ['apply'], 0);
    const after = await tunnelPids(lab!, skip);
    for (const [key, pid] of before) {
      if (pid === 0) continue;
      if (key === `sa/${tunnelUnit('sb')}` || key === `sb/${tunnelUnit('sa')}`) {
        assert.equal(after.get(key), 0, `${key} is gone`);
      } else assert.equal(after.get(key), pid, `${key} kept running (PID ${pid})`);
    }
    assert.deepEqual(await unitsOf('sb'), [tunnelUnit('hub')]);
    // sa and sb still reach each other, now through the hub: one more hop each way
    assert.equal(await replyTtl('sa', 'sb'), 61, 'host → sa → hub → sb → host: the reply lost three hops');
    await meshctl(lab!, ['diff'], 0);
  });

  it('hub-and-spoke: every spoke reaches every spoke through the hub, and no spoke↔spoke tunnel exists', async () => {
    shape([
      { name: 'hub' },
      { name: 'sa', via: ['hub'] },
      { name: 'sb', via: ['hub'] },
      { name: 'sc', via: ['hub'] },
    ]);
    await meshctl(lab!, ['apply', '--accept-new'], 0);
    for (const spoke of ['sa', 'sb', 'sc'])
      assert.deepEqual(await unitsOf(spoke), [tunnelUnit('hub')], spoke);
    assert.deepEqual(
      await everyHostReachesEveryHost({ hub: ['hub'], sa: ['sa'], sb: ['sb'], sc: ['sc'] }),
      [],
    );
    for (const [a, b] of [
      ['sa', 'sb'],
      ['sb', 'sc'],
      ['sc', 'sa'],
    ] as const) {
      assert.equal(await replyTtl(a, b), 61, `${a} → ${b} crosses the hub (TTL 64 − 3 gateways)`);
    }
    assert.equal(await replyTtl('sa', 'hub'), 62, 'a spoke to the hub: two gateways');
    // the hub's forwarding counters saw the spoke-to-spoke traffic
    const counters = await lab!.exec('hub', ['iptables', '-w', '-L', 'MESHCTL-FORWARD', '-v', '-x', '-n']);
    // transit rules: in on a spoke's tunnel, any source (already checked), to another spoke's LAN
    const transit = counters.stdout
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter(
        (c) =>
          c[2] === 'ACCEPT' &&
          c[5]?.startsWith('mtun') &&
          c[7] === '0.0.0.0/0' &&
          /^10\.7[234]\./.test(c[8] ?? ''),
      );
    assert.equal(transit.length, 6, `one transit rule per spoke and other spoke:\n${counters.stdout}`);
    assert.ok(
      transit.every((c) => Number(c[0]) > 0),
      `every transit rule on the hub counted packets:\n${counters.stdout}`,
    );
    await meshctl(lab!, ['diff'], 0);
    // status: three tunnels, every LAN pair probed, a spoke's probe to another spoke crossing the hub
    const status = await statusUntil(lab!, 0, 30_000);
    assert.deepEqual(status.tunnels.map((t) => `${t.low}-${t.high} ${t.state}`).sort(), [
      'hub-sa up',
      'hub-sb up',
      'hub-sc up',
    ]);
    assert.equal(status.lanPairs.length, 6);
    for (const pair of status.lanPairs) {
      assert.equal(pair.state, 'up', JSON.stringify(pair));
      for (const probe of pair.probes) {
        const expected = probe.from === 'hub' || probe.to === 'hub' ? [probe.to] : ['hub', probe.to];
        assert.deepEqual(probe.path, expected, `${probe.from} -> ${probe.to}`);
      }
    }
  });

  it('across the hub a spoke cannot spoof another LAN; the same packet with its own source arrives', async () => {
    // on spoke sa: an address of spoke sb's LAN, used as the source of a ping to sc's LAN host
    const spoofed = '10.73.0.99';
    const own = lab!.gatewayLanAddress('sa');
    const target = lab!.lanHostAddress('sc');
    assert.equal((await lab!.exec('sa', ['ip', 'addr', 'add', `${spoofed}/32`, 'dev', 'lo'])).code, 0);
    const dropped = async () => {
      const chain = await lab!.exec('hub', ['iptables', '-w', '-L', 'MESHCTL-SRC-mtun1', '-v', '-x', '-n']);
      const drop = chain.stdout.split('\n').find((l) => /\bDROP\b/.test(l));
      return Number(drop?.trim().split(/\s+/)[0] ?? Number.NaN);
    };
    const before = await dropped();
    const spoof = await lab!.exec('sa', [
      'ping',
      '-n',
      '-c',
      '3',
      '-i',
      '0.2',
      '-W',
      '1',
      '-I',
      spoofed,
      target,
    ]);
    assert.notEqual(spoof.code, 0, 'no answer to a spoofed source');
    assert.ok((await dropped()) >= before + 3, "the hub's source check on sa's tunnel dropped them");
    const control = await lab!.exec('sa', [
      'ping',
      '-n',
      '-c',
      '3',
      '-i',
      '0.2',
      '-W',
      '1',
      '-I',
      own,
      target,
    ]);
    assert.equal(control.code, 0, `the same ping from sa's own LAN address arrives:\n${control.stdout}`);
    await lab!.exec('sa', ['ip', 'addr', 'del', `${spoofed}/32`, 'dev', 'lo']);
  });

  it('a rebooted spoke gets its routes through the hub back with no meshctl run', async () => {
    await lab!.restart('sa');
    // the tunnel unit re-applies the routes once its device is up (ExecStartPost of meshctl's drop-in)
    assert.equal(await replyTtl('sa', 'sb'), 61, 'sa reaches sb through the hub again');
    const routes = await lab!.exec('sa', ['ip', '-4', 'route', 'show', 'proto', '199']);
    assert.match(routes.stdout, /^10\.73\.0\.0\/24 via 172\.19\.0\.5 dev mtun1/m);
    assert.match(routes.stdout, /^10\.74\.0\.0\/24 via 172\.19\.0\.5 dev mtun1/m);
    await meshctl(lab!, ['diff'], 0);
  });

  it('full mesh + leaf: two cores, a leaf via one and a leaf via both: the full LAN matrix answers', async () => {
    shape([
      { name: 'hub' },
      { name: 'sa' },
      { name: 'sb', via: ['hub'] },
      { name: 'sc', via: ['sa', 'hub'] },
    ]);
    await meshctl(lab!, ['apply'], 0);
    assert.deepEqual(await unitsOf('sc'), [tunnelUnit('hub'), tunnelUnit('sa')].sort());
    assert.deepEqual(
      await everyHostReachesEveryHost({ hub: ['hub'], sa: ['sa'], sb: ['sb'], sc: ['sc'] }),
      [],
    );
    await meshctl(lab!, ['diff'], 0);
  });

  it('a LAN with one gateway per AZ: every host reaches every host; with one gateway stopped, the other AZ still does', async () => {
    const eu = `subnets: [10.75.0.0/24]
gateways:
  - { name: eua, id: 5, endpoint: ${lab!.publicAddress('eua')}, subnets: [10.75.0.0/25] }
  - { name: eub, id: 6, endpoint: ${lab!.publicAddress('eub')}, subnets: [10.75.0.128/25] }
`;
    shape([{ name: 'hub' }, { name: 'sa' }], { eu });
    await meshctl(lab!, ['apply', '--accept-new'], 0);
    assert.deepEqual(await unitsOf('eua'), [tunnelUnit('hub'), tunnelUnit('sa')].sort());
    assert.deepEqual(await unitsOf('eub'), [tunnelUnit('hub'), tunnelUnit('sa')].sort());
    const lans = { hub: ['hub'], sa: ['sa'], eu: ['eua', 'eub'] };
    assert.deepEqual(await everyHostReachesEveryHost(lans), []);
    await meshctl(lab!, ['diff'], 0);
    // status: the eu LAN's row merges both of its gateways; every gateway of a LAN probes every gateway of the other
    const status = await statusUntil(lab!, 0, 30_000);
    assert.equal(status.tunnels.length, 5);
    const toEu = status.lanPairs.filter((p) => p.a === 'eu' || p.b === 'eu');
    assert.equal(toEu.length, 2);
    for (const pair of toEu) {
      assert.equal(pair.state, 'up');
      const other = pair.a === 'eu' ? pair.b : pair.a;
      // every gateway of the lower-id LAN probes every gateway of the other: both AZ gateways, once each
      assert.deepEqual(
        pair.probes.map((p) => [p.from, p.to].sort().join('-')).sort(),
        ['eua', 'eub'].map((g) => [g, other].sort().join('-')).sort(),
        JSON.stringify(pair),
      );
    }

    await lab!.stop('eua');
    const gone = await lab!.execLan('hub', ['ping', '-n', '-c', '2', '-W', '1', lab!.lanHostAddress('eua')]);
    assert.notEqual(gone.code, 0, "eua's AZ is really cut off while its gateway is stopped");
    for (const from of ['hub', 'sa']) {
      assert.notEqual(await replyTtl(from, 'eub'), null, `${from} still reaches the AZ of eub`);
    }
    await lab!.start('eua');
  });
});
