import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAddresses, parseReading } from '../../../src/status/parse.js';
import {
  probeInput,
  READY_LINE,
  STATUS_SCRIPT,
  type StatusTarget,
  statusCommand,
} from '../../../src/status/script.js';

/**
 * status.sh run by the local /bin/sh, with `systemctl`, `ip`, `ping` and `vtysh` replaced by tiny fakes (only
 * the PATH line of the real script is changed, so they are found first) and OpenVPN's management interface
 * played by a TCP server in this process. bash and timeout are the machine's own.
 */

const PASSWORD = 'f'.repeat(8) + '0123456789abcdef'.repeat(3) + 'e'.repeat(8);

/** A management interface as OpenVPN has it: a prompt, the password, then `state`, `status`, `quit`. */
function managementServer(state: string, counters: { read: number }): Server {
  return createServer((socket: Socket) => {
    socket.write('ENTER PASSWORD:');
    let authed = false;
    let buffer = '';
    socket.on('data', (data) => {
      buffer += data.toString('utf8');
      for (let at = buffer.indexOf('\n'); at >= 0; at = buffer.indexOf('\n')) {
        const line = buffer.slice(0, at);
        buffer = buffer.slice(at + 1);
        if (!authed) {
          if (line === PASSWORD) {
            authed = true;
            socket.write('SUCCESS: password is correct\r\n');
            socket.write(">INFO:OpenVPN Management Interface Version 5 -- type 'help' for more info\r\n");
          } else socket.write('ENTER PASSWORD:');
        } else if (line === 'state') socket.write(`${state}\r\nEND\r\n`);
        else if (line === 'status') {
          counters.read += 100;
          socket.write(
            `OpenVPN STATISTICS\r\nUpdated,2026-12-01 10:00:00\r\nTCP/UDP read bytes,${counters.read}\r\n` +
              'TCP/UDP write bytes,4000\r\nEND\r\n',
          );
        } else if (line === 'quit') socket.end();
      }
    });
    socket.on('error', () => {});
  });
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address && typeof address === 'object');
  return address.port;
}

describe('status.sh run by the local /bin/sh', function () {
  this.timeout(20_000);
  let root: string;
  let bin: string;
  let work: string;
  let log: string;
  let server: Server;
  let port: number;
  const counters = { read: 1000 };

  const fake = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/sh\necho "${name} $*" >>"${log}"\n${body}`);
    chmodSync(join(bin, name), 0o755);
  };

  beforeEach(async () => {
    root = mkdtempSync(join(tmpdir(), 'meshctl-status-'));
    bin = join(root, 'bin');
    work = join(root, 'work');
    log = join(root, 'calls.log');
    for (const dir of [bin, work]) mkdirSync(dir);
    writeFileSync(join(root, 'management.pass'), `${PASSWORD}\n`, { mode: 0o600 });
    writeFileSync(join(root, 'gw.crt'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    writeFileSync(join(root, 'mesh-a.conf'), 'dev mtun1\n');
    fake(
      'systemctl',
      `for unit in "$@"; do
  case $unit in -*|Id|LoadState|ActiveState|SubState|MainPID|StatusText|show) continue ;; esac
  [ -n "$first" ] && echo
  first=1
  echo "Id=$unit"; echo LoadState=loaded
  case $unit in *mesh-a*) echo MainPID=4242; echo ActiveState=active; echo SubState=running ;; *) echo MainPID=0; echo ActiveState=inactive; echo SubState=dead ;; esac
done
`,
    );
    fake(
      'ip',
      `case "$*" in
"-4 -o addr show") printf '1: lo    inet 127.0.0.1/8 scope host lo\\\\       valid_lft forever\\n2: eth1    inet 10.1.0.1/24 scope global eth1\\\\       valid_lft forever\\n5: mtun1    inet 172.19.0.1 peer 172.19.0.2/32 scope global mtun1\\\\       valid_lft forever\\n' ;;
"-4 route get "*) echo "$4 from $6 via 172.19.0.2 dev mtun1 uid 0"; echo "    cache" ;;
*) exit 1 ;;
esac
`,
    );
    fake(
      'ping',
      `for a in "$@"; do last=$a; done
sleep 0.2
case $last in
172.19.0.2|10.2.0.1) echo "--- $last ping statistics ---"; echo "3 packets transmitted, 3 received, 0% packet loss, time 400ms"; echo "rtt min/avg/max/mdev = 0.100/0.250/0.400/0.100 ms" ;;
*) echo "--- $last ping statistics ---"; echo "3 packets transmitted, 0 received, 100% packet loss, time 400ms"; exit 1 ;;
esac
`,
    );
    fake(
      'vtysh',
      `case "$2" in
