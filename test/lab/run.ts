import { type ChildProcess, spawn } from 'node:child_process';

/** The outcome of one command: like node-ssh's exec, a non-zero exit is data, not an exception. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Written to the command's stdin, then stdin is closed. Secrets travel here, never in argv. */
  stdin?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Kill the command (SIGKILL) after this many milliseconds; it then reports code 124, like timeout(1). */
  timeoutMs?: number;
  /** Children still running are added here so a teardown can kill exactly the processes this lab started. */
  track?: Set<ChildProcess>;
}

/** Thrown when a lab step fails; the message names the command, what it said and what to do. */
export class LabError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LabError';
  }
}

/** Runs argv (no shell) and collects its output. Never throws for a non-zero exit. */
export function run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    opts.track?.add(child);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, opts.timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', (error) => {
      if (timer) clearTimeout(timer);
      opts.track?.delete(child);
      reject(
        new LabError(
          `cannot run \`${argv[0]}\`: ${error.message}; install the lab's packages with test/lab/install-deps.sh`,
        ),
      );
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      opts.track?.delete(child);
      resolve({
        code: timedOut ? 124 : (code ?? (signal ? 128 + signalNumber(signal) : 1)),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    // a command that exits before reading its stdin must not crash us with EPIPE
    child.stdin.on('error', () => {});
    child.stdin.end(opts.stdin ?? '');
  });
}

/** Runs argv and throws a LabError (naming the command, its exit code and its last stderr lines) unless it exits 0. */
export async function runOk(argv: string[], opts: RunOptions & { fix?: string } = {}): Promise<RunResult> {
  const result = await run(argv, opts);
  if (result.code !== 0) {
    const said = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-4).join(' | ');
    throw new LabError(
      `\`${argv.join(' ')}\` exited ${result.code}: ${said || '(no output)'}${opts.fix ? `; ${opts.fix}` : ''}`,
    );
  }
  return result;
}

function signalNumber(signal: NodeJS.Signals): number {
  const numbers: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15, SIGHUP: 1 };
  return numbers[signal] ?? 0;
}
