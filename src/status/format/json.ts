import type {
  GatewayStatus,
  LanPairStatus,
  ProbeStatus,
  StatusReport,
  TunnelEnd,
  TunnelStatus,
} from '../types.js';

/**
 * The body of `meshctl status --json` (docs/status.md documents every field; the CLI wraps it in
 * `{"schema": 1, "command": "status", "ok": …}`). Keys are written out one by one, so the schema is this file and
 * not whatever the report type happens to hold: a field added to the report does not appear here unannounced.
 */
export function statusToJson(report: StatusReport): Record<string, unknown> {
  return {
    health: report.health,
    exitCode: report.exitCode,
    mesh: report.mesh,
    routing: report.routing,
    checkedAt: report.checkedAt,
    lans: [...report.lans],
    gateways: report.gateways.map(gatewayJson),
    tunnels: report.tunnels.map(tunnelJson),
    lanPairs: report.lanPairs.map(lanPairJson),
  };
}

function gatewayJson(g: GatewayStatus): Record<string, unknown> {
  return {
    name: g.name,
    lan: g.lan,
    read: g.read,
    error: g.error,
    lanAddress: g.lanAddress,
    certificateDaysLeft: g.certificateDaysLeft,
    durationMs: g.durationMs,
    unreadable: g.unreadable,
    problem: g.problem,
  };
}

function tunnelJson(t: TunnelStatus): Record<string, unknown> {
  return {
    pair: t.pair,
    kind: t.kind,
    port: t.port,
    device: t.device,
    low: t.low,
    high: t.high,
    state: t.state,
    disagreeing: t.disagreeing,
    blame: t.blame,
    ends: t.ends.map(endJson),
  };
}

function endJson(e: TunnelEnd): Record<string, unknown> {
  return {
    gateway: e.gateway,
    state: e.state,
    since: e.since,
    peerAddress: e.peerAddress,
    bytesIn: e.bytesIn,
    bytesOut: e.bytesOut,
    rateIn: e.rateIn,
    rateOut: e.rateOut,
    lastReceived: e.lastReceived === null ? null : { ...e.lastReceived },
    rttMs: e.rttMs,
    lossPercent: e.lossPercent,
    peerCertificateDaysLeft: e.peerCertificateDaysLeft,
    bgp: e.bgp === null ? null : { state: e.bgp.state, prefixesReceived: e.bgp.prefixesReceived },
    problem: e.problem,
  };
}

function lanPairJson(p: LanPairStatus): Record<string, unknown> {
  return { a: p.a, b: p.b, state: p.state, probes: p.probes.map(probeJson) };
}

function probeJson(p: ProbeStatus): Record<string, unknown> {
  return {
    from: p.from,
    to: p.to,
    source: p.source,
    destination: p.destination,
    ok: p.ok,
    rttMs: p.rttMs,
    lossPercent: p.lossPercent,
    path: p.path === null ? null : [...p.path],
    problem: p.problem,
  };
}