*summary*) printf '{\\n "peers": {"172.19.0.2": {"state": "Established", "pfxRcd": 1}}\\n}\\n' ;;
*) printf '{"routes": {"10.2.0.0/16": [{"valid":true,"bestpath":true,"path":"65002"}],\\n"10.0.0.0/8": [{"valid":true,"bestpath":true,"path":"65009 65008"}]}}\\n' ;;
esac
`,
    );
    server = managementServer('1796000000,CONNECTED,SUCCESS,172.19.0.1,198.51.100.2,11001,,', counters);
    port = await listen(server);
    // the listener of the management port is the unit's main process (status.sh checks before it sends the password)
    holder(4242);
  });

  /** A fake `ss -Hltnp` in which process `pid` listens on the management port. */
  function holder(pid: number): void {
    fake(
      'ss',
      `echo 'LISTEN 0      1          127.0.0.1:${port}        0.0.0.0:*    users:(("openvpn",pid=${pid},fd=6))'\n`,
    );
  }

  afterEach(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(root, { recursive: true, force: true });
  });

  function targets(): StatusTarget[] {
    return [
      {
        unit: 'openvpn-server@mesh-a.service',
        peer: 'a',
        config: join(root, 'mesh-a.conf'),
        managementPort: port,
        peerAddress: '172.19.0.2',
      },
      {
        unit: 'openvpn-server@mesh-b.service',
        peer: 'b',
        config: join(root, 'mesh-b.conf'),
        managementPort: 1,
        peerAddress: '172.19.0.6',
      },
    ];
  }

  /**
   * Runs the script, waits for `ready`, checks it then waits for stdin, and writes `input`. Resolves with what it
   * printed before `ready` and in all.
   */
  function run(
    bgp: boolean,
    input: string | null,
  ): Promise<{ phase1: string; stdout: string; code: number | null; waited: boolean }> {
    const argv = statusCommand({
      passwordFile: join(root, 'management.pass'),
      certFile: join(root, 'gw.crt'),
      bgp,
      tunnels: targets(),
    });
    assert.equal(argv[2], STATUS_SCRIPT);
    const script = STATUS_SCRIPT.replace(/^PATH=/m, `PATH=${bin}:`);
    assert.notEqual(script, STATUS_SCRIPT, 'the script sets PATH on a line of its own');
    const child = spawn('sh', ['-c', script, ...argv.slice(3)], {
      cwd: work,
      env: { ...process.env, TMPDIR: work, HOME: work },
    });
    let stdout = '';
    let phase1 = '';
    let waited = false;
    return new Promise((resolve, reject) => {
      child.on('error', reject);
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString('utf8');
        if (!phase1 && stdout.includes(`\n${READY_LINE}\n`)) {
          phase1 = stdout;
          // it waits for its probes: nothing more comes until stdin says so
          setTimeout(() => {
            waited = child.exitCode === null && stdout === phase1;
            if (input === null) child.stdin.end();
            else child.stdin.end(input);
          }, 300);
        }
      });
      child.on('close', (code) => resolve({ phase1, stdout, code, waited }));
    });
  }

  it('prints phase 1, then `ready`, waits for its probes, runs them, and ends with `end`', async () => {
    const input = probeInput([
      { target: 'b', source: '10.1.0.1', destination: '10.2.0.1' },
      { target: 'c', source: '10.1.0.1', destination: '10.3.0.1' },
    ]);
    const { phase1, stdout, code, waited } = await run(false, input);
    assert.equal(code, 0);
    assert.ok(waited, 'after ready it waited for stdin');
    assert.ok(!/^probe\t/m.test(phase1), 'no probe before the probes were sent');
    assert.equal(stdout.split('\n').at(-2), 'end');
    assert.deepEqual(parseAddresses(phase1), [
      { device: 'lo', cidr: '127.0.0.1/8' },
      { device: 'eth1', cidr: '10.1.0.1/24' },
      { device: 'mtun1', cidr: '172.19.0.1/32' },
    ]);

    const reading = parseReading('gw', stdout, {
      startedAt: 1,
      finishedAt: 2,
      peers: new Map(targets().map((t) => [t.unit, t.peer])),
    });
    assert.deepEqual(reading.unreadable, []);
    assert.equal(reading.problem, undefined);
    assert.equal(reading.certificatePem, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    assert.ok(reading.gatewayTime !== null && Math.abs(reading.gatewayTime - Date.now() / 1000) < 60);
    const [a, b] = reading.tunnels;
    assert.deepEqual(
      { ...a, lastReceived: a!.lastReceived && 'within' in a!.lastReceived },
      {
        unit: 'openvpn-server@mesh-a.service',
        peer: 'a',
        deployed: true,
        activeState: 'active',
        openvpnState: 'CONNECTED',
        stateSince: 1796000000,
        peerAddress: '198.51.100.2:11001',
        bytesIn: counters.read,
        bytesOut: 4000,
        lastReceived: true,
        ping: { sent: 3, received: 3, lossPercent: 0, rttMs: 0.25 },
        problem: null,
      },
    );
    // b: no config, its unit inactive, nothing listening: not deployed, and nothing is "missing"
    assert.equal(b!.deployed, false);
    assert.equal(b!.activeState, 'inactive');
    assert.equal(b!.openvpnState, null);
    // the probes ran in parallel: in any order
    const probes = [...reading.probes].sort((x, y) => (x.target < y.target ? -1 : 1));
    assert.deepEqual(
      probes.map((p) => [p.target, p.ping?.received, p.device, p.asPath]),
      [
        ['b', 3, 'mtun1', null],
        ['c', 0, 'mtun1', null],
      ],
    );
    assert.equal(reading.bgp, null);
  });

  it('never writes: its working and temporary directories stay empty, the password is in no argv nor output', async () => {
    const { stdout, code } = await run(
      true,
      probeInput([{ target: 'b', source: '10.1.0.1', destination: '10.2.0.1' }]),
    );
    assert.equal(code, 0);
    assert.deepEqual(readdirSync(work), []);
    assert.ok(!stdout.includes(PASSWORD), 'the password is never printed');
    const calls = readFileSync(log, 'utf8');
    assert.ok(!calls.includes(PASSWORD), 'the password is in no command line');
    assert.match(calls, /^vtysh -c show bgp ipv4 unicast summary json$/m);
    assert.match(calls, /^vtysh -c show bgp ipv4 unicast json$/m);
    // every command the script ran, by name
    const names = new Set(
      calls
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(' ')[0]),
    );
    assert.deepEqual([...names].sort(), ['ip', 'ping', 'ss', 'systemctl', 'vtysh']);
  });

  it('with bgp: the session table, and each probe gets the AS path of the longest prefix holding its destination', async () => {
    const { stdout } = await run(
      true,
      probeInput([
        { target: 'b', source: '10.1.0.1', destination: '10.2.0.1' },
        { target: 'c', source: '10.1.0.1', destination: '10.3.0.1' },
      ]),
    );
    const reading = parseReading('gw', stdout, { startedAt: 1, finishedAt: 2, peers: new Map() });
    assert.deepEqual(reading.bgp, [{ address: '172.19.0.2', state: 'Established', prefixesReceived: 1 }]);
    const byTarget = new Map(reading.probes.map((p) => [p.target, p.asPath]));
    assert.deepEqual(byTarget.get('b'), [65002]);
    assert.deepEqual(byTarget.get('c'), [65009, 65008]);
  });

  it('ends at the end of stdin as at `go`, and asks FRR for routes only when there is a probe', async () => {
    const { stdout, code } = await run(true, null);
    assert.equal(code, 0);
    assert.equal(stdout.split('\n').at(-2), 'end');
    assert.ok(!/^bgp-routes/m.test(stdout));
    assert.match(stdout, /^bgp-summary-end$/m);
  });

  it('refuses probe lines that are not probes, and never runs them', async () => {
    const { stdout } = await run(
      false,
      'probe x* 10.1.0.1 10.2.0.1\nprobe b 10.1.0.1 $(reboot)\nprobe b 1.2.3.999 10.2.0.1\nhello\ngo\nprobe b 10.1.0.1 10.2.0.1\n',
    );
    const refused = stdout.split('\n').filter((l) => l.startsWith('probe-refused\t'));
    assert.equal(refused.length, 4);
    assert.ok(!/^probe\t/m.test(stdout), 'nothing after go is read');
    assert.ok(!readFileSync(log, 'utf8').includes('reboot'));
  });

  it('says when the management interface refuses the password, without printing it', async () => {
    writeFileSync(join(root, 'management.pass'), 'wrong\n');
    const { stdout } = await run(false, 'go\n');
    assert.match(stdout, /^mgmt-failed\topenvpn-server@mesh-a\.service\tfirst\t.*refused the password/m);
    const reading = parseReading('gw', stdout, {
      startedAt: 1,
      finishedAt: 2,
      peers: new Map([['openvpn-server@mesh-a.service', 'a']]),
    });
    assert.match(reading.tunnels[0]!.problem ?? '', /did not answer: .*refused the password/);
  });

  it("sends the password only to the unit's own process: another listener on the port gets nothing", async () => {
    holder(999);
    const { stdout } = await run(false, 'go\n');
    assert.match(
      stdout,
      /^mgmt-failed\topenvpn-server@mesh-a\.service\tfirst\t127\.0\.0\.1:\d+ is held by process 999, not by openvpn-server@mesh-a\.service \(main process 4242\): the password is not sent$/m,
    );
    assert.ok(!/^mgmt-line\t/m.test(stdout), 'no conversation took place');
    assert.ok(!stdout.includes(PASSWORD));
  });

  it('refuses arguments it does not understand', async () => {
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn('sh', ['-c', STATUS_SCRIPT, 'meshctl-status', 'only-one']);
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => {
        stderr += c.toString();
      });
      child.on('close', (code) => resolve({ code, stderr }));
    });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /expected PASSWORD_FILE/);
  });

  it('redirects output only to /dev/null, its own descriptors and 127.0.0.1 (a static check of the script)', () => {
    for (const line of STATUS_SCRIPT.split('\n')) {
      if (line.trimStart().startsWith('#')) continue;
      for (const match of line.matchAll(/>{1,2}\s*([^&\s][^\s;)]*)/g)) {
        const target = match[1]!;
        assert.ok(
          target === '/dev/null' || target.startsWith('"/dev/tcp/127.0.0.1/'),
          `${JSON.stringify(line.trim())} redirects output to ${target}`,
        );
      }
    }
  });
});

describe('statusCommand and probeInput', () => {
  const target: StatusTarget = {
    unit: 'openvpn-server@mesh-a.service',
    peer: 'a',
    config: '/etc/openvpn/server/mesh-a.conf',
    managementPort: 11001,
    peerAddress: '172.19.0.2',
  };
  const base = {
    passwordFile: '/etc/openvpn/server/meshctl/management.pass',
    certFile: '/etc/x.crt',
    bgp: false,
  };

  it('builds sh -c SCRIPT meshctl-status PASSWORD_FILE CERT_FILE BGP -- UNIT CONFIG PORT PEER…', () => {
    const argv = statusCommand({ ...base, bgp: true, tunnels: [target] });
    assert.deepEqual(argv.slice(0, 2), ['sh', '-c']);
    assert.deepEqual(argv.slice(3), [
      'meshctl-status',
      base.passwordFile,
      '/etc/x.crt',
      '1',
      '--',
      target.unit,
      target.config,
      '11001',
      '172.19.0.2',
    ]);
  });

  it('refuses a word that is not what it should be: fix the caller', () => {
    const bad: Partial<StatusTarget>[] = [
      { unit: 'a b.service' },
      { config: 'relative.conf' },
      { config: '/etc/a b.conf' },
      { managementPort: 0 },
      { managementPort: 70000 },
      { managementPort: 1.5 },
      { peerAddress: '$(reboot)' },
      { peerAddress: '1.2.3.256' },
    ];
    for (const change of bad) {
      assert.throws(() => statusCommand({ ...base, tunnels: [{ ...target, ...change }] }), /fix the caller/);
    }
    assert.throws(() => statusCommand({ ...base, passwordFile: 'x', tunnels: [] }), /fix the caller/);
  });

  it('writes one probe per line and ends with go', () => {
    assert.equal(
      probeInput([{ target: 'hq', source: '10.1.0.1', destination: '10.2.0.1' }]),
      'probe hq 10.1.0.1 10.2.0.1\ngo\n',
    );
    assert.equal(probeInput([]), 'go\n');
    assert.throws(
      () => probeInput([{ target: 'a b', source: '10.1.0.1', destination: '10.2.0.1' }]),
      /fix the caller/,
    );
    assert.throws(
      () => probeInput([{ target: 'a', source: '10.1.0.1', destination: 'x' }]),
      /fix the caller/,
    );
  });
});
