import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, type LabSpec, type RunResult, reapOrphans } from '../lab/lab.js';
import { skipUnlessLabUsable } from './hostile-support.js';
import {
  describeHit,
  findSecrets,
  type Hit,
  keyBody,
  readPki,
  secretWindows,
  WIDTH,
} from './secrets-scan.js';

/**
 * SPEC §6, "no secret in argv, logs, diffs, --json or error messages", checked on real gateways: every command
 * (validate, render, diff, apply, rotate, and add-lan / remove-lan when the CLI has them), with -v and with --json,
 * succeeding and failing; meanwhile every gateway's process list is sampled in a tight loop. Everything printed,
 * every argv seen on a gateway and every gateway's journal is scanned for the bytes of every private key and
 * tls-crypt key of the PKI (any 16 characters of them).
 */

const ENV = { NO_COLOR: '1', SSH_AUTH_SOCK: '' };

/** Samples every process's argv (ps and /proc/PID/cmdline) until /run/meshctl-argv.stop appears; deduplicated. */
const ARGV_POLLER = `
rm -f /run/meshctl-argv.stop
while [ ! -e /run/meshctl-argv.stop ]; do
  ps -eww -o args
  cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' '\\n'
  echo '--sample--'
done | awk '$0 == "--sample--" { n++; next } !seen[$0]++ { print } END { print "--samples " n }' > /run/meshctl-argv.txt
`;

