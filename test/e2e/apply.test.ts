import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Lab, type LabSpec, reapOrphans } from '../lab/lab.js';
import {
  assertNoKeyMaterial,
  changedPids,
  deadTunnels,
  meshctl,
  parseJson,
  skipUnlessLabUsable,
  transcript,
  tunnelPids,
  tunnelUnit,
  unansweredPings,
  waitForFullMesh,
} from './helpers/gateways.js';
import { changingActions, gatewayResult, type RunJson, statuses } from './helpers/results.js';

/**
 * `meshctl diff` and `meshctl apply` against real gateways (SPEC §3, §5, §6): Debian containers with systemd,
 * reached over SSH from the lab's control namespace, exactly as an operator's bastion would. The cases run in
 * order on one lab, each starting from the state the previous one left: fresh apply → what landed on a gateway
 * → idempotence → drift → a gateway down → reboot → a changed host key.
 */

const MESH = 'aptest';
const KEY_DIR = '/etc/openvpn/server/meshctl';
const MANIFEST = '/etc/meshctl/manifest.json';

const spec: LabSpec = {
  name: 'ap1',
  mesh: MESH,
  gateways: [
    // reboots keep its disk: the reboot case restarts it
    { name: 'hq', id: 1, subnets: ['10.81.0.0/16'], persistent: true },
    // no OpenVPN on the image: apply must install it
    { name: 'bare', id: 2, subnets: ['10.82.1.0/24'], openvpn: false },
    // root login refused: meshctl logs in as admin and runs privileged commands through sudo -n
    { name: 'sudoer', id: 3, subnets: ['10.83.0.0/26'], sshUser: 'admin' },
    // one LAN, two subnets of different sizes
    { name: 'multi', id: 4, subnets: ['10.84.0.0/24', '192.168.84.0/28'] },
  ],
};
const names = spec.gateways.map((g) => g.name);
const peersOf = (gw: string) => names.filter((n) => n !== gw);
const idOf = (gw: string) => spec.gateways.find((g) => g.name === gw)!.id;

/** SPEC §2: pair index of two LAN ids, and its UDP port with the default port_base. */
function pairIndex(x: number, y: number): number {
  const [a, b] = x < y ? [x, y] : [y, x];
  return ((b - 1) * (b - 2)) / 2 + a;
}

