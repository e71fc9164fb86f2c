import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import ssh2, { type ParsedKey } from 'ssh2';
import { fingerprint } from '../../../src/connection/known-hosts.js';
import { quote } from '../../../src/connection/quote.js';
import { sshConnector } from '../../../src/connection/ssh.js';
import type { Connection, ConnectOptions } from '../../../src/connection/types.js';
import { ConnectError, HostKeyError } from '../../../src/errors.js';
import { generateHostKey, TestSshServer } from './ssh-test-server.js';
import { TcpProxy } from './tcp-proxy.js';

// ssh2 is CommonJS: its named exports are reached through the default import.
const { utils } = ssh2;
const run = promisify(execFile);

function publicLine(privateKey: string): string {
  const parsed = utils.parseKey(privateKey) as ParsedKey;
  return `${parsed.type} ${parsed.getPublicSSH().toString('base64')}`;
}

async function rejection<T extends Error>(
  promise: Promise<unknown>,
  type: new (...args: never[]) => T,
): Promise<T> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof type, `expected ${type.name}, got ${String(error)}`);
    return error;
  }
  assert.fail(`expected ${type.name}, but it resolved`);
}

describe('connection/ssh', function () {
  this.timeout(20_000);

  let dir: string;
  let identityFile: string;
  let server: TestSshServer;
  let knownHosts: string;
  const open: Connection[] = [];

  const options = (overrides: Partial<ConnectOptions> = {}): ConnectOptions => ({
    name: 'lan-a',
    host: '127.0.0.1',
    port: server.port,
    user: 'tester',
    identityFile,
    agentSocket: '', // never the agent of whoever runs the tests
    knownHosts,
    acceptNew: false,
    become: false,
    readyTimeoutMs: 5_000,
    ...overrides,
  });

  const connect = async (overrides: Partial<ConnectOptions> = {}): Promise<Connection> => {
    const connection = await sshConnector(options(overrides));
    open.push(connection);
    return connection;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshctl-ssh-'));
    identityFile = join(dir, 'id_ed25519');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', identityFile]);
    const authorized = (await readFile(`${identityFile}.pub`, 'utf8')).trim();
    server = await new TestSshServer({ authorizedKeys: [authorized] }).start();
  });

  beforeEach(async () => {
    knownHosts = join(dir, `known_hosts-${randomBytes(4).toString('hex')}`);
    await writeFile(knownHosts, `${server.knownHostsLine()}\n`, { mode: 0o600 });
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((connection) => connection.close()));
  });

  after(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  describe('host key verification', () => {
    it('connects when the recorded key matches', async () => {
      const connection = await connect();
      assert.equal(connection.name, 'lan-a');
      assert.equal(connection.host, '127.0.0.1');
      assert.deepEqual(await connection.exec(['echo', 'hello']), { code: 0, stdout: 'hello\n', stderr: '' });
    });

    it('connects with a known_hosts file hashed by ssh-keygen -H', async () => {
      await run('ssh-keygen', ['-H', '-f', knownHosts]);
      assert.match(await readFile(knownHosts, 'utf8'), /^\|1\|/);
      const connection = await connect();
      assert.equal((await connection.exec(['true'])).code, 0);
    });

    it('refuses an unknown host with its fingerprint and both fixes, writing nothing', async () => {
      await writeFile(knownHosts, '# nothing yet\n');
      const connectionsBefore = server.connectionCount;
      const error = await rejection(connect(), HostKeyError);
      assert.equal(error.kind, 'unknown');
      assert.ok(error.message.includes(`127.0.0.1 port ${server.port}`), error.message);
      assert.ok(error.message.includes(`ssh-ed25519 ${fingerprint(server.hostKey.blob)}`), error.message);
      assert.ok(error.message.includes('--accept-new'), error.message);
      const keyscan = `ssh-keyscan -p ${server.port} -t ed25519 127.0.0.1 >> ${knownHosts}`;
      assert.ok(error.message.includes(keyscan), error.message);
      assert.equal(await readFile(knownHosts, 'utf8'), '# nothing yet\n');
      assert.equal(server.connectionCount - connectionsBefore, 1, 'one refused handshake, no retry');
    });

    it('the ssh-keyscan fix from that message really makes the host known', async () => {
      await writeFile(knownHosts, '');
      const error = await rejection(connect(), HostKeyError);
      const fix = /add it with `([^`]+)`/.exec(error.message)?.[1];
      assert.ok(fix !== undefined, error.message);
      await run('/bin/sh', ['-c', fix]);
      const connection = await connect();
      assert.equal((await connection.exec(['true'])).code, 0);
    });

    it('with acceptNew records the key once (creating the file 0600), then knows the host', async () => {
      const file = join(dir, `fresh-${randomBytes(4).toString('hex')}`, 'known_hosts');
      const first = await connect({ knownHosts: file, acceptNew: true });
      assert.equal((await first.exec(['true'])).code, 0);
      const text = await readFile(file, 'utf8');
      assert.deepEqual(text.split('\n'), [server.knownHostsLine(), '']);
      const second = await connect({ knownHosts: file, acceptNew: false });
      assert.equal((await second.exec(['true'])).code, 0);
      await connect({ knownHosts: file, acceptNew: true });
      assert.equal(await readFile(file, 'utf8'), text);
    });

    it('with acceptNew, parallel first connections record exactly one line', async () => {
      await writeFile(knownHosts, '');
      await Promise.all(Array.from({ length: 4 }, () => connect({ acceptNew: true })));
      assert.equal(await readFile(knownHosts, 'utf8'), `${server.knownHostsLine()}\n`);
    });

    it('refuses a changed key even with acceptNew, naming file:line, both fingerprints and the fix', async () => {
      const old = generateHostKey();
      const recorded = `# header\n[127.0.0.1]:${server.port} ${old.type} ${old.blob.toString('base64')}\n`;
      await writeFile(knownHosts, recorded);
      const error = await rejection(connect({ acceptNew: true }), HostKeyError);
      assert.equal(error.kind, 'changed');
      assert.ok(error.message.includes(`${knownHosts}:2`), error.message);
      assert.ok(error.message.includes(fingerprint(old.blob)), error.message);
      assert.ok(error.message.includes(fingerprint(server.hostKey.blob)), error.message);
      const removal = `ssh-keygen -R '[127.0.0.1]:${server.port}' -f ${knownHosts}`;
      assert.ok(error.message.includes(removal), error.message);
      assert.equal(await readFile(knownHosts, 'utf8'), recorded);

      // The fix works: remove the old entry, then trust the new key on first use.
      await run('/bin/sh', ['-c', removal]);
      const connection = await connect({ acceptNew: true });
      assert.equal((await connection.exec(['true'])).code, 0);
    });

    it('refuses a key of another type than the recorded one as changed', async () => {
      const ecdsa = utils.generateKeyPairSync('ecdsa', { bits: 256 });
      await writeFile(knownHosts, `[127.0.0.1]:${server.port} ${publicLine(ecdsa.private)}\n`);
      const error = await rejection(connect({ acceptNew: true }), HostKeyError);
      assert.equal(error.kind, 'changed');
      assert.match(error.message, /no longer offers the recorded key type/);
    });

    it('asks a server holding several keys for the type already recorded', async () => {
      const ecdsa = utils.generateKeyPairSync('ecdsa', { bits: 256 });
      const twoKeys = await new TestSshServer({
        authorizedKeys: [(await readFile(`${identityFile}.pub`, 'utf8')).trim()],
        extraHostKeys: [ecdsa.private],
      }).start();
      try {
        // ssh2 would pick ed25519 by default; only the ECDSA key is recorded.
        await writeFile(knownHosts, `[127.0.0.1]:${twoKeys.port} ${publicLine(ecdsa.private)}\n`);
        const connection = await connect({ port: twoKeys.port });
        assert.equal((await connection.exec(['true'])).code, 0);
        await connection.close();
      } finally {
        await twoKeys.stop();
      }
    });

    it('refuses a revoked key', async () => {
      const line = server.knownHostsLine().split(' ').slice(1).join(' ');
      await writeFile(knownHosts, `${server.knownHostsLine()}\n@revoked * ${line}\n`);
      const error = await rejection(connect({ acceptNew: true }), HostKeyError);
      assert.equal(error.kind, 'revoked');
      assert.ok(error.message.includes(`${knownHosts}:2`), error.message);
    });

    it('says so when only an unsupported @cert-authority line matches', async () => {
      const ca = generateHostKey();
      await writeFile(knownHosts, `@cert-authority * ${ca.type} ${ca.blob.toString('base64')}\n`);
      const error = await rejection(connect(), HostKeyError);
      assert.equal(error.kind, 'unknown');
      assert.match(error.message, /:1 @cert-authority .*not supported/);
    });
  });

  describe('authentication', () => {
    it('refuses an identity file readable by others, with the chmod fix', async () => {
      const loose = join(dir, 'loose_key');
      await writeFile(loose, await readFile(identityFile));
      await chmod(loose, 0o644);
      const error = await rejection(connect({ identityFile: loose }), ConnectError);
      assert.ok(error.message.includes(`chmod 600 ${loose}`), error.message);
      assert.ok(error.message.includes('0644'), error.message);
      assert.equal(error.message.includes('PRIVATE KEY'), false);
    });

    it('names user@host:port and the methods tried when the key is not accepted', async () => {
      const stranger = join(dir, 'stranger');
      await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', stranger]);
      const error = await rejection(connect({ identityFile: stranger }), ConnectError);
      assert.ok(error.message.includes(`tester@127.0.0.1:${server.port}`), error.message);
      assert.ok(error.message.includes(`identity file ${stranger}`), error.message);
      assert.match(error.message, /authentication .* failed/);
    });

    it('fails clearly when there is neither an identity file nor an agent', async () => {
      const error = await rejection(connect({ identityFile: undefined, agentSocket: '' }), ConnectError);
      assert.match(error.message, /no SSH credentials for tester@127\.0\.0\.1:\d+.*SSH_AUTH_SOCK/);
    });

    it('authenticates through ssh-agent when no identity file is set', async () => {
      const socket = join(dir, `agent-${randomBytes(4).toString('hex')}.sock`);
      const agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
      try {
        for (let attempt = 0; attempt < 50; attempt += 1) {
          if (
            await readFile(socket).then(
              () => true,
              (error: NodeJS.ErrnoException) => error.code !== 'ENOENT',
            )
          )
            break;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        await run('ssh-add', [identityFile], { env: { ...process.env, SSH_AUTH_SOCK: socket } });
        const connection = await connect({ identityFile: undefined, agentSocket: socket });
        assert.equal((await connection.exec(['echo', 'via agent'])).stdout, 'via agent\n');
      } finally {
        agent.kill();
      }
    });
  });

  describe('exec', () => {
    it('returns exit codes, stdout and stderr without throwing on failure', async () => {
      const connection = await connect();
      assert.deepEqual(await connection.exec(['sh', '-c', 'echo out; echo err >&2; exit 3']), {
        code: 3,
        stdout: 'out\n',
        stderr: 'err\n',
      });
      const missing = await connection.exec(['meshctl-no-such-command']);
      assert.equal(missing.code, 127);
      assert.match(missing.stderr, /not found/);
      assert.equal((await connection.exec(['sh', '-c', 'kill -TERM $$'])).code, 128 + 15);
    });

    it('sends exactly quote(argv) and the remote shell sees the arguments unchanged', async () => {
      const connection = await connect();
      const argv = ['printf', '%s|', "it's", '$(id)', '*', 'two words', '', 'ünï'];
      const result = await connection.exec(argv);
      assert.equal(result.stdout, "it's|$(id)|*|two words||ünï|");
      assert.equal(server.commands.at(-1), quote(argv));
    });

    it('reuses one connection for many (also parallel) execs', async () => {
      const before = server.connectionCount;
      const connection = await connect();
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, index) => connection.exec(['echo', String(index)])),
      );
      assert.deepEqual(
        results.map((result) => result.stdout),
        Array.from({ length: 20 }, (_, index) => `${index}\n`),
      );
      assert.equal(server.connectionCount - before, 1);
    });

    it('writes stdin then closes it: strings, binary Buffers byte for byte, and no stdin at all', async () => {
      const connection = await connect();
      assert.equal((await connection.exec(['cat'], { stdin: 'secret\nline ✓' })).stdout, 'secret\nline ✓');
      const bytes = Buffer.concat([
        Buffer.from(Array.from({ length: 256 }, (_, byte) => byte)),
        randomBytes(300_000),
      ]);
      const encoded = await connection.exec(['base64', '-w', '0'], { stdin: bytes });
      assert.equal(encoded.code, 0);
      assert.equal(encoded.stdout, bytes.toString('base64'));
      assert.deepEqual(await connection.exec(['cat']), { code: 0, stdout: '', stderr: '' });
      assert.deepEqual(await connection.exec(['cat'], { stdin: '' }), { code: 0, stdout: '', stderr: '' });
      assert.equal(
        server.commands.some((command) => command.includes('secret')),
        false,
      );
    });

    it('decodes multi-byte output split across packets intact', async () => {
      const connection = await connect();
      const text = '✓é日🙂'.repeat(20_000);
      assert.equal((await connection.exec(['cat'], { stdin: text })).stdout, text);
    });

    it('prefixes sudo -n -- for privileged commands when become is set and the user is not root', async () => {
      const connection = await connect({ become: true });
      await connection.exec(['systemctl', 'restart', 'openvpn-server@mesh-b']);
      assert.equal(server.commands.at(-1), 'sudo -n -- systemctl restart openvpn-server@mesh-b');
      await connection.exec(['cat', '/etc/os-release'], { privileged: false });
      assert.equal(server.commands.at(-1), 'cat /etc/os-release');
      const asRoot = await connect({ become: true, user: 'root' });
      await asRoot.exec(['id', '-u']);
      assert.equal(server.commands.at(-1), 'id -u');
      const plain = await connect({ become: false });
      await plain.exec(['id', '-u']);
      assert.equal(server.commands.at(-1), 'id -u');
    });

    it('stops a command past its timeout with an error naming only its first word', async () => {
      const connection = await connect();
      const started = Date.now();
      const error = await rejection(
        connection.exec(['sh', '-c', 'sleep 5; echo never'], { timeoutMs: 300, stdin: 'TOPSECRET' }),
        ConnectError,
      );
      assert.ok(Date.now() - started < 3_000);
      assert.match(error.message, /`sh` did not finish within 300 ms/);
      assert.equal(error.message.includes('sleep'), false);
      assert.equal(error.message.includes('TOPSECRET'), false);
      for (let attempt = 0; attempt < 40 && server.runningCommands > 0; attempt += 1) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal(server.runningCommands, 0, 'the remote command was killed');
      assert.equal(server.signals.at(-1), 'KILL');
      assert.equal((await connection.exec(['echo', 'still usable'])).stdout, 'still usable\n');
    });

    it('fails after close with a ConnectError', async () => {
      const connection = await connect();
      await connection.close();
      await rejection(connection.exec(['true']), ConnectError);
      await connection.close(); // idempotent
    });
  });

  describe('broken links', () => {
    it('fails a running exec when the connection drops', async () => {
      const proxy = await new TcpProxy(server.port).start();
      try {
        const connection = await connect({ port: proxy.port, knownHosts: await proxyKnownHosts(proxy.port) });
        const running = connection.exec(['sleep', '5']);
        setTimeout(() => proxy.drop(), 200);
        const error = await rejection(running, ConnectError);
        assert.match(error.message, /connection to tester@127\.0\.0\.1:\d+ (lost|closed)/);
        await rejection(connection.exec(['true']), ConnectError);
      } finally {
        await proxy.stop();
      }
    });

    it('detects a silent dead link through keepalives instead of hanging', async () => {
      const proxy = await new TcpProxy(server.port).start();
      try {
        const connection = await connect({
          port: proxy.port,
          knownHosts: await proxyKnownHosts(proxy.port),
          keepaliveIntervalMs: 200,
        });
        const running = connection.exec(['sleep', '10']);
        setTimeout(() => proxy.blackhole(), 100);
        const started = Date.now();
        const error = await rejection(running, ConnectError);
        assert.ok(Date.now() - started < 5_000);
        assert.match(error.message, /no answer to 3 keepalives/);
      } finally {
        await proxy.stop();
      }
    });

    it('times out a server that accepts TCP but never speaks SSH', async () => {
      const mute: Server = createServer(() => undefined);
      await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve));
      const port = (mute.address() as { port: number }).port;
      try {
        const error = await rejection(connect({ port, readyTimeoutMs: 1_000 }), ConnectError);
        assert.match(
          error.message,
          new RegExp(`no SSH handshake with tester@127\\.0\\.0\\.1:${port} within`),
        );
      } finally {
        mute.close();
      }
    });

    it('reports a refused TCP connection with the address and the fix', async () => {
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const port = (closed.address() as { port: number }).port;
      await new Promise<void>((resolve) => closed.close(() => resolve()));
      const error = await rejection(connect({ port }), ConnectError);
      assert.match(
        error.message,
        new RegExp(`cannot connect to tester@127\\.0\\.0\\.1:${port}: connection refused`),
      );
    });
  });

  async function proxyKnownHosts(port: number): Promise<string> {
    const file = join(dir, `known_hosts-proxy-${port}`);
    await writeFile(file, `${server.knownHostsLine().replace(`:${server.port} `, `:${port} `)}\n`);
    return file;
  }
});
