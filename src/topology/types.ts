/**
 * The topology (SPEC §7) as data: which gateways tunnel to which, and how static routing uses those tunnels. Pure
 * inputs and outputs, so render (routes, firewall), `validate -v`, `routes`, `graph` and `status` read one result
 * and none of them recomputes paths.
 */

/** A gateway as the topology sees it: its id (pair numbers, tie-breaks), its LAN and the subnets it owns. */
export interface TopologyGateway {
  name: string;
  id: number;
  lan: string;
  subnets: string[];
  /** Subnets it serves as a backup for another gateway of its LAN (bgp only; absent: none). */
  backupSubnets?: string[];
}

/** A LAN: core when `via` is empty, otherwise a leaf tunnelled only to the gateways of the LANs in `via`. */
export interface TopologyLan {
  name: string;
  via: string[];
  gateways: TopologyGateway[];
}

export interface TopologyInput {
  lans: TopologyLan[];
}

/** One tunnel: `low` has the lower gateway id. `leaf`: one end is a leaf LAN's gateway. */
export interface TopologyTunnel {
  low: string;
  high: string;
  kind: 'core' | 'leaf';
}

/** How `gateway` reaches `subnet` (owned by `owner`): over its tunnel to `via`. */
export interface Route {
  subnet: string;
  owner: string;
  via: string;
  /** Gateways the traffic crosses, `gateway` first and `owner` last. */
  hops: number;
}

/** What a gateway forwards between two of its tunnels: traffic in from `from` to these subnets, onward. */
export interface Transit {
  from: string;
  subnets: string[];
}

export interface GatewayRouting {
  /** One route per remote subnet (subnets of other LANs), sorted by subnet. */
  routes: Route[];
  /** Per peer: the source subnets routing delivers over the tunnel from that peer (the source check). */
  admits: Map<string, string[]>;
  /** Per peer: destinations beyond this gateway that traffic from that peer is forwarded to (transit). */
  transit: Map<string, string[]>;
}

export interface Topology {
  /** Sorted by id. */
  gateways: TopologyGateway[];
  /** Sorted by the two ids (low, then high). */
  tunnels: TopologyTunnel[];
  /** Per gateway name. */
  routing: Map<string, GatewayRouting>;
  /** One path per pair of LANs (between their lowest-id gateways), as gateway names, for `validate -v`. */
  paths: { from: string; to: string; gateways: string[] }[];
}

/** A topology that cannot work, with the LAN (and its `via` entry) to blame. */
export interface TopologyProblem {
  lan: string;
  /** `via`, `via[1]`, or empty for the LAN as a whole. */
  field: string;
  value?: unknown;
  message: string;
  fix: string;
}
