import type {
  GatewayRouting,
  Route,
  Topology,
  TopologyGateway,
  TopologyInput,
  TopologyLan,
  TopologyProblem,
  TopologyTunnel,
} from './types.js';

/**
 * SPEC §7, pure. The tunnel graph: every gateway of a core LAN tunnels to every gateway of every other core LAN;
 * a leaf LAN's gateways tunnel to the gateways of its `via` LANs only; gateways of one LAN never tunnel to each
 * other. Static routing: each gateway sends a remote subnet straight to its owner where a tunnel exists, else along
 * a shortest path, ties broken by the lowest gateway id — the same rule everywhere, so paths form one tree per
 * destination and no loop can form. Leaf gateways are never a path's middle.
 */

/** What is wrong with the LANs' `via` lists, every problem at once (empty: the topology can be computed). */
export function topologyProblems(input: TopologyInput): TopologyProblem[] {
  const byName = new Map(input.lans.map((lan) => [lan.name, lan]));
  const problems: TopologyProblem[] = [];
  for (const lan of input.lans) {
    if (lan.via.length === 0) continue;
    const seen = new Set<string>();
    lan.via.forEach((name, i) => {
      const field = `via[${i}]`;
      const target = byName.get(name);
      if (seen.has(name)) {
        problems.push({
          lan: lan.name,
          field,
          value: name,
          message: `"${name}" is listed twice`,
          fix: 'list each core LAN once',
        });
      } else if (name === lan.name) {
        problems.push({
          lan: lan.name,
          field,
          value: name,
          message: 'a LAN cannot be reached via itself',
          fix: `name the core LAN(s) whose gateways carry ${lan.name}'s traffic, or remove via to make ${lan.name} a core LAN`,
        });
      } else if (!target) {
        problems.push({
          lan: lan.name,
          field,
          value: name,
          message: `there is no LAN "${name}" (no lans/${name}.yml)`,
          fix: `name a core LAN of this mesh: ${coreNames(input).join(', ') || '(there is none)'}`,
        });
      } else if (target.via.length > 0) {
        const instead = target.via.filter((v) => v !== lan.name);
        problems.push({
          lan: lan.name,
          field,
          value: name,
          message: `"${name}" is itself a leaf (via ${target.via.join(', ')}): a leaf is reached only through core LANs`,
          fix: `${instead.length > 0 ? `use ${instead.join(' or ')} instead, or ` : ''}make ${name} a core LAN (remove its via)`,
        });
      }
      seen.add(name);
    });
  }
  if (problems.length > 0) return problems;
  // a LAN is cut off when some other LAN cannot reach it (cannot happen with the rules above while a core exists,
  // but the proof is the computed routing itself, not this reasoning)
  const topology = computeTopology(input);
  for (const lan of input.lans) {
    for (const gateway of lan.gateways) {
      const routing = topology.routing.get(gateway.name)!;
      const reached = new Set(routing.routes.map((r) => r.subnet));
      const missing = input.lans
        .filter((other) => other.name !== lan.name)
        .flatMap((other) => other.gateways.flatMap((g) => g.subnets))
        .filter((subnet) => !reached.has(subnet));
      if (missing.length > 0) {
        problems.push({
          lan: lan.name,
          field: 'via',
          message: `gateway ${gateway.name} has no path to ${missing.join(', ')}: the LAN is cut off from part of the mesh`,
          fix: 'add a core LAN to via, so every LAN reaches every other one',
        });
      }
    }
  }
  return problems;
}

function coreNames(input: TopologyInput): string[] {
  return input.lans.filter((lan) => lan.via.length === 0).map((lan) => lan.name);
}

function byId(a: TopologyGateway, b: TopologyGateway): number {
  return a.id - b.id;
}

/** The tunnels of the graph, each once, sorted by (low id, high id). */
export function tunnelsOf(input: TopologyInput): TopologyTunnel[] {
  const lans = new Map(input.lans.map((lan) => [lan.name, lan]));
  const seen = new Map<string, TopologyTunnel>();
  const connect = (a: TopologyLan, b: TopologyLan, kind: TopologyTunnel['kind']) => {
    for (const ga of a.gateways) {
      for (const gb of b.gateways) {
        const [low, high] = ga.id < gb.id ? [ga, gb] : [gb, ga];
        const key = `${low.id}-${high.id}`;
        if (!seen.has(key)) seen.set(key, { low: low.name, high: high.name, kind });
      }
    }
  };
  const cores = input.lans.filter((lan) => lan.via.length === 0);
  for (let i = 0; i < cores.length; i++) {
    for (let j = i + 1; j < cores.length; j++) connect(cores[i]!, cores[j]!, 'core');
  }
  for (const leaf of input.lans.filter((lan) => lan.via.length > 0)) {
    for (const name of leaf.via) {
      const core = lans.get(name);
      if (core && core.via.length === 0 && core.name !== leaf.name) connect(leaf, core, 'leaf');
    }
  }
  const ids = new Map(input.lans.flatMap((lan) => lan.gateways.map((g) => [g.name, g.id] as const)));
  return [...seen.values()].sort(
    (x, y) => ids.get(x.low)! - ids.get(y.low)! || ids.get(x.high)! - ids.get(y.high)!,
  );
}

/**
 * Breadth-first distances to `destination` over the tunnel graph, where only the destination and core gateways
 * pass traffic on (a leaf gateway is reached, never crossed).
 */
