import type { LanPairStatus, StatusReport, TunnelEnd, TunnelStatus } from '../types.js';

/**
 * What every human-facing output (matrix, HTML) says the same way: the state of a LAN × LAN cell, the list of
 * problems and the one-line summary. Pure, from the report alone.
 */

/** A matrix cell: the LAN pair's probes combined with the tunnels between the two LANs' gateways. */
export type CellState = 'up' | 'down' | 'disagree' | 'unknown' | 'not-connected';

export interface Cell {
  state: CellState;
  /** With `disagree`: the gateway whose end is not up (of the first disagreeing tunnel), and its LAN. */
  disagreeing: string | null;
  disagreeingLan: string | null;
  tunnels: TunnelStatus[];
  /** Undefined: the topology does not let the two LANs reach each other (no probe was meant to run). */
  lanPair: LanPairStatus | undefined;
}

/** LAN of each gateway in the report. */
export function lanOfGateway(report: StatusReport): Map<string, string> {
  return new Map(report.gateways.map((g) => [g.name, g.lan]));
}

/**
 * Down wins (a tunnel down or a probe failing), then a disagreement, then anything unknown; up only when every
 * tunnel between them and the LAN pair are up. No tunnel and no LAN pair: not connected.
 */
export function lanCell(report: StatusReport, a: string, b: string, lanOf = lanOfGateway(report)): Cell {
  const tunnels = report.tunnels.filter((t) => {
    const [x, y] = [lanOf.get(t.low), lanOf.get(t.high)];
    return (x === a && y === b) || (x === b && y === a);
  });
  const lanPair = report.lanPairs.find((p) => (p.a === a && p.b === b) || (p.a === b && p.b === a));
  const cell = (state: CellState, disagreeing: string | null = null): Cell => ({
    state,
    disagreeing,
    disagreeingLan: disagreeing === null ? null : (lanOf.get(disagreeing) ?? null),
    tunnels,
    lanPair,
  });
  if (!lanPair && tunnels.length === 0) return cell('not-connected');
  if (lanPair?.state === 'down' || tunnels.some((t) => t.state === 'down')) return cell('down');
  const disagree = tunnels.find((t) => t.state === 'disagree');
  if (disagree) return cell('disagree', disagree.disagreeing);
  if (lanPair?.state === 'unknown' || tunnels.some((t) => t.state === 'unknown')) return cell('unknown');
  return cell('up');
}

function endText(end: TunnelEnd): string {
  return `${end.gateway} ${end.state}${end.problem ? ` (${end.problem})` : ''}`;
}

function tunnelName(t: TunnelStatus): string {
  return `tunnel ${t.low} <-> ${t.high} (pair ${t.pair}, ${t.device})`;
}

/**
 * Every problem in one line each: gateways not read, tunnels not up (both ends' states, the end not up named),
 * failed or missing LAN probes, BGP sessions not established, output that could not be read.
 */
export function problemLines(report: StatusReport): string[] {
  const lines: string[] = [];
  const unread = new Set(report.gateways.filter((g) => !g.read).map((g) => g.name));
  for (const g of report.gateways) {
    if (!g.read)
      lines.push(`gateway ${g.name} (LAN ${g.lan}) could not be read: ${g.error ?? 'unknown error'}`);
  }
  for (const t of report.tunnels) {
    const [low, high] = t.ends;
    if (t.state === 'disagree') {
      lines.push(`${tunnelName(t)} disagree: ${t.disagreeing} is not up; ${endText(low)}; ${endText(high)}`);
    } else if (t.state === 'down') {
      const at = t.blame ? ` at ${t.blame}` : '';
      lines.push(`${tunnelName(t)} down${at}: ${endText(low)}; ${endText(high)}`);
    } else if (t.state === 'unknown' && !unread.has(t.low) && !unread.has(t.high)) {
      lines.push(`${tunnelName(t)} unknown: ${endText(low)}; ${endText(high)}`);
    } else if (t.state === 'up') {
      // up by the ping through it, but something was not read (e.g. OpenVPN's management interface)
      for (const end of t.ends) {
        if (end.problem && (end.bgp === null || end.bgp.state === 'Established')) {
          lines.push(`${tunnelName(t)} up, but at ${end.gateway}: ${end.problem}`);
        }
      }
    }
    for (const end of t.ends) {
      if (end.bgp && end.bgp.state !== 'Established') {
        const peer = end.gateway === t.low ? t.high : t.low;
        lines.push(`BGP session of ${end.gateway} with ${peer} is ${end.bgp.state}`);
      }
    }
  }
  for (const p of report.lanPairs) {
    for (const probe of p.probes) {
      if (probe.ok === true || unread.has(probe.from) || unread.has(probe.to)) continue;
      const what = `LAN ${p.a} -> ${p.b}: probe ${probe.from} (${probe.source ?? '?'}) -> ${probe.to} (${probe.destination ?? '?'})`;
      lines.push(`${what} ${probe.ok === false ? 'failed' : 'did not run'}: ${probe.problem ?? 'no answer'}`);
    }
  }
  for (const g of report.gateways) {
    if (g.problem !== null) lines.push(`gateway ${g.name}: its reading is incomplete: ${g.problem}`);
    if (g.unreadable > 0) {
      lines.push(
        `gateway ${g.name}: ${g.unreadable} line${g.unreadable === 1 ? '' : 's'} of its output could not be read`,
      );
    }
  }
  return lines.map(printable);
}

/**
 * Text a gateway sent (stderr, command output, lines it did not understand) reaches a terminal: its control
 * characters (C0, DEL, C1: escape sequences that could move the cursor, retitle the window or write the
 * clipboard) are shown as `?`.
 */
export function printable(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: these are what is replaced
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

function counted(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function breakdown(states: string[], good: string): string {
  const counts = new Map<string, number>();
  for (const s of states) if (s !== good) counts.set(s, (counts.get(s) ?? 0) + 1);
  return counts.size === 0 ? '' : ` (${[...counts].map(([s, n]) => `${n} ${s}`).join(', ')})`;
}

/** `healthy: 6 LANs, 15 tunnels up, 15 LAN pairs reach each other`, or what is not so. */
export function summaryLine(report: StatusReport): string {
  const lans = counted(report.lans.length, 'LAN');
  const tunnelsUp = report.tunnels.filter((t) => t.state === 'up').length;
  const pairsUp = report.lanPairs.filter((p) => p.state === 'up').length;
  if (report.health === 'healthy') {
    return `healthy: ${lans}, ${counted(tunnelsUp, 'tunnel')} up, ${counted(pairsUp, 'LAN pair')} reach${pairsUp === 1 ? 'es' : ''} each other`;
  }
  const parts: string[] = [];
  const unread = report.gateways.filter((g) => !g.read).length;
  if (unread > 0) parts.push(`${unread} of ${counted(report.gateways.length, 'gateway')} not read`);
  parts.push(lans);
  parts.push(
    `${tunnelsUp} of ${counted(report.tunnels.length, 'tunnel')} up${breakdown(
      report.tunnels.map((t) => t.state),
      'up',
    )}`,
  );
  parts.push(
    `${pairsUp} of ${counted(report.lanPairs.length, 'LAN pair')} reach each other${breakdown(
      report.lanPairs.map((p) => p.state),
      'up',
    )}`,
  );
  const unreadable = report.gateways.reduce((n, g) => n + g.unreadable, 0);
  if (unreadable > 0) parts.push(`${counted(unreadable, 'line')} not understood`);
  return `${report.health}: ${parts.join(', ')}`;
}
