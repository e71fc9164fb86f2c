import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pairIndex } from '../../src/mesh/allocate.js';
import { Lab, type LabSpec, reapOrphans } from '../lab/lab.js';
import { skipUnlessLabUsable } from './helpers/skip.js';

/**
 * add-lan and remove-lan on the real lab: a 4-LAN mesh grows to 5 with no existing tunnel restarting, loses a
 * middle LAN whose revoked certificate then really is refused, and grows again while a gateway is down (`apply`
 * finishes the job when it is back). Needs root and systemd-nspawn; otherwise skipped, loudly.
 */

const SPEC: LabSpec = {
  name: 'al1',
  gateways: [1, 2, 3, 4, 5, 6].map((id) => ({
    name: `al${id}`,
    id,
    subnets: [`10.141.${id}.0/24`],
    // al2 goes down during an add-lan and comes back with its files, as a rebooted server does
    ...(id === 2 ? { persistent: true } : {}),
  })),
};

/** sha256 of every file under `dir` except the PKI and the lock (relative path → hash). */
function inventoryHashes(dir: string): Record<string, string> {
  const result: Record<string, string> = {};
  const walk = (sub: string) => {
    for (const entry of readdirSync(join(dir, sub))) {
      const rel = sub === '' ? entry : `${sub}/${entry}`;
      if (rel === 'pki' || rel === '.meshctl.lock') continue;
      if (statSync(join(dir, rel)).isDirectory()) walk(rel);
      else
        result[rel] = createHash('sha256')
          .update(readFileSync(join(dir, rel)))
          .digest('hex');
    }
  };
  walk('');
  return result;
}

