import type { Connection } from '../connection/types.js';

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

/** Unit → StatusText, from `systemctl show -p Id -p StatusText …`. */
export function parseStatusTexts(stdout: string): Map<string, string> {
  return new Map([...parseShow(stdout)].map(([id, props]) => [id, props.StatusText ?? '']));
}

/** One round trip: ping each address once through its tunnel; prints `UP addr` or `DOWN addr` per address. */
export const PING_SCRIPT =
  'for a do if ping -c 1 -W 2 "$a" >/dev/null 2>&1; then echo "UP $a"; else echo "DOWN $a"; fi; done';

export async function tunnelsUp(conn: Connection, tunnels: TunnelProbe[]): Promise<Set<string>> {
  if (tunnels.length === 0) return new Set();
  const show = await conn.exec(
    ['systemctl', 'show', '-p', 'Id', '-p', 'StatusText', ...tunnels.map((t) => t.unit)],
    {
      timeoutMs: 30_000,
    },
  );
  const status = parseStatusTexts(show.stdout);
  const completed = tunnels.filter((t) => (status.get(t.unit) ?? '').includes(COMPLETED));
  if (completed.length === 0) return new Set();
  const ping = await conn.exec(
    ['sh', '-c', PING_SCRIPT, 'meshctl-ping', ...completed.map((t) => t.peerAddress)],
    {
      timeoutMs: 30_000,
      privileged: false,
    },
  );
  const answered = new Set(
    ping.stdout
      .split('\n')
      .filter((line) => line.startsWith('UP '))
      .map((line) => line.slice(3)),
  );
  return new Set(completed.filter((t) => answered.has(t.peerAddress)).map((t) => t.unit));
}

/** Polls until every tunnel is up or the deadline passes; returns the units that came up. */
export async function waitForTunnels(
  conn: Connection,
  tunnels: TunnelProbe[],
  timeoutMs: number,
  onProgress: (up: number, total: number) => void = () => {},
  pollIntervalMs = 1000,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Promise<Set<string>> {
  const deadline = Date.now() + timeoutMs;
  const up = new Set<string>();
  for (;;) {
    const pending = tunnels.filter((t) => !up.has(t.unit));
    for (const unit of await tunnelsUp(conn, pending)) up.add(unit);
    onProgress(up.size, tunnels.length);
    if (up.size === tunnels.length || Date.now() >= deadline) return up;
    await sleep(pollIntervalMs);
  }
}
