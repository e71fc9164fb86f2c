import { TUNNEL_DEVICE_PATTERN } from '../gateway/layout.js';
import { gatewayAsn } from '../inventory/bgp.js';
import { parseCertificate } from '../pki/certificates.js';
import type { Gateway, Mesh, Pair, Tunnel } from '../types.js';
import { lanAddressOf, type ProbePlan, planProbes, probePairs } from './probes.js';
import {
  type EndState,
  type GatewayReading,
  type GatewayStatus,
  type Health,
  isFailure,
  type LanPairStatus,
  type PairState,
  type ProbeReading,
  type ProbeStatus,
  type Reading,
  type StatusReport,
  type TunnelEnd,
  type TunnelReading,
  type TunnelStatus,
} from './types.js';

export { lanAddressOf, type ProbePlan, planProbes } from './probes.js';

/**
 * Both ends of every tunnel merged into pair states, and the LAN probes into LAN-pair states (SPEC §8), pure: the
 * clock comes in as `now`, the previous report (for byte rates under --watch) and the probes that were sent as
 * options. Nothing a gateway printed can make this throw: what could not be understood becomes `unknown` with a
 * problem in words.
 */

export interface MergeOptions {
  now: Date;
  /** The report of the previous read (--watch): byte rates are the counters' growth since then. */
  previous?: StatusReport;
  /** The probes each gateway was asked to run (planProbes); default: planned from the readings' addresses. */
  probes?: ReadonlyMap<string, ProbePlan[]>;
}

const DAY_MS = 24 * 60 * 60 * 1000;
/** The BGP state of a working session (FRR's spelling). */
const ESTABLISHED = 'Established';

/** Units that are running, as systemd says it. */
const RUNNING_STATES = new Set(['active', 'reloading', 'activating']);

export function mergeStatus(
  mesh: Mesh,
  readings: ReadonlyMap<string, Reading>,
  opts: MergeOptions,
): StatusReport {
  const ctx = context(mesh, readings, opts);
  const gateways = mesh.inventory.gateways.map((g) => gatewayStatus(ctx, g));
  const lanAddresses = new Map(gateways.map((g) => [g.name, g.lanAddress]));
  const plans = opts.probes ?? planProbes(mesh, lanAddresses);
  const tunnels = mesh.pairs.map((pair) => tunnelStatus(ctx, pair));
  const lanPairs = probePairs(mesh).map(({ a, b, probes }) => {
    const statuses = probes.map(({ from, to }) => probeStatus(ctx, from, to, plans, lanAddresses));
    return { a, b, state: lanPairState(statuses), probes: statuses } satisfies LanPairStatus;
  });
  const health = healthOf(gateways, tunnels, lanPairs);
  return {
    mesh: mesh.name,
    routing: mesh.inventory.mesh.routing,
    checkedAt: opts.now.toISOString(),
    health,
    exitCode: health === 'healthy' ? 0 : health === 'degraded' ? 2 : 1,
    gateways,
    tunnels,
    lanPairs,
    lans: [...mesh.inventory.lans].sort((x, y) => x.id - y.id).map((lan) => lan.name),
  };
}

interface Context {
  mesh: Mesh;
  now: Date;
  previous: StatusReport | undefined;
  /** The reading of each gateway that could be read. */
  read: Map<string, GatewayReading>;
  /** Why each other gateway could not be. */
  failed: Map<string, string>;
  gateways: Map<string, Gateway>;
  certificateDays: Map<string, number | null>;
}

function context(mesh: Mesh, readings: ReadonlyMap<string, Reading>, opts: MergeOptions): Context {
  const read = new Map<string, GatewayReading>();
  const failed = new Map<string, string>();
  const certificateDays = new Map<string, number | null>();
  for (const g of mesh.inventory.gateways) {
    const reading = readings.get(g.name);
    if (reading === undefined) failed.set(g.name, 'no reading (the gateway was not asked)');
    else if (isFailure(reading)) failed.set(g.name, reading.error);
    else {
      read.set(g.name, reading);
      certificateDays.set(g.name, daysLeft(reading.certificatePem, opts.now));
    }
  }
  return {
    mesh,
    now: opts.now,
    previous: opts.previous,
    read,
    failed,
    gateways: new Map(mesh.inventory.gateways.map((g) => [g.name, g])),
    certificateDays,
  };
}

/** Whole days until the certificate expires (negative once it has); null when there is none or it is no PEM. */
function daysLeft(pem: string | null, now: Date): number | null {
  if (!pem) return null;
  const cert = parseCertificate(pem);
  if (!cert) return null;
  return Math.floor((cert.notAfter.getTime() - now.getTime()) / DAY_MS);
}