function distancesTo(
  destination: string,
  neighbours: Map<string, string[]>,
  isCore: (gateway: string) => boolean,
): Map<string, number> {
  const distance = new Map([[destination, 0]]);
  let frontier = [destination];
  while (frontier.length > 0) {
    const next: string[] = [];
    for (const node of frontier) {
      if (node !== destination && !isCore(node)) continue;
      for (const neighbour of neighbours.get(node) ?? []) {
        if (distance.has(neighbour)) continue;
        distance.set(neighbour, distance.get(node)! + 1);
        next.push(neighbour);
      }
    }
    frontier = next;
  }
  return distance;
}

/** The whole result: tunnels, one route per (gateway, remote subnet), the source check and transit per tunnel. */
export function computeTopology(input: TopologyInput): Topology {
  const gateways = input.lans.flatMap((lan) => lan.gateways).sort(byId);
  const gateway = new Map(gateways.map((g) => [g.name, g]));
  const leafLans = new Set(input.lans.filter((lan) => lan.via.length > 0).map((lan) => lan.name));
  const isCore = (name: string) => !leafLans.has(gateway.get(name)!.lan);
  const tunnels = tunnelsOf(input);
  const neighbours = new Map<string, string[]>(gateways.map((g) => [g.name, []]));
  for (const t of tunnels) {
    neighbours.get(t.low)!.push(t.high);
    neighbours.get(t.high)!.push(t.low);
  }
  for (const list of neighbours.values()) list.sort((a, b) => gateway.get(a)!.id - gateway.get(b)!.id);

  // next hop of every gateway toward every destination gateway (undefined: no path)
  const nextHop = new Map<string, Map<string, string>>();
  for (const destination of gateways) {
    const distance = distancesTo(destination.name, neighbours, isCore);
    const hops = new Map<string, string>();
    for (const from of gateways) {
      const d = distance.get(from.name);
      if (from.name === destination.name || d === undefined) continue;
      // the lowest-id neighbour one step closer that may carry the traffic on (neighbours are sorted by id)
      const hop = neighbours
        .get(from.name)!
        .find((n) => distance.get(n) === d - 1 && (n === destination.name || isCore(n)));
      if (hop) hops.set(from.name, hop);
    }
    nextHop.set(destination.name, hops);
  }
  const pathOf = (from: string, to: string): string[] | undefined => {
    const path = [from];
    let at = from;
    while (at !== to) {
      const hop = nextHop.get(to)!.get(at);
      if (!hop) return undefined;
      path.push(hop);
      at = hop;
    }
    return path;
  };

  const routing = new Map<string, GatewayRouting>(
    gateways.map((g) => [g.name, { routes: [], admits: new Map(), transit: new Map() }]),
  );
  const add = (map: Map<string, string[]>, key: string, subnets: string[]) => {
    const list = map.get(key) ?? [];
    for (const s of subnets) if (!list.includes(s)) list.push(s);
    map.set(key, list);
  };
  for (const source of gateways) {
    for (const destination of gateways) {
      if (source.lan === destination.lan) continue;
      const path = pathOf(source.name, destination.name);
      if (!path) continue;
      const routes = routing.get(source.name)!.routes;
      for (const subnet of destination.subnets) {
        routes.push({ subnet, owner: destination.name, via: path[1]!, hops: path.length - 1 });
      }
      for (let i = 1; i < path.length; i++) {
        const here = routing.get(path[i]!)!;
        // traffic from `source` arrives at path[i] over the tunnel from path[i-1]
        add(here.admits, path[i - 1]!, source.subnets);
        if (i < path.length - 1) add(here.transit, path[i - 1]!, destination.subnets);
      }
    }
  }
  // the lists grew one subnet at a time: each is kept as an exact-size copy (a mesh holds one per tunnel end)
  for (const r of routing.values()) {
    r.routes.sort((a, b) => compareSubnets(a.subnet, b.subnet));
    for (const map of [r.admits, r.transit]) {
      for (const [key, list] of map) map.set(key, list.sort(compareSubnets).slice());
    }
  }

  const paths: Topology['paths'] = [];
  const first = (lan: TopologyLan) => [...lan.gateways].sort(byId)[0];
  for (let i = 0; i < input.lans.length; i++) {
    for (let j = i + 1; j < input.lans.length; j++) {
      const [a, b] = [first(input.lans[i]!), first(input.lans[j]!)];
      if (!a || !b) continue;
      const path = pathOf(a.name, b.name);
      if (path) paths.push({ from: input.lans[i]!.name, to: input.lans[j]!.name, gateways: path.slice() });
    }
  }
  return { gateways, tunnels, routing, paths };
}

/** Numeric order of CIDRs (10.2.0.0/16 before 10.10.0.0/16), so output is stable and reads naturally. */
export function compareSubnets(a: string, b: string): number {
  const key = (cidr: string) => {
    const [ip = '', prefix = '0'] = cidr.split('/');
    return ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0) * 64 + Number(prefix);
  };
  return key(a) - key(b);
}

/** Routes of `gateway` grouped by the tunnel they use: peer → subnets. */
export function routesByPeer(routes: Route[]): Map<string, string[]> {
  const result = new Map<string, string[]>();
  for (const route of routes) {
    const list = result.get(route.via);
    if (list) list.push(route.subnet);
    else result.set(route.via, [route.subnet]);
  }
  // exact-size copies of the lists that grew
  for (const [via, list] of result) if (list.length > 1) result.set(via, list.slice());
  return result;
}
