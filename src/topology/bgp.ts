import { compareSubnets } from './topology.js';
import type { Topology, TopologyInput } from './types.js';

/**
 * SPEC §7 `routing: bgp`, pure: what each gateway's BGP speaker originates and accepts. The tunnel graph is the
 * static one; BGP picks paths over it and heals around a dead tunnel or gateway. A neighbour may announce exactly
 * the mesh subnets it may originate or carry under the topology, and nothing else:
 *
 * - a leaf gateway is a stub: it originates its own subnets and carries nobody's traffic, so from a leaf
 *   neighbour only its own subnets are accepted, and a leaf announces only its own;
 * - a core neighbour may carry the subnets of every gateway it reaches without crossing the receiving gateway:
 *   the other core gateways of its part of the graph once the receiver is taken out, and the leaves hanging off
 *   them;
 * - no gateway accepts its own LAN's subnets from the mesh (the LAN reaches them itself), nor a default route,
 *   nor a more-specific of anything (the filters are exact prefixes).
 */

export interface Origination {
  subnet: string;
  /** Served as a backup for another gateway of the LAN: announced with a longer AS path. */
  backup: boolean;
}

export interface BgpPolicy {
  /** A leaf LAN's gateway: announces only its own subnets and forwards no transit. */
  stub: boolean;
  /** Its own subnets, then the subnets it backs up, each once. */
  originates: Origination[];
  /** Per peer gateway name: the exact prefixes accepted from it, sorted; never empty for a peer of the graph. */
  accepts: Map<string, string[]>;
  /** Every mesh subnet outside this gateway's LAN, sorted: what the mesh may deliver to it or take from it. */
  remote: string[];
}

/** One policy per gateway name. */
export function bgpPolicies(input: TopologyInput, topology: Topology): Map<string, BgpPolicy> {
  const gateways = topology.gateways;
  const byName = new Map(gateways.map((g) => [g.name, g]));
  const leafLans = new Set(input.lans.filter((lan) => lan.via.length > 0).map((lan) => lan.name));
  const isCore = (name: string) => !leafLans.has(byName.get(name)!.lan);
  const announced = (name: string): string[] => {
    const g = byName.get(name)!;
    return [...g.subnets, ...(g.backupSubnets ?? [])];
  };
  const neighbours = new Map<string, string[]>(gateways.map((g) => [g.name, []]));
  for (const t of topology.tunnels) {
    neighbours.get(t.low)!.push(t.high);
    neighbours.get(t.high)!.push(t.low);
  }
  const lanSubnets = new Map<string, Set<string>>();
  for (const g of gateways) {
    const set = lanSubnets.get(g.lan) ?? new Set<string>();
    for (const subnet of announced(g.name)) set.add(subnet);
    lanSubnets.set(g.lan, set);
  }
  const everything = [...new Set(gateways.flatMap((g) => announced(g.name)))].sort(compareSubnets);

  const policies = new Map<string, BgpPolicy>();
  for (const self of gateways) {
    const own = lanSubnets.get(self.lan)!;
    const keep = (subnets: Iterable<string>) =>
      [...new Set(subnets)].filter((s) => !own.has(s)).sort(compareSubnets);
    // the core graph without `self`: which part each core gateway is in (one search per part)
    const part = new Map<string, number>();
    let parts = 0;
    for (const start of gateways) {
      if (start.name === self.name || !isCore(start.name) || part.has(start.name)) continue;
      const label = parts++;
      part.set(start.name, label);
      const stack = [start.name];
      while (stack.length > 0) {
        const node = stack.pop()!;
        for (const next of neighbours.get(node)!) {
          if (next === self.name || !isCore(next) || part.has(next)) continue;
          part.set(next, label);
          stack.push(next);
        }
      }
    }
    // what each part can carry: its core gateways' subnets and those of every leaf (other than self) tunnelled to it
    const carried = new Map<number, string[]>();
    for (const g of gateways) {
      if (g.name === self.name) continue;
      const labels = isCore(g.name)
        ? [part.get(g.name)!]
        : [...new Set(neighbours.get(g.name)!.flatMap((n) => (part.has(n) ? [part.get(n)!] : [])))];
      for (const label of labels) {
        const list = carried.get(label) ?? [];
        list.push(...announced(g.name));
        carried.set(label, list);
      }
    }
    const cache = new Map<number, string[]>();
    const accepts = new Map<string, string[]>();
    for (const peer of neighbours.get(self.name)!) {
      if (!isCore(peer)) {
        accepts.set(peer, keep(announced(peer)));
        continue;
      }
      const label = part.get(peer)!;
      if (!cache.has(label)) cache.set(label, keep(carried.get(label) ?? []));
      accepts.set(peer, cache.get(label)!);
    }
    const originates: Origination[] = [
      ...self.subnets.map((subnet) => ({ subnet, backup: false })),
      ...(self.backupSubnets ?? [])
        .filter((s) => !self.subnets.includes(s))
        .map((subnet) => ({ subnet, backup: true })),
    ];
    policies.set(self.name, {
      stub: !isCore(self.name),
      originates,
      accepts,
      remote: everything.filter((s) => !own.has(s)),
    });
  }
  return policies;
}
