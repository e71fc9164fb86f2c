import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Connection, ExecOptions, ExecResult } from '../../../src/connection/types.js';
import { parseWait, WAIT_SCRIPT, waitCommand, waitForTunnels } from '../../../src/execute/tunnels.js';

const run = promisify(execFile);

const A = { unit: 'openvpn-server@mesh-a.service', peer: 'a', peerAddress: '10.255.0.2' };
const B = { unit: 'openvpn-server@mesh-b.service', peer: 'b', peerAddress: '10.255.0.6' };

/**
 * wait-tunnels.sh run by the local /bin/sh, with `systemctl` and `ping` replaced by fakes that read two files:
 * `completed` (units whose StatusText says so) and `answering` (addresses that answer). Only the PATH line of the
 * real script is changed, so the fakes are found first.
 */
describe('wait-tunnels.sh run by the local /bin/sh', function () {
  this.timeout(20_000);
  let root: string;
  const write = (name: string, lines: string[]) => writeFileSync(join(root, name), `${lines.join('\n')}\n`);

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'meshctl-wait-'));
    // like systemd: StatusText before Id in each block, blocks separated by a blank line
    writeFileSync(
      join(root, 'systemctl'),
      `#!/bin/sh
first=1
value=
for unit in "$@"; do
  case $unit in --value) value=1; continue ;; -*|Id|StatusText) continue ;; esac
  if grep -qx "$unit" "${root}/completed"; then text="Initialization Sequence Completed"
  else text="Pre-connection initialization successful"; fi
  if [ -n "$value" ]; then echo "$text"; continue; fi
  [ -n "$first" ] || echo
  first=
  echo "StatusText=$text"
  echo "Id=$unit"
done
`,
    );
    writeFileSync(
      join(root, 'ping'),
      // every ping run is logged in `pinged`
      `#!/bin/sh\nfor a in "$@"; do last=$a; done\necho "$last" >> "${root}/pinged"\ngrep -qx "$last" "${root}/answering"\n`,
    );
    chmodSync(join(root, 'systemctl'), 0o755);
    chmodSync(join(root, 'ping'), 0o755);
    write('completed', []);
    write('answering', []);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  async function wait(timeoutMs: number, tunnels = [A, B]): Promise<{ stdout: string; ms: number }> {
    const argv = waitCommand(tunnels, timeoutMs, 50);
    assert.equal(argv[2], WAIT_SCRIPT);
    const script = WAIT_SCRIPT.replace(/^PATH=/m, `PATH=${root}:`);
    assert.notEqual(script, WAIT_SCRIPT, 'the script sets PATH on a line of its own');
    const started = performance.now();
    const { stdout } = await run('sh', ['-c', script, ...argv.slice(3)]);
    return { stdout, ms: performance.now() - started };
  }

  it('prints each tunnel up, then end, when every tunnel is up', async () => {
    write('completed', [A.unit, B.unit]);
    write('answering', [A.peerAddress, B.peerAddress]);
    const { stdout } = await wait(5000);
    assert.deepEqual(stdout.trim().split('\n').sort(), ['end', `up ${A.unit}`, `up ${B.unit}`].sort());
    assert.equal(stdout.trim().split('\n').at(-1), 'end');
  });

  it('needs both: a completed unit whose peer does not answer, or an answer without completion, is not up', async () => {
    write('completed', [A.unit]);
    write('answering', [B.peerAddress]);
    const { stdout, ms } = await wait(300);
    assert.deepEqual(stdout.trim().split('\n'), ['deadline']);
    assert.ok(ms >= 250, `waited until the deadline (${ms.toFixed(0)} ms)`);
  });

  it('pings every tunnel from the start, before its unit reports anything: the echoes wake OpenVPN', async () => {
    const { stdout } = await wait(300);
    assert.deepEqual(stdout.trim().split('\n'), ['deadline']);
    const pinged = readFileSync(join(root, 'pinged'), 'utf8').trim().split('\n');
    for (const address of [A.peerAddress, B.peerAddress]) {
      assert.ok(pinged.includes(address), `${address} was pinged although its unit never completed`);
    }
  });

  it('sees a tunnel that comes up while it waits, and ends as soon as the last one is up', async () => {
    write('completed', [A.unit, B.unit]);
    write('answering', [A.peerAddress]);
    setTimeout(() => write('answering', [A.peerAddress, B.peerAddress]), 400);
    const { stdout, ms } = await wait(10_000);
    assert.deepEqual(stdout.trim().split('\n'), [`up ${A.unit}`, `up ${B.unit}`, 'end']);
    assert.ok(ms < 5000, `ended when B came up, not at the deadline (${ms.toFixed(0)} ms)`);
  });

  it('refuses arguments it does not understand, and names no tunnel up', async () => {
    const result = await run('sh', ['-c', WAIT_SCRIPT, 'meshctl-wait-tunnels', 'soon']).catch((e) => e);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /expected CENTISECONDS/);
  });

  it('refuses to build a command from a unit or an address that is not one', () => {
    assert.throws(() => waitCommand([{ ...A, unit: 'a b.service' }], 1000, 100), /not a unit name/);
    assert.throws(() => waitCommand([{ ...A, peerAddress: '$(reboot)' }], 1000, 100), /IPv4/);
  });
});

/** A connection that answers the wait with a fixed result (and its stdout in two pieces, as SSH may). */
function answering(result: ExecResult | Error, seen: ExecOptions[] = []): Connection {
  return {
    name: 'gw',
    host: '198.18.0.1',
    exec: async (_argv, opts = {}) => {
      seen.push(opts);
      if (result instanceof Error) throw result;
      const half = Math.floor(result.stdout.length / 2);
      opts.onStdout?.(Buffer.from(result.stdout.slice(0, half)));
      opts.onStdout?.(Buffer.from(result.stdout.slice(half)));
      return result;
    },
    close: async () => {},
  };
}

describe('waitForTunnels', () => {
  it('returns the units the gateway saw come up; progress follows the lines as they arrive', async () => {
    const progress: number[] = [];
    const seen: ExecOptions[] = [];
    const conn = answering(
      { code: 0, stdout: `up ${A.unit}\nup other.service\ndeadline\n`, stderr: '' },
      seen,
    );
    const up = await waitForTunnels(conn, [A, B], 2000, (n) => progress.push(n));
    assert.deepEqual([...up], [A.unit], 'a unit it did not ask about is ignored');
    assert.equal(progress.at(-1), 1);
    assert.ok((seen[0]!.timeoutMs ?? 0) > 2000, 'the command may outlast its own deadline a little');
  });

  it('throws when the check itself fails: a non-zero exit, no last record, or a lost link', async () => {
    for (const result of [
      { code: 127, stdout: '', stderr: 'sh: not found' },
      { code: 0, stdout: `up ${A.unit}\n`, stderr: '' },
      new Error('connection lost'),
    ]) {
      await assert.rejects(waitForTunnels(answering(result), [A], 1000));
    }
  });

  it('asks nothing when there is nothing to wait for', async () => {
    const seen: ExecOptions[] = [];
    assert.equal((await waitForTunnels(answering(new Error('no'), seen), [], 1000)).size, 0);
    assert.equal(seen.length, 0);
  });

  it('parses end and deadline as finished', () => {
    assert.deepEqual(parseWait('up x\nend\n'), { up: new Set(['x']), finished: true });
    assert.equal(parseWait('up x\n').finished, false);
  });
});
