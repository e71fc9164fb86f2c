import type { Connection, ExecOptions, ExecResult } from '../connection/types.js';
import { RemoteCommandError } from '../errors.js';
import { isManagedUnit, MANAGED_UNITS_RULE } from '../gateway/layout.js';
import { SCRIPT_ARGV } from './bundle.js';

/**
 * How long a remote command may run when its caller names no limit. SSH keepalives catch a dead link, but not a
 * command that hangs on a live one (a stuck systemctl, a held lock): no phase of a run may wait forever.
 */
export const DEFAULT_REMOTE_TIMEOUT_MS = 120_000;

/** Runs argv and requires exit 0; the error names the gateway, the command and the tail of stderr (never stdin). */
export async function mustExec(
  conn: Connection,
  argv: string[],
  opts: ExecOptions = {},
): Promise<ExecResult> {
  const result = await conn.exec(argv, { timeoutMs: DEFAULT_REMOTE_TIMEOUT_MS, ...opts });
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
  timeoutMs = DEFAULT_REMOTE_TIMEOUT_MS,
): Promise<ExecResult> {
  const result = await conn.exec(SCRIPT_ARGV, { stdin: script, timeoutMs });
  if (result.code !== 0) {
    throw new RemoteCommandError(conn.name, [...SCRIPT_ARGV, `(${what})`], result.code, result.stderr);
  }
  return result;
}

/** The options meshctl passes to systemctl: `--no-reload` (enable without reloading systemd: a reload follows). */
export type SystemctlFlag = '--no-reload';

/**
 * `systemctl VERB unit…` as one call (each enable reloads systemd, so batching matters). Only meshctl's own units
 * (gateway/layout.ts) are ever named: whatever a manifest or a bug upstream says, nothing else is stopped.
 */
export async function systemctl(
  conn: Connection,
  verb: string,
  units: string[],
  timeoutMs = DEFAULT_REMOTE_TIMEOUT_MS,
  flags: readonly SystemctlFlag[] = [],
): Promise<void> {
  const foreign = units.find((unit) => !isManagedUnit(unit));
  if (foreign !== undefined) {
    throw new Error(
      `${conn.name}: refusing to run systemctl ${verb} on ${JSON.stringify(foreign)}: not one of meshctl's units ` +
        `(${MANAGED_UNITS_RULE}); nothing was run. This is a bug in meshctl: report it`,
    );
  }
  if (units.length === 0) return;
  await mustExec(conn, ['systemctl', verb, ...flags, ...units], { timeoutMs });
}
