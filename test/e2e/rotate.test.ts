import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadInventoryOrThrow } from '../../src/inventory/load.js';
import { certSerial, parseCertificate } from '../../src/pki/certificates.js';
import { crlSerials, parseCrl } from '../../src/pki/crl.js';
import { rel } from '../../src/pki/layout.js';
import { Lab, type LabSpec, reapOrphans } from '../lab/lab.js';
import {
  assertNoKeyMaterial,
  changedPids,
  meshctl,
  parseJson,
  skipUnlessLabUsable,
  statusUntil,
  transcript,
  tunnelPids,
  tunnelUnit,
  unansweredPings,
  waitForFullMesh,
} from './helpers/gateways.js';

/**
 * `meshctl rotate` on real gateways (SPEC §10): a static full mesh of five LANs. `rotate --pair ra,rb`, then
 * `rotate --gateway rb`. After each: the material on every gateway is pki_dir's (fingerprints), status exits 0,
 * the whole LAN matrix pings, only the tunnels that had to restart did; the old material is refused by the peer
 * (a throw-away OpenVPN in rb's container presenting the old tls-crypt key, or the old certificate, against ra);
 * and the outage of the rotated pair is measured with a 50 ms ping between its two LANs.
 */

const SPEC: LabSpec = {
  name: 'rot',
  portBase: 13000,
  gateways: [
    { name: 'ra', id: 1, subnets: ['10.71.0.0/24'] },
    { name: 'rb', id: 2, subnets: ['10.72.0.0/24'] },
    { name: 'rc', id: 3, subnets: ['10.73.0.0/24'] },
    { name: 'rd', id: 4, subnets: ['10.74.0.0/24'] },
    { name: 're', id: 5, subnets: ['10.75.0.0/24'] },
  ],
};
const NAMES = SPEC.gateways.map((g) => g.name);
const KEY_DIR = '/etc/openvpn/server/meshctl';
/** Pair ra <-> rb: ids 1 and 2, index 1 (UDP 13001). */
const PAIR = 1;

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Longest gap between two answers of `ping -D` (seconds), and how many were sent and answered. */
function longestGap(output: string): { gap: number; answered: number; sent: number } {
  const times = [...output.matchAll(/^\[(\d+\.\d+)\] \d+ bytes from/gm)].map((m) => Number(m[1]));
  const sent = Number(/(\d+) packets transmitted/.exec(output)?.[1] ?? 0);
  let gap = 0;
  for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i]! - times[i - 1]!);
  return { gap, answered: times.length, sent };
}

