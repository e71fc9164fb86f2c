import type { Inventory, Lan, Mesh } from '../types.js';
import { contains, ipToInt, parseCidr } from './ipv4.js';

/**
 * What the operator still has to do by hand when a LAN joins: routes in every LAN's routers (meshctl manages the
 * gateways, not the routers behind them) and inbound UDP rules in cloud firewalls / security groups, which no
 * gateway can open for itself. Pure: addresses learned from the gateways are passed in (the command reads them,
 * and prints this advice: src/commands/lan/advice.ts).
 */

export interface Route {
  /** The LAN whose routers get the route. */
  lan: string;
  /** The local subnet the router sits in (the gateway's address in it is the next hop). */
  subnet: string;
  destination: string;
  /** The gateway's address in `subnet`; undefined when it is not known. */
  via: string | undefined;
}

export interface PortRule {
  /** The LAN whose gateway must accept the traffic. */
  lan: string;
  endpoint: string;
  port: number;
  pairIndex: number;
  /** The peer's endpoint (the source of the packets) and its LAN. */
  from: string;
  fromLan: string;
}

/** False for a host name (ssh_host may be one): only an address can be a next hop. */
function inside(address: string, subnet: string): boolean {
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(address)) return false;
  return contains(parseCidr(subnet), { base: ipToInt(address), prefix: 32 });
}

/** The gateway's own address in `subnet`: learned from the gateway, else its ssh_host when that lies inside. */
export function gatewayAddressIn(subnet: string, learned: string[], sshHost: string): string | undefined {
  return learned.find((a) => inside(a, subnet)) ?? (inside(sshHost, subnet) ? sshHost : undefined);
}

/**
 * Every route the routers must learn for `newLan`: in each other LAN, the new LAN's subnets via that LAN's
 * gateway; in the new LAN, every other LAN's subnets via the new gateway. Other LANs in id order, the new one last.
 */
export function routesForNewLan(mesh: Mesh, newLan: string, learned: Map<string, string[]>): Route[] {
  const lans = [...mesh.inventory.lans].sort((a, b) => a.id - b.id);
  const added = lans.find((lan) => lan.name === newLan);
  if (!added) throw new Error(`LAN ${newLan} is not in the mesh`);
  const routes: Route[] = [];
  // in each part of a LAN, the routes point at the gateway that owns that part (one per AZ)
  const routesIn = (lan: (typeof lans)[number], destinations: string[]) => {
    for (const gateway of lan.gateways) {
      for (const subnet of gateway.subnets) {
        const via = gatewayAddressIn(subnet, learned.get(gateway.name) ?? [], gateway.sshHost);
        for (const destination of destinations) routes.push({ lan: lan.name, subnet, destination, via });
      }
    }
  };
  for (const lan of lans) if (lan !== added) routesIn(lan, added.subnets);
  routesIn(
    added,
    lans.filter((lan) => lan !== added).flatMap((lan) => lan.subnets),
  );
  return routes;
}

/** For every tunnel of `newLan`, the inbound UDP rule at each end (the port of the pair, from the peer's endpoint). */
export function portsForNewLan(mesh: Mesh, newLan: string): PortRule[] {
  const rules: PortRule[] = [];
  const tunnels = mesh.tunnels.get(newLan) ?? [];
  for (const t of tunnels) {
    rules.push({
      lan: t.peer.name,
      endpoint: t.peer.endpoint,
      port: t.port,
      pairIndex: t.pair.index,
      from: t.local.endpoint,
      fromLan: t.local.name,
    });
  }
  for (const t of tunnels) {
    rules.push({
      lan: t.local.name,
      endpoint: t.local.endpoint,
      port: t.port,
      pairIndex: t.pair.index,
      from: t.peer.endpoint,
      fromLan: t.peer.name,
    });
  }
  return rules;
}

/**
 * The routes that pointed at a removed LAN: in each remaining LAN (each part of it, for a LAN with one gateway per
 * AZ), the removed LAN's subnets via the local gateway. The operator deletes them from the routers.
 */
export function routesForRemovedLan(remaining: Inventory, removed: Lan): Route[] {
  return remaining.lans.flatMap((lan) =>
    lan.gateways.flatMap((gateway) =>
      gateway.subnets.flatMap((subnet) =>
        removed.subnets.map((destination) => ({
          lan: lan.name,
          subnet,
          destination,
          via: gatewayAddressIn(subnet, [], gateway.sshHost),
        })),
      ),
    ),
  );
}
