import type { Connection } from '../connection/types.js';
import { RemoteCommandError } from '../errors.js';

/**
 * Is a BGP session up (routing: bgp)? Read from FRR itself: `show bgp ipv4 unicast summary json`, whose shape is
 * the same from FRR 7.5 to 10.x (a `peers` object keyed by neighbour address, with `state` and `pfxRcd`, the
 * prefixes accepted from it). A session counts as up when it is Established and has brought at least as many
 * prefixes as the peer originates itself.
 */

export interface BgpNeighborCheck {
  peer: string;
  address: string;
  /** What the peer originates. */
  expects: string[];
}

export interface BgpSessionState {
  /** `Established`, `Active`, `Connect`, `Idle`, … */
  state: string;
  /** Prefixes accepted from the neighbour (after the inbound filter). */
  received: number;
}

/** The one read-only command: FRR's session table as JSON. */
export const BGP_SUMMARY_COMMAND = ['vtysh', '-c', 'show bgp ipv4 unicast summary json'];
/** FRR's table of accepted routes as JSON: which neighbour each prefix was received from. */
export const BGP_ROUTES_COMMAND = ['vtysh', '-c', 'show bgp ipv4 unicast json'];

/** Prefix → the neighbour addresses a valid path to it was received from (`peerId`), from BGP_ROUTES_COMMAND. */
export function parseBgpRoutes(stdout: string): Map<string, Set<string>> {
  const result = new Map<string, Set<string>>();
  let data: unknown;
  try {
    data = JSON.parse(stdout);
  } catch {
    return result;
  }
  const routes = (data as { routes?: unknown })?.routes;
  if (typeof routes !== 'object' || routes === null) return result;
  for (const [prefix, paths] of Object.entries(routes as Record<string, unknown>)) {
    if (!Array.isArray(paths)) continue;
    const from = new Set<string>();
    for (const path of paths as { valid?: unknown; peerId?: unknown }[]) {
      if (path?.valid === true && typeof path.peerId === 'string') from.add(path.peerId);
    }
    result.set(prefix, from);
  }
  return result;
}

/** Neighbour address → state, from `show bgp ipv4 unicast summary json` (or the whole `show bgp summary json`). */
export function parseBgpSummary(stdout: string): Map<string, BgpSessionState> {
  let data: unknown;
  try {
    data = JSON.parse(stdout);
  } catch {
    throw new Error(`FRR's session table is not JSON: ${JSON.stringify(stdout.slice(0, 80))}`);
  }
  const table = (record: unknown): Record<string, unknown> | null =>
    typeof record === 'object' && record !== null ? (record as Record<string, unknown>) : null;
  const root = table(data) ?? {};
  // bgpd not running, or no session yet: FRR prints {} (or a note); `show bgp summary json` nests per family
  const unicast = table(root.ipv4Unicast) ?? root;
  const peers = table(unicast.peers) ?? {};
  const result = new Map<string, BgpSessionState>();
  for (const [address, value] of Object.entries(peers)) {
    const peer = table(value) ?? {};
    result.set(address, {
      state: typeof peer.state === 'string' ? peer.state : 'unknown',
      received: typeof peer.pfxRcd === 'number' ? peer.pfxRcd : 0,
    });
  }
  return result;
}

/**
 * Up: Established with the peer's own subnets received from it (`routes`, when read; without it, at least as
 * many prefixes as the peer originates).
 */
export function sessionUp(
  check: BgpNeighborCheck,
  state: BgpSessionState | undefined,
  routes?: Map<string, Set<string>>,
): boolean {
  if (state?.state !== 'Established' || state.received < check.expects.length) return false;
  return routes === undefined || check.expects.every((p) => routes.get(p)?.has(check.address));
}

/** `Active`, `Established, 0 of 1 prefixes`, `not configured`: for a message. */
export function describeSession(
  check: BgpNeighborCheck,
  state: BgpSessionState | undefined,
  routes?: Map<string, Set<string>>,
): string {
  if (!state) return 'not configured in FRR';
  if (state.state !== 'Established') return state.state;
  const missing = routes ? check.expects.filter((p) => !routes.get(p)?.has(check.address)) : [];
  if (missing.length > 0) return `Established, but ${missing.join(', ')} not received from it`;
  return `Established, ${state.received} of ${check.expects.length} prefixes received`;
}

