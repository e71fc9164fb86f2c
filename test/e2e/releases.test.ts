import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, type LabSpec, reapOrphans } from '../lab/lab.js';
import {
  changedPids,
  deadTunnels,
  meshctl,
  parseJson,
  skipUnlessLabUsable,
  transcript,
  tunnelPids,
  tunnelUnit,
  waitForFullMesh,
} from './helpers/gateways.js';
import { gatewayResult, type RunJson, statuses } from './helpers/results.js';

/**
 * One mesh across every supported OpenVPN: a gateway on each Debian release of the lab (bullseye 2.5, bookworm
 * and trixie 2.6, sid 2.7), converged by one `meshctl apply`; then a fifth gateway (bookworm, without OpenVPN)
 * joins with `add-lan`, and the bullseye and sid gateways reboot. Needs root and systemd-nspawn; otherwise skipped,
 * loudly.
 */

const spec: LabSpec = {
  name: 'rel1',
  mesh: 'releases',
  gateways: [
    // bullseye and sid reboot in the last case: their disks persist
    { name: 'bull', id: 1, subnets: ['10.151.0.0/24'], release: 'bullseye', persistent: true },
    { name: 'book', id: 2, subnets: ['10.152.0.0/24'], release: 'bookworm' },
    { name: 'trix', id: 3, subnets: ['10.153.0.0/24'], release: 'trixie' },
    { name: 'sid', id: 4, subnets: ['10.154.0.0/24'], release: 'sid', persistent: true },
    // a machine outside the mesh until add-lan brings it in; meshctl must install OpenVPN on it
    { name: 'late', id: 5, subnets: ['10.155.0.0/24'], openvpn: false },
  ],
};
const FIRST = ['bull', 'book', 'trix', 'sid'];
const ALL = [...FIRST, 'late'];
const OPENVPN_VERSION: Record<string, RegExp> = {
  bull: /^OpenVPN 2\.5\.\d+ /,
  book: /^OpenVPN 2\.6\.\d+ /,
  trix: /^OpenVPN 2\.6\.\d+ /,
  sid: /^OpenVPN 2\.7\.\d+ /,
};

/** MainPID of every tunnel unit among `members` (gateway/unit → PID), the other gateways left out. */
async function pidsAmong(lab: Lab, members: string[]): Promise<Map<string, number>> {
  const all = await tunnelPids(
    lab,
    ALL.filter((gw) => !members.includes(gw)),
  );
  const units = new Set(members.map(tunnelUnit));
  return new Map([...all].filter(([key]) => units.has(key.slice(key.indexOf('/') + 1))));
}

