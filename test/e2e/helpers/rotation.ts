import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { loadInventoryOrThrow } from '../../../src/inventory/load.js';
import { rel } from '../../../src/pki/layout.js';
import type { Lab } from '../../lab/lab.js';
import { meshctl, tunnelUnit } from './gateways.js';

/**
 * What the rotation tests share: the material on every gateway compared with pki_dir, a throw-away OpenVPN that
 * presents old material to a peer, and the longest outage of LAN pings while a rotation runs.
 */

export const KEY_DIR = '/etc/openvpn/server/meshctl';

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Longest gap between two answers of `ping -D` (seconds), and how many were sent and answered. */
export function longestGap(output: string): { gap: number; answered: number; sent: number } {
  const times = [...output.matchAll(/^\[(\d+\.\d+)\] \d+ bytes from/gm)].map((m) => Number(m[1]));
  const sent = Number(/(\d+) packets transmitted/.exec(output)?.[1] ?? 0);
  let gap = 0;
  for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i]! - times[i - 1]!);
  return { gap, answered: times.length, sent };
}

/** Every gateway holds pki_dir's CA, CRL, own certificate and key, and the key of each of its pairs (sha256). */
export async function assertMaterialMatches(lab: Lab, pkiDir: string): Promise<void> {
  const pki = (relative: string) => readFileSync(join(pkiDir, relative), 'utf8');
  const mesh = loadInventoryOrThrow(lab.inventoryDir).inventory;
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
    const sums = await lab.exec(gw.name, ['sha256sum', ...expected.keys()]);
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
export async function journal(lab: Lab, gateway: string, unit: string, since: number): Promise<string> {
  const result = await lab.exec(gateway, [
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
 * `self`'s end of the pair with `peer` stopped; in its place a throw-away OpenVPN with that end's config but the
 * given key or certificate files, for `seconds`. Returns its log and the peer's journal meanwhile; the real unit
 * is started again afterwards.
 */
export async function impostor(
  lab: Lab,
  ends: { self: string; peer: string },
  files: { cert?: string; key?: string; tlsCrypt?: string },
  seconds: number,
): Promise<{ log: string; peerLog: string }> {
  const { self, peer } = ends;
  const config = await lab.exec(self, ['cat', `/etc/openvpn/server/mesh-${peer}.conf`]);
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
    const r = await lab.exec(self, ['sh', '-c', `umask 077; cat > ${path}`], { stdin: content });
    assert.equal(r.code, 0, r.stderr);
  };
  await put('/tmp/impostor.conf', `${lines.join('\n')}\n`);
  if (files.cert) await put('/tmp/impostor.crt', files.cert);
  if (files.key) await put('/tmp/impostor.key', files.key);
  if (files.tlsCrypt) await put('/tmp/impostor-tc.key', files.tlsCrypt);
  const stop = await lab.exec(self, ['systemctl', 'stop', tunnelUnit(peer)]);
  assert.equal(stop.code, 0, stop.stderr);
  const since = Date.now() / 1000 - 1;
  try {
    const run = await lab.exec(
      self,
      ['timeout', String(seconds), 'openvpn', '--config', '/tmp/impostor.conf'],
      {
        timeoutMs: (seconds + 10) * 1000,
      },
    );
    const peerLog = await journal(lab, peer, tunnelUnit(self), since);
    return { log: run.stdout + run.stderr, peerLog };
  } finally {
    await lab.exec(self, [
      'rm',
      '-f',
      '/tmp/impostor.conf',
      '/tmp/impostor.crt',
      '/tmp/impostor.key',
      '/tmp/impostor-tc.key',
    ]);
    const start = await lab.exec(self, ['systemctl', 'start', tunnelUnit(peer)]);
    assert.equal(start.code, 0, start.stderr);
  }
}

/**
 * Runs `meshctl rotate ARGS --json` while LAN hosts ping each other every 50 ms (`pairs`: [from, to] gateway
 * names); the longest gap of any pair is the outage. The pings start before the rotation and are stopped 1 s after
 * it ends (through a stop file: `ping` prints its summary on SIGINT); `window` seconds is their limit.
 */
export async function rotateMeasured(
  lab: Lab,
  args: string[],
  window: number,
  pairs: [string, string][],
): Promise<{
  run: Awaited<ReturnType<typeof meshctl>>;
  took: number;
  gap: number;
  worst: string;
  lines: string[];
}> {
  const stop = join(mkdtempSync(join(tmpdir(), 'meshctl-ping-')), 'stop');
  const script = `ping -D -n -i 0.05 -W 1 -w ${window} "$1" & p=$!; while [ ! -e "$2" ] && kill -0 $p 2>/dev/null; do sleep 0.2; done; kill -INT $p 2>/dev/null; wait $p; true`;
  const pinging = pairs.map(([from, to]) =>
    lab.execLan(from, ['sh', '-c', script, 'ping', lab.lanHostAddress(to), stop], 0, {
      timeoutMs: (window + 20) * 1000,
    }),
  );
  // the pings are running before the rotation starts
  await new Promise((resolve) => setTimeout(resolve, 500));
  const started = Date.now();
  let run: Awaited<ReturnType<typeof meshctl>>;
  try {
    run = await meshctl(lab, ['rotate', ...args, '--json'], 0);
  } finally {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    writeFileSync(stop, '');
  }
  const took = (Date.now() - started) / 1000;
  const pings = await Promise.all(pinging);
  rmSync(dirname(stop), { recursive: true, force: true });
  assert.ok(took + 1 < window, `the rotation (${took.toFixed(1)} s) outlasted the ping window (${window} s)`);
  let gap = 0;
  let worst = '';
  const lines: string[] = [];
  pings.forEach((ping, i) => {
    const measured = longestGap(ping.stdout);
    const [from, to] = pairs[i]!;
    assert.ok(
      measured.answered > 0,
      `${from} -> ${to}: ping answered nothing:\n${ping.stdout}\n${ping.stderr}`,
    );
    lines.push(
      `${from} -> ${to}: longest gap ${measured.gap.toFixed(2)} s, ${measured.sent - measured.answered} of ${measured.sent} unanswered`,
    );
    if (measured.gap > gap) {
      gap = measured.gap;
      worst = `${from} -> ${to}`;
    }
  });
  console.log(
    `      measured: meshctl rotate ${args.join(' ')} took ${took.toFixed(1)} s; LAN pings every 50 ms: longest gap ${gap.toFixed(2)} s (${worst})`,
  );
  return { run, took, gap, worst, lines };
}