function sha256(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Every file under `dir`, as absolute gateway paths → content (a render tree holds `<lan>/<path on gateway>`). */
function renderedFiles(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const walk = (current: string) => {
    for (const entry of readdirSync(current)) {
      const path = join(current, entry);
      if (statSync(path).isDirectory()) walk(path);
      else files.set(`/${relative(dir, path)}`, readFileSync(path));
    }
  };
  walk(dir);
  return files;
}

describe('e2e: meshctl diff and apply on a 4-gateway lab (root + systemd-nspawn)', function () {
  this.timeout(240_000);
  let lab: Lab | undefined;

  before(async function () {
    skipUnlessLabUsable(this, 'dist/test/e2e/apply.test.js');
    this.timeout(300_000);
    await reapOrphans();
    lab = await Lab.up(spec);
  });

  after(async function () {
    this.timeout(120_000);
    await lab?.down();
  });

  it('diff on fresh gateways: exit 2, plans OpenVPN only where it is missing, and changes nothing', async () => {
    const bareBefore = await lab!.exec('bare', ['sh', '-c', 'command -v openvpn']);
    assert.notEqual(bareBefore.code, 0, 'the bare image must start without OpenVPN');
    const json = parseJson<RunJson>(await meshctl(lab!, ['diff', '--json'], 2));
    assert.equal(json.ok, true);
    assert.equal(json.changes, true);
    const installs = changingActions(json).filter((a) => a.includes('install-package'));
    assert.deepEqual(installs, ['bare install-package openvpn']);
    for (const gw of names) {
      const plan = json.plans!.find((p) => p.lan === gw)!;
      const confs = plan.actions.filter((a) => a.kind === 'write-file' && a.path?.endsWith('.conf'));
      assert.equal(confs.filter((a) => a.path!.startsWith('/etc/openvpn/server/mesh-')).length, 3, gw);
    }
    // diff is read-only: still no OpenVPN, no manifest anywhere
    assert.notEqual((await lab!.exec('bare', ['sh', '-c', 'command -v openvpn'])).code, 0);
    for (const gw of names) assert.notEqual((await lab!.exec(gw, ['test', '-e', MANIFEST])).code, 0, gw);
  });

  it('apply converges all four gateways (install, sudo login, two subnets): every LAN host pings every other', async () => {
    const result = await meshctl(lab!, ['apply', '--json'], 0);
    const json = parseJson<RunJson>(result);
    assert.equal(json.ok, true, transcript(result));
    assert.equal(json.command, 'apply');
    assert.equal(json.mesh, MESH);
    assert.deepEqual(statuses(json), { hq: 'changed', bare: 'changed', sudoer: 'changed', multi: 'changed' });
    for (const gw of names) {
      const tunnels = gatewayResult(json, gw).tunnels;
      assert.deepEqual(
        tunnels.map((t) => [t.peer, t.up]).sort(),
        peersOf(gw)
          .map((p) => [p, true])
          .sort(),
        `${gw}: every tunnel verified up`,
      );
    }
    assertNoKeyMaterial(result.stdout + result.stderr, 'apply --json');

    const version = await lab!.exec('bare', ['openvpn', '--version']);
    assert.match(version.stdout, /^OpenVPN 2\.\d+/, 'apply installed OpenVPN on bare');
    const auth = await lab!.exec('sudoer', ['journalctl', '--no-pager', '-q', '-t', 'sshd']);
    assert.match(auth.stdout, /Accepted publickey for admin/, 'meshctl logged in to sudoer as admin');
    assert.doesNotMatch(auth.stdout, /Accepted publickey for root/);

    const pids = await tunnelPids(lab!);
    assert.equal(pids.size, 12, 'three tunnel units on each of four gateways');
    assert.deepEqual(deadTunnels(pids), []);
    // 5 LAN hosts (multi has two subnets): 18 ordered pairs across LANs
    assert.deepEqual(await unansweredPings(lab!), []);
  });

  it('lands files with the right modes and owner, a manifest with every managed path and its sha256, forwarding and firewall chains', async () => {
    const renderDir = join(lab!.dir, 'rendered');
    await meshctl(lab!, ['render', '--out', 'rendered'], 0);
    for (const gw of names) {
      const peers = peersOf(gw);
      // modes and owner (SPEC §3, §4): keys 0600 root in a 0700 directory; configs 0644
      const stat = await lab!.exec(gw, [
        'sh',
        '-c',
        `stat -c '%a %U:%G %n' ${KEY_DIR} ${KEY_DIR}/* /etc/openvpn/server/mesh-*.conf`,
      ]);
      assert.equal(stat.code, 0, stat.stderr);
      const modes = new Map(
        stat.stdout
          .trim()
          .split('\n')
          .map((line) => {
            const [mode, owner, path] = line.split(' ');
            return [path!, `${mode} ${owner}`];
          }),
      );
      const expected = new Map<string, string>([[KEY_DIR, '700 root:root']]);
      expected.set(`${KEY_DIR}/${gw}.key`, '600 root:root');
      expected.set(`${KEY_DIR}/${gw}.crt`, '644 root:root');
      expected.set(`${KEY_DIR}/ca.crt`, '644 root:root');
      expected.set(`${KEY_DIR}/crl.pem`, '644 root:root');
      // the password of the tunnels' management interfaces (read by `meshctl status`)
      expected.set(`${KEY_DIR}/management.pass`, '600 root:root');
      for (const peer of peers) {
        expected.set(`${KEY_DIR}/pair-${pairIndex(idOf(gw), idOf(peer))}.key`, '600 root:root');
        expected.set(`/etc/openvpn/server/mesh-${peer}.conf`, '644 root:root');
      }
      assert.deepEqual(
        [...modes].sort(),
        [...expected].sort(),
        `${gw}: key directory and tunnel configs (mode owner:group)`,
      );

      // the manifest: this mesh, this LAN, every managed path with the sha256 of what is on disk
      const manifestText = await lab!.exec(gw, ['cat', MANIFEST]);
      assert.equal(manifestText.code, 0, `${gw}: ${manifestText.stderr}`);
      const manifest = JSON.parse(manifestText.stdout) as {
        mesh: string;
        lan: string;
        files: Record<string, string>;
        units: string[];
      };
      assert.equal(manifest.mesh, MESH);
      assert.equal(manifest.lan, gw);
      const rendered = renderedFiles(join(renderDir, gw));
      const renderedManifest = rendered.get(MANIFEST);
      assert.ok(renderedManifest, `render wrote ${gw}'s manifest`);
      assert.deepEqual(manifest, JSON.parse(renderedManifest.toString()), `${gw}: manifest on the gateway`);
      rendered.delete(MANIFEST);
      assert.deepEqual(
        Object.keys(manifest.files).sort(),
        [...rendered.keys()].sort(),
        `${gw}: managed paths`,
      );
      for (const [path, content] of rendered) {
        assert.equal(manifest.files[path], sha256(content), `${gw}: manifest sha256 of ${path}`);
      }
      const sums = await lab!.exec(gw, ['sha256sum', '--', ...Object.keys(manifest.files)]);
      assert.equal(sums.code, 0, sums.stderr);
      for (const line of sums.stdout.trim().split('\n')) {
        const [sum, path] = line.split(/\s+/);
        assert.equal(sum, manifest.files[path!], `${gw}: sha256 of ${path} on disk`);
      }
      assert.deepEqual(
        manifest.units.sort(),
        ['meshctl-firewall.service', ...peers.map(tunnelUnit)].sort(),
        `${gw}: managed units`,
      );

      // forwarding on, now and at boot
      const forward = await lab!.exec(gw, ['sysctl', '-n', 'net.ipv4.ip_forward']);
      assert.equal(forward.stdout.trim(), '1', `${gw}: ip_forward`);

      // meshctl's chains, the jumps into them, and each tunnel's UDP port open to that peer only
      const rules = (await lab!.exec(gw, ['iptables', '-w', '-S'])).stdout.split('\n');
      for (const rule of [
        '-N MESHCTL-INPUT',
        '-N MESHCTL-FORWARD',
        '-A INPUT -j MESHCTL-INPUT',
        '-A FORWARD -j MESHCTL-FORWARD',
      ]) {
        assert.ok(rules.includes(rule), `${gw}: iptables rule "${rule}" missing`);
      }
      assert.equal(
        rules.filter((r) => r.startsWith('-N MESHCTL-SRC-')).length,
        peers.length,
        `${gw}: SRC chains`,
      );
      for (const peer of peers) {
        const port = 11000 + pairIndex(idOf(gw), idOf(peer));
        const accept = `-A MESHCTL-INPUT -s 198.18.0.${idOf(peer)}/32 -p udp -m udp --dport ${port} -j ACCEPT`;
        assert.ok(rules.includes(accept), `${gw}: "${accept}" missing`);
      }
      // the operator's policies are untouched
      assert.ok(rules.includes('-P INPUT ACCEPT') && rules.includes('-P FORWARD ACCEPT'), `${gw}: policies`);
    }
  });

  it('is idempotent: diff exits 0, and a second apply changes nothing and restarts no tunnel', async () => {
    const diff = await meshctl(lab!, ['diff'], 0);
    for (const gw of names) assert.match(diff.stdout, new RegExp(`^  ${gw}\\s+ok\\s+no changes`, 'm'));
    const before = await tunnelPids(lab!);
    const apply = await meshctl(lab!, ['apply', '--json'], 0);
    const json = parseJson<RunJson>(apply);
    assert.equal(json.ok, true);
    assert.deepEqual(statuses(json), {
      hq: 'unchanged',
      bare: 'unchanged',
      sudoer: 'unchanged',
      multi: 'unchanged',
    });
    const after = await tunnelPids(lab!);
    assert.deepEqual(changedPids(before, after), [], 'no tunnel process changed PID');
    assert.deepEqual(deadTunnels(after), []);
  });

  it('drift (one file altered, one tunnel config deleted): diff shows exactly those, apply repairs only them', async () => {
    const altered = '/etc/openvpn/server/mesh-hq.conf';
    const deleted = '/etc/openvpn/server/mesh-bare.conf';
    const drift = await lab!.exec('multi', [
      'sh',
      '-c',
      'echo "# hand edit" >> "$1" && rm "$2"',
      'drift',
      altered,
      deleted,
    ]);
    assert.equal(drift.code, 0, drift.stderr);

    const json = parseJson<RunJson>(await meshctl(lab!, ['diff', '--json'], 2));
    assert.deepEqual(changingActions(json), [
      `bare restart-unit ${tunnelUnit('multi')}`,
      `hq restart-unit ${tunnelUnit('multi')}`,
      `multi restart-unit ${tunnelUnit('bare')}`,
      `multi restart-unit ${tunnelUnit('hq')}`,
      `multi write-file ${deleted} create`,
      `multi write-file ${altered} update`,
    ]);
    assert.equal(json.plans!.find((p) => p.lan === 'sudoer')!.actions.length, 0, 'sudoer is not touched');
    const text = await meshctl(lab!, ['diff', '-v'], 2);
    assert.match(text.stdout, /^ {6}-# hand edit$/m, 'the unified diff shows the hand edit being removed');
    assert.match(text.stdout, new RegExp(`^  \\+ write-file ${deleted} \\(create\\)`, 'm'));
    assert.match(
      text.stdout,
      /^ {2}multi\s+changes\s+1 to add, 1 to change, 0 to remove; 2 tunnels restart/m,
    );
    assert.match(text.stdout, /^ {2}sudoer\s+ok\s+no changes/m);
    assertNoKeyMaterial(text.stdout + text.stderr, 'diff -v');

    const before = await tunnelPids(lab!);
    const apply = parseJson<RunJson>(await meshctl(lab!, ['apply', '--json'], 0));
    assert.equal(apply.ok, true);
    const after = await tunnelPids(lab!);
    assert.deepEqual(
      changedPids(before, after),
      [
        `bare/${tunnelUnit('multi')}`,
        `hq/${tunnelUnit('multi')}`,
        `multi/${tunnelUnit('bare')}`,
        `multi/${tunnelUnit('hq')}`,
      ],
      'only the two tunnels concerned restarted, at both ends',
    );
    assert.deepEqual(deadTunnels(after), []);
    const content = await lab!.exec('multi', [
      'sh',
      '-c',
      'cat "$1"; test -f "$2"',
      'check',
      altered,
      deleted,
    ]);
    assert.equal(content.code, 0, 'the deleted config is back');
    assert.doesNotMatch(content.stdout, /hand edit/);
    await meshctl(lab!, ['diff'], 0);
    assert.deepEqual(await unansweredPings(lab!), []);
  });

  it('a gateway down: the others converge, the run exits 1 naming it; back up (blank), a re-run converges all', async () => {
    await lab!.stop('sudoer');
    try {
      await downAndBack();
    } finally {
      // a failure above must not leave the gateway stopped for the cases after this one
      if (!lab!.isRunning('sudoer')) await lab!.start('sudoer');
    }
  });

  /** The body of the case above, from the moment sudoer is stopped. */
  async function downAndBack(): Promise<void> {
    // work for the others meanwhile: a tunnel config deleted on hq
    const drift = await lab!.exec('hq', ['rm', '/etc/openvpn/server/mesh-bare.conf']);
    assert.equal(drift.code, 0, drift.stderr);
    const before = await tunnelPids(lab!, ['sudoer']);

    const result = await meshctl(lab!, ['apply'], 1);
    assert.match(
      result.stdout,
      /^ {2}sudoer\s+FAILED\s+connect: sudoer: .*198\.18\.0\.3/m,
      transcript(result),
    );
    assert.match(result.stdout, /1 of 4 gateway\(s\) failed: sudoer\./);
    assert.match(result.stdout, /^ {2}hq\s+changed\s+1 to add, 0 to change, 0 to remove; 1 tunnel restarts/m);
    assert.match(
      result.stdout,
      /^ {2}bare\s+changed\s+0 to add, 0 to change, 0 to remove; 1 tunnel restarts/m,
    );
    assert.match(result.stdout, /^ {2}multi\s+ok\s+no changes/m);
    const after = await tunnelPids(lab!, ['sudoer']);
    assert.deepEqual(changedPids(before, after), [`bare/${tunnelUnit('hq')}`, `hq/${tunnelUnit('bare')}`]);
    assert.equal(await lab!.ping('hq', 'bare'), true, 'the repaired tunnel carries traffic');

    // a non-persistent gateway comes back from the clean image: nothing of the mesh is left on it
    await lab!.start('sudoer');
    assert.notEqual((await lab!.exec('sudoer', ['test', '-e', MANIFEST])).code, 0);
    const rerun = parseJson<RunJson>(await meshctl(lab!, ['apply', '--json'], 0));
    assert.equal(rerun.ok, true);
    assert.equal(gatewayResult(rerun, 'sudoer').status, 'changed');
    assert.deepEqual(deadTunnels(await tunnelPids(lab!)), []);
    assert.deepEqual(await unansweredPings(lab!), []);
    await meshctl(lab!, ['diff'], 0);
  }

  it('reboot: tunnels, forwarding and firewall come back on a restarted gateway with no meshctl run', async () => {
    // whole seconds: systemd's unix timestamps below are truncated to the second
    const rebootedAt = Math.floor(Date.now() / 1000);
    await lab!.restart('hq');
    assert.deepEqual(
      await waitForFullMesh(lab!, 60_000),
      [],
      'every LAN host pings every other after the reboot',
    );
    assert.deepEqual(deadTunnels(await tunnelPids(lab!)), []);
    // started by this boot, not left over (a PID could repeat in the fresh PID namespace, a timestamp cannot)
    const started = await lab!.exec('hq', [
      'systemctl',
      'show',
      '--timestamp=unix',
      '-p',
      'ActiveEnterTimestamp',
      ...peersOf('hq').map(tunnelUnit),
    ]);
    const stamps = [...started.stdout.matchAll(/^ActiveEnterTimestamp=@(\d+)$/gm)].map((m) => Number(m[1]));
    assert.equal(stamps.length, 3, started.stdout);
    for (const stamp of stamps)
      assert.ok(stamp >= rebootedAt, `a tunnel of hq started at ${stamp}, before the reboot`);
    const check = await lab!.exec('hq', [
      'sh',
      '-c',
      'sysctl -n net.ipv4.ip_forward; systemctl is-active meshctl-firewall.service; iptables -w -S',
    ]);
    const [forward, firewall, ...rules] = check.stdout.trim().split('\n');
    assert.equal(forward, '1');
    assert.equal(firewall, 'active');
    assert.ok(rules.includes('-A INPUT -j MESHCTL-INPUT'), 'INPUT jump restored at boot');
    assert.ok(rules.includes('-A FORWARD -j MESHCTL-FORWARD'), 'FORWARD jump restored at boot');
    assert.equal(rules.filter((r) => r.startsWith('-N MESHCTL-SRC-')).length, 3);
    // nothing needs repair
    await meshctl(lab!, ['diff'], 0);
  });

  it('changed host key: that gateway is refused with a clear message (even with --accept-new); the others proceed', async () => {
    const original = readFileSync(lab!.knownHostsFile, 'utf8');
    // another key for hq's address: what an operator sees when someone answers in its place
    const impostor = join(lab!.dir, 'impostor_key');
    const keygen = await lab!.execCtl(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', impostor]);
    assert.equal(keygen.code, 0, keygen.stderr);
    const [type, key] = readFileSync(`${impostor}.pub`, 'utf8').split(' ');
    const tampered = original.replace(/^198\.18\.0\.1 .*$/m, `198.18.0.1 ${type} ${key}`);
    assert.notEqual(tampered, original);
    writeFileSync(lab!.knownHostsFile, tampered);
    try {
      // work for the others: a tunnel config deleted on bare (its pair with sudoer)
      assert.equal((await lab!.exec('bare', ['rm', '/etc/openvpn/server/mesh-sudoer.conf'])).code, 0);
      const before = await tunnelPids(lab!);

      const result = await meshctl(lab!, ['apply', '--json'], 1);
      const json = parseJson<RunJson>(result);
      assert.equal(json.ok, false);
      assert.deepEqual(statuses(json), {
        hq: 'failed',
        bare: 'changed',
        sudoer: 'changed',
        multi: 'unchanged',
      });
      const hq = gatewayResult(json, 'hq');
      assert.equal(hq.error?.stage, 'connect');
      assert.match(hq.error!.message, /^hq: host key of 198\.18\.0\.1 port 22 CHANGED/);
      assert.match(hq.error!.message, /refused/);
      assert.ok(hq.error!.message.includes(lab!.knownHostsFile), 'the message names the known_hosts file');
      assert.match(hq.error!.message, /Fix: /);
      const after = await tunnelPids(lab!);
      assert.deepEqual(changedPids(before, after), [
        `bare/${tunnelUnit('sudoer')}`,
        `sudoer/${tunnelUnit('bare')}`,
      ]);

      const acceptNew = await meshctl(lab!, ['diff', '--accept-new'], 1);
      assert.match(acceptNew.stdout, /^ {2}hq\s+FAILED\s+connect: hq: host key .* CHANGED/m);
      assert.equal(
        readFileSync(lab!.knownHostsFile, 'utf8'),
        tampered,
        'meshctl never rewrites a changed key',
      );
    } finally {
      writeFileSync(lab!.knownHostsFile, original);
    }
    await meshctl(lab!, ['diff'], 0);
    assert.deepEqual(await unansweredPings(lab!), []);
  });
});
