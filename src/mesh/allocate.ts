import { TUNNEL_DEVICE_PREFIX, tunnelName } from '../gateway/layout.js';
import { bgpPolicies } from '../topology/bgp.js';
import { computeTopology, routesByPeer } from '../topology/topology.js';
import type { GatewayRouting, TopologyInput } from '../topology/types.js';
import type { Gateway, Inventory, Mesh, Pair, Tunnel } from '../types.js';
import { cidrSize, intToIp, parseCidr } from './ipv4.js';

/**
 * Allocation (SPEC §2). A pair's numbers depend only on the two LAN ids, so adding or removing a LAN never moves
 * an existing tunnel. Everything here is pure.
 */

/** k = (b-1)(b-2)/2 + a for ids a < b; k ≥ 1 and dense: ids 1..n use exactly the indices 1..n(n-1)/2. */
export function pairIndex(idA: number, idB: number): number {
  const a = Math.min(idA, idB);
  const b = Math.max(idA, idB);
  if (!Number.isSafeInteger(a) || a < 1 || a === b) {
    throw new RangeError(`pair index needs two distinct positive integer ids, got ${idA} and ${idB}`);
  }
  return ((b - 1) * (b - 2)) / 2 + a;
}

/** The largest pair index among the given ids (0 with fewer than two ids). */
export function highestPairIndex(ids: number[]): number {
  const sorted = [...new Set(ids)].sort((x, y) => x - y);
  if (sorted.length < 2) return 0;
  return pairIndex(sorted[sorted.length - 2]!, sorted[sorted.length - 1]!);
}

/** The largest pair index whose /30 fits in the transit network (the /30 at offset 0 stays unused). */
export function maxPairIndexForTransit(transit: string): number {
  return cidrSize(parseCidr(transit)) / 4 - 1;
}

/** The largest LAN id such that every pair among ids 1..id fits the transit network. */
export function maxIdForTransit(transit: string): number {
  const limit = maxPairIndexForTransit(transit);
  // the highest index among ids ≤ b is pairIndex(b-1, b) = b(b-1)/2
  let b = Math.floor((1 + Math.sqrt(1 + 8 * limit)) / 2);
  while (b > 1 && (b * (b - 1)) / 2 > limit) b--;
  while (((b + 1) * b) / 2 <= limit) b++;
  return b;
}

/** The last UDP port: pair k's port_base + k may not pass it. */
export const LAST_PORT = 65535;

/**
 * The largest LAN id that still has a UDP port for its lowest possible pair (with id 1) under `portBase`. No mesh
 * with that port_base can use a larger id, whatever its other ids: a bound for checks made before the inventory
 * is read (add-lan --id); the inventory's own checks then apply the exact limit of its ids.
 */
export function maxIdForPortBase(portBase: number): number {
  let id = 1;
  while (portBase + pairIndex(1, id + 1) <= LAST_PORT) id++;
  return id;
}

/** The /30 of pair k: network + 4k; first host for the lower id, second for the higher. */
export function pairTransit(transit: string, k: number): { network: string; low: string; high: string } {
  const t = parseCidr(transit);
  if (k < 1 || k > maxPairIndexForTransit(transit)) {
    throw new RangeError(`pair index ${k} does not fit transit ${transit}`);
  }
  const base = t.base + 4 * k;
  return { network: `${intToIp(base)}/30`, low: intToIp(base + 1), high: intToIp(base + 2) };
}

export function pairPort(portBase: number, k: number): number {
  return portBase + k;
}

/** tun device of pair k: `mtun<k>` (≤ 15 chars for any k a UDP port allows). Same name on both ends. */
export function deviceName(k: number): string {
  return `${TUNNEL_DEVICE_PREFIX}${k}`;
}

export function makePair(inventory: Inventory, x: Gateway, y: Gateway): Pair {
  const [low, high] = x.id < y.id ? [x, y] : [y, x];
  const index = pairIndex(low.id, high.id);
  const transit = pairTransit(inventory.mesh.transit, index);
  return {
    index,
    low,
    high,
    port: pairPort(inventory.mesh.portBase, index),
    transitNetwork: transit.network,
    lowAddress: transit.low,
    highAddress: transit.high,
    device: deviceName(index),
  };
}

/** One end of `pair` seen from `local`, with what the topology routes over it, admits and forwards. */
export function tunnelEnd(
  pair: Pair,
  local: Gateway,
  routing?: GatewayRouting,
  /** `routesByPeer(routing.routes)`, when the caller already grouped them. */
  byPeer: Map<string, string[]> | undefined = routing && routesByPeer(routing.routes),
): Tunnel {
  const isLow = pair.low.name === local.name;
  const peer = isLow ? pair.high : pair.low;
  const name = tunnelName(peer.name);
  const routes = byPeer ? (byPeer.get(peer.name) ?? []) : [...peer.subnets];
  return {
    pair,
    local,
    peer,
    routes,
    admits: routing?.admits.get(peer.name) ?? [...peer.subnets],
    transit: routing?.transit.get(peer.name) ?? [],
    role: isLow ? 'server' : 'client',
    localAddress: isLow ? pair.lowAddress : pair.highAddress,
    peerAddress: isLow ? pair.highAddress : pair.lowAddress,
    port: pair.port,
    device: pair.device,
    name,
  };
}

/** The topology's view of an inventory (SPEC §7): LANs with their via and gateways. */
export function topologyInput(inventory: Inventory): TopologyInput {
  return {
    lans: inventory.lans.map((lan) => ({
      name: lan.name,
      via: lan.via,
      gateways: lan.gateways.map((g) => ({
        name: g.name,
        id: g.id,
        lan: g.lan,
        subnets: g.subnets,
        ...(g.backupSubnets.length > 0 ? { backupSubnets: g.backupSubnets } : {}),
      })),
    })),
  };
}

/**
 * The whole mesh: the pairs the topology tunnels (numbered by gateway ids, SPEC §2) and each gateway's view of its
 * tunnels, with the routes, source checks and transit the topology computed.
 */
export function allocateMesh(inventory: Inventory): Mesh {
  const input = topologyInput(inventory);
  const topology = computeTopology(input);
  const gateways = new Map(inventory.gateways.map((g) => [g.name, g]));
  const pairs: Pair[] = [];
  const tunnels = new Map<string, Tunnel[]>(inventory.gateways.map((g) => [g.name, []]));
  // each gateway's routes grouped by peer once, not once per tunnel end
  const byPeer = new Map<string, Map<string, string[]>>();
  const routesOf = (name: string) => {
    const routing = topology.routing.get(name);
    if (!routing) return undefined;
    let grouped = byPeer.get(name);
    if (!grouped) {
      grouped = routesByPeer(routing.routes);
      byPeer.set(name, grouped);
    }
    return grouped;
  };
  for (const t of topology.tunnels) {
    const pair = makePair(inventory, gateways.get(t.low)!, gateways.get(t.high)!);
    pairs.push(pair);
    for (const end of [pair.low, pair.high]) {
      const routing = topology.routing.get(end.name);
      tunnels.get(end.name)!.push(tunnelEnd(pair, end, routing, routesOf(end.name)));
    }
  }
  pairs.sort((p, q) => p.index - q.index);
  for (const list of tunnels.values()) list.sort((s, t) => s.peer.id - t.peer.id);
  return {
    name: inventory.mesh.name,
    inventory,
    pairs,
    tunnels,
    topology,
    ...(inventory.mesh.routing === 'bgp' ? { bgp: bgpPolicies(input, topology) } : {}),
  };
}