describe('e2e: meshctl rotate on a 5-LAN lab (root + systemd-nspawn)', function () {
  this.timeout(600_000);
  let lab: Lab | undefined;
  let pkiDir = '';
  const pki = (relative: string) => readFileSync(join(pkiDir, relative), 'utf8');

  /** Every gateway holds pki_dir's CA, CRL, own certificate and key, and the key of each of its pairs. */
  async function assertMaterialMatches(): Promise<void> {
    const mesh = loadInventoryOrThrow(lab!.inventoryDir).inventory;
    const pairIndex = (a: number, b: number) => {
      const [x, y] = a < b ? [a, b] : [b, a];
      return ((y - 1) * (y - 2)) / 2 + x;
    };
    for (const gw of mesh.gateways) {
      const expected = new Map<string, string>([
        [`${KEY_DIR}/ca.crt`, pki(rel.caCert)],
        [`${KEY_DIR}/crl.pem`, pki(rel.crl)],
        [`${KEY_DIR}/${gw.name}.crt`, pki(rel.gatewayCert(gw.name))],
        [`${KEY_DIR}/${gw.name}.key`, pki(rel.gatewayKey(gw.name))],
      ]);
      for (const peer of mesh.gateways.filter((p) => p.name !== gw.name)) {
        const k = pairIndex(gw.id, peer.id);
        expected.set(`${KEY_DIR}/pair-${k}.key`, pki(rel.tlsCrypt(k)));
      }
      const sums = await lab!.exec(gw.name, ['sha256sum', ...expected.keys()]);
      assert.equal(sums.code, 0, `${gw.name}: ${sums.stderr}`);
      const got = new Map(
        sums.stdout
          .trim()
          .split('\n')
          .map((line) => {
            const [sum, path] = line.split(/\s+/);
            return [path!, sum!] as const;
          }),
      );
      for (const [path, content] of expected) {
        const want = sha256(content.endsWith('\n') ? content : `${content}\n`);
        assert.equal(got.get(path), want, `${gw.name}:${path} is not pki_dir's`);
      }
    }
  }

  /** The unit's journal on `gateway` since `since` (unix seconds). */
  async function journal(gateway: string, unit: string, since: number): Promise<string> {
    const result = await lab!.exec(gateway, [
      'journalctl',
      '--no-pager',
      '-o',
      'cat',
      '-u',
      unit,
      '--since',
      `@${Math.floor(since)}`,
    ]);
    return result.stdout;
  }

  /**
   * rb's end of the pair with ra stopped; in its place a throw-away OpenVPN with rb's config but the given key or
   * certificate files, for `seconds`. Returns its log; the real unit is started again afterwards.
   */
  async function impostor(files: { cert?: string; key?: string; tlsCrypt?: string }, seconds: number) {
    const config = await lab!.exec('rb', ['cat', '/etc/openvpn/server/mesh-ra.conf']);
    assert.equal(config.code, 0);
    const lines = config.stdout
      .split('\n')
      .filter((line) => !/^(management|status)\s/.test(line))
      .map((line) => {
        if (files.cert && /^cert\s/.test(line)) return 'cert /tmp/impostor.crt';
        if (files.key && /^key\s/.test(line)) return 'key /tmp/impostor.key';
        if (files.tlsCrypt && /^tls-crypt\s/.test(line)) return 'tls-crypt /tmp/impostor-tc.key';
        return line;
      });
    const put = async (path: string, content: string) => {
      const r = await lab!.exec('rb', ['sh', '-c', `umask 077; cat > ${path}`], { stdin: content });
      assert.equal(r.code, 0, r.stderr);
    };
    await put('/tmp/impostor.conf', `${lines.join('\n')}\n`);
    if (files.cert) await put('/tmp/impostor.crt', files.cert);
    if (files.key) await put('/tmp/impostor.key', files.key);
    if (files.tlsCrypt) await put('/tmp/impostor-tc.key', files.tlsCrypt);
    const stop = await lab!.exec('rb', ['systemctl', 'stop', tunnelUnit('ra')]);
    assert.equal(stop.code, 0, stop.stderr);
    const since = Date.now() / 1000 - 1;
    try {
      const run = await lab!.exec(
        'rb',
        ['timeout', String(seconds), 'openvpn', '--config', '/tmp/impostor.conf'],
        {
          timeoutMs: (seconds + 10) * 1000,
        },
      );
      const peerLog = await journal('ra', tunnelUnit('rb'), since);
      return { log: run.stdout + run.stderr, peerLog };
    } finally {
      await lab!.exec('rb', [
        'rm',
        '-f',
        '/tmp/impostor.conf',
        '/tmp/impostor.crt',
        '/tmp/impostor.key',
        '/tmp/impostor-tc.key',
      ]);
      const start = await lab!.exec('rb', ['systemctl', 'start', tunnelUnit('ra')]);
      assert.equal(start.code, 0, start.stderr);
    }
  }

  /** Runs `meshctl rotate ARGS` while ra's LAN pings rb's LAN every 50 ms; the longest gap is the outage. */
  async function rotateMeasured(args: string[], window: number) {
    const target = lab!.lanHostAddress('rb');
    const pinging = lab!.execLan(
      'ra',
      ['ping', '-D', '-n', '-i', '0.05', '-W', '1', '-w', String(window), target],
      0,
      {
        timeoutMs: (window + 20) * 1000,
      },
    );
    // the ping is running before the rotation starts
    await new Promise((resolve) => setTimeout(resolve, 500));
    const started = Date.now();
    const run = await meshctl(lab!, ['rotate', ...args, '--json'], 0);
    const took = (Date.now() - started) / 1000;
    const ping = await pinging;
    assert.ok(
      took + 0.5 < window,
      `the rotation (${took.toFixed(1)} s) ended inside the ping window (${window} s)`,
    );
    const measured = longestGap(ping.stdout);
    assert.ok(measured.answered > 0, `ping answered nothing:\n${ping.stdout}\n${ping.stderr}`);
    console.log(
      `      measured: meshctl rotate ${args.join(' ')} took ${took.toFixed(1)} s; ra -> rb LAN ping every 50 ms: longest gap ${measured.gap.toFixed(2)} s, ${measured.sent - measured.answered} of ${measured.sent} unanswered`,
    );
    return { run, took, ...measured };
  }

  before(async function () {
    skipUnlessLabUsable(this, 'dist/test/e2e/rotate.test.js');
    await reapOrphans();
    lab = await Lab.up(SPEC);
    await meshctl(lab, ['apply', '--accept-new'], 0);
    pkiDir = loadInventoryOrThrow(lab.inventoryDir).inventory.mesh.pkiDir;
    assert.deepEqual(await waitForFullMesh(lab, 30_000), []);
  });

  after(async () => {
    await lab?.down();
  });

  it('--plan writes nothing and names the two units that restart', async () => {
    const before = pki(rel.tlsCrypt(PAIR));
    const run = await meshctl(lab!, ['rotate', '--pair', 'ra,rb', '--plan'], 0);
    assert.match(run.stdout, /ra: openvpn-server@mesh-rb\.service/);
    assert.match(run.stdout, /rb: openvpn-server@mesh-ra\.service/);
    assert.equal(pki(rel.tlsCrypt(PAIR)), before);
  });

  it('--pair ra,rb: a new tls-crypt key at both ends, only that tunnel restarts, the old key gets no TLS at all', async () => {
    const oldKey = pki(rel.tlsCrypt(PAIR));
    const pidsBefore = await tunnelPids(lab!);
    const { run } = await rotateMeasured(['--pair', 'ra,rb'], 20);
    assertNoKeyMaterial(run.stdout + run.stderr, 'rotate --pair');
    assert.equal(parseJson(run).outcome, 'rotated', transcript(run));
    assert.notEqual(pki(rel.tlsCrypt(PAIR)), oldKey);
    await assertMaterialMatches();
    assert.deepEqual(changedPids(pidsBefore, await tunnelPids(lab!)), [
      `ra/${tunnelUnit('rb')}`,
      `rb/${tunnelUnit('ra')}`,
    ]);
    await statusUntil(lab!, 0, 30_000);
    assert.deepEqual(await unansweredPings(lab!), []);

    // rb presenting the OLD pair key: ra drops its packets before TLS
    const { log, peerLog } = await impostor({ tlsCrypt: oldKey }, 12);
    assert.doesNotMatch(log, /Initialization Sequence Completed/, log);
    assert.match(peerLog, /tls-crypt unwrapping failed/, `ra's journal:\n${peerLog}`);
    console.log(`      ra refused the old pair key: ${/.*tls-crypt unwrapping failed.*/.exec(peerLog)![0]}`);
    await statusUntil(lab!, 0, 60_000);
  });

  it("--gateway rb: a new key and certificate on rb, the old serial revoked everywhere, only rb's tunnels restart; the old certificate is refused", async () => {
    const oldCert = pki(rel.gatewayCert('rb'));
    const oldKey = pki(rel.gatewayKey('rb'));
    const oldSerial = certSerial(parseCertificate(oldCert)!);
    const pidsBefore = await tunnelPids(lab!);
    const { run } = await rotateMeasured(['--gateway', 'rb'], 40);
    assertNoKeyMaterial(run.stdout + run.stderr, 'rotate --gateway');
    const json = parseJson(run);
    assert.equal(json.outcome, 'rotated', transcript(run));
    const newCert = pki(rel.gatewayCert('rb'));
    assert.notEqual(certSerial(parseCertificate(newCert)!), oldSerial);
    assert.deepEqual(crlSerials(parseCrl(pki(rel.crl))!), [oldSerial]);
    await assertMaterialMatches();
    const restarted = changedPids(pidsBefore, await tunnelPids(lab!));
    assert.deepEqual(
      restarted,
      [
        ...NAMES.filter((n) => n !== 'rb').map((n) => `${n}/${tunnelUnit('rb')}`),
        ...NAMES.filter((n) => n !== 'rb').map((n) => `rb/${tunnelUnit(n)}`),
      ].sort(),
    );
    await statusUntil(lab!, 0, 30_000);
    assert.deepEqual(await unansweredPings(lab!), []);

    // rb presenting its OLD (now revoked) certificate and key: ra refuses it
    const { log, peerLog } = await impostor({ cert: oldCert, key: oldKey }, 15);
    const crlText = await lab!.exec('ra', ['openssl', 'crl', '-in', `${KEY_DIR}/crl.pem`, '-noout', '-text']);
    const stat = await lab!.exec('ra', ['stat', `${KEY_DIR}/crl.pem`]);
    assert.doesNotMatch(
      log,
      /Initialization Sequence Completed/,
      `impostor:\n${log}\nra's journal:\n${peerLog}\nra's CRL:\n${crlText.stdout}${crlText.stderr}\n${stat.stdout}\nold serial ${oldSerial}`,
    );
    assert.match(peerLog, /VERIFY ERROR.*(revoked|CRL)|certificate revoked/i, `ra's journal:\n${peerLog}`);
    console.log(
      `      ra refused the old certificate: ${/.*(VERIFY ERROR|certificate revoked).*/i.exec(peerLog)![0]}`,
    );
    await statusUntil(lab!, 0, 60_000);
    assert.deepEqual(await unansweredPings(lab!), []);
  });
});
