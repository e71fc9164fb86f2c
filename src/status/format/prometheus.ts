import type { StatusReport, TunnelEnd } from '../types.js';

/**
 * `meshctl status --prometheus FILE`: node_exporter's textfile format (the Prometheus text exposition format),
 * every metric documented in docs/status.md. A value that is not known gives no sample at all — never a zero that
 * would read as a measurement.
 */

type Labels = Record<string, string>;

interface Family {
  name: string;
  type: 'gauge' | 'counter';
  help: string;
  samples: { labels: Labels; value: number }[];
}

/** A label value escaped as the exposition format wants: backslash, double quote and newline. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text escaped: backslash and newline. */
function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

const HEALTH_VALUE = { healthy: 0, degraded: 2, error: 1 } as const;

export function formatPrometheus(report: StatusReport): string {
  const mesh = report.mesh;
  const lanOf = new Map(report.gateways.map((g) => [g.name, g.lan]));
  const families: Family[] = [];
  const family = (name: string, type: Family['type'], help: string): Family['samples'] => {
    const f: Family = { name: `meshctl_${name}`, type, help, samples: [] };
    families.push(f);
    return f.samples;
  };
  const add = (samples: Family['samples'], labels: Labels, value: number | null | undefined) => {
    if (value !== null && value !== undefined && Number.isFinite(value)) samples.push({ labels, value });
  };

  const health = family(
    'status_health',
    'gauge',
    'Health of the mesh as the exit code of meshctl status: 0 healthy, 2 degraded, 1 error.',
  );
  add(health, { mesh }, HEALTH_VALUE[report.health]);
  const timestamp = family(
    'status_timestamp_seconds',
    'gauge',
    'When the gateways were read (unix seconds).',
  );
  add(timestamp, { mesh }, Date.parse(report.checkedAt) / 1000);

  const readOk = family('gateway_read_ok', 'gauge', '1 when the gateway could be read, 0 when not.');
  const ownCert = family(
    'gateway_certificate_expiry_days',
    'gauge',
    "Whole days until the gateway's own certificate (as deployed) expires; negative once expired.",
  );
  for (const g of report.gateways) {
    add(readOk, { mesh, gateway: g.name }, g.read ? 1 : 0);
    add(ownCert, { mesh, gateway: g.name }, g.certificateDaysLeft);
  }

  const endFamilies = {
    up: family(
      'tunnel_up',
      'gauge',
      '1 when this end of the tunnel is up (connected, peer answers), 0 when not.',
    ),
    bytesIn: family(
      'tunnel_bytes_received_total',
      'counter',
      'Bytes this end received from the peer over UDP since OpenVPN started.',
    ),
    bytesOut: family(
      'tunnel_bytes_sent_total',
      'counter',
      'Bytes this end sent to the peer over UDP since OpenVPN started.',
    ),
    rtt: family(
      'tunnel_rtt_seconds',
      'gauge',
      "Average round trip to the peer's transit address through the tunnel.",
    ),
    loss: family('tunnel_loss_ratio', 'gauge', "Share of pings to the peer's transit address lost (0 to 1)."),
    lastReceived: family(
      'tunnel_last_received_seconds',
      'gauge',
      'Age of the last packet received from the peer: at most this (bound="le") or more than this (bound="gt").',
    ),
    since: family(
      'tunnel_since_timestamp_seconds',
      'gauge',
      "Since when this end is in its current OpenVPN state (unix seconds, OpenVPN's clock).",
    ),
    cert: family(
      'peer_certificate_expiry_days',
      'gauge',
      "Whole days until the peer's certificate (as deployed on the peer) expires; negative once expired.",
    ),
    bgpUp: family(
      'bgp_session_up',
      'gauge',
      '1 when the BGP session with the peer is Established, 0 when not.',
    ),
    bgpPrefixes: family('bgp_prefixes_received', 'gauge', 'Prefixes received from the peer over BGP.'),
  };
  const pairUp = family(
    'tunnel_pair_up',
    'gauge',
    'Both ends merged: 1 when both ends are up, 0 when down or the ends disagree.',
  );
  for (const t of report.tunnels) {
    const pair = String(t.pair);
    if (t.state !== 'unknown')
      add(pairUp, { mesh, pair, low: t.low, high: t.high }, t.state === 'up' ? 1 : 0);
    for (const end of t.ends) {
      const peer = end.gateway === t.low ? t.high : t.low;
      const labels: Labels = { mesh, lan: lanOf.get(end.gateway) ?? '', gateway: end.gateway, peer, pair };
      addEnd(endFamilies, add, labels, end);
    }
  }

  const reachable = family(
    'lan_pair_reachable',
    'gauge',
    'Both LANs reach each other through the mesh (every probe between their gateways answers): 1, else 0.',
  );
  for (const p of report.lanPairs) {
    if (p.state !== 'unknown') add(reachable, { mesh, a: p.a, b: p.b }, p.state === 'up' ? 1 : 0);
  }

  const lines: string[] = [];
  for (const f of families) {
    lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`);
    lines.push(`# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const labels = Object.entries(s.labels)
        .map(([k, v]) => `${k}="${escapeLabelValue(v)}"`)
        .join(',');
      lines.push(`${f.name}{${labels}} ${formatValue(s.value)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function addEnd(
  f: Record<
    | 'up'
    | 'bytesIn'
    | 'bytesOut'
    | 'rtt'
    | 'loss'
    | 'lastReceived'
    | 'since'
    | 'cert'
    | 'bgpUp'
    | 'bgpPrefixes',
    Family['samples']
  >,
  add: (samples: Family['samples'], labels: Labels, value: number | null | undefined) => void,
  labels: Labels,
  end: TunnelEnd,
): void {
  if (end.state !== 'unknown') add(f.up, labels, end.state === 'up' ? 1 : 0);
  add(f.bytesIn, labels, end.bytesIn);
  add(f.bytesOut, labels, end.bytesOut);
  add(f.rtt, labels, end.rttMs === null ? null : end.rttMs / 1000);
  add(f.loss, labels, end.lossPercent === null ? null : end.lossPercent / 100);
  if (end.lastReceived) {
    if ('within' in end.lastReceived)
      add(f.lastReceived, { ...labels, bound: 'le' }, end.lastReceived.within);
    else add(f.lastReceived, { ...labels, bound: 'gt' }, end.lastReceived.over);
  }
  add(f.since, labels, end.since === null ? null : Date.parse(end.since) / 1000);
  add(f.cert, labels, end.peerCertificateDaysLeft);
  if (end.bgp) {
    add(f.bgpUp, labels, end.bgp.state === 'Established' ? 1 : 0);
    add(f.bgpPrefixes, labels, end.bgp.prefixesReceived);
  }
}
