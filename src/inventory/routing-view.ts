import { formatTable } from '../mesh/table.js';
import type { Inventory } from '../types.js';
import { gatewayAsn } from './bgp.js';

/**
 * What `validate -v` adds under `routing: bgp`: per LAN, each gateway's ASN (asn_base + id), the subnets it
 * originates and those it backs up. Nothing under `routing: static`, so that output stays as it was.
 */
export function formatRouting(inventory: Inventory): string | undefined {
  const { routing, bgp } = inventory.mesh;
  if (routing !== 'bgp') return undefined;
  const rows = inventory.lans.flatMap((lan) =>
    lan.gateways.map((g) => [
      lan.name,
      g.name,
      g.id,
      gatewayAsn(bgp, g.id),
      list(g.subnets),
      list(g.backupSubnets),
    ]),
  );
  return [
    `BGP (routing: bgp): each gateway's ASN is asn_base ${bgp.asnBase} + its id; BFD every ${bgp.bfd.intervalMs} ms, a session is down after ${bgp.bfd.multiplier} missed (${bgp.bfd.intervalMs * bgp.bfd.multiplier} ms)`,
    formatTable(['lan', 'gateway', 'id', 'asn', 'subnets', 'backup subnets'], rows),
  ].join('\n');
}

function list(subnets: string[]): string {
  return subnets.length > 0 ? subnets.join(', ') : '-';
}
