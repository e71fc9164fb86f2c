import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { allocateMesh } from '../../../src/mesh/allocate.js';
import { cloudFindings, gatewayCloud } from '../../../src/operator/cloud.js';
import { operatorInstructions } from '../../../src/operator/instructions.js';
import {
  formatLan,
  formatRoutes,
  nsgPriority,
  ROUTE_FORMATS,
  shellWord,
} from '../../../src/operator/routes.js';
import type { Lan } from '../../../src/types.js';
import { buildInventory, buildLan } from '../../helpers/inventory.js';
import { goldenPath, operatorFixtureMesh } from './fixture.js';

/**
 * `meshctl routes` (SPEC §9): one golden file per format from the fixed inventory (a leaf, a LAN with one gateway
 * per AZ, cloud ids of three providers, a LAN without any), then the properties the goldens rely on.
 * After an intended change, regenerate with UPDATE_GOLDEN=1 and review the diff.
 */

describe('routes: golden output per format', () => {
  const mesh = operatorFixtureMesh();
  const lans = operatorInstructions(mesh);
  for (const format of ROUTE_FORMATS) {
    it(`--format ${format} matches test/fixtures/routes/${format}.txt`, () => {
      const file = goldenPath('routes', `${format}.txt`);
      const text = formatRoutes(mesh.name, lans, format);
      if (process.env.UPDATE_GOLDEN) writeFileSync(file, text);
      assert.equal(text, readFileSync(file, 'utf8'), `${file} differs (UPDATE_GOLDEN=1 regenerates it)`);
    });
  }
});

