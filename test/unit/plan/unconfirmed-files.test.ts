import assert from 'node:assert/strict';
import { describeAction } from '../../../src/plan/actions.js';
import { planHosts } from '../../../src/plan/plan.js';
import type { HostPlan } from '../../../src/plan/types.js';
import { buildDesired, buildFacts } from './build-case.js';

/**
 * A run killed after its bundle landed but before it restarted anything leaves files that match the desired
 * state while OpenVPN and the firewall still run the previous ones. The manifest, written last, still records
 * the previous checksums: the planner must restart and reload what those files notify (at both ends).
 */
describe('plan: files landed by a run that did not finish', () => {
  const spec = { mesh: 'corp', lans: { hq: 1, branch: 2 } };

  function plans(staleManifest: boolean): Map<string, HostPlan> {
    const desired = buildDesired(spec);
    const facts = new Map(
      ['hq', 'branch'].map((lan) => [lan, buildFacts(lan, { base: 'converged' }, spec)] as const),
    );
    if (staleManifest) {
      const manifest = facts.get('hq')!.manifest!;
      for (const path of Object.keys(manifest.files)) {
        if (path.endsWith('/mesh-branch.conf') || path.endsWith('/iptables.rules'))
          manifest.files[path] = '0'.repeat(64);
      }
    }
    const result = planHosts(desired, facts, { limit: ['hq', 'branch'] });
    return new Map([...result].map(([lan, plan]) => [lan, plan as HostPlan]));
  }

  it('restarts the tunnel at both ends and reloads the firewall, writing no file again', () => {
    const result = plans(true);
    const hq = result.get('hq')!;
    const lines = hq.actions.map(describeAction);
    assert.ok(lines.includes('reload-firewall meshctl-firewall.service'), lines.join('\n'));
    assert.ok(lines.includes('restart-unit openvpn-server@mesh-branch.service'), lines.join('\n'));
    assert.equal(lines.filter((l) => l.startsWith('write-file')).length, 0, lines.join('\n'));
    const restart = hq.actions.find((a) => a.kind === 'restart-unit')!;
    assert.match(restart.reason, /landed by a run that did not finish/);
    const branch = result.get('branch')!.actions.map(describeAction);
    assert.ok(branch.includes('restart-unit openvpn-server@mesh-hq.service'), branch.join('\n'));
  });

  it('changes nothing when the manifest confirms the files', () => {
    for (const plan of plans(false).values()) assert.deepEqual(plan.actions, []);
  });
});
