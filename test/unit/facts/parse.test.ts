import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ProbeOutputError } from '../../../src/facts/errors.js';
import { parseFacts } from '../../../src/facts/parse.js';
import { factsFixture } from './fixture-path.js';

const read = (name: string) => readFileSync(factsFixture(name), 'utf8');
/** The layout the captured outputs were probed with (the shipped chain_prefix). */
const FIREWALL = { chainPrefix: 'MESHCTL' };

describe('parseFacts: captured probe outputs', () => {
  it('reads a Debian gateway with two running tunnels', () => {
    const facts = parseFacts(read('debian-tunnels.txt'), 'hq', FIREWALL);
    assert.deepEqual(facts.os, {
      id: 'debian',
      idLike: [],
      versionId: '12',
      codename: 'bookworm',
      family: 'debian',
    });
    assert.deepEqual(facts.systemd, { state: 'running', version: 252 });
    assert.equal(facts.packageManager, 'apt-get');
    assert.equal(facts.openvpnVersion, '2.6.14');
    assert.equal(facts.hasServerTemplate, true);
    assert.deepEqual(facts.files['/etc/openvpn/server/meshctl/hq.key'], {
      sha256: 'ed8844006432f56549a2d75c5d6f02942276a29283c50d9ea2822702c56ed26c',
      mode: 0o600,
      owner: 'root',
    });
    assert.equal(facts.files['/etc/meshctl/firewall.sh']?.mode, 0o755);
    // a tunnel config meshctl did not create is still reported: the planner decides to leave it alone
    assert.ok(facts.files['/etc/openvpn/server/mesh-lab.conf']);
    assert.equal(Object.keys(facts.files).length, 13);
    assert.deepEqual(facts.units['openvpn-server@mesh-branch.service'], {
      load: 'loaded',
      active: 'active',
      sub: 'running',
      enabled: 'enabled',
      mainPid: 1234,
      statusText: 'Initialization Sequence Completed',
    });
    assert.equal(facts.units['meshctl-firewall.service']?.sub, 'exited');
    assert.equal(facts.units['openvpn-server@mesh-lab.service']?.enabled, 'disabled');
    assert.equal(Object.keys(facts.units).length, 4);
    assert.equal(facts.manifest?.mesh, 'corp');
    assert.equal(facts.manifest?.lan, 'hq');
    assert.equal(Object.keys(facts.manifest?.files ?? {}).length, 12);
    assert.deepEqual(facts.manifest?.units, [
      'meshctl-firewall.service',
      'openvpn-server@mesh-branch.service',
      'openvpn-server@mesh-dc.service',
    ]);
    assert.equal(facts.ipForward, true);
    assert.deepEqual(facts.firewall, { readable: true, chains: true, jumps: true });
    assert.deepEqual(facts.warnings, []);
  });

  it('reads a fresh Ubuntu gateway: no OpenVPN, no files, no manifest', () => {
    const facts = parseFacts(read('fresh-ubuntu.txt'), 'branch', FIREWALL);
    assert.deepEqual(facts.os, {
      id: 'ubuntu',
      idLike: ['debian'],
      versionId: '24.04',
      codename: 'noble',
      family: 'debian',
    });
    assert.deepEqual(facts.systemd, { state: 'running', version: 255 });
    assert.equal(facts.packageManager, 'apt-get');
    assert.equal(facts.openvpnVersion, null);
    assert.equal(facts.hasServerTemplate, false);
    assert.equal(Object.keys(facts.files).length, 12);
    assert.ok(Object.values(facts.files).every((file) => file === null));
    assert.equal(facts.manifest, null);
    assert.equal(facts.units['meshctl-firewall.service']?.load, 'not-found');
    assert.equal(facts.ipForward, false);
    assert.deepEqual(facts.firewall, { readable: true, chains: false, jumps: false });
    assert.deepEqual(facts.warnings, []);
  });

  it('reads a RHEL-like gateway: dnf over yum, a failed unit, no iptables, a corrupt manifest', () => {
    const facts = parseFacts(read('rhel-like.txt'), 'dc', FIREWALL);
    assert.deepEqual(facts.os, {
      id: 'rocky',
      idLike: ['rhel', 'centos', 'fedora'],
      versionId: '9.4',
      codename: '',
      family: 'rhel',
    });
    assert.deepEqual(facts.systemd, { state: 'running', version: 252 });
    assert.equal(facts.packageManager, 'dnf');
    assert.equal(facts.openvpnVersion, '2.5.11');
    assert.equal(facts.units['openvpn-server@mesh-hq.service']?.active, 'failed');
    assert.equal(facts.files['/etc/openvpn/server/meshctl/dc.key'], null);
    assert.equal(facts.manifest, null, 'a truncated manifest is no manifest');
    assert.equal(facts.firewall.readable, false);
    assert.equal(facts.warnings.length, 2);
    const manifestWarning = facts.warnings.find((w) => w.includes('manifest.json is unusable'));
    assert.match(manifestWarning ?? '', /\/etc\/meshctl\/manifest\.json is unusable: it is not valid JSON/);
    assert.match(manifestWarning ?? '', /removes none/);
    assert.ok(facts.warnings.some((w) => /iptables is not installed/.test(w)));
  });
});