function gatewayStatus(ctx: Context, gateway: Gateway): GatewayStatus {
  const reading = ctx.read.get(gateway.name);
  if (!reading) {
    return {
      name: gateway.name,
      lan: gateway.lan,
      read: false,
      error: ctx.failed.get(gateway.name) ?? 'not read',
      lanAddress: null,
      certificateDaysLeft: null,
      durationMs: null,
      unreadable: 0,
      problem: null,
    };
  }
  return {
    name: gateway.name,
    lan: gateway.lan,
    read: true,
    error: null,
    lanAddress: lanAddressOf(gateway, Array.isArray(reading.addresses) ? reading.addresses : []),
    certificateDaysLeft: ctx.certificateDays.get(gateway.name) ?? null,
    durationMs: reading.finishedAt - reading.startedAt,
    unreadable: reading.unreadable.length,
    problem: reading.problem ?? null,
  };
}

/** The unreadable lines of a reading that mention any of `words` (as whole words). */
function unreadableAbout(reading: GatewayReading, words: string[]): string[] {
  const patterns = words.map(
    (w) => new RegExp(`(^|[^\\w.-])${w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^\\w-])`),
  );
  return reading.unreadable.filter((line) => patterns.some((p) => p.test(line)));
}

function tunnelStatus(ctx: Context, pair: Pair): TunnelStatus {
  const kind = ctx.mesh.topology.tunnels.find(
    (t) => t.low === pair.low.name && t.high === pair.high.name,
  )?.kind;
  const ends: [TunnelEnd, TunnelEnd] = [endStatus(ctx, pair, pair.low), endStatus(ctx, pair, pair.high)];
  const { state, disagreeing, blame } = pairState(ends);
  return {
    pair: pair.index,
    kind: kind ?? 'core',
    port: pair.port,
    device: pair.device,
    low: pair.low.name,
    high: pair.high.name,
    state,
    disagreeing,
    blame,
    ends,
  };
}

/** Both ends up: up; one up: disagree (naming the other); an end unknown: unknown; else down. */
/** How far an end's state is from up, to name the end where a down pair's problem is. */
const DISTANCE: Readonly<Record<EndState, number>> = {
  up: 0,
  down: 1,
  connecting: 2,
  'not-running': 3,
  'not-deployed': 4,
  unknown: 5,
};

export function pairState(ends: [TunnelEnd, TunnelEnd]): {
  state: PairState;
  disagreeing: string | null;
  blame: string | null;
} {
  const [low, high] = ends;
  if (low.state === 'unknown' || high.state === 'unknown') {
    const blame = low.state === high.state ? null : low.state === 'unknown' ? low.gateway : high.gateway;
    return { state: 'unknown', disagreeing: null, blame };
  }
  if (low.state === 'up' && high.state === 'up') return { state: 'up', disagreeing: null, blame: null };
  if (low.state === 'up') return { state: 'disagree', disagreeing: high.gateway, blame: high.gateway };
  if (high.state === 'up') return { state: 'disagree', disagreeing: low.gateway, blame: low.gateway };
  const [dl, dh] = [DISTANCE[low.state], DISTANCE[high.state]];
  return { state: 'down', disagreeing: null, blame: dl === dh ? null : dl > dh ? low.gateway : high.gateway };
}

function emptyEnd(gateway: string, state: EndState, problem: string | null): TunnelEnd {
  return {
    gateway,
    state,
    since: null,
    peerAddress: null,
    bytesIn: null,
    bytesOut: null,
    rateIn: null,
    rateOut: null,
    lastReceived: null,
    rttMs: null,
    lossPercent: null,
    peerCertificateDaysLeft: null,
    bgp: null,
    problem,
  };
}

