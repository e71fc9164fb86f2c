import type { Mesh } from '../types.js';

export interface AllocationRow {
  pair: string;
  index: number;
  transit: string;
  low: string;
  high: string;
  port: number;
  device: string;
}

/** The allocation as rows: pair → index → transit /30 (with each end's address) → UDP port → tun device. */
export function allocationRows(mesh: Mesh): AllocationRow[] {
  return mesh.pairs.map((p) => ({
    pair: `${p.low.name}(${p.low.id}) ↔ ${p.high.name}(${p.high.id})`,
    index: p.index,
    transit: p.transitNetwork,
    low: `${p.low.name}=${p.lowAddress}`,
    high: `${p.high.name}=${p.highAddress}`,
    port: p.port,
    device: p.device,
  }));
}

/** A plain-text table with aligned columns. */
export function formatTable(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, col) => Math.max(...cells.map((r) => [...(r[col] ?? '')].length)));
  const line = (r: string[]) =>
    r
      .map((c, col) => c + ' '.repeat(widths[col]! - [...c].length))
      .join('  ')
      .trimEnd();
  return [line(cells[0]!), line(widths.map((w) => '-'.repeat(w))), ...cells.slice(1).map(line)].join('\n');
}

export function formatAllocation(mesh: Mesh): string {
  return formatTable(
    ['pair', 'k', 'transit /30', 'lower id end', 'higher id end', 'udp port', 'device'],
    allocationRows(mesh).map((r) => [r.pair, r.index, r.transit, r.low, r.high, r.port, r.device]),
  );
}

/**
 * One path per LAN pair, as `validate -v` proves connectivity (SPEC §7): `hq → shop: hq > hub > shop` — the
 * gateways the traffic crosses between the two LANs' lowest-id gateways.
 */
export function formatPaths(mesh: Mesh): string {
  const lines = mesh.topology.paths.map((p) => `  ${p.from} → ${p.to}: ${p.gateways.join(' > ')}`);
  return [`Paths (every LAN reaches every other one; ${lines.length} LAN pair(s)):`, ...lines].join('\n');
}
