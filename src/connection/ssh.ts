/**
 * The SSH implementation of `Connector` — the only module importing node-ssh. One verified, authenticated
 * connection per gateway, reused for every exec.
 */
import { readFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { constants } from 'node:os';
import { Readable } from 'node:stream';
import { NodeSSH, type SSHExecCommandResponse } from 'node-ssh';
import type { Client, ClientChannel, ServerHostKeyAlgorithm } from 'ssh2';
import { ConnectError, type HostKeyError } from '../errors.js';
import { stopChannel } from './channel-stop.js';
import { connectFailure } from './connect-messages.js';
import { resolveCredentials } from './credentials.js';
import {
  changedHostKeyError,
  type PresentedHostKey,
  revokedHostKeyError,
  unknownHostKeyError,
} from './host-key-messages.js';
import {
  appendKnownHost,
  type HostKeyVerdict,
  hostKeyAlgorithmsFor,
  type KnownHostEntry,
  keyTypeOfBlob,
  lookupHost,
  verifyHostKey,
} from './known-hosts.js';
import { quote } from './quote.js';
import { SessionLimit } from './session-limit.js';
import { openTcpSocket } from './tcp-socket.js';
import type { Connection, ConnectOptions, Connector, ExecOptions, ExecResult } from './types.js';

const DEFAULT_READY_TIMEOUT_MS = 15_000;
const DEFAULT_KEEPALIVE_INTERVAL_MS = 5_000;
/** Unanswered keepalives before the link is declared dead. */
const KEEPALIVE_COUNT_MAX = 3;
/** Below sshd's default MaxSessions (10). */
const MAX_CHANNELS = 8;
/** How long close() waits for the server to acknowledge the disconnect before dropping the socket. */
const CLOSE_GRACE_MS = 2_000;

/** Transport knobs that only measurements change (TCP_NODELAY stays on in production). */
export interface SshTuning {
  noDelay: boolean;
}

function destinationOf(opts: ConnectOptions): string {
  return `${opts.user}@${opts.host}:${opts.port}`;
}

async function readKnownHosts(opts: ConnectOptions): Promise<string> {
  try {
    return await readFile(opts.knownHosts, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return ''; // every host is unknown; --accept-new creates the file
    throw new ConnectError(
      opts.host,
      `${opts.name}: cannot read known_hosts file ${opts.knownHosts} (${code}). Fix: check ssh.known_hosts and its permissions.`,
    );
  }
}

/** Why a presented host key is refused, or undefined when it is recorded (or may be recorded: --accept-new). */
function hostKeyRefusal(
  verdict: HostKeyVerdict,
  opts: ConnectOptions,
  entries: KnownHostEntry[],
  presented: PresentedHostKey,
) {
  switch (verdict) {
    case 'match':
      return undefined;
    case 'revoked':
      return revokedHostKeyError(
        presented,
        entries.filter((entry) => entry.marker === 'revoked'),
      );
    case 'changed':
      return changedHostKeyError(
        presented,
        entries.filter((entry) => entry.marker === undefined),
      );
    case 'unknown':
      return opts.acceptNew
        ? undefined
        : unknownHostKeyError(
            presented,
            entries.filter((entry) => entry.marker === 'cert-authority'),
          );
  }
}

/**
 * Builds ssh2's hostVerifier for one connection. A refusal is kept in `state.failure`, because ssh2 itself only
 * reports "Host denied"; the connector throws the detailed error instead.
 */
function hostKeyVerifier(opts: ConnectOptions, entries: KnownHostEntry[]) {
  const state: { failure?: HostKeyError | ConnectError } = {};
  const verifier = (keyBlob: Buffer, verify: (accept: boolean) => void): void => {
    const keyType = keyTypeOfBlob(keyBlob);
    if (keyType === undefined) {
      // ssh2 only hands over keys of a negotiated type, so this is a malformed key: refuse, never record it.
      state.failure = new ConnectError(
        opts.host,
        `${opts.name}: ${opts.host} port ${opts.port} presented a malformed host key. Fix: check the host keys of sshd on the gateway.`,
      );
      verify(false);
      return;
    }
    const presented = {
      name: opts.name,
      host: opts.host,
      port: opts.port,
      knownHostsFile: opts.knownHosts,
      keyType,
      keyBlob,
    };
    const verdict = verifyHostKey(entries, keyType, keyBlob);
    const refusal = hostKeyRefusal(verdict, opts, entries, presented);
    if (refusal !== undefined) {
      state.failure = refusal;
      verify(false);
    } else if (verdict === 'match') {
      verify(true);
    } else {
      // Trust on first use (--accept-new): record the key before going on, as OpenSSH does.
      appendKnownHost(opts.knownHosts, opts.host, opts.port, keyType, keyBlob).then(
        () => verify(true),
        (error: Error) => {
          state.failure = new ConnectError(
            opts.host,
            `${opts.name}: cannot record the host key of ${opts.host} port ${opts.port} in ${opts.knownHosts}: ` +
              `${error.message}. Fix: check that file and its directory are writable.`,
          );
          verify(false);
        },
      );
    }
  };
  return { verifier, state };
}

/** Open, verify and authenticate a connection. `tuning` exists for measurements; production keeps the default. */
export async function connectSsh(
  opts: ConnectOptions,
  tuning: SshTuning = { noDelay: true },
): Promise<Connection> {
  const started = Date.now();
  const readyTimeoutMs = opts.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  const credentials = await resolveCredentials(opts);
  const entries = lookupHost(await readKnownHosts(opts), opts.host, opts.port);
  const { verifier, state } = hostKeyVerifier(opts, entries);
  const socket = await openTcpSocket(opts, readyTimeoutMs, tuning.noDelay);
  const ssh = new NodeSSH();
  try {
    await ssh.connect({
      sock: socket,
      username: opts.user,
      privateKey: credentials.privateKey,
      agent: credentials.agent,
      hostVerifier: verifier,
      algorithms: { serverHostKey: hostKeyAlgorithmsFor(entries) as ServerHostKeyAlgorithm[] },
      readyTimeout: Math.max(1_000, readyTimeoutMs - (Date.now() - started)),
      keepaliveInterval: opts.keepaliveIntervalMs ?? DEFAULT_KEEPALIVE_INTERVAL_MS,
      keepaliveCountMax: KEEPALIVE_COUNT_MAX,
    });
  } catch (error) {
    ssh.connection?.end();
    socket.destroy();
    throw state.failure ?? connectFailure(error, { ...opts, readyTimeoutMs }, credentials);
  }
  const client = ssh.connection;
  if (client === null) {
    socket.destroy();
    throw new ConnectError(
      opts.host,
      `${opts.name}: ${destinationOf(opts)} closed the connection right after login.`,
    );
  }
  return new SshConnection(ssh, client, socket, opts);
}

export const sshConnector: Connector = (opts) => connectSsh(opts);

/** A shell reports death by signal N as 128 + N; undefined when the channel closed without any exit status. */
function exitCodeOf(response: SSHExecCommandResponse): number | undefined {
  if (response.code !== null) return response.code;
  if (response.signal !== null) {
    const number = (constants.signals as Record<string, number>)[`SIG${response.signal}`];
    return 128 + (number ?? 0);
  }
  return undefined;
}

class SshConnection implements Connection {
  readonly name: string;
  readonly host: string;
  /** Set once the link is gone (closed by us, by the server, or dead): every later exec fails with it. */
  private lost: ConnectError | undefined;
  private readonly failPending = new Set<(error: ConnectError) => void>();
  private readonly sessions = new SessionLimit(MAX_CHANNELS);
  private readonly closed: Promise<void>;

  constructor(
    private readonly ssh: NodeSSH,
    client: Client,
    private readonly socket: Socket,
    private readonly opts: ConnectOptions,
  ) {
    this.name = opts.name;
    this.host = opts.host;
    const destination = destinationOf(opts);
    // Without a listener, a late transport error (keepalive timeout, reset) would crash the process.
    client.on('error', (error: Error & { level?: string }) => {
      const interval = opts.keepaliveIntervalMs ?? DEFAULT_KEEPALIVE_INTERVAL_MS;
      const why =
        error.message === 'Keepalive timeout'
          ? `no answer to ${KEEPALIVE_COUNT_MAX} keepalives in ${(KEEPALIVE_COUNT_MAX * interval) / 1000} s`
          : error.message;
      this.markLost(
        `${opts.name}: connection to ${destination} lost (${why}). Fix: check the link and re-run.`,
      );
    });
    this.closed = new Promise((resolve) => {
      client.once('close', () => {
        this.markLost(`${opts.name}: connection to ${destination} closed by the server. Fix: re-run.`);
        resolve();
      });
    });
  }

  private markLost(message: string): void {
    if (this.lost !== undefined) return;
    this.lost = new ConnectError(this.host, message);
    for (const fail of this.failPending) fail(this.lost);
  }

  exec(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const [program] = argv;
    if (program === undefined) {
      return Promise.reject(new Error(`${this.name}: exec needs a command; argv is empty`));
    }
    const sudo = (opts.privileged ?? true) && this.opts.become && this.opts.user !== 'root';
    const command = quote(sudo ? ['sudo', '-n', '--', ...argv] : argv);
    return this.sessions.run(() => this.run(command, program, opts));
  }

  /** `label` is the command's first word: the only part of it that appears in messages. */
  private run(command: string, label: string, opts: ExecOptions): Promise<ExecResult> {
    if (this.lost !== undefined) return Promise.reject(this.lost);
    const destination = destinationOf(this.opts);
    return new Promise((resolve, reject) => {
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      let channel: ClientChannel | undefined;
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const settle = (outcome: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.failPending.delete(failThis);
        outcome();
      };
      const failThis = (error: ConnectError) => settle(() => reject(error));
      this.failPending.add(failThis);
      if (opts.timeoutMs !== undefined) {
        const timeoutMs = opts.timeoutMs;
        timer = setTimeout(() => {
          settle(() =>
            reject(
              new ConnectError(
                this.host,
                `${this.name}: \`${label}\` did not finish within ${timeoutMs} ms on ${destination}; meshctl ` +
                  'closed its channel and asked sshd to kill it (sshd refuses that for root logins and cannot kill ' +
                  'commands under sudo). Fix: check on the gateway whether it still runs (load, a held ' +
                  'package-manager lock), then re-run.',
              ),
            ),
          );
          if (channel !== undefined) stopChannel(channel);
        }, timeoutMs);
      }
      this.ssh
        .execCommand(command, {
          // A stream, so Buffers pass byte for byte; node-ssh ends the channel's stdin after it.
          stdin:
            opts.stdin === undefined
              ? undefined
              : opts.stdin instanceof Readable
                ? opts.stdin
                : Readable.from([Buffer.from(opts.stdin)]),
          noTrim: true,
          onChannel: (opened) => {
            channel = opened;
            // A command that exits without reading its stdin makes our write fail; its exit status still counts.
            opened.on('error', () => undefined);
            if (settled) stopChannel(opened);
          },
          onStdout: (chunk) => {
            stdout.push(chunk);
            if (!settled) opts.onStdout?.(chunk);
          },
          onStderr: (chunk) => stderr.push(chunk),
        })
        .then(
          (response) => {
            const code = exitCodeOf(response);
            if (code === undefined) {
              failThis(
                this.lost ??
                  new ConnectError(
                    this.host,
                    `${this.name}: \`${label}\` on ${destination} ended without an exit status. Fix: re-run.`,
                  ),
              );
              return;
            }
            settle(() =>
              resolve({
                code,
                // Decoded once at the end, so a multi-byte character split across packets stays intact.
                stdout: Buffer.concat(stdout).toString('utf8'),
                stderr: Buffer.concat(stderr).toString('utf8'),
              }),
            );
          },
          (error: Error) =>
            failThis(
              this.lost ??
                new ConnectError(
                  this.host,
                  `${this.name}: cannot run \`${label}\` on ${destination}: ${error.message}. Fix: re-run; check sshd on the gateway if it persists.`,
                ),
            ),
        );
    });
  }

  async close(): Promise<void> {
    if (this.lost === undefined) {
      this.markLost(`${this.name}: the connection to ${destinationOf(this.opts)} was closed by meshctl.`);
      this.ssh.dispose();
    }
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([
      this.closed,
      new Promise<void>((resolve) => {
        grace = setTimeout(resolve, CLOSE_GRACE_MS);
      }),
    ]);
    clearTimeout(grace);
    this.socket.destroy();
  }
}
