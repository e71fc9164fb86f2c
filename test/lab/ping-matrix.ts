/** The LAN-to-LAN reachability matrix and its printable form. */

export interface PingResult {
  from: string;
  to: string;
  ok: boolean;
}

/**
 * A grid, one row per source LAN and one column per destination: `ok` answered, `--` did not, `·` itself;
 * then a one-line count.
 */
export function formatPingMatrix(lans: string[], results: PingResult[]): string {
  const ok = new Map(results.map((r) => [`${r.from}\u0000${r.to}`, r.ok]));
  const header = 'from \\ to';
  const first = Math.max(header.length, ...lans.map((l) => l.length));
  const widths = lans.map((l) => Math.max(l.length, 2));
  const lines = [[header.padEnd(first), ...lans.map((l, i) => l.padEnd(widths[i]!))].join('  ').trimEnd()];
  for (const from of lans) {
    const cells = lans.map((to, i) => {
      const cell =
        from === to
          ? '·'
          : ok.get(`${from}\u0000${to}`) === undefined
            ? '?'
            : ok.get(`${from}\u0000${to}`)
              ? 'ok'
              : '--';
      return cell.padEnd(widths[i]!);
    });
    lines.push([from.padEnd(first), ...cells].join('  ').trimEnd());
  }
  const answered = results.filter((r) => r.ok).length;
  lines.push(`${answered} of ${results.length} LAN-to-LAN pings answered`);
  return lines.join('\n');
}