/** Polls LAN-to-LAN pings among `members` (both directions) until all answer or `timeoutMs` passes; the failures. */
async function unansweredAmong(lab: Lab, members: string[], timeoutMs: number): Promise<string[]> {
  const pairs = members.flatMap((a) => members.filter((b) => b !== a).map((b) => [a, b] as const));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const results = await Promise.all(
      pairs.map(async ([a, b]) => ((await lab.ping(a, b)) ? '' : `${a}->${b}`)),
    );
    const failed = results.filter(Boolean);
    if (failed.length === 0 || Date.now() >= deadline) return failed;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

/**
 * What the tunnel's current OpenVPN process negotiated, from its journal: the control channel's TLS version and
 * the data channel's cipher. 2.5 logs "Outgoing/Incoming Data Channel: Cipher 'X' initialized"; 2.6 and 2.7 also
 * "Data Channel: cipher 'X'".
 */
async function negotiated(
  lab: Lab,
  gw: string,
  peer: string,
): Promise<{ tls?: string; cipher?: string; log: string }> {
  const unit = tunnelUnit(peer);
  const journal = await lab.exec(gw, [
    'sh',
    '-c',
    'journalctl --no-pager -o cat _SYSTEMD_INVOCATION_ID="$(systemctl show -p InvocationID --value "$1")"',
    'sh',
    unit,
  ]);
  assert.equal(journal.code, 0, `${gw} ${unit}: ${journal.stderr}`);
  const log = journal.stdout;
  const tls = [...log.matchAll(/Control Channel: (TLSv1\.[0-3])/g)].at(-1)?.[1];
  const cipher = [...log.matchAll(/Data Channel: [Cc]ipher '([A-Z0-9-]+)'/g)].at(-1)?.[1];
  return { ...(tls ? { tls } : {}), ...(cipher ? { cipher } : {}), log };
}

describe('releases: one mesh across OpenVPN 2.5 (bullseye), 2.6 (bookworm, trixie) and 2.7 (sid) (root + systemd-nspawn)', function () {
  this.timeout(300_000);
  let lab: Lab | undefined;

  before(async function () {
    skipUnlessLabUsable(this, 'dist/test/e2e/releases.test.js');
    this.timeout(600_000);
    await reapOrphans();
    lab = await Lab.up(spec);
    rmSync(join(lab.inventoryDir, 'lans', 'late.yml'));
  });

  after(async function () {
    this.timeout(120_000);
    await lab?.down();
  });

  it('boots each gateway on its release, with its OpenVPN', async () => {
    const expected: Record<string, [string, RegExp]> = {
      bull: ['11', /^247\b/],
      book: ['12', /^252\b/],
      trix: ['13', /^257\b/],
      sid: ['forky/sid', /^2\d\d\b/],
    };
    for (const [gw, [debian, systemd]] of Object.entries(expected)) {
      const about = await lab!.exec(gw, [
        'sh',
        '-c',
        'cut -d. -f1 /etc/debian_version; systemctl --version | sed -n "1s/^systemd \\([0-9]*\\).*/\\1/p"; ' +
          'systemctl is-system-running --wait; openvpn --version | head -n 1',
      ]);
      const [version, systemdVersion, state, openvpn] = about.stdout.trim().split('\n');
      assert.equal(version, debian, `${gw}: ${about.stdout}${about.stderr}`);
      assert.match(systemdVersion ?? '', systemd, gw);
      assert.equal(state, 'running', `${gw}: systemd is ${state}`);
      assert.match(openvpn ?? '', OPENVPN_VERSION[gw]!, gw);
    }
    const late = await lab!.exec('late', ['sh', '-c', 'command -v openvpn']);
    assert.notEqual(late.code, 0, 'late starts without OpenVPN');
  });

  it('a cold apply converges all four releases; every LAN host pings every other', async () => {
    const result = await meshctl(lab!, ['apply', '--json'], 0);
    const json = parseJson<RunJson>(result);
    assert.equal(json.ok, true, transcript(result));
    assert.deepEqual(statuses(json), { bull: 'changed', book: 'changed', trix: 'changed', sid: 'changed' });
    for (const gw of FIRST) {
      assert.deepEqual(
        gatewayResult(json, gw)
          .tunnels.map((t) => [t.peer, t.up])
          .sort(),
        FIRST.filter((p) => p !== gw)
          .map((p) => [p, true])
          .sort(),
        `${gw}: every tunnel verified up`,
      );
    }
    const pids = await pidsAmong(lab!, FIRST);
    assert.equal(pids.size, 12, 'three tunnel units on each of four gateways');
    assert.deepEqual(deadTunnels(pids), []);
    assert.deepEqual(await unansweredAmong(lab!, FIRST, 20_000), []);
  });

  it('every tunnel negotiated TLS 1.3 or 1.2 on the control channel and AES-256-GCM on the data channel, at both ends', async () => {
    const seen: string[] = [];
    for (const gw of FIRST) {
      for (const peer of FIRST.filter((p) => p !== gw)) {
        const { tls, cipher, log } = await negotiated(lab!, gw, peer);
        assert.ok(tls === 'TLSv1.3' || tls === 'TLSv1.2', `${gw} -> ${peer}: control channel ${tls}\n${log}`);
        assert.equal(cipher, 'AES-256-GCM', `${gw} -> ${peer}: data channel\n${log}`);
        seen.push(`${gw}->${peer} ${tls}`);
      }
    }
    assert.equal(seen.length, 12);
  });

  it('is idempotent across releases: diff exits 0, and a second apply restarts no tunnel', async () => {
    const before = await pidsAmong(lab!, FIRST);
    const apply = await meshctl(lab!, ['apply', '--json'], 0);
    assert.deepEqual(statuses(parseJson<RunJson>(apply)), {
      bull: 'unchanged',
      book: 'unchanged',
      trix: 'unchanged',
      sid: 'unchanged',
    });
    const after = await pidsAmong(lab!, FIRST);
    assert.deepEqual(changedPids(before, after), [], 'no tunnel process changed PID');
    assert.deepEqual(deadTunnels(after), []);
    await meshctl(lab!, ['diff'], 0);
  });

  it('add-lan a bookworm gateway without OpenVPN: meshctl installs it from the local folder, no tunnel restarts', async () => {
    const before = await pidsAmong(lab!, FIRST);
    const add = await meshctl(
      lab!,
      ['add-lan', 'late', '--subnet', '10.155.0.0/24', '--endpoint', '198.18.0.5', '--id', '5', '--no-color'],
      0,
    );
    assert.match(add.stdout, /wrote inventory\/lans\/late\.yml/);
    const version = await lab!.exec('late', ['openvpn', '--version']);
    assert.match(version.stdout, OPENVPN_VERSION.book!, 'add-lan installed OpenVPN on late');
    const installed = await lab!.exec('late', [
      'sh',
      '-c',
      'grep -h " install openvpn:" /var/log/dpkg.log; apt-cache policy openvpn',
    ]);
    assert.match(installed.stdout, /install openvpn:amd64/, installed.stdout);
    assert.match(installed.stdout, /file:\/srv\/repo \.\//, 'installed from the local package folder');
    const after = await pidsAmong(lab!, FIRST);
    assert.deepEqual(changedPids(before, after), [], 'no existing tunnel restarted');
    const all = await pidsAmong(lab!, ALL);
    assert.equal(all.size, 20, 'four tunnel units on each of five gateways');
    assert.deepEqual(deadTunnels(all), []);
    assert.deepEqual(await waitForFullMesh(lab!, 30_000), []);
    for (const peer of FIRST) {
      const { tls, cipher, log } = await negotiated(lab!, 'late', peer);
      assert.ok(tls === 'TLSv1.3' || tls === 'TLSv1.2', `late -> ${peer}: ${tls}\n${log}`);
      assert.equal(cipher, 'AES-256-GCM', `late -> ${peer}\n${log}`);
    }
    await meshctl(lab!, ['diff'], 0);
  });

  it('a reboot of the bullseye and the sid gateway brings their tunnels back with no meshctl run', async () => {
    // whole seconds: systemd's unix timestamps are truncated to the second
    const rebootedAt = Math.floor(Date.now() / 1000);
    await Promise.all(['bull', 'sid'].map((gw) => lab!.restart(gw)));
    assert.deepEqual(
      await waitForFullMesh(lab!, 60_000),
      [],
      'every LAN host pings every other after the reboots',
    );
    assert.deepEqual(deadTunnels(await pidsAmong(lab!, ALL)), []);
    for (const gw of ['bull', 'sid']) {
      // bullseye's systemctl (247) has no --timestamp=unix: date(1) reads systemd's own format
      const started = await lab!.exec(gw, [
        'sh',
        '-c',
        'for u; do date -d "$(systemctl show -p ActiveEnterTimestamp --value "$u")" +%s; done',
        'sh',
        ...ALL.filter((p) => p !== gw).map(tunnelUnit),
      ]);
      const stamps = started.stdout.trim().split('\n').map(Number);
      assert.equal(stamps.length, 4, `${gw}: ${started.stdout}${started.stderr}`);
      assert.ok(stamps.every(Number.isInteger), `${gw}: ${started.stdout}${started.stderr}`);
      for (const stamp of stamps)
        assert.ok(stamp >= rebootedAt, `a tunnel of ${gw} started before the reboot`);
      const firewall = await lab!.exec(gw, [
        'sh',
        '-c',
        'sysctl -n net.ipv4.ip_forward; systemctl is-active meshctl-firewall.service',
      ]);
      assert.equal(firewall.stdout, '1\nactive\n', gw);
    }
    await meshctl(lab!, ['diff'], 0);
  });
});
