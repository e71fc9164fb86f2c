import type { Readable } from 'node:stream';

/** The connection contract (ARCHITECTURE "src/connection/"): everything meshctl does on a gateway goes through it. */

export interface ExecResult {
  /** Exit status; a command killed by a signal reports 128 + the signal number, as a shell would. */
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /**
   * Written to the command's stdin, then closed. Secrets travel here, never in argv. A stream is written as it
   * produces data (a command that reads more once it has printed something, e.g. `status`'s probes), and stdin is
   * closed when the stream ends.
   */
  stdin?: string | Buffer | Readable;
  /** Default true: prefix `sudo -n --` when the gateway's ssh settings say `become` and the user is not root. */
  privileged?: boolean;
  /**
   * Fail with a ConnectError when the command runs longer than this. Its channel is closed and a kill is
   * requested, which sshd honours only for non-root logins without sudo: the command may keep running.
   */
  timeoutMs?: number;
  /**
   * Called with each piece of stdout as it arrives, for progress while a long command runs (the result still
   * holds all of stdout). Pieces are cut anywhere, even inside a line or a character.
   */
  onStdout?: (chunk: Buffer) => void;
}

export interface Connection {
  /** The LAN name, for messages. */
  readonly name: string;
  readonly host: string;
  /**
   * Run argv (quoted by `quote`) on the gateway. Never throws on a non-zero exit: the caller decides.
   * Throws ConnectError on transport failure or timeout.
   */
  exec(argv: string[], opts?: ExecOptions): Promise<ExecResult>;
  close(): Promise<void>;
}

export interface ConnectOptions {
  /** LAN name, for messages. */
  name: string;
  host: string;
  port: number;
  user: string;
  /** Absolute path of a private key file. */
  identityFile?: string;
  /** Default process.env.SSH_AUTH_SOCK. */
  agentSocket?: string;
  /** Absolute path of the known_hosts file. */
  knownHosts: string;
  /** Trust an unknown host key on first use and record it (never a changed one). */
  acceptNew: boolean;
  become: boolean;
  /** TCP connect plus SSH handshake and authentication. Default 15000. */
  readyTimeoutMs?: number;
  /** SSH keepalive probe interval; the link is declared dead after 3 unanswered probes. Default 5000. */
  keepaliveIntervalMs?: number;
}

export type Connector = (opts: ConnectOptions) => Promise<Connection>;