describe('add-lan / remove-lan on the lab (root + systemd-nspawn)', function () {
  this.timeout(360_000);
  let lab: Lab | undefined;

  /** `openvpn-server@mesh-<peer>` → MainPID, for every tunnel unit of the gateway. */
  async function tunnelPids(gateway: string): Promise<Map<string, number>> {
    const result = await lab!.exec(gateway, [
      'sh',
      '-c',
      'for u in $(systemctl list-units --plain --no-legend --state=active "openvpn-server@mesh-*" | cut -d" " -f1); do echo "$u $(systemctl show -p MainPID --value "$u")"; done',
    ]);
    assert.equal(result.code, 0, result.stderr);
    return new Map(
      result.stdout
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const [unit, pid] = line.split(' ');
          return [unit!, Number(pid)];
        }),
    );
  }

  async function pidsOf(gateways: string[]): Promise<Map<string, number>> {
    const all = new Map<string, number>();
    for (const gw of gateways) for (const [unit, pid] of await tunnelPids(gw)) all.set(`${gw}/${unit}`, pid);
    return all;
  }

  /** Every ordered pair of `gateways` pings (LAN host to LAN host); returns the failures. */
  async function pingFailures(gateways: string[]): Promise<string[]> {
    const pairs = gateways.flatMap((a) => gateways.filter((b) => b !== a).map((b) => [a, b] as const));
    const results = await Promise.all(
      pairs.map(async ([a, b]) => ((await lab!.ping(a, b)) ? '' : `${a}->${b}`)),
    );
    return results.filter(Boolean);
  }

  /** Pings retried for a few seconds: a tunnel verified by apply may still be settling its routes. */
  async function assertAllPing(gateways: string[]): Promise<void> {
    let failures: string[] = [];
    for (let i = 0; i < 10; i++) {
      failures = await pingFailures(gateways);
      if (failures.length === 0) return;
      await new Promise((r) => setTimeout(r, 1000));
    }
    assert.deepEqual(failures, [], `LAN-to-LAN pings that failed among ${gateways.join(', ')}`);
  }

  async function meshctl(args: string[]) {
    const result = await lab!.meshctl([...args, '--no-color'], { timeoutMs: 240_000 });
    return { ...result, all: `${result.stdout}\n${result.stderr}` };
  }

  before(async function () {
    skipUnlessLabUsable(this);
    await reapOrphans();
    lab = await Lab.up(SPEC);
    // al5 and al6 exist as machines but not yet in the mesh: add-lan brings them in
    rmSync(join(lab.inventoryDir, 'lans', 'al5.yml'));
    rmSync(join(lab.inventoryDir, 'lans', 'al6.yml'));
    const apply = await meshctl(['apply']);
    assert.equal(apply.code, 0, apply.all);
  });

  after(async () => {
    await lab?.down();
  });

  it('add-lan a fifth LAN: all five ping, no existing tunnel restarts, only lans/al5.yml is new', async () => {
    const existing = ['al1', 'al2', 'al3', 'al4'];
    await assertAllPing(existing);
    const pidsBefore = await pidsOf(existing);
    assert.equal(pidsBefore.size, 12, 'three tunnels on each of four gateways');
    const hashesBefore = inventoryHashes(lab!.inventoryDir);
    const pki = join(lab!.inventoryDir, 'pki');
    const crlBefore = readFileSync(join(pki, 'crl.pem'), 'utf8');

    // where each existing gateway's journal stands: what PID 1 logs after it is add-lan's doing
    const since = new Map<string, string>();
    for (const gw of existing) {
      const shown = await lab!.exec(gw, ['journalctl', '-n', '0', '--show-cursor', '--no-pager']);
      const cursor = /^-- cursor: (.+)$/m.exec(shown.stdout)?.[1];
      assert.ok(cursor, `${gw}: journal cursor: ${shown.stdout}${shown.stderr}`);
      since.set(gw, cursor);
    }
    const add = await meshctl(['add-lan', 'al5', '--subnet', '10.141.5.0/24', '--endpoint', '198.18.0.5']);
    assert.equal(add.code, 0, add.all);
    assert.match(add.stdout, /wrote inventory\/lans\/al5\.yml: LAN "al5", id 5/);
    assert.ok(
      add.stdout.indexOf('Roll-out 1/2: al5') < add.stdout.indexOf('Roll-out 2/2'),
      'the new gateway first',
    );
    assert.match(add.stdout, /^ {2}al1 {2}route 10\.141\.5\.0\/24 via 10\.141\.1\.1$/m);
    assert.match(add.stdout, /^ {2}al5 {2}route 10\.141\.3\.0\/24 via 10\.141\.5\.1$/m);
    // ids 1 and 5: pair index (5-1)(5-2)/2 + 1 = 7
    assert.match(add.stdout, /al1 \(198\.18\.0\.1\) +UDP 11007 from 198\.18\.0\.5 \(al5, pair 7\)/);

    await assertAllPing([...existing, 'al5']);
    const pidsAfter = await pidsOf(existing);
    for (const [unit, pid] of pidsBefore) assert.equal(pidsAfter.get(unit), pid, `${unit} kept its MainPID`);
    assert.equal(pidsAfter.size, 16, 'each existing gateway has one tunnel more');
    // the new tunnel runs with its drop-in (bound to the firewall unit), and systemd saw it with no daemon-reload
    const props = ['BindsTo', 'DropInPaths', 'NeedDaemonReload', 'UnitFileState'].flatMap((p) => ['-p', p]);
    for (const gw of existing) {
      const shown = await lab!.exec(gw, ['systemctl', 'show', ...props, 'openvpn-server@mesh-al5.service']);
      assert.match(shown.stdout, /^BindsTo=.*\bmeshctl-firewall\.service\b/m, `${gw}: ${shown.stdout}`);
      assert.match(
        shown.stdout,
        /^DropInPaths=.*\/etc\/systemd\/system\/openvpn-server@mesh-al5\.service\.d\/meshctl\.conf/m,
      );
      assert.match(shown.stdout, /^NeedDaemonReload=no$/m, `${gw}: systemd runs what is on disk`);
      assert.match(shown.stdout, /^UnitFileState=enabled$/m);
      // systemd 252 saw the new drop-in by itself: add-lan did not reload it ("Reloading." is PID 1's line for one)
      const journal = await lab!.exec(gw, [
        'journalctl',
        '_PID=1',
        '--after-cursor',
        since.get(gw)!,
        '-o',
        'cat',
        '--no-pager',
      ]);
      assert.equal(journal.code, 0, journal.stderr);
      assert.deepEqual(
        journal.stdout.split('\n').filter((line) => line === 'Reloading.'),
        [],
        `${gw}: no daemon-reload during add-lan`,
      );
    }

    const hashesAfter = inventoryHashes(lab!.inventoryDir);
    assert.deepEqual(
      Object.keys(hashesAfter).filter((f) => !(f in hashesBefore)),
      ['lans/al5.yml'],
    );
    for (const [file, sha] of Object.entries(hashesBefore))
      assert.equal(hashesAfter[file], sha, `${file} kept its bytes`);
    assert.equal(readFileSync(join(pki, 'crl.pem'), 'utf8'), crlBefore, 'the CRL did not change');
  });

  it('remove-lan a middle LAN: the others keep pinging with unchanged PIDs; its revoked certificate is refused', async () => {
    const remaining = ['al1', 'al2', 'al4', 'al5'];
    const k13 = pairIndex(1, 3);
    // what an attacker holding al3's old files would have: al3's whole config, and al1's end of the pair
    const keep = await lab!.exec('al3', ['cp', '-a', '/etc/openvpn/server', '/root/kept-server']);
    assert.equal(keep.code, 0, keep.stderr);
    const keepAl1 = await lab!.exec('al1', [
      'sh',
      '-c',
      `mkdir -p /root/kept && cp -a /etc/openvpn/server/mesh-al3.conf /etc/openvpn/server/meshctl/pair-${k13}.key /root/kept/`,
    ]);
    assert.equal(keepAl1.code, 0, keepAl1.stderr);
    const pidsBefore = await pidsOf(remaining);
    const meshBefore = readFileSync(join(lab!.inventoryDir, 'mesh.yml'), 'utf8');

    const remove = await meshctl(['remove-lan', 'al3']);
    assert.equal(remove.code, 0, remove.all);
    assert.match(remove.stdout, /al3: cleaned: 4 tunnel\(s\) stopped and disabled/);

    const meshAfter = readFileSync(join(lab!.inventoryDir, 'mesh.yml'), 'utf8');
    assert.ok(meshAfter.startsWith(meshBefore), 'mesh.yml: the operator text is kept, the key appended');
    assert.match(meshAfter.slice(meshBefore.length), /^# .*\nretired_ids: \[3\]\n$/);
    assert.equal(existsSync(join(lab!.inventoryDir, 'lans', 'al3.yml')), false);

    await assertAllPing(remaining);
    const pidsAfter = await pidsOf(remaining);
    for (const [unit, pid] of pidsBefore) {
      if (unit.endsWith('@mesh-al3.service')) assert.equal(pidsAfter.has(unit), false, `${unit} stopped`);
      else assert.equal(pidsAfter.get(unit), pid, `${unit} kept its MainPID`);
    }
    const leftOnAl3 = await lab!.exec('al3', [
      'sh',
      '-c',
      'ls /etc/meshctl /etc/openvpn/server/*.conf 2>&1; pgrep -c openvpn; iptables -S | grep -c MESHCTL',
    ]);
    assert.match(leftOnAl3.stdout, /No such file or directory[\s\S]*No such file or directory\n0\n0\n$/);

    // the removed gateway with its old files tries again; al1 runs its old end of the pair with the new CRL
    const restore = await lab!.exec('al3', [
      'sh',
      '-c',
      'cp -a /root/kept-server/. /etc/openvpn/server/ && systemctl start openvpn-server@mesh-al1',
    ]);
    assert.equal(restore.code, 0, restore.stderr);
    const oldEnd = await lab!.exec('al1', [
      'sh',
      '-c',
      `cp -a /root/kept/pair-${k13}.key /etc/openvpn/server/meshctl/ && systemd-run --unit=al-revoked-peer openvpn --config /root/kept/mesh-al3.conf --log /root/revoked-peer.log`,
    ]);
    assert.equal(oldEnd.code, 0, oldEnd.stderr);
    try {
      let log = '';
      for (let i = 0; i < 40 && !/certificate revoked/.test(log); i++) {
        await new Promise((r) => setTimeout(r, 1000));
        log = (await lab!.exec('al1', ['cat', '/root/revoked-peer.log'])).stdout;
      }
      assert.match(log, /VERIFY ERROR: depth=0, error=certificate revoked: .*CN=al3/, log);
      assert.doesNotMatch(log, /Initialization Sequence Completed/);
      // this start of the unit only (it had come up before the removal, with the certificate still valid)
      const al3Log = await lab!.exec('al3', [
        'sh',
        '-c',
        'journalctl --no-pager _SYSTEMD_INVOCATION_ID="$(systemctl show -p InvocationID --value openvpn-server@mesh-al1)"',
      ]);
      assert.match(al3Log.stdout, /Initial packet from \[AF_INET\]198\.18\.0\.1/, 'al3 really reached al1');
      assert.doesNotMatch(al3Log.stdout, /Initialization Sequence Completed/);
    } finally {
      await lab!.exec('al1', [
        'sh',
        '-c',
        `systemctl stop al-revoked-peer; rm -f /etc/openvpn/server/meshctl/pair-${k13}.key`,
      ]);
      await lab!.exec('al3', ['systemctl', 'stop', 'openvpn-server@mesh-al1']);
    }

    // the mesh itself is untouched by all this: nothing left for apply
    const diff = await meshctl(['diff']);
    assert.equal(diff.code, 0, diff.all);
  });

  it('add-lan with a gateway down: the rest get the new tunnel, exit 1 names it; apply finishes after it returns', async () => {
    await lab!.stop('al2');
    const add = await meshctl(['add-lan', 'al6', '--subnet', '10.141.6.0/24', '--endpoint', '198.18.0.6']);
    assert.equal(add.code, 1, add.all);
    assert.match(add.stdout, /Left to do[^\n]*\n {2}al2: connect/);
    assert.match(add.stdout, /run `meshctl apply -i inventory`/);

    // never the retired id 3, so never one of its ports or transit /30s
    const file = readFileSync(join(lab!.inventoryDir, 'lans', 'al6.yml'), 'utf8');
    assert.match(file, /^id: 6$/m);
    const configs = await lab!.exec('al6', [
      'sh',
      '-c',
      'grep -h -E "^(port|ifconfig) " /etc/openvpn/server/mesh-*.conf',
    ]);
    const ports = [...configs.stdout.matchAll(/^port (\d+)$/gm)].map((m) => Number(m[1])).sort();
    assert.deepEqual(ports, [1, 2, 4, 5].map((id) => 11000 + pairIndex(id, 6)).sort());
    const retiredPorts = [1, 2, 4, 5].map((id) => 11000 + pairIndex(id, 3));
    for (const port of retiredPorts)
      assert.ok(!ports.includes(port), `port ${port} of a pair of retired id 3`);
    const transit = [...configs.stdout.matchAll(/^ifconfig (\S+) (\S+)$/gm)].map((m) => m[1]!);
    for (const id of [1, 2, 4, 5]) {
      const k = pairIndex(id, 3);
      const retired = [
        `172.19.${(4 * k) >> 8}.${((4 * k) & 255) + 1}`,
        `172.19.${(4 * k) >> 8}.${((4 * k) & 255) + 2}`,
      ];
      for (const address of retired) assert.ok(!transit.includes(address), `${address} of retired pair ${k}`);
    }

    await assertAllPing(['al1', 'al4', 'al5', 'al6']);

    await lab!.start('al2');
    const apply = await meshctl(['apply']);
    assert.equal(apply.code, 0, apply.all);
    await assertAllPing(['al1', 'al2', 'al4', 'al5', 'al6']);
    const again = await meshctl(['diff']);
    assert.equal(again.code, 0, again.all);
  });
});
