import ipaddr from 'ipaddr.js';
import { TUNNEL_DEVICE_PATTERN } from '../gateway/layout.js';
import type { Gateway, Mesh } from '../types.js';

/**
 * Which LAN-to-LAN probes `status` runs (SPEC §8), pure: the orchestrator reads each gateway's addresses, asks
 * lanAddressOf for its LAN address, and sends every gateway the probes planProbes gives it. mergeStatus uses the
 * same rules to say which probes were expected and why one did not run.
 */

/** One probe a gateway runs: ping `destination` (the LAN address of gateway `target`) from `source`. */
export interface ProbePlan {
  target: string;
  source: string;
  destination: string;
}

/**
 * The gateway's LAN address: its first address (taking its subnets in order) on a device that is not a mesh tun
 * device and inside one of its own subnets; null when it has none (then no probe can start or end there).
 */
export function lanAddressOf(gateway: Gateway, addresses: { device: string; cidr: string }[]): string | null {
  const parsed = addresses.flatMap(({ device, cidr }) => {
    if (TUNNEL_DEVICE_PATTERN.test(device)) return [];
    const address = cidr.split('/')[0] ?? '';
    if (!ipaddr.IPv4.isValidFourPartDecimal(address)) return [];
    return [{ address, ip: ipaddr.IPv4.parse(address) }];
  });
  for (const subnet of gateway.subnets) {
    let range: [ipaddr.IPv4, number];
    try {
      range = ipaddr.IPv4.parseCIDR(subnet);
    } catch {
      continue;
    }
    const hit = parsed.find(({ ip }) => ip.match(range));
    if (hit) return hit.address;
  }
  return null;
}

/**
 * Whether traffic from `from` to `to`'s subnets is meant to flow under the topology (SPEC §7): `from` has a route
 * to a subnet `to` owns. Every LAN pair of a valid topology has one; a pair without is "not connected", not down.
 */
export function routed(mesh: Mesh, from: Gateway, to: Gateway): boolean {
  return mesh.topology.routing.get(from.name)?.routes.some((r) => r.owner === to.name) ?? false;
}

/** LAN pairs (a before b in id order) that the topology lets reach each other, with the gateway pairs to probe. */
export function probePairs(mesh: Mesh): { a: string; b: string; probes: { from: Gateway; to: Gateway }[] }[] {
  const lans = [...mesh.inventory.lans].sort((x, y) => x.id - y.id);
  const result: { a: string; b: string; probes: { from: Gateway; to: Gateway }[] }[] = [];
  for (let i = 0; i < lans.length; i++) {
    for (let j = i + 1; j < lans.length; j++) {
      const [a, b] = [lans[i]!, lans[j]!];
      const probes = a.gateways.flatMap((from) =>
        b.gateways.filter((to) => routed(mesh, from, to)).map((to) => ({ from, to })),
      );
      if (probes.length > 0) result.push({ a: a.name, b: b.name, probes });
    }
  }
  return result;
}

/**
 * The probes each gateway runs, by source gateway name: from every gateway of LAN a to every gateway of LAN b for
 * each LAN pair the topology connects (one direction: the reply tests the way back). A probe whose source or
 * destination address is unknown is left out (mergeStatus says why).
 */
export function planProbes(
  mesh: Mesh,
  lanAddresses: ReadonlyMap<string, string | null>,
): Map<string, ProbePlan[]> {
  const plans = new Map<string, ProbePlan[]>();
  for (const { probes } of probePairs(mesh)) {
    for (const { from, to } of probes) {
      const source = lanAddresses.get(from.name);
      const destination = lanAddresses.get(to.name);
      if (!source || !destination) continue;
      const list = plans.get(from.name) ?? [];
      list.push({ target: to.name, source, destination });
      plans.set(from.name, list);
    }
  }
  return plans;
}