describe('secrets: no key material in output, logs or remote argv (root + systemd-nspawn)', function () {
  this.timeout(300_000);
  const spec: LabSpec = {
    name: 'hbsec',
    mesh: 'lab',
    gateways: [
      { name: 'a', id: 1, subnets: ['10.21.0.0/24'] },
      { name: 'b', id: 2, subnets: ['10.22.0.0/24'] },
      { name: 'c', id: 3, subnets: ['10.23.0.0/24'] },
    ],
  };
  let lab: Lab | undefined;
  /** Everything scanned: what each command printed, what the gateways ran, what they logged. */
  const transcript: { source: string; text: string }[] = [];
  const windows = new Map<string, string>();
  const commandsRun: string[] = [];
  let samples = 0;
  let hasAddLan = false;
  let hasRemoveLan = false;
  let started = 0;

  /** Adds the PKI's current keys (a key removed later must still be looked for in what was printed before). */
  function collectSecrets(): void {
    const pki = join(lab!.inventoryDir, 'pki');
    if (!existsSync(pki)) return;
    const { secrets, publicText } = readPki(pki);
    for (const [window, name] of secretWindows(secrets, publicText)) windows.set(window, name);
  }

  async function meshctl(args: string[], expectCode?: number): Promise<RunResult> {
    const result = await lab!.meshctl(args, { env: ENV, timeoutMs: 180_000 });
    const source = `meshctl ${args.join(' ')} (exit ${result.code})`;
    commandsRun.push(source);
    transcript.push({ source: `${source} stdout`, text: result.stdout });
    transcript.push({ source: `${source} stderr`, text: result.stderr });
    collectSecrets();
    if (expectCode !== undefined)
      assert.equal(result.code, expectCode, `${source}\n${result.stdout}\n${result.stderr}`);
    return result;
  }

  /** Runs `work` while every gateway's argv is sampled; the samples join the transcript. */
  async function watchingArgv<T>(label: string, work: () => Promise<T>): Promise<T> {
    const running = lab!.gateways.filter((gw) => lab!.isRunning(gw.name));
    const pollers = running.map((gw) =>
      lab!.exec(gw.name, ['sh', '-c', ARGV_POLLER], { timeoutMs: 240_000 }),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    try {
      return await work();
    } finally {
      for (const gw of running) await lab!.exec(gw.name, ['touch', '/run/meshctl-argv.stop']);
      await Promise.all(pollers);
      for (const gw of running) {
        const seen = await lab!.exec(gw.name, ['cat', '/run/meshctl-argv.txt']);
        samples += Number(/--samples (\d+)/.exec(seen.stdout)?.[1] ?? 0);
        transcript.push({ source: `${gw.name} argv during ${label}`, text: seen.stdout });
      }
    }
  }

  function hits(): Hit[] {
    return transcript.flatMap((entry) => findSecrets(entry.source, entry.text, windows));
  }

  before(async function () {
    skipUnlessLabUsable(this, 'dist/test/e2e/secrets.test.js');
    await reapOrphans();
    lab = await Lab.up(spec);
    started = performance.now();
    const help = await lab.meshctl(['--help']);
    hasAddLan = /^\s*meshctl add-lan/m.test(help.stdout);
    hasRemoveLan = /^\s*meshctl remove-lan/m.test(help.stdout);
    if (!hasAddLan || !hasRemoveLan) {
      console.warn(
        `      !! meshctl --help does not list ${[!hasAddLan && 'add-lan', !hasRemoveLan && 'remove-lan'].filter(Boolean).join(' and ')}: not exercised here`,
      );
    }
  });

  after(async () => {
    if (lab && commandsRun.length > 0) {
      console.log(
        `      secrets: ${commandsRun.length} meshctl runs, ${transcript.length} texts scanned ` +
          `(${transcript.reduce((n, t) => n + t.text.length, 0)} chars), ${samples} argv samples, ` +
          `${new Set(windows.values()).size} keys, ${hits().length} hits, ${((performance.now() - started) / 1000).toFixed(0)} s`,
      );
    }
    await lab?.down();
  });

  it('control: the argv sampler and the scanner catch a key passed on a gateway command line', async () => {
    await meshctl(['render', '--out', 'rendered'], 0);
    collectSecrets();
    const tlsCrypt = keyBody(readFileSync(join(lab!.inventoryDir, 'pki/tls-crypt/pair-1.key'), 'utf8'));
    const leaked = tlsCrypt.slice(64, 64 + WIDTH);
    const probe: { source: string; text: string }[] = [];
    const before = transcript.length;
    await watchingArgv('control', async () => {
      await lab!.exec('b', ['sh', '-c', 'sleep 0.5', 'canary', `--key=${leaked}`]);
    });
    probe.push(...transcript.splice(before));
    const found = probe.flatMap((entry) => findSecrets(entry.source, entry.text, windows));
    assert.deepEqual(
      found.map((h) => [h.source, h.secret]),
      [['b argv during control', 'tls-crypt/pair-1.key']],
    );
  });

  it('runs every command, -v and --json, succeeding and failing, while sampling the gateways', async () => {
    const cFile = join(lab!.inventoryDir, 'lans', 'c.yml');
    const cAside = join(lab!.dir, 'c.yml.aside');
    if (hasAddLan) renameSync(cFile, cAside);

    await meshctl(['validate', '-v'], 0);
    await meshctl(['validate', '-v', '--json'], 0);
    await meshctl(['render', '--out', 'rendered', '-v'], 0);
    await meshctl(['render', '--out', 'rendered', '-v', '--json'], 0);
    await meshctl(['diff', '-v'], 2);
    await meshctl(['diff', '-v', '--json'], 2);

    // a failing apply: on b the key directory is a file, so writing keys there fails mid-run
    await lab!.exec('b', [
      'sh',
      '-c',
      'mkdir -p /etc/openvpn/server && echo blocker > /etc/openvpn/server/meshctl',
    ]);
    await watchingArgv('failing apply', () => meshctl(['apply', '-v'], 1));
    await lab!.exec('b', ['rm', '-f', '/etc/openvpn/server/meshctl']);
    await watchingArgv('apply', () => meshctl(['apply', '-v'], 0));

    // rotations: new key material travels to the gateways like any other, the old stays looked for
    await meshctl(['rotate', '--pair', 'a,b', '--plan', '-v'], 0);
    await meshctl(['rotate', '--gateway', 'b', '--plan', '-v', '--json'], 0);
    await watchingArgv('rotate --pair', () => meshctl(['rotate', '--pair', 'a,b', '-v', '--json'], 0));
    await watchingArgv('rotate --gateway', () => meshctl(['rotate', '--gateway', 'b', '-v'], 0));
    await meshctl(['rotate', '--gateway', 'nosuch', '-v', '--json'], 1);

    if (hasAddLan) {
      renameSync(cAside, join(lab!.dir, 'c.yml.original'));
      await watchingArgv('add-lan', () =>
        meshctl(
          ['add-lan', 'c', '--subnet', '10.23.0.0/24', '--endpoint', '198.18.0.3', '--id', '3', '-v'],
          0,
        ),
      );
    } else {
      await watchingArgv('apply --json', () => meshctl(['apply', '-v', '--json'], 0));
    }
    await meshctl(['diff', '-v'], 0);

    // a key changed on the gateway: diff must say so without showing either version
    const key = '/etc/openvpn/server/meshctl/a.key';
    const tamper = await lab!.exec('a', ['sh', '-c', `sed -i '2s/^..../AAAA/' ${key} && test -s ${key}`]);
    assert.equal(tamper.code, 0, tamper.stderr);
    await meshctl(['diff', '-v'], 2);
    await meshctl(['diff', '-v', '--json'], 2);
    await watchingArgv('repairing apply', () => meshctl(['apply', '-v', '--json'], 0));

    // refusals: unsafe PKI, unknown --limit, a gateway that is down
    const pkiKey = join(lab!.inventoryDir, 'pki/private/a.key');
    chmodSync(pkiKey, 0o644);
    await meshctl(['diff', '-v'], 1);
    await meshctl(['apply', '-v', '--json'], 1);
    chmodSync(pkiKey, 0o600);
    await meshctl(['apply', '-v', '--limit', 'nosuch'], 1);
    await lab!.stop('c');
    await watchingArgv('apply with a gateway down', () => meshctl(['apply', '-v', '--json'], 1));
    await watchingArgv('rotate with a gateway down', () =>
      meshctl(['rotate', '--pair', 'a,c', '-v', '--json'], 1),
    );

    if (hasRemoveLan) {
      await watchingArgv('remove-lan', () => meshctl(['remove-lan', 'c', '-v', '--json'], 0));
      await meshctl(['validate', '-v', '--json'], 0);
    }
    await lab!.start('c');
    assert.ok(commandsRun.length >= 20);
  });

  it("finds no key bytes in anything printed, any gateway's argv or journal", async () => {
    for (const gw of lab!.gateways) {
      if (!lab!.isRunning(gw.name)) continue;
      const journal = await lab!.exec(gw.name, ['journalctl', '-q', '--no-pager', '-o', 'cat']);
      transcript.push({ source: `${gw.name} journal`, text: journal.stdout });
    }
    assert.ok(windows.size > 0 && samples > 0, 'nothing to look for, or no samples taken');
    // the whole PEM markers too: a redacted diff names key files, never shows their armour
    const markers = transcript.filter((t) => /PRIVATE KEY-----|BEGIN OpenVPN Static key/.test(t.text));
    assert.deepEqual(
      markers.map((t) => t.source),
      [],
    );
    assert.deepEqual(hits().map(describeHit), []);
  });
});
