import assert from 'node:assert/strict';
import { CleanupRefused, cleanGateway, cleanupPlan } from '../../../src/commands/lan/clean-gateway.js';
import type { Connection } from '../../../src/connection/types.js';
import type { Manifest } from '../../../src/types.js';

const SHA = 'a'.repeat(64);

function manifest(over: Partial<Manifest> = {}): Manifest {
  return {
    mesh: 'corp',
    version: '0.1.0',
    lan: 'branch',
    files: {
      '/etc/openvpn/server/mesh-hq.conf': SHA,
      '/etc/openvpn/server/mesh-cloud.conf': SHA,
      '/etc/openvpn/server/meshctl/pair-1.key': SHA,
      '/etc/meshctl/firewall.sh': SHA,
      '/etc/meshctl/iptables.rules': SHA,
      '/etc/systemd/system/meshctl-firewall.service': SHA,
      '/etc/sysctl.d/99-meshctl.conf': SHA,
    },
    units: ['meshctl-firewall.service', 'openvpn-server@mesh-hq.service'],
    ...over,
  };
}

describe('remove-lan: cleanup plan of the removed gateway (from its manifest)', () => {
  it('stops every tunnel of the manifest (listed units and tunnel configs), the firewall, and removes every file', () => {
    const plan = cleanupPlan(manifest(), { mesh: 'corp', lan: 'branch' });
    assert.deepEqual(plan.tunnels, ['openvpn-server@mesh-cloud.service', 'openvpn-server@mesh-hq.service']);
    assert.equal(plan.firewallUnit, 'meshctl-firewall.service');
    assert.equal(plan.firewallScript, '/etc/meshctl/firewall.sh');
    assert.equal(plan.files.length, 7);
    assert.ok(!plan.files.includes('/etc/meshctl/manifest.json'), 'the manifest goes last, separately');
    assert.deepEqual(plan.directories, ['/etc/openvpn/server/meshctl', '/etc/meshctl']);
  });

  it('refuses a gateway whose manifest is of another mesh or LAN: nothing is touched', () => {
    assert.throws(
      () => cleanupPlan(manifest({ mesh: 'other' }), { mesh: 'corp', lan: 'branch' }),
      (e: Error) =>
        e instanceof CleanupRefused && /says mesh "other", LAN "branch", not mesh "corp"/.test(e.message),
    );
    assert.throws(
      () => cleanupPlan(manifest({ lan: 'hq' }), { mesh: 'corp', lan: 'branch' }),
      CleanupRefused,
    );
  });

  it('refuses escaping paths and odd unit names from a tampered manifest', () => {
    const bad = manifest({ files: { '/etc/meshctl/../../root/.ssh/authorized_keys': SHA } });
    assert.throws(
      () => cleanupPlan(bad, { mesh: 'corp', lan: 'branch' }),
      /which is not meshctl's to remove/,
    );
    const unit = manifest({ units: ['x; reboot'] });
    assert.throws(() => cleanupPlan(unit, { mesh: 'corp', lan: 'branch' }), /lists unit "x; reboot"/);
  });
});

describe('remove-lan: cleaning a gateway whose manifest names what meshctl never creates', () => {
  it('refuses after reading the manifest: nothing is stopped or removed', async () => {
    const tampered = manifest({
      files: { ...manifest().files, '/etc/ssh/sshd_config': SHA },
      units: ['meshctl-firewall.service', 'ssh.service'],
    });
    const ran: string[][] = [];
    const conn = {
      name: 'branch',
      exec: async (argv: string[]) => {
        ran.push(argv);
        return { code: 0, stdout: JSON.stringify(tampered), stderr: '' };
      },
    } as unknown as Connection;
    await assert.rejects(
      cleanGateway(conn, { mesh: 'corp', lan: 'branch' }),
      (e: Error) =>
        e instanceof CleanupRefused &&
        e.message.includes('file "/etc/ssh/sshd_config"') &&
        e.message.includes('nothing was touched'),
    );
    assert.equal(ran.length, 1, 'only the read of the manifest ran');
    assert.equal(ran[0]![0], 'sh');
  });
});