describe('parseFacts: damaged output', () => {
  const minimal = ['probe\t1', 'openvpn-missing', 'manifest-absent', 'end', ''];

  it('ignores what a login script prints before the probe, and says so', () => {
    const facts = parseFacts(['Welcome to hq!', 'Last login: never', ...minimal].join('\n'), 'hq', FIREWALL);
    assert.equal(facts.openvpnVersion, null);
    assert.match(facts.warnings[0]!, /2 line\(s\) printed before the probe/);
  });

  it('refuses output without the probe header, naming the gateway and what it got', () => {
    assert.throws(
      () => parseFacts('sh: 1: not found\n', 'hq', FIREWALL),
      (error: unknown) =>
        error instanceof ProbeOutputError &&
        /^hq: the probe printed no "probe" header/.test(error.message) &&
        error.message.includes('sh: 1: not found'),
    );
  });

  it('refuses a truncated report instead of planning on partial facts', () => {
    assert.throws(
      () => parseFacts('probe\t1\nos-release\tID=debian\n', 'hq', FIREWALL),
      /without its "end" record/,
    );
  });

  it('refuses another probe format version', () => {
    assert.throws(
      () => parseFacts('probe\t2\nend\n', 'hq', FIREWALL),
      /format "2", this meshctl reads format 1/,
    );
  });

  it('rejects a manifest with a bad checksum or a relative path', () => {
    for (const files of [{ '/etc/x': 'not-hex' }, { 'etc/x': 'a'.repeat(64) }]) {
      const manifest = JSON.stringify({ mesh: 'corp', version: '0.1.0', lan: 'hq', files, units: [] });
      const facts = parseFacts(
        ['probe\t1', `manifest\t${manifest}`, 'manifest-end', 'end'].join('\n'),
        'hq',
        FIREWALL,
      );
      assert.equal(facts.manifest, null);
      assert.match(facts.warnings[0]!, /manifest\.json is unusable/);
    }
  });

  it('counts unrecognised lines and reports systemd and iptables gaps as warnings', () => {
    const facts = parseFacts(
      [
        'probe\t1',
        'garbage line',
        'systemd-unavailable\tSystem has not been booted with systemd',
        'iptables-failed\tPermission denied (you must be root)',
        'ip-forward-unknown',
        'end',
      ].join('\n'),
      'hq',
      FIREWALL,
    );
    assert.deepEqual(facts.units, {});
    assert.equal(facts.ipForward, null);
    assert.equal(facts.os.family, 'unknown');
    assert.equal(facts.packageManager, null);
    assert.equal(facts.warnings.length, 4);
    assert.ok(facts.warnings.some((w) => w.includes('systemctl does not answer')));
    assert.ok(facts.warnings.some((w) => w.includes('Permission denied')));
    assert.ok(facts.warnings.some((w) => w.includes('1 unrecognised line')));
  });

  it('needs both INPUT and FORWARD jumps', () => {
    const facts = parseFacts(
      [
        'probe\t1',
        'iptables\t-N MESHCTL-INPUT',
        'iptables\t-A INPUT -j MESHCTL-INPUT',
        'iptables-read',
        'end',
      ].join('\n'),
      'gw',
      FIREWALL,
    );
    assert.deepEqual(facts.firewall, { readable: true, chains: true, jumps: false });
  });

  it('tells Amazon Linux from RHEL', () => {
    const facts = parseFacts(
      [
        'probe\t1',
        'os-release\tID="amzn"',
        'os-release\tID_LIKE="centos rhel fedora"',
        'package-manager\tyum',
        'end',
      ].join('\n'),
      'gw',
      FIREWALL,
    );
    assert.equal(facts.os.family, 'amazon');
    assert.equal(facts.packageManager, 'yum');
  });
});
