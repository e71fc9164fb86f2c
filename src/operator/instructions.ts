import { gatewayAddressIn } from '../mesh/advice.js';
import type { CloudIds, Gateway, Lan, Mesh } from '../types.js';
import { gatewayCloud } from './cloud.js';

/**
 * What must change outside the gateways for the mesh to carry traffic (SPEC §9), per LAN, as data: the routes its
 * routers need, the UDP each gateway must be let in, and that each gateway may forward. Pure and read from the
 * topology (routes come from each gateway's computed routing, ports from its tunnels); the formats of `meshctl
 * routes` (src/operator/routes.ts) only print it.
 */

/** A route on the routers of one local subnet: `destination` via the gateway that owns `subnet`. */
export interface RouterRoute {
  /** The local subnet whose routers (route tables) get the route. */
  subnet: string;
  /** A remote subnet. */
  destination: string;
  /** The gateway that owns `destination`, and its LAN. */
  owner: string;
  ownerLan: string;
  /** The peer the local gateway sends it to (the owner itself, or a hub on the way). */
  through: string;
  /** Gateways crossed from the local gateway to the owner (1: a direct tunnel). */
  hops: number;
  /** The gateway's address inside `subnet` (its ssh_host when it lies there); undefined when not known. */
  nextHop: string | undefined;
}

/** UDP the gateway must accept: the pair's port, from the peer's endpoint (one per tunnel). */
export interface InboundRule {
  port: number;
  pair: number;
  /** The peer's endpoint: an IPv4 address or a DNS name. */
  from: string;
  peer: string;
  peerLan: string;
}

export interface GatewayInstructions {
  gateway: Gateway;
  /** The ids that apply to it (its own cloud block completed from the LAN's), if any. */
  cloud: CloudIds | undefined;
  routes: RouterRoute[];
  inbound: InboundRule[];
}

export interface LanInstructions {
  lan: Lan;
  gateways: GatewayInstructions[];
}

/** Per LAN (in id order, or only `only`), per gateway: routes, inbound UDP and the cloud ids that apply. */
export function operatorInstructions(mesh: Mesh, only?: string): LanInstructions[] {
  const lanOf = new Map(mesh.inventory.gateways.map((g) => [g.name, g.lan]));
  return mesh.inventory.lans
    .filter((lan) => only === undefined || lan.name === only)
    .map((lan) => ({
      lan,
      gateways: lan.gateways.map((gateway) => {
        const remote = mesh.topology.routing.get(gateway.name)?.routes ?? [];
        const routes = gateway.subnets.flatMap((subnet) => {
          const nextHop = gatewayAddressIn(subnet, [], gateway.sshHost);
          return remote.map((r) => ({
            subnet,
            destination: r.subnet,
            owner: r.owner,
            ownerLan: lanOf.get(r.owner) ?? r.owner,
            through: r.via,
            hops: r.hops,
            nextHop,
          }));
        });
        const inbound = (mesh.tunnels.get(gateway.name) ?? []).map((t) => ({
          port: t.port,
          pair: t.pair.index,
          from: t.peer.endpoint,
          peer: t.peer.name,
          peerLan: lanOf.get(t.peer.name) ?? t.peer.lan,
        }));
        return { gateway, cloud: gatewayCloud(lan, gateway), routes, inbound };
      }),
    }));
}

/** The shape of `meshctl routes --json` per LAN (README "JSON output"), without the format's own lines. */
export function instructionsToJson(lan: LanInstructions): Record<string, unknown> {
  return {
    name: lan.lan.name,
    via: lan.lan.via,
    gateways: lan.gateways.map((g) => ({
      name: g.gateway.name,
      endpoint: g.gateway.endpoint,
      subnets: g.gateway.subnets,
      cloud: g.cloud ? { provider: g.cloud.provider, ids: g.cloud.ids } : null,
      routes: g.routes.map((r) => ({
        subnet: r.subnet,
        destination: r.destination,
        owner: r.owner,
        ownerLan: r.ownerLan,
        through: r.through,
        hops: r.hops,
        nextHop: r.nextHop ?? null,
      })),
      inbound: g.inbound.map((i) => ({
        port: i.port,
        pair: i.pair,
        from: i.from,
        peer: i.peer,
        peerLan: i.peerLan,
      })),
      forwarding: forwardingSetting(g),
    })),
  };
}

/** What lets the gateway forward others' packets, on its cloud (null: not a cloud instance meshctl knows of). */
export function forwardingSetting(
  g: GatewayInstructions,
): { provider: string; setting: string; resource: string | null } | null {
  if (!g.cloud) return null;
  const ids = g.cloud.ids;
  switch (g.cloud.provider) {
    case 'aws':
      return {
        provider: 'aws',
        setting: 'source/destination check disabled',
        resource: ids.instance?.[0] ?? null,
      };
    case 'gcp':
      return { provider: 'gcp', setting: 'can_ip_forward', resource: ids.instance?.[0] ?? null };
    case 'azure':
      return { provider: 'azure', setting: 'IP forwarding on the NIC', resource: ids.nic?.[0] ?? null };
  }
}
