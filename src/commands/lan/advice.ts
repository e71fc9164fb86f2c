import type { PortRule, Route } from '../../mesh/advice.js';

/**
 * The command's side of add-lan's advice (computed in src/mesh/advice.ts): reading a gateway's own addresses,
 * which give the routers their next hop, and the text printed for the operator.
 */

/** IPv4 addresses in `ip -4 -o addr show` output (`3: eth1    inet 10.1.0.1/24 brd … scope global eth1`). */
export function parseIpv4Addresses(output: string): string[] {
  return [...output.matchAll(/\binet (\d{1,3}(?:\.\d{1,3}){3})\b/g)].map((m) => m[1]!);
}

/** Human text for both lists; one line per route and per rule, so it can be pasted or grepped. */
export function formatAdvice(routes: Route[], ports: PortRule[], verb: 'add' | 'remove' = 'add'): string {
  const lines: string[] = [];
  if (routes.length > 0) {
    lines.push(
      verb === 'add'
        ? 'Routes to add in the routers of each LAN (not needed where the gateway is already their default route):'
        : 'Routes to remove from the routers of each LAN (the LAN is gone; where the gateway is their default route there are none):',
    );
    const width = Math.max(...routes.map((r) => r.lan.length));
    for (const r of routes) {
      const via = r.via ?? `<${r.lan}'s gateway address in ${r.subnet}>`;
      lines.push(
        `  ${r.lan.padEnd(width)}  route ${r.destination} via ${via}${verb === 'remove' ? ' (delete)' : ''}`,
      );
    }
  }
  if (ports.length > 0) {
    if (lines.length > 0) lines.push('');
    lines.push(
      'Inbound UDP to allow in cloud firewalls / security groups in front of the gateways (meshctl opens its own iptables):',
    );
    const width = Math.max(...ports.map((p) => `${p.lan} (${p.endpoint})`.length));
    for (const p of ports) {
      lines.push(
        `  ${`${p.lan} (${p.endpoint})`.padEnd(width)}  UDP ${p.port} from ${p.from} (${p.fromLan}, pair ${p.pairIndex})`,
      );
    }
  }
  return lines.join('\n');
}
