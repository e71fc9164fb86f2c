/**
 * An SSH server inside the test process (as node-ssh's own tests do): public-key authentication against the
 * keys it is given, and exec through the real local /bin/sh, so exit codes, stdout, stderr and stdin are real.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import ssh2, { type Connection, type ParsedKey, type ServerChannel, type Server as SshServer } from 'ssh2';

// ssh2 is CommonJS: its named exports are reached through the default import.
const { Server, utils } = ssh2;

export interface TestServerOptions {
  /** Further private host keys the server also holds (e.g. an ECDSA key next to the ed25519 one). */
  extraHostKeys?: string[];
  /** Public keys (OpenSSH `type base64` lines) allowed to log in. */
  authorizedKeys: string[];
  /** TCP_NODELAY on the server's side of each connection (default true, like a tuned server). */
  noDelay?: boolean;
  /** Answer a command in-process instead of spawning sh (measures the transport alone). */
  inProcess?: (command: string) => { code: number; stdout: string } | undefined;
}

export interface HostKeyPair {
  privateKey: string;
  /** `ssh-ed25519 AAAA…` */
  publicLine: string;
  type: string;
  blob: Buffer;
}

export function generateHostKey(): HostKeyPair {
  let pair = utils.generateKeyPairSync('ed25519');
  let parsed = utils.parseKey(pair.public);
  // ssh2 now and then cannot parse a key it just generated (parseKey returns an Error): take another key
  for (let attempt = 1; parsed instanceof Error && attempt < 10; attempt++) {
    pair = utils.generateKeyPairSync('ed25519');
    parsed = utils.parseKey(pair.public);
  }
  if (parsed instanceof Error || Array.isArray(parsed))
    throw new Error(`ssh2 cannot parse its own keys: ${parsed}`);
  return {
    privateKey: pair.private,
    publicLine: pair.public,
    type: parsed.type,
    blob: parsed.getPublicSSH(),
  };
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

function runCommand(stream: ServerChannel, command: string, children: Set<ChildProcess>): void {
  // Its own process group, so a signal reaches the whole command (sh and what it started), as a session would.
  const child = spawn('/bin/sh', ['-c', command], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  children.add(child);
  child.stdin.on('error', () => undefined); // the command may exit without reading stdin
  stream.pipe(child.stdin);
  child.stdout.pipe(stream, { end: false });
  child.stderr.pipe(stream.stderr, { end: false });
  child.on('close', (code, signal) => {
    children.delete(child);
    if (code !== null) stream.exit(code);
    else stream.exit((signal ?? 'KILL').replace(/^SIG/, ''), false, '');
    stream.end();
  });
  // ssh2's Server drops signal requests once a command runs (they are recorded from its debug output instead),
  // so the command is killed when its channel closes.
  stream.on('close', () => killGroup(child, 'SIGKILL'));
}

export class TestSshServer {
  /** Every exec command string the server received, in order. */
  readonly commands: string[] = [];
  /** Signal names clients sent to running commands (from the protocol trace). */
  readonly signals: string[] = [];
  port = 0;
  /** TCP connections accepted so far. */
  connectionCount = 0;
  readonly hostKey: HostKeyPair;
  private readonly server: SshServer;
  private readonly clients = new Set<Connection>();
  private readonly children = new Set<ChildProcess>();

  constructor(options: TestServerOptions, hostKey: HostKeyPair = generateHostKey()) {
    this.hostKey = hostKey;
    const allowed = options.authorizedKeys.map((line) => utils.parseKey(line) as ParsedKey);
    const config = {
      hostKeys: [hostKey.privateKey, ...(options.extraHostKeys ?? [])],
      debug: (message: string) => {
        const signal = /CHANNEL_REQUEST \(r:\d+, signal: (\w+)\)/.exec(message)?.[1];
        if (signal !== undefined) this.signals.push(signal);
      },
    };
    this.server = new Server(config, (client) => {
      this.connectionCount += 1;
      this.clients.add(client);
      // ssh2 has Connection#setNoDelay; its type definitions omit it.
      (client as unknown as { setNoDelay(on: boolean): void }).setNoDelay(options.noDelay ?? true);
      client.on('error', () => undefined);
      client.on('close', () => this.clients.delete(client));
      client.on('authentication', (ctx) => {
        if (ctx.method !== 'publickey') return ctx.reject(['publickey']);
        const key = allowed.find((candidate) => {
          const blob = candidate.getPublicSSH();
          return blob.length === ctx.key.data.length && timingSafeEqual(blob, ctx.key.data);
        });
        if (key === undefined) return ctx.reject(['publickey']);
        if (ctx.signature !== undefined && ctx.blob !== undefined) {
          if (key.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true) return ctx.reject(['publickey']);
        }
        return ctx.accept();
      });
      client.on('ready', () => {
        client.on('session', (acceptSession) => {
          const session = acceptSession();
          session.on('exec', (accept, _reject, info) => {
            this.commands.push(info.command);
            const stream = accept();
            const answer = options.inProcess?.(info.command);
            if (answer !== undefined) {
              stream.on('data', () => undefined);
              stream.write(answer.stdout);
              stream.exit(answer.code);
              stream.end();
              return;
            }
            runCommand(stream, info.command, this.children);
          });
        });
      });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** The known_hosts line for this server, as ssh-keyscan would print it. */
  knownHostsLine(): string {
    return `[127.0.0.1]:${this.port} ${this.hostKey.publicLine.split(' ').slice(0, 2).join(' ')}`;
  }

  /** Commands still running. */
  get runningCommands(): number {
    return this.children.size;
  }

  async stop(): Promise<void> {
    for (const child of this.children) killGroup(child, 'SIGKILL');
    for (const client of this.clients) client.end();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
