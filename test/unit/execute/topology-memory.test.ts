import assert from 'node:assert/strict';
import { run as apply } from '../../../src/commands/apply.js';
import { run as diff } from '../../../src/commands/diff.js';
import { ROUTES_UNIT } from '../../../src/gateway/layout.js';
import type { MemoryNetwork } from '../../helpers/memory-gateway.js';
import { captured, engineOptions, type MemoryMesh, memoryMesh } from '../../helpers/memory-mesh.js';

/**
 * Topologies through the real engine against memory gateways (SPEC §7): what each gateway ends up running, and
 * that changing the topology is an ordinary apply in which the tunnels that stay keep running.
 */

const unit = (peer: string) => `openvpn-server@mesh-${peer}.service`;

async function converge(mesh: MemoryMesh): Promise<void> {
  const c = captured(true);
  const code = await apply(engineOptions(mesh.dir, { json: true }), c.out, {
    connector: mesh.network.connector,
  });
  assert.equal(code, 0, `${c.errors()}${JSON.stringify(c.json().gateways, null, 1)}`);
  const d = captured(true);
  assert.equal(
    await diff(engineOptions(mesh.dir, { json: true }), d.out, { connector: mesh.network.connector }),
    0,
  );
}

function running(network: MemoryNetwork): Map<string, number> {
  const result = new Map<string, number>();
  for (const g of network.gateways.values()) {
    for (const [u, s] of g.units) if (s.active === 'active' && s.pid > 0) result.set(`${g.name} ${u}`, s.pid);
  }
  return result;
}

