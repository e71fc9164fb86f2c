import type { Connection } from '../connection/types.js';
import { RemoteCommandError } from '../errors.js';
import { readPackageScript } from '../facts/script.js';

/**
 * Is a tunnel up? OpenVPN reports READY to systemd before its peer answers, so a successful `systemctl start`
 * proves nothing. A tunnel counts as up when its unit's StatusText says "Initialization Sequence Completed" and
 * the peer's transit address answers a ping through it.
 */

export interface TunnelProbe {
  unit: string;
  peer: string;
  peerAddress: string;
}

const COMPLETED = 'Initialization Sequence Completed';

/** Parses `systemctl show -p Id -p … UNIT…` output (blocks separated by blank lines): unit → property → value. */
export function parseShow(stdout: string): Map<string, Record<string, string>> {
  const result = new Map<string, Record<string, string>>();
  for (const block of stdout.split(/\n\s*\n/)) {
    const props: Record<string, string> = {};
    for (const line of block.split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0) props[line.slice(0, eq)] = line.slice(eq + 1);
    }
    if (props.Id) result.set(props.Id, props);
  }
  return result;
}

/** wait-tunnels.sh, read once at module load: the wait that runs on the gateway. */
export const WAIT_SCRIPT = readPackageScript('src/execute/wait-tunnels.sh');

/** `$0` of the wait's shell: what `ps` shows on the gateway while it runs. */
const WAIT_NAME = 'meshctl-wait-tunnels';

/** How long a watcher on the gateway sleeps between two tries of its tunnel (default of waitForTunnels). */
export const DEFAULT_POLL_INTERVAL_MS = 100;

/**
 * How much longer than its own deadline the wait may take before meshctl gives up on the command: one last round
 * (systemctl, a 1 s ping) on a loaded gateway.
 */
const EXEC_MARGIN_MS = 15_000;

const UNIT_NAME = /^[A-Za-z0-9@_.:-]+$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** The one remote command that waits for `tunnels` on the gateway (see wait-tunnels.sh for its output). */
export function waitCommand(tunnels: TunnelProbe[], timeoutMs: number, pollIntervalMs: number): string[] {
  for (const t of tunnels) {
    if (!UNIT_NAME.test(t.unit) || !IPV4.test(t.peerAddress)) {
      throw new Error(
        `waitCommand: tunnel ${JSON.stringify(t.unit)} / ${JSON.stringify(t.peerAddress)} is not a unit name ` +
          'and an IPv4 address: fix the planner that produced it',
      );
    }
  }
  const centiseconds = Math.max(0, Math.ceil(timeoutMs / 10));
  const interval = (Math.max(10, pollIntervalMs) / 1000).toFixed(2);
  return [
    'sh',
    '-c',
    WAIT_SCRIPT,
    WAIT_NAME,
    String(centiseconds),
    interval,
    COMPLETED,
    '--',
    ...tunnels.flatMap((t) => [t.unit, t.peerAddress]),
  ];
}

/** What the wait printed: the units it saw come up, and whether it finished (`end` or `deadline`). */
export function parseWait(stdout: string): { up: Set<string>; finished: boolean } {
  const up = new Set<string>();
  let finished = false;
  for (const line of stdout.split('\n')) {
    if (line.startsWith('up ')) up.add(line.slice(3));
    else if (line === 'end' || line === 'deadline') finished = true;
  }
  return { up, finished };
}

/**
 * Waits until every tunnel is up or the deadline passes; returns the units that came up. The waiting happens on
 * the gateway (wait-tunnels.sh: one watcher per tunnel, pinging its peer from the start and asking systemctl once
 * the peer answers, `pollIntervalMs` between tries), in ONE remote command, so a tunnel is seen up as soon as it
 * is instead of at the next poll over SSH; `onProgress` follows its lines as they arrive. A check that cannot run
 * (a lost link, a timeout, the script failing) throws: the caller records it as a verify error, never as "down".
 */
export async function waitForTunnels(
  conn: Connection,
  tunnels: TunnelProbe[],
  timeoutMs: number,
  onProgress: (up: number, total: number) => void = () => {},
  pollIntervalMs = DEFAULT_POLL_INTERVAL_MS,
): Promise<Set<string>> {
  if (tunnels.length === 0) return new Set();
  const wanted = new Set(tunnels.map((t) => t.unit));
  const seen = new Set<string>();
  let partial = '';
  const result = await conn.exec(waitCommand(tunnels, timeoutMs, pollIntervalMs), {
    timeoutMs: timeoutMs + EXEC_MARGIN_MS,
    onStdout: (chunk) => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines)
        if (line.startsWith('up ') && wanted.has(line.slice(3))) seen.add(line.slice(3));
      onProgress(seen.size, tunnels.length);
    },
  });
  const { up, finished } = parseWait(result.stdout);
  if (result.code !== 0 || !finished) {
    const said = result.stderr.trim().split('\n').slice(-2).join(' | ');
    throw new RemoteCommandError(
      conn.name,
      ['sh', '-c', `(${WAIT_NAME})`],
      result.code,
      result.stderr,
      `${conn.name}: the tunnel check did not finish (exit ${result.code}${said ? `: ${said}` : ''}); whether ` +
        'its tunnels are up is unknown',
    );
  }
  const verified = new Set([...up].filter((unit) => wanted.has(unit)));
  onProgress(verified.size, tunnels.length);
  return verified;
}