function endStatus(ctx: Context, pair: Pair, local: Gateway): TunnelEnd {
  const tunnel = ctx.mesh.tunnels.get(local.name)?.find((t) => t.pair.index === pair.index);
  const reading = ctx.read.get(local.name);
  if (!reading || !tunnel) {
    return emptyEnd(
      local.name,
      'unknown',
      `${local.name} could not be read: ${ctx.failed.get(local.name) ?? '?'}`,
    );
  }
  const found = reading.tunnels.find((t) => t.peer === tunnel.peer.name);
  const garbled = unreadableAbout(reading, [tunnel.name, tunnel.device, tunnel.peerAddress]);
  if (!found) {
    const why =
      garbled.length > 0
        ? `its record of this tunnel could not be read: ${garbled[0]}`
        : `no record of this tunnel in ${local.name}'s output`;
    return emptyEnd(local.name, 'unknown', why);
  }
  const { state, reason } = endState(found, tunnel);
  const problems: string[] = [];
  let finalState = state;
  if (reason) problems.push(reason);
  if (found.problem) problems.push(found.problem);
  if (garbled.length > 0) {
    problems.push(`part of its record could not be read: ${garbled[0]}`);
    if (finalState === 'up') finalState = 'unknown';
  }
  const bgp = bgpOf(reading, tunnel);
  if (bgp && bgp.state !== ESTABLISHED) problems.push(`BGP session with ${tunnel.peer.name} is ${bgp.state}`);
  if (ctx.mesh.inventory.mesh.routing === 'bgp' && reading.bgp && !bgp) {
    problems.push(`FRR has no BGP session with ${tunnel.peer.name} (${tunnel.peerAddress})`);
  }
  const fromOpenVpn = finalState === 'up' || finalState === 'down' || finalState === 'connecting';
  const rates = ratesOf(ctx, pair.index, local.name, found);
  return {
    gateway: local.name,
    state: finalState,
    since: fromOpenVpn ? isoOf(found.stateSince) : null,
    peerAddress: found.peerAddress,
    bytesIn: found.bytesIn,
    bytesOut: found.bytesOut,
    rateIn: rates.in,
    rateOut: rates.out,
    lastReceived: found.lastReceived,
    rttMs: found.ping?.rttMs ?? null,
    lossPercent: found.ping?.lossPercent ?? null,
    peerCertificateDaysLeft: ctx.certificateDays.get(tunnel.peer.name) ?? null,
    bgp,
    problem: problems.length > 0 ? problems.join('; ') : null,
  };
}

/** The end's state from its reading (SPEC §8), with the reason in words when it is not up. */
function endState(t: TunnelReading, tunnel: Tunnel): { state: EndState; reason: string | null } {
  if (!t.deployed) return { state: 'not-deployed', reason: `no config for ${tunnel.name} on the gateway` };
  if (t.activeState === null) return { state: 'unknown', reason: `the state of ${t.unit} could not be read` };
  if (!RUNNING_STATES.has(t.activeState))
    return { state: 'not-running', reason: `${t.unit} is ${t.activeState}` };
  // a unit still starting: OpenVPN has not told systemd it is ready yet
  if (t.activeState === 'activating') return { state: 'connecting', reason: `${t.unit} is activating` };
  if (t.openvpnState === null) {
    // OpenVPN's own state could not be read (its management interface did not answer, or is not configured yet):
    // the ping through the tunnel decides whether it carries traffic; the end's problem says what was not read
    if (t.ping && t.ping.received > 0) return { state: 'up', reason: null };
    return { state: 'unknown', reason: "OpenVPN's state could not be read and the peer does not answer" };
  }
  if (t.openvpnState !== 'CONNECTED') return { state: 'connecting', reason: `OpenVPN is ${t.openvpnState}` };
  if (!t.ping) return { state: 'unknown', reason: `no ping result for ${tunnel.peerAddress}` };
  if (t.ping.received === 0) {
    return {
      state: 'down',
      reason: `OpenVPN is CONNECTED but ${tunnel.peerAddress} answers none of ${t.ping.sent} pings`,
    };
  }
  return { state: 'up', reason: null };
}