describe('topologies against memory gateways', function () {
  this.timeout(30_000);
  let mesh: MemoryMesh;
  afterEach(() => mesh.cleanup());

  it('hub-and-spoke: spokes tunnel only to the hub, which runs the routes unit and forwards between spokes', async () => {
    mesh = memoryMesh([
      { name: 'hub', id: 1 },
      { name: 's2', id: 2, via: ['hub'] },
      { name: 's3', id: 3, via: ['hub'] },
    ]);
    await converge(mesh);
    const s2 = mesh.network.get('s2');
    assert.deepEqual(
      [...s2.units.keys()].filter((u) => u.startsWith('openvpn')),
      [unit('hub')],
    );
    assert.ok(s2.tunnelUp(unit('hub')));
    // s2 reaches s3 through the hub: a route of its own, outside the tunnel config
    assert.match(s2.text('/etc/meshctl/routes.sh')!, /^10\.3\.0\.0\/16 mtun1 172\.19\.0\.5 hub$/m);
    assert.equal(s2.units.get(ROUTES_UNIT)?.active, 'active');
    assert.match(
      s2.text('/etc/systemd/system/openvpn-server@mesh-hub.service.d/meshctl.conf')!,
      /ExecStartPost=-\/etc\/meshctl\/routes\.sh device mtun1/,
    );
    // the hub forwards s2 → s3 and s3 → s2, and needs no transit routes itself
    const hubRules = mesh.network.get('hub').text('/etc/meshctl/iptables.rules')!;
    assert.match(hubRules, /-A MESHCTL-FORWARD -i mtun1 -o mtun2 -d 10\.3\.0\.0\/16 -j ACCEPT/);
    assert.match(hubRules, /-A MESHCTL-FORWARD -i mtun2 -o mtun1 -d 10\.2\.0\.0\/16 -j ACCEPT/);
    assert.doesNotMatch(hubRules, /-A MESHCTL-FORWARD -i mtun\d+ -d /, 'no transit rule without its way out');
    assert.equal(mesh.network.get('hub').text('/etc/meshctl/routes.sh'), undefined);
    // to the LAN and from it through shared chains of the gateway's own subnets
    assert.match(hubRules, /^-A MESHCTL-FORWARD -i mtun1 -j MESHCTL-TOLAN$/m);
    assert.match(hubRules, /^-A MESHCTL-TOLAN -d 10\.1\.0\.0\/16 -j ACCEPT$/m);
    assert.match(hubRules, /^-A MESHCTL-FROMLAN -s 10\.1\.0\.0\/16 -j ACCEPT$/m);
    // the spoke's source check admits the other spoke's subnet from the hub
    assert.match(
      s2.text('/etc/meshctl/iptables.rules')!,
      /-A MESHCTL-SRC-mtun1 -s 10\.3\.0\.0\/16 -j RETURN/,
    );
  });

  it('a full mesh LAN becoming a leaf: only its now-unwanted tunnel goes, no other tunnel restarts', async () => {
    mesh = memoryMesh([
      { name: 'a', id: 1 },
      { name: 'b', id: 2 },
      { name: 'c', id: 3 },
    ]);
    await converge(mesh);
    const before = running(mesh.network);
    mesh.writeLan({ name: 'c', id: 3, via: ['a'] });
    await converge(mesh);
    const after = running(mesh.network);
    for (const [key, pid] of before) {
      if (key === `b ${unit('c')}` || key === `c ${unit('b')}`) {
        assert.equal(after.get(key), undefined, `${key} is gone`);
      } else assert.equal(after.get(key), pid, `${key} kept running`);
    }
    assert.equal(mesh.network.get('b').files.has('/etc/openvpn/server/mesh-c.conf'), false);
    // b now reaches c through a: a route of b's, applied by its routes unit
    assert.match(
      mesh.network.get('b').text('/etc/meshctl/routes.sh')!,
      /^10\.3\.0\.0\/16 mtun1 172\.19\.0\.5 a$/m,
    );

    // and back to a core LAN: the tunnel returns, the routes unit goes, nothing else restarts
    const middle = running(mesh.network);
    mesh.writeLan({ name: 'c', id: 3 });
    await converge(mesh);
    const back = running(mesh.network);
    for (const [key, pid] of middle) assert.equal(back.get(key), pid, `${key} kept running`);
    assert.ok(mesh.network.get('b').tunnelUp(unit('c')));
    assert.equal(mesh.network.get('b').files.has('/etc/meshctl/routes.sh'), false);
    assert.notEqual(mesh.network.get('b').units.get(ROUTES_UNIT)?.active, 'active');
  });

  it('splitting a LAN onto two gateways (one per AZ): the others tunnel to both, route each part to its owner', async () => {
    mesh = memoryMesh([
      { name: 'hq', id: 1 },
      { name: 'br', id: 2 },
      { name: 'eu', id: 5, subnets: ['10.5.0.0/20', '10.5.16.0/20'] },
    ]);
    await converge(mesh);
    const before = running(mesh.network);
    mesh.network.add('eu-b', 'eu-b.memory').addresses = ['10.5.16.1/20'];
    mesh.writeLanText(
      'eu',
      `subnets: [10.5.0.0/20, 10.5.16.0/20]
gateways:
  - { name: eu, id: 5, endpoint: 198.51.100.5, ssh_host: eu.memory, subnets: [10.5.0.0/20] }
  - { name: eu-b, id: 6, endpoint: 198.51.100.6, ssh_host: eu-b.memory, subnets: [10.5.16.0/20] }
`,
    );
    await converge(mesh);
    const after = running(mesh.network);
    // hq↔br stays; the tunnels to eu restart (eu now owns only its AZ: their routes changed) — none is lost
    assert.equal(after.get(`hq ${unit('br')}`), before.get(`hq ${unit('br')}`));
    const hq = mesh.network.get('hq');
    assert.ok(hq.tunnelUp(unit('eu')) && hq.tunnelUp(unit('eu-b')));
    assert.match(hq.text('/etc/openvpn/server/mesh-eu-b.conf')!, /^route 10\.5\.16\.0 255\.255\.240\.0$/m);
    assert.doesNotMatch(hq.text('/etc/openvpn/server/mesh-eu.conf')!, /^route 10\.5\.16\.0/m);
    const euB = mesh.network.get('eu-b');
    assert.deepEqual(
      [...euB.units.keys()].filter((u) => u.startsWith('openvpn')).sort(),
      [unit('br'), unit('hq')],
      'no tunnel between the two gateways of one LAN',
    );
  });
});
