import type { Connection, ExecOptions, ExecResult } from '../connection/types.js';
import { RemoteCommandError } from '../errors.js';
import { SCRIPT_ARGV } from './bundle.js';

/** Runs argv and requires exit 0; the error names the gateway, the command and the tail of stderr (never stdin). */
export async function mustExec(
  conn: Connection,
  argv: string[],
  opts: ExecOptions = {},
): Promise<ExecResult> {
  const result = await conn.exec(argv, opts);
  if (result.code !== 0)
    throw new RemoteCommandError(conn.name, argv.slice(0, 4), result.code, result.stderr);
  return result;
}

/**
 * Runs a generated sh script (from bundle.ts) on stdin. The error shows `sh -s (what)`, never the script,
 * because scripts carry file contents, key material included.
 */
export async function mustRunScript(
  conn: Connection,
  what: string,
  script: string,
  timeoutMs = 120_000,
): Promise<ExecResult> {
  const result = await conn.exec(SCRIPT_ARGV, { stdin: script, timeoutMs });
  if (result.code !== 0) {
    throw new RemoteCommandError(conn.name, [...SCRIPT_ARGV, `(${what})`], result.code, result.stderr);
  }
  return result;
}

/** `systemctl VERB unit…` as one call (each enable reloads systemd, so batching matters). */
export async function systemctl(
  conn: Connection,
  verb: string,
  units: string[],
  timeoutMs = 120_000,
): Promise<void> {
  if (units.length === 0) return;
  await mustExec(conn, ['systemctl', verb, ...units], { timeoutMs });
}
