import assert from 'node:assert/strict';
import { foreignManifestEntries, parseManifest, readManifest } from '../../../src/facts/manifest.js';
import { isManagedPath, isManagedUnit } from '../../../src/gateway/layout.js';
import type { Manifest } from '../../../src/types.js';

const SHA = 'a'.repeat(64);

function manifestWith(files: string[], units: string[] = []): string {
  const manifest: Manifest = {
    mesh: 'corp',
    version: '0.1.0',
    lan: 'hq',
    files: Object.fromEntries(files.map((path) => [path, SHA])),
    units,
  };
  return JSON.stringify(manifest);
}

/** Every path and unit meshctl writes (render's layout), and look-alikes it must never delete or stop. */
const OWN_PATHS = [
  '/etc/openvpn/server/mesh-branch.conf',
  '/etc/openvpn/server/meshctl/ca.crt',
  '/etc/openvpn/server/meshctl/pair-12.key',
  '/etc/meshctl/iptables.rules',
  '/etc/meshctl/firewall.sh',
  '/etc/meshctl/manifest.json',
  '/etc/sysctl.d/99-meshctl.conf',
  '/etc/systemd/system/meshctl-firewall.service',
  '/etc/systemd/system/openvpn-server@mesh-branch.service.d/meshctl.conf',
];
const FOREIGN_PATHS = [
  '/etc/passwd',
  '/etc/openvpn/server/branch.conf',
  '/etc/openvpn/server/mesh-Branch.conf',
  '/etc/openvpn/server/mesh-a/b.conf',
  '/etc/openvpn/server/meshctl/../../../etc/shadow',
  '/etc/openvpn/server/meshctl/.meshctl-prev.ca.crt',
  '/etc/openvpn/server/meshctl/sub/x.key',
  '/etc/meshctl',
  '/etc/meshctl/',
  '/etc/sysctl.d/99-other.conf',
  '/etc/systemd/system/ssh.service',
  '/etc/systemd/system/openvpn-server@mesh-branch.service',
  '/etc/systemd/system/openvpn-server@mesh-branch.service.d/override.conf',
  '/etc/systemd/system/openvpn-server@.service.d/meshctl.conf',
  '/etc/meshctl/../ssh/sshd_config',
];

describe("manifest entries: only meshctl's own paths and units", () => {
  it('knows every path and unit meshctl writes, and nothing that merely looks like one', () => {
    for (const path of OWN_PATHS) assert.ok(isManagedPath(path), path);
    for (const path of FOREIGN_PATHS) assert.ok(!isManagedPath(path), path);
    for (const unit of ['meshctl-firewall.service', 'openvpn-server@mesh-branch.service']) {
      assert.ok(isManagedUnit(unit), unit);
    }
    for (const unit of [
      'ssh.service',
      'openvpn-server@branch.service',
      'openvpn-server@mesh-x.service; reboot',
      'openvpn@mesh-x.service',
      'meshctl-firewall.timer',
    ]) {
      assert.ok(!isManagedUnit(unit), unit);
    }
  });

  it('reads a manifest naming foreign entries (the planner refuses the gateway), lists them', () => {
    const text = manifestWith(
      [...OWN_PATHS, '/etc/ssh/sshd_config'],
      ['meshctl-firewall.service', 'ssh.service'],
    );
    const read = readManifest(text);
    assert.ok('manifest' in read);
    assert.deepEqual(foreignManifestEntries(read.manifest), [
      'file "/etc/ssh/sshd_config"',
      'unit "ssh.service"',
    ]);
  });

  it("parseManifest, for remove-lan's cleanup, refuses it with the entry and the fix", () => {
    const parsed = parseManifest(manifestWith([...OWN_PATHS, '/etc/ssh/sshd_config']));
    assert.ok('problem' in parsed);
    assert.match(parsed.problem, /^it lists file "\/etc\/ssh\/sshd_config", which meshctl never creates/);
    assert.match(
      parsed.problem,
      /Fix: remove that entry from \/etc\/meshctl\/manifest\.json or delete the file/,
    );
    const own = parseManifest(manifestWith(OWN_PATHS, ['meshctl-firewall.service']));
    assert.ok('manifest' in own);
  });
});
