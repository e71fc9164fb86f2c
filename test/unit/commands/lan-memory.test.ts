import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { run as addLan } from '../../../src/commands/add-lan.js';
import { run as apply } from '../../../src/commands/apply.js';
import { run as diff } from '../../../src/commands/diff.js';
import { run as removeLan } from '../../../src/commands/remove-lan.js';
import { LockError } from '../../../src/errors.js';
import { acquireLock } from '../../../src/lock.js';
import type { MemoryNetwork } from '../../helpers/memory-gateway.js';
import { captured, engineOptions, type MemoryMesh, memoryMesh } from '../../helpers/memory-mesh.js';

/**
 * add-lan and remove-lan through the real commands against memory gateways: what each gateway ends up with,
 * which units restarted (none that should not), partial failure, and the lock.
 */

const LANS = [
  { name: 'alpha', id: 1 },
  { name: 'beta', id: 2 },
  { name: 'gamma', id: 3 },
];
const unit = (peer: string) => `openvpn-server@mesh-${peer}.service`;

function pids(network: MemoryNetwork): Map<string, number> {
  const result = new Map<string, number>();
  for (const g of network.gateways.values())
    for (const [u, s] of g.units) result.set(`${g.name} ${u}`, s.pid);
  return result;
}

/** Every unit running before is running with the same PID after (nothing restarted). */
function assertNothingRestarted(
  before: Map<string, number>,
  after: Map<string, number>,
  expected: (key: string) => boolean = () => false,
) {
  for (const [key, pid] of before) {
    if (expected(key)) continue;
    if (pid > 0) assert.equal(after.get(key), pid, `${key} restarted`);
  }
}