describe('routes: what each LAN needs, from the topology', () => {
  const mesh = operatorFixtureMesh();
  const lans = operatorInstructions(mesh);
  const lan = (name: string) => lans.find((l) => l.lan.name === name)!;

  it('every LAN routes every remote subnet, from each of its own subnets, via the gateway owning that subnet', () => {
    for (const { lan: l, gateways } of lans) {
      const remote = mesh.inventory.lans.filter((o) => o.name !== l.name).flatMap((o) => o.subnets);
      for (const g of gateways) {
        for (const subnet of g.gateway.subnets) {
          assert.deepEqual(
            g.routes
              .filter((r) => r.subnet === subnet)
              .map((r) => r.destination)
              .sort(),
            [...remote].sort(),
            `${g.gateway.name} ${subnet}`,
          );
        }
      }
    }
  });

  it('a LAN with one gateway per AZ: each part points at its own gateway, in its own route table', () => {
    const aws = formatLan(lan('eu'), 'aws').filter((l) => l.startsWith('aws ec2 create-route'));
    assert.equal(aws.length, 8, '4 remote subnets × 2 parts');
    for (const line of aws) {
      assert.ok(
        (line.includes('rtb-0aaaaaaaa') && line.includes('i-0aaaaaaaa')) ||
          (line.includes('rtb-0bbbbbbbb') && line.includes('i-0bbbbbbbb')),
        line,
      );
    }
    const linux = formatLan(lan('eu'), 'linux');
    assert.ok(
      linux.includes('ip route add 10.1.0.0/16 via 10.5.0.10'),
      'eu-a: its ssh_host lies in its subnet',
    );
    assert.ok(
      linux.includes("ip route add 10.1.0.0/16 via '<address of eu-b in 10.5.16.0/20>'"),
      'eu-b: its address there is not known',
    );
  });

  it('a leaf routes everything via its own gateway; the text says which go through the hub', () => {
    const shop = lan('shop').gateways[0]!;
    assert.ok(shop.routes.every((r) => r.nextHop === '192.168.10.2'));
    assert.deepEqual(
      shop.routes.filter((r) => r.hops > 1).map((r) => [r.destination, r.through]),
      [
        ['10.5.0.0/20', 'hq'],
        ['10.5.16.0/20', 'hq'],
        ['10.20.0.0/16', 'hq'],
        ['192.168.50.0/24', 'hq'],
      ],
    );
    assert.ok(
      formatLan(lan('shop'), 'text').some((l) =>
        /10\.20\.0\.0\/16 via 192\.168\.10\.2 +dc, through hq \(2 hops\)/.test(l),
      ),
    );
  });

  it('one inbound UDP rule per tunnel end: the pair port, from the peer endpoint', () => {
    const rules = lans.flatMap((l) =>
      l.gateways.flatMap((g) => g.inbound.map((i) => ({ at: g.gateway, ...i }))),
    );
    assert.equal(rules.length, 2 * mesh.pairs.length);
    for (const pair of mesh.pairs) {
      for (const [at, peer] of [
        [pair.low, pair.high],
        [pair.high, pair.low],
      ] as const) {
        const found = rules.filter((r) => r.at.name === at.name && r.pair === pair.index);
        assert.deepEqual(
          found.map((r) => [r.port, r.from, r.peer]),
          [[pair.port, peer.endpoint, peer.name]],
        );
      }
    }
    assert.ok(
      !rules.some((r) => r.at.name === 'shop' && r.peer !== 'hq'),
      'a leaf has tunnels to its via LANs only',
    );
  });

  it('forwarding per provider: source/dest check, can_ip_forward, NIC IP forwarding', () => {
    assert.ok(
      formatLan(lan('eu'), 'aws').includes(
        'aws ec2 modify-instance-attribute --region eu-west-1 --instance-id i-0aaaaaaaa --no-source-dest-check',
      ),
    );
    assert.ok(
      formatLan(lan('shop'), 'gcp').some((l) =>
        l.includes(
          "describe shop-gw --project corp-shop --zone europe-west1-b --format 'value(canIpForward)'",
        ),
      ),
    );
    assert.ok(
      formatLan(lan('dc'), 'azure').includes(
        'az network nic update --resource-group rg-dc --name nic-dc-gw --ip-forwarding true',
      ),
    );
  });

  it('a LAN whose cloud is another provider is pointed at its format; one without a cloud block gets placeholders', () => {
    assert.deepEqual(formatLan(lan('dc'), 'aws'), [
      '# dc: its cloud block names azure: see meshctl routes dc --format azure',
    ]);
    const hq = formatLan(lan('hq'), 'aws');
    assert.match(hq[0]!, /no cloud block/);
    assert.ok(hq.some((l) => l.includes("--route-table-id '<route-table-id of 10.1.0.0/16>'")));
  });

  it('every placeholder in a command is quoted, so a pasted one fails instead of redirecting', () => {
    for (const format of ROUTE_FORMATS.filter((f) => f !== 'text')) {
      for (const line of formatRoutes(mesh.name, lans, format).split('\n')) {
        if (line.startsWith('#') || line === '') continue;
        const unquoted = line.replace(/'(?:[^']|'\\'')*'/g, '');
        assert.doesNotMatch(unquoted, /[<>]/, `${format}: ${line}`);
      }
    }
    assert.equal(shellWord("it's"), `'it'\\''s'`);
  });

  it('DNS endpoints cannot be a cloud source range: a placeholder names the host', () => {
    assert.ok(
      formatLan(lan('hq'), 'gcp').some((l) =>
        l.includes("--source-ranges '<address of gw.dc.example.net>/32'"),
      ),
    );
  });

  it('a mesh of one LAN: nothing to change, in every format', () => {
    const inventory = buildInventory([{ name: 'solo', id: 1 }]);
    const [only] = operatorInstructions(allocateMesh(inventory));
    assert.deepEqual(formatLan(only!, 'text').slice(1), [
      '  Nothing to change for solo: it has no tunnel (the mesh has no other LAN yet).',
    ]);
    assert.deepEqual(formatLan(only!, 'linux'), ['# solo: no route to add']);
    for (const format of ['aws', 'gcp', 'azure'] as const) {
      assert.deepEqual(formatLan(only!, format), [
        '# solo: nothing to change, it has no tunnel (the mesh has no other LAN yet)',
      ]);
    }
  });

  it('Azure NSG priorities: 1000 + pair index, a placeholder past 4096', () => {
    assert.equal(nsgPriority(1), '1001');
    assert.equal(nsgPriority(3096), '4096');
    assert.equal(nsgPriority(3097), '<a free priority from 100 to 4096>');
  });
});

