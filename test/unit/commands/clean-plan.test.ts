import assert from 'node:assert/strict';
import { run as apply } from '../../../src/commands/apply.js';
import { parseFacts, probeCommand } from '../../../src/facts/index.js';
import { HostPlanError } from '../../../src/plan/errors.js';
import { planHosts } from '../../../src/plan/index.js';
import type { HostPlan } from '../../../src/plan/types.js';
import { retiringState } from '../../../src/render/render.js';
import { loadRoles } from '../../../src/render/roles.js';
import type { DesiredState } from '../../../src/types.js';
import type { MemoryGateway } from '../../helpers/memory-gateway.js';
import { captured, engineOptions, type MemoryMesh, memoryMesh } from '../../helpers/memory-mesh.js';

/**
 * remove-lan cleans the removed gateway with the ordinary planner: its desired state is nothing (retiringState),
 * so the plan against its manifest stops, disables and removes exactly what meshctl put there — the manifest
 * last — and says why everything else is left alone. Facts come from a memory gateway converged by a real apply.
 */

describe('remove-lan: the removed gateway planned as a desired state of nothing', function () {
  this.timeout(30_000);
  let mesh: MemoryMesh;
  let gamma: MemoryGateway;
  const roles = loadRoles();

  beforeEach(async () => {
    mesh = memoryMesh([
      { name: 'alpha', id: 1 },
      { name: 'beta', id: 2 },
      { name: 'gamma', id: 3 },
    ]);
    const c = captured(true);
    assert.equal(
      await apply(engineOptions(mesh.dir, { json: true }), c.out, { connector: mesh.network.connector }),
      0,
    );
    gamma = mesh.network.get('gamma');
  });
  afterEach(() => mesh.cleanup());

  function plan(meshName = 'memory'): HostPlan | HostPlanError {
    const gateway = {
      name: 'gamma',
      id: 3,
      lan: 'gamma',
      subnets: ['10.3.0.0/16'],
      backupSubnets: [],
      endpoint: '198.51.100.3',
      sshHost: 'gamma.memory',
      ssh: { user: 'root', port: 22, knownHosts: '/dev/null', become: false },
      file: '/x',
    };
    const state: DesiredState = retiringState(gateway, meshName, roles, { version: '0.1.0' });
    const argv = probeCommand([state.manifestPath], state.firewall);
    const facts = parseFacts(gamma.exec(argv).stdout, 'gamma', state.firewall);
    return planHosts(new Map([['gamma', state]]), new Map([['gamma', facts]]), { limit: ['gamma'] }).get(
      'gamma',
    )!;
  }

  it('stops and disables every tunnel and the firewall unit, removes every file it lists, the manifest last', () => {
    const result = plan();
    assert.ok(!(result instanceof HostPlanError), String(result));
    const kinds = result.actions.map((a) =>
      `${a.kind} ${'unit' in a ? a.unit : 'path' in a ? a.path : ''}`.trim(),
    );
    for (const unit of [
      'meshctl-firewall.service',
      'openvpn-server@mesh-alpha.service',
      'openvpn-server@mesh-beta.service',
    ]) {
      assert.ok(kinds.includes(`stop-unit ${unit}`), `${unit} stopped`);
      assert.ok(kinds.includes(`disable-unit ${unit}`), `${unit} disabled`);
    }
    const removed = result.actions.filter((a) => a.kind === 'remove-file').length;
    assert.equal(removed, Object.keys(gamma.manifest()!.files).length, 'every file of the manifest');
    assert.equal(result.actions.at(-1)!.kind, 'remove-manifest');
    assert.ok(
      result.actions.some((a) => a.kind === 'daemon-reload'),
      'unit files removed: systemd reloads',
    );
    assert.ok(result.noops.some((n) => n.subject === 'openvpn' && /stays installed/.test(n.reason)));
    assert.ok(!result.actions.some((a) => a.kind === 'install-package' || a.kind === 'write-file'));
  });

  it('removes meshctl chains directly when the firewall unit is already stopped', () => {
    gamma.units.get('meshctl-firewall.service')!.active = 'inactive';
    const result = plan() as HostPlan;
    const remove = result.actions.find((a) => a.kind === 'remove-firewall');
    assert.ok(remove, 'firewall.sh stop is run');
    assert.ok(
      result.actions.indexOf(remove!) < result.actions.findIndex((a) => a.kind === 'remove-file'),
      'before the script itself is removed',
    );
  });

  it('refuses a gateway whose manifest belongs to another mesh: nothing is planned there', () => {
    const result = plan('another-mesh');
    assert.ok(result instanceof HostPlanError);
    assert.equal(result.kind, 'other-mesh');
  });

  it('plans nothing, with the reason, on a gateway without a manifest (already cleaned)', () => {
    gamma.files.delete('/etc/meshctl/manifest.json');
    const result = plan() as HostPlan;
    assert.deepEqual(result.actions, []);
    assert.ok(result.noops.some((n) => /meshctl manages nothing here/.test(n.reason)));
  });

  it("refuses a manifest that names a path that is not meshctl's", () => {
    const manifest = gamma.manifest()!;
    manifest.files['/etc/ssh/sshd_config'] = 'a'.repeat(64);
    gamma.files.set('/etc/meshctl/manifest.json', {
      content: Buffer.from(JSON.stringify(manifest)),
      mode: 0o644,
      owner: 'root',
    });
    const result = plan();
    assert.ok(result instanceof HostPlanError);
    assert.equal(result.kind, 'foreign-manifest-entry');
  });
});