describe('add-lan and remove-lan against memory gateways', function () {
  this.timeout(30_000);
  let mesh: MemoryMesh;
  beforeEach(async () => {
    mesh = memoryMesh(LANS);
    const c = captured();
    assert.equal(
      await apply(engineOptions(mesh.dir), c.out, { connector: mesh.network.connector }),
      0,
      c.text(),
    );
  });
  afterEach(() => mesh.cleanup());

  /** `meshctl add-lan delta --json` (10.4.0.0/16, reached at delta.memory) against the memory gateways. */
  const addDelta = (c: ReturnType<typeof captured>) =>
    addLan(
      {
        ...engineOptions(mesh.dir, { json: true }),
        name: 'delta',
        subnet: ['10.4.0.0/16'],
        endpoint: '198.51.100.4',
        sshHost: 'delta.memory',
      },
      c.out,
      { connector: mesh.network.connector },
    );

  it('add-lan: the new gateway converges first, each existing one gains one tunnel and restarts nothing', async () => {
    mesh.network.add('delta', 'delta.memory').addresses = ['10.4.0.1/16'];
    const before = pids(mesh.network);
    const c = captured(true);
    const code = await addDelta(c);
    assert.equal(code, 0, c.errors());
    assertNothingRestarted(before, pids(mesh.network));
    for (const name of ['alpha', 'beta', 'gamma']) {
      const g = mesh.network.get(name);
      assert.ok(g.tunnelUp(unit('delta')), `${name} ↔ delta up`);
      assert.ok(g.manifest()!.units.includes(unit('delta')));
    }
    const delta = mesh.network.get('delta');
    // the new gateway was converged in phase 1, before any existing gateway was touched
    const firstWrite = (name: string) =>
      mesh.network.get(name).log.findIndex((r) => r.stdin?.includes('meshctl_put'));
    assert.ok(firstWrite('delta') >= 0);
    assert.ok(delta.tunnelUp(unit('alpha')));
    const result = c.json();
    assert.equal(result.ok, true);
    assert.ok(existsSync(path.join(mesh.dir, 'lans', 'delta.yml')));
    const d = captured();
    assert.equal(
      await diff(engineOptions(mesh.dir), d.out, { connector: mesh.network.connector }),
      0,
      d.text(),
    );
  });

  it('add-lan: an existing gateway whose systemd already sees the new drop-in is not daemon-reloaded', async () => {
    mesh.network.add('delta', 'delta.memory').addresses = ['10.4.0.1/16'];
    const existing = ['alpha', 'beta', 'gamma'].map((name) => mesh.network.get(name));
    for (const g of existing) g.daemonReloads = 0;
    const c = captured(true);
    assert.equal(await addDelta(c), 0, c.errors());
    for (const g of existing) {
      assert.equal(g.daemonReloads, 0, `${g.name}: no daemon-reload`);
      const shown = g.log.filter((r) => r.argv[0] === 'systemctl' && r.argv[1] === 'show');
      assert.ok(
        shown.some((r) => r.argv.includes('NeedDaemonReload') && r.argv.includes(unit('delta'))),
        `${g.name}: systemd was asked whether it sees the new unit files`,
      );
      assert.ok(g.tunnelUp(unit('delta')), `${g.name} ↔ delta up`);
    }
  });

  it('add-lan: where systemd says it needs one (NeedDaemonReload=yes after the enable, as 257 does), each existing gateway is reloaded once', async () => {
    mesh.network.add('delta', 'delta.memory').addresses = ['10.4.0.1/16'];
    const existing = ['alpha', 'beta', 'gamma'].map((name) => mesh.network.get(name));
    for (const g of existing) {
      g.daemonReloads = 0;
      g.reloadNeededAfterEnable = true;
    }
    const c = captured(true);
    assert.equal(await addDelta(c), 0, c.errors());
    for (const g of existing) {
      assert.equal(g.daemonReloads, 1, `${g.name}: one daemon-reload`);
      assert.ok(g.tunnelUp(unit('delta')), `${g.name} ↔ delta up`);
    }
  });

  it('add-lan with an existing gateway down: the others get their tunnel, the run exits 1 and says what is left', async () => {
    mesh.network.add('delta', 'delta.memory').addresses = ['10.4.0.1/16'];
    mesh.network.get('gamma').reachable = false;
    const c = captured(true);
    const code = await addDelta(c);
    assert.equal(code, 1);
    const left = c.json().left as { lan: string; reason: string }[];
    assert.ok(
      left.some((l) => l.lan === 'gamma'),
      JSON.stringify(left),
    );
    assert.ok(mesh.network.get('alpha').tunnelUp(unit('delta')));
    mesh.network.get('gamma').reachable = true;
    const again = captured();
    assert.equal(await apply(engineOptions(mesh.dir), again.out, { connector: mesh.network.connector }), 0);
    assert.ok(mesh.network.get('gamma').tunnelUp(unit('delta')));
  });

  for (const how of ['cannot be reached', 'fails to converge', 'cannot start its firewall'] as const) {
    it(`add-lan when the new gateway ${how}: the existing gateways are read, never written; exit 1 names them all`, async () => {
      const delta = mesh.network.add('delta', 'delta.memory');
      delta.addresses = ['10.4.0.1/16'];
      if (how === 'cannot be reached') delta.reachable = false;
      else if (how === 'fails to converge')
        delta.faults.push((record) =>
          record.stdin?.includes('meshctl_put') ? { code: 1, stdout: '', stderr: 'disk full\n' } : undefined,
        );
      else
        delta.faults.push((record) =>
          record.argv[0] === 'systemctl' &&
          record.argv[1] === 'start' &&
          record.argv.includes('meshctl-firewall.service')
            ? { code: 1, stdout: '', stderr: 'Job for meshctl-firewall.service failed.\n' }
            : undefined,
        );
      const logged = new Map(['alpha', 'beta', 'gamma'].map((n) => [n, mesh.network.get(n).log.length]));
      const before = pids(mesh.network);
      const c = captured(true);
      const code = await addDelta(c);
      assert.equal(code, 1);
      assertNothingRestarted(before, pids(mesh.network));
      for (const [name, from] of logged) {
        const sent = mesh.network.get(name).log.slice(from);
        // the probe (read-only) and nothing else that changes anything
        assert.ok(
          sent.every((r) => r.stdin === undefined && r.argv[0] !== 'systemctl'),
          `${name} was changed: ${JSON.stringify(sent.map((r) => r.argv.slice(0, 2)))}`,
        );
        assert.equal(
          mesh.network.get(name).units.get(unit('delta')),
          undefined,
          `${name}: no tunnel to delta`,
        );
      }
      const left = c.json().left as { lan: string; reason: string }[];
      assert.deepEqual(left.map((l) => l.lan).sort(), ['alpha', 'beta', 'delta', 'gamma']);
      assert.ok(
        left.filter((l) => l.lan !== 'delta').every((l) => l.reason.includes('did not converge first')),
        JSON.stringify(left),
      );
    });
  }

  it('add-lan --via: the new leaf tunnels to its core only; the others reach it through that core', async () => {
    mesh.network.add('leaf', 'leaf.memory').addresses = ['10.9.0.1/16'];
    const before = pids(mesh.network);
    const c = captured(true);
    const code = await addLan(
      {
        ...engineOptions(mesh.dir, { json: true }),
        name: 'leaf',
        subnet: ['10.9.0.0/16'],
        endpoint: '198.51.100.9',
        sshHost: 'leaf.memory',
        via: 'alpha',
      },
      c.out,
      { connector: mesh.network.connector },
    );
    assert.equal(code, 0, c.errors());
    assert.match(readFileSync(path.join(mesh.dir, 'lans', 'leaf.yml'), 'utf8'), /^via: \[alpha\]$/m);
    const leaf = mesh.network.get('leaf');
    assert.deepEqual(
      [...leaf.units.keys()].filter((u) => u.startsWith('openvpn')),
      [unit('alpha')],
    );
    assert.ok(leaf.tunnelUp(unit('alpha')));
    assert.equal(mesh.network.get('beta').units.get(unit('leaf')), undefined, 'no beta ↔ leaf tunnel');
    assert.match(
      mesh.network.get('beta').text('/etc/meshctl/routes.sh')!,
      /^10\.9\.0\.0\/16 mtun1 172\.19\.0\.5 alpha$/m,
    );
    assertNothingRestarted(before, pids(mesh.network));
  });

  it('remove-lan prints the routes to delete from every remaining LAN', async () => {
    const c = captured();
    const code = await removeLan({ ...engineOptions(mesh.dir), name: 'gamma' }, c.out, {
      connector: mesh.network.connector,
    });
    assert.equal(code, 0);
    assert.match(c.text(), /Routes to remove from the routers of each LAN/);
    assert.match(c.text(), /alpha\s+route 10\.3\.0\.0\/16 via .* \(delete\)/);
    assert.match(c.text(), /beta\s+route 10\.3\.0\.0\/16 via .* \(delete\)/);
  });

  it('remove-lan: tunnels to the LAN go everywhere, its gateway is cleaned, no other tunnel restarts', async () => {
    const before = pids(mesh.network);
    const c = captured(true);
    const code = await removeLan({ ...engineOptions(mesh.dir, { json: true }), name: 'gamma' }, c.out, {
      connector: mesh.network.connector,
    });
    assert.equal(code, 0, c.errors());
    // gamma's own units and the tunnels to gamma stop; nothing else changes
    assertNothingRestarted(
      before,
      pids(mesh.network),
      (key) => key.startsWith('gamma ') || key.endsWith(unit('gamma')),
    );
    for (const name of ['alpha', 'beta']) {
      const g = mesh.network.get(name);
      assert.equal(g.units.get(unit('gamma'))?.active, 'inactive', `${name}: tunnel to gamma stopped`);
      assert.equal(g.units.get(unit('gamma'))?.enabled, false);
      assert.equal(g.files.has('/etc/openvpn/server/mesh-gamma.conf'), false);
      assert.ok(!g.manifest()!.units.includes(unit('gamma')));
    }
    const gamma = mesh.network.get('gamma');
    assert.equal(gamma.files.size, 0, `gamma cleaned: ${[...gamma.files.keys()].join(', ')}`);
    assert.equal(gamma.firewall, null, 'its firewall chains are gone');
    assert.ok([...gamma.units.values()].every((u) => u.active !== 'active'));
    assert.match(readFileSync(path.join(mesh.dir, 'mesh.yml'), 'utf8'), /retired_ids: \[3\]/);
    assert.equal(existsSync(path.join(mesh.dir, 'lans', 'gamma.yml')), false);
    assert.equal((c.json().removedGateway as { status: string }).status, 'cleaned');
  });

  it('remove-lan with the removed gateway unreachable: the mesh drops it, exit 0 with the manual steps', async () => {
    mesh.network.get('gamma').reachable = false;
    const c = captured(true);
    const code = await removeLan({ ...engineOptions(mesh.dir, { json: true }), name: 'gamma' }, c.out, {
      connector: mesh.network.connector,
    });
    assert.equal(code, 0, c.errors());
    const removed = c.json().removedGateway as { status: string; detail: string };
    assert.equal(removed.status, 'failed');
    assert.match(removed.detail, /NOT cleaned.*To clean it by hand/);
    assert.equal(mesh.network.get('alpha').files.has('/etc/openvpn/server/mesh-gamma.conf'), false);
  });

  it('the lock: a command refuses while another holds it, and touches no gateway', async () => {
    const lock = acquireLock(mesh.dir, 'meshctl apply (another run)');
    try {
      const logged = [...mesh.network.gateways.values()].map((g) => g.log.length);
      const c = captured();
      await assert.rejects(
        apply(engineOptions(mesh.dir), c.out, { connector: mesh.network.connector }),
        (e: unknown) => e instanceof LockError && /another run/.test(e.message),
      );
      assert.deepEqual(
        [...mesh.network.gateways.values()].map((g) => g.log.length),
        logged,
      );
    } finally {
      lock.release();
    }
  });

  it('a hand edit on one gateway is found by diff and reverted by apply, restarting only that tunnel', async () => {
    const beta = mesh.network.get('beta');
    const conf = '/etc/openvpn/server/mesh-alpha.conf';
    const file = beta.files.get(conf)!;
    beta.files.set(conf, { ...file, content: Buffer.from(`${file.content}verb 9\n`) });
    const before = pids(mesh.network);
    const d = captured();
    assert.equal(await diff(engineOptions(mesh.dir), d.out, { connector: mesh.network.connector }), 2);
    assert.match(d.text(), /\+verb 9|-verb 9/);
    const c = captured();
    assert.equal(
      await apply(engineOptions(mesh.dir), c.out, { connector: mesh.network.connector }),
      0,
      c.text(),
    );
    assertNothingRestarted(before, pids(mesh.network), (key) =>
      [`beta ${unit('alpha')}`, `alpha ${unit('beta')}`].includes(key),
    );
    assert.notEqual(pids(mesh.network).get(`beta ${unit('alpha')}`), before.get(`beta ${unit('alpha')}`));
    assert.equal(beta.text(conf), file.content.toString('utf8'));
  });

  it('a changed drop-in of a running tunnel is always followed by a daemon-reload, whatever systemd says', async () => {
    const beta = mesh.network.get('beta');
    const dropIn = `/etc/systemd/system/${unit('alpha')}.d/meshctl.conf`;
    const file = beta.files.get(dropIn)!;
    beta.files.set(dropIn, { ...file, content: Buffer.from(`${file.content}# edited\n`) });
    beta.daemonReloads = 0;
    const logged = beta.log.length;
    const c = captured();
    assert.equal(
      await apply(engineOptions(mesh.dir), c.out, { connector: mesh.network.connector }),
      0,
      c.text(),
    );
    assert.equal(beta.daemonReloads, 1);
    assert.ok(
      !beta.log.slice(logged).some((r) => r.argv[1] === 'show' && r.argv.includes('NeedDaemonReload')),
      'not asked: an updated unit file always needs the reload',
    );
    assert.equal(beta.text(dropIn), file.content.toString('utf8'));
  });
});