describe('routes: cloud ids of a gateway, completed from its LAN', () => {
  const azLan = (cloud: Lan['cloud'], gateways: Record<string, Lan['cloud']>): Lan => {
    const lan = buildLan({
      name: 'eu',
      id: 5,
      subnets: ['10.5.0.0/20', '10.5.16.0/20'],
      gateways: [
        { name: 'eu-a', id: 5, subnets: ['10.5.0.0/20'] },
        { name: 'eu-b', id: 6, subnets: ['10.5.16.0/20'] },
      ],
    });
    for (const g of lan.gateways) if (gateways[g.name]) g.cloud = gateways[g.name];
    return cloud ? { ...lan, cloud } : lan;
  };

  it("shared ids (network, project) come from the LAN; a gateway's own (instance, zone, tags) never from a sibling", () => {
    const lan = azLan(
      { provider: 'gcp', ids: { project: ['p'], network: ['n'], instance: ['lan-level'], zone: ['z-lan'] } },
      { 'eu-a': { provider: 'gcp', ids: { instance: ['gw-a'], zone: ['z-a'], tags: ['eu-a'] } } },
    );
    assert.deepEqual(gatewayCloud(lan, lan.gateways[0]!)!.ids, {
      instance: ['gw-a'],
      network: ['n'],
      project: ['p'],
      tags: ['eu-a'],
      zone: ['z-a'],
    });
    assert.deepEqual(gatewayCloud(lan, lan.gateways[1]!)!.ids, { network: ['n'], project: ['p'] });
    const findings = cloudFindings(lan);
    assert.deepEqual(
      findings.map((f) => f.field),
      ['cloud.instance', 'cloud.zone'],
    );
    assert.match(findings[0]!.fix, /gateways\[\]/);
  });

  it('GCP with several gateways: routes carry network tags, a placeholder when a gateway has none', () => {
    const lan = azLan(
      { provider: 'gcp', ids: { network: ['n'] } },
      { 'eu-a': { provider: 'gcp', ids: { tags: ['eu-a'] } } },
    );
    const lines = formatLan(
      {
        lan,
        gateways: lan.gateways.map((gateway) => ({
          gateway,
          cloud: gatewayCloud(lan, gateway),
          inbound: [],
          routes: [
            {
              subnet: gateway.subnets[0]!,
              destination: '10.1.0.0/16',
              owner: 'hq',
              ownerLan: 'hq',
              through: 'hq',
              hops: 1,
              nextHop: undefined,
            },
          ],
        })),
      },
      'gcp',
    );
    const routes = lines.filter((l) => l.startsWith('gcloud compute routes create'));
    assert.match(routes[0]!, /--tags eu-a$/);
    assert.match(routes[1]!, /--tags '<network tag of the VMs in 10\.5\.16\.0\/20>'$/);
  });

  it('unknown keys and several ids for a one-id key are reported', () => {
    const lan = buildLan({ name: 'hq', id: 1 });
    lan.gateways[0]!.cloud = { provider: 'aws', ids: { route_table: ['rtb-1'], instance: ['i-1', 'i-2'] } };
    assert.deepEqual(
      cloudFindings(lan).map((f) => [f.field, f.message]),
      [
        ['gateway.cloud.route_table', 'meshctl routes does not read "route_table" for aws'],
        ['gateway.cloud.instance', 'instance takes one id; only i-1 is used'],
      ],
    );
  });
});