function isoOf(unixSeconds: number | null): string | null {
  if (unixSeconds === null || !Number.isFinite(unixSeconds)) return null;
  const date = new Date(unixSeconds * 1000);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

function bgpOf(reading: GatewayReading, tunnel: Tunnel): TunnelEnd['bgp'] {
  const neighbour = reading.bgp?.find((n) => n.address === tunnel.peerAddress);
  return neighbour ? { state: neighbour.state, prefixesReceived: neighbour.prefixesReceived } : null;
}

/** Bytes per second since the previous report; null on a first read, or when a counter went back (a restart). */
function ratesOf(
  ctx: Context,
  pair: number,
  gateway: string,
  t: TunnelReading,
): { in: number | null; out: number | null } {
  const before = ctx.previous?.tunnels.find((p) => p.pair === pair)?.ends.find((e) => e.gateway === gateway);
  if (!before || !ctx.previous) return { in: null, out: null };
  const seconds = (ctx.now.getTime() - Date.parse(ctx.previous.checkedAt)) / 1000;
  const rate = (now: number | null, then: number | null) =>
    now === null || then === null || !(seconds > 0) || now < then ? null : (now - then) / seconds;
  return { in: rate(t.bytesIn, before.bytesIn), out: rate(t.bytesOut, before.bytesOut) };
}

function probeStatus(
  ctx: Context,
  from: Gateway,
  to: Gateway,
  plans: ReadonlyMap<string, ProbePlan[]>,
  lanAddresses: ReadonlyMap<string, string | null>,
): ProbeStatus {
  const base: ProbeStatus = {
    from: from.name,
    to: to.name,
    source: lanAddresses.get(from.name) ?? null,
    destination: lanAddresses.get(to.name) ?? null,
    ok: null,
    rttMs: null,
    lossPercent: null,
    path: null,
    problem: null,
  };
  const reading = ctx.read.get(from.name);
  if (!reading) return { ...base, problem: `${from.name} could not be read` };
  const plan = plans.get(from.name)?.find((p) => p.target === to.name);
  if (!plan) {
    const missing = [from, to]
      .filter((g) => !lanAddresses.get(g.name))
      .map((g) =>
        ctx.read.has(g.name) ? `${g.name} has no address in its subnets` : `${g.name} was not read`,
      );
    return {
      ...base,
      problem: `not probed: ${missing.join('; ') || `${from.name} or ${to.name} was not ready when the probes were sent (slow to connect; see --forks)`}`,
    };
  }
  const planned = { ...base, source: plan.source, destination: plan.destination };
  const probe = reading.probes.find(
    (p) => p.target === to.name && p.destination === plan.destination && p.source === plan.source,
  );
  if (!probe) {
    const garbled = unreadableAbout(reading, [plan.destination]);
    return {
      ...planned,
      problem:
        garbled.length > 0
          ? `its result could not be read: ${garbled[0]}`
          : `no result for this probe in ${from.name}'s output`,
    };
  }
  const path = probePath(ctx, from, to, probe);
  if (!probe.ping) return { ...planned, path, problem: 'its ping result could not be read' };
  // a route that leaves by another device (the default route, when the tunnel's is gone) is not the mesh
  const outside = probe.device !== null && !TUNNEL_DEVICE_PATTERN.test(probe.device);
  const ok = probe.ping.received > 0 && !outside;
  const problem = ok
    ? null
    : outside
      ? `not through the mesh: the route from ${plan.source} to ${plan.destination} leaves by ${probe.device}`
      : probe.device === null
        ? `no route from ${from.name} to ${plan.destination}`
        : `${plan.destination} does not answer ${plan.source} (${probe.ping.lossPercent}% loss, via ${probe.device})`;
  return { ...planned, ok, rttMs: probe.ping.rttMs, lossPercent: probe.ping.lossPercent, path, problem };
}

/**
 * Gateway names the probe's route goes through, ending at `to`: the first hop is the peer of the tunnel whose
 * device the route leaves by; beyond it, with bgp the AS path (ASN = asn_base + id), with static routing the
 * topology's routes (the same rule every gateway follows). Null when the route is unknown.
 */
function probePath(ctx: Context, from: Gateway, to: Gateway, probe: ProbeReading): string[] | null {
  if (probe.device === null) return null;
  const first = ctx.mesh.tunnels.get(from.name)?.find((t) => t.device === probe.device)?.peer.name;
  if (!first) return null;
  if (first === to.name) return [to.name];
  if (ctx.mesh.inventory.mesh.routing === 'bgp') {
    if (!probe.asPath || probe.asPath.length === 0) return null;
    const byAsn = new Map(
      ctx.mesh.inventory.gateways.map((g) => [gatewayAsn(ctx.mesh.inventory.mesh.bgp, g.id), g.name]),
    );
    const path = [first];
    for (const asn of probe.asPath) {
      const name = byAsn.get(asn) ?? `AS${asn}`;
      if (path[path.length - 1] !== name) path.push(name);
    }
    return path;
  }
  const path = [first];
  let at = first;
  while (at !== to.name && path.length <= ctx.mesh.inventory.gateways.length) {
    const via = ctx.mesh.topology.routing.get(at)?.routes.find((r) => r.owner === to.name)?.via;
    if (!via) return null;
    path.push(via);
    at = via;
  }
  return at === to.name ? path : null;
}

/** Every probe answered: up; one failed: down; otherwise (some could not run or be read): unknown. */
function lanPairState(probes: ProbeStatus[]): LanPairStatus['state'] {
  if (probes.some((p) => p.ok === false)) return 'down';
  if (probes.length > 0 && probes.every((p) => p.ok === true)) return 'up';
  return 'unknown';
}

function healthOf(gateways: GatewayStatus[], tunnels: TunnelStatus[], lanPairs: LanPairStatus[]): Health {
  if (gateways.some((g) => !g.read)) return 'error';
  if (
    tunnels.some((t) => t.state !== 'up') ||
    lanPairs.some((p) => p.state !== 'up') ||
    gateways.some((g) => g.unreadable > 0 || g.problem !== null)
  ) {
    return 'degraded';
  }
  return 'healthy';
}