/**
 * Polls FRR on the gateway until every session in `checks` is up or `timeoutMs` passes; returns the last states
 * seen. A command that fails (vtysh missing, FRR not answering) is retried until the deadline, then thrown.
 */
export async function waitForBgp(
  conn: Connection,
  checks: BgpNeighborCheck[],
  timeoutMs: number,
  onProgress: (up: number, total: number) => void = () => {},
  intervalMs = 250,
): Promise<{ states: Map<string, BgpSessionState>; routes: Map<string, Set<string>> }> {
  const deadline = Date.now() + timeoutMs;
  let last = new Map<string, BgpSessionState>();
  let lastRoutes: Map<string, Set<string>> | undefined;
  let lastError: RemoteCommandError | null = null;
  for (;;) {
    const result = await conn.exec(BGP_SUMMARY_COMMAND, { timeoutMs: 30_000 });
    if (result.code === 0) {
      lastError = null;
      try {
        last = parseBgpSummary(result.stdout);
      } catch {
        // FRR starting up prints a note instead of JSON: try again
        last = new Map();
      }
      let up = checks.filter((c) => sessionUp(c, last.get(c.address))).length;
      onProgress(up, checks.length);
      if (up === checks.length) {
        // every session counts enough prefixes: now check they are the peers' own
        const routes = await readBgpRoutes(conn);
        up = checks.filter((c) => sessionUp(c, last.get(c.address), routes)).length;
        if (up === checks.length) return { states: last, routes };
        lastRoutes = routes;
      }
    } else {
      lastError = new RemoteCommandError(conn.name, BGP_SUMMARY_COMMAND, result.code, result.stderr);
    }
    if (Date.now() + intervalMs > deadline) {
      if (lastError) throw lastError;
      return { states: last, routes: lastRoutes ?? (await readBgpRoutes(conn)) };
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** What `show bgp neighbors json` says of one neighbour: its state now, and why FRR last reset it. */
export interface NeighborDetail {
  state?: string;
  lastReset?: string;
}

/**
 * `show bgp neighbors json` for each of `addresses` (bgpState, lastResetDueTo); empty when FRR does not say.
 * Never throws.
 */
export async function neighborDetails(
  conn: Connection,
  addresses: string[],
): Promise<Map<string, NeighborDetail>> {
  const details = new Map<string, NeighborDetail>();
  try {
    const result = await conn.exec(['vtysh', '-c', 'show bgp neighbors json'], { timeoutMs: 30_000 });
    if (result.code !== 0) return details;
    const data = JSON.parse(result.stdout) as Record<
      string,
      { bgpState?: unknown; lastResetDueTo?: unknown }
    >;
    for (const address of addresses) {
      const entry = data[address];
      if (!entry) continue;
      const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
      const state = text(entry.bgpState);
      const lastReset = text(entry.lastResetDueTo);
      details.set(address, { ...(state ? { state } : {}), ...(lastReset ? { lastReset } : {}) });
    }
  } catch {
    // a diagnostic only
  }
  return details;
}

/**
 * Why FRR last reset each of `addresses` (`show bgp neighbors json`: lastResetDueTo), for the message of a session
 * that did not come up; empty when FRR does not say. Never throws.
 */
export async function lastResets(conn: Connection, addresses: string[]): Promise<Map<string, string>> {
  const reasons = new Map<string, string>();
  for (const [address, detail] of await neighborDetails(conn, addresses)) {
    if (detail.lastReset) reasons.set(address, detail.lastReset);
  }
  return reasons;
}

/** FRR's accepted routes by prefix (empty when FRR cannot be read: then no session counts as up). */
async function readBgpRoutes(conn: Connection): Promise<Map<string, Set<string>>> {
  const table = await conn.exec(BGP_ROUTES_COMMAND, { timeoutMs: 30_000 });
  return table.code === 0 ? parseBgpRoutes(table.stdout) : new Map();
}
