import { peerOfTunnelUnit } from '../gateway/layout.js';
import { END_LINE, READY_LINE } from './script.js';
import type {
  BgpReading,
  GatewayReading,
  LastReceived,
  PingResult,
  ProbeReading,
  TunnelReading,
} from './types.js';

/**
 * status.sh's output → one gateway's reading (pure; never throws). Every record is a line of TAB-separated fields
 * whose last field is the rest of the line (see status.sh's header). A line that is not a record this parser
 * knows goes to `unreadable`; a tunnel whose records are missing keeps null fields and says why in `problem`.
 */

const TAB = '\t';

/** A record: its tag and its first `count` fields, the last one holding the rest of the line. */
function fields(line: string, count: number): string[] | null {
  const parts: string[] = [];
  let rest = line;
  for (let i = 0; i < count - 1; i++) {
    const at = rest.indexOf(TAB);
    if (at < 0) return null;
    parts.push(rest.slice(0, at));
    rest = rest.slice(at + 1);
  }
  parts.push(rest);
  return parts;
}

/** The complete lines of stdout: a last piece without its newline was cut short and is not trusted. */
function completeLines(stdout: string): { lines: string[]; cut: string | null } {
  const lines = stdout.split('\n');
  const last = lines.pop() ?? '';
  return { lines, cut: last === '' ? null : last };
}

/**
 * `DEVICE CIDR` of each `addr` record (`ip -4 -o addr show` lines). A point-to-point address (`inet A peer B/32`)
 * is A/32. Works on any part of the output, e.g. phase 1 up to `ready`.
 */
export function parseAddresses(stdout: string): { device: string; cidr: string }[] {
  const result: { device: string; cidr: string }[] = [];
  for (const line of completeLines(stdout).lines) {
    const address = addressOf(line);
    if (address) result.push(address);
  }
  return result;
}

const ADDR_LINE =
  /^\d+:\s+(\S+?)(?:@\S+)?\s+inet\s+(\d{1,3}(?:\.\d{1,3}){3})(\/\d{1,2})?(?:\s+peer\s+\S+)?\s/;

function addressOf(line: string): { device: string; cidr: string } | null {
  if (!line.startsWith(`addr${TAB}`)) return null;
  const match = ADDR_LINE.exec(`${line.slice(5)} `);
  if (!match) return null;
  return { device: match[1]!, cidr: `${match[2]!}${match[3] ?? '/32'}` };
}

/** `ping -q` output (lines joined by ` | `): sent, received, loss, average round trip; null when not a summary. */
export function parsePing(output: string): PingResult | null {
  const counts = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(output);
  if (!counts) return null;
  const sent = Number(counts[1]);
  const received = Number(counts[2]);
  // iputils `rtt min/avg/max/mdev = a/b/c/d ms`, busybox `round-trip min/avg/max = a/b/c ms`
  const rtt = /min\/avg\/max\S* = [\d.]+\/([\d.]+)\//.exec(output);
  return {
    sent,
    received,
    lossPercent: sent > 0 ? Math.round(((sent - received) / sent) * 1000) / 10 : 100,
    rttMs: received > 0 && rtt ? Number(rtt[1]) : null,
  };
}

interface Conversation {
  uptime: number | null;
  lines: string[];
  ended: boolean;
  failed: string | null;
}

interface TunnelRecords {
  config: 'present' | 'absent' | null;
  unit: Record<string, string> | null;
  rounds: Map<string, Conversation>;
  ping: { peerAddress: string; code: number; output: string } | null;
}

function emptyTunnel(): TunnelRecords {
  return { config: null, unit: null, rounds: new Map(), ping: null };
}

/** `TIME,STATE,DESCRIPTION,LOCAL_IP,REMOTE_IP,REMOTE_PORT,…` of the management interface's `state`. */
const STATE_LINE = /^(\d+),([A-Z_]+),([^,]*),([^,]*),([^,]*),([^,]*)/;

function counter(lines: string[], name: string): number | null {
  for (const line of lines) {
    if (line.startsWith(`${name},`)) {
      const value = line.slice(name.length + 1);
      if (/^\d+$/.test(value)) return Number(value);
    }
  }
  return null;
}

const round2 = (n: number) => Math.round(n * 100) / 100;

/** Whether the received-bytes counter grew between the first and the last conversation, over how long. */
function lastReceivedOf(
  first: Conversation | undefined,
  last: Conversation | undefined,
): LastReceived | null {
  if (!first?.ended || !last?.ended || first.uptime === null || last.uptime === null) return null;
  const before = counter(first.lines, 'TCP/UDP read bytes');
  const after = counter(last.lines, 'TCP/UDP read bytes');
  if (before === null || after === null) return null;
  const seconds = round2(Math.max(0, last.uptime - first.uptime));
  // a smaller counter: OpenVPN restarted in between, and what it counts since came in during the read
  return after !== before ? { within: seconds } : { over: seconds };
}

function tunnelReading(unit: string, peer: string, r: TunnelRecords | undefined): TunnelReading {
  const problems: string[] = [];
  const reading: TunnelReading = {
    unit,
    peer,
    deployed: r?.config === 'present',
    activeState: r?.unit?.ActiveState || null,
    openvpnState: null,
    stateSince: null,
    peerAddress: null,
    bytesIn: null,
    bytesOut: null,
    lastReceived: null,
    ping: null,
    problem: null,
  };
  if (!r) {
    reading.problem = "the gateway's output does not mention this tunnel";
    return reading;
  }
  if (r.config === null) problems.push('whether its config is on the gateway is unknown');
  if (r.unit === null) problems.push('systemd did not report its unit');
  const first = r.rounds.get('first');
  const last = r.rounds.get('last');
  // a unit that does not run has no management interface: nothing is missing then
  const running =
    reading.activeState === null || ['active', 'activating', 'reloading'].includes(reading.activeState);
  if (first?.ended) {
    const state = first.lines.map((l) => STATE_LINE.exec(l)).find((m) => m !== null);
    if (state) {
      reading.stateSince = Number(state[1]);
      reading.openvpnState = state[2]!;
      reading.peerAddress = state[5] && state[6] ? `${state[5]}:${state[6]}` : null;
    } else problems.push('its management interface gave no state');
  } else if (running && reading.deployed) {
    if (first?.failed) problems.push(`its management interface did not answer: ${first.failed}`);
    else if (first) problems.push('its management interface was cut short');
    else problems.push('its management interface was not read');
  }
  const counters = last?.ended ? last.lines : first?.ended ? first.lines : [];
  reading.bytesIn = counter(counters, 'TCP/UDP read bytes');
  reading.bytesOut = counter(counters, 'TCP/UDP write bytes');
  reading.lastReceived = lastReceivedOf(first, last);
  if (r.ping) {
    reading.ping = parsePing(r.ping.output);
    if (!reading.ping)
      problems.push(`the ping of ${r.ping.peerAddress} failed: ${r.ping.output || `exit ${r.ping.code}`}`);
  } else if (running && reading.deployed) problems.push('its transit ping did not report');
  reading.problem = problems.length > 0 ? problems.join('; ') : null;
  return reading;
}

interface BgpRoute {
  prefix: number;
  network: number;
  asPath: number[] | null;
}

function ipValue(ip: string): number | null {
  const octets = ip.split('.');
  if (octets.length !== 4 || octets.some((o) => !/^\d{1,3}$/.test(o) || Number(o) > 255)) return null;
  return octets.reduce((n, o) => n * 256 + Number(o), 0);
}

function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : 2 ** 32 - 2 ** (32 - prefix);
}

/** An AS path as the four FRR releases print it: `path` (a string) or `aspath` (a string or `{string, segments}`). */
function asPathOf(path: Record<string, unknown>): number[] | null {
  let text: unknown = path.path;
  if (typeof text !== 'string') {
    const aspath = path.aspath;
    if (typeof aspath === 'string') text = aspath;
    else if (typeof aspath === 'object' && aspath !== null) {
      const { string, segments } = aspath as { string?: unknown; segments?: unknown };
      if (typeof string === 'string') text = string;
      else if (Array.isArray(segments)) {
        text = segments
          .flatMap((s) =>
            Array.isArray((s as { list?: unknown })?.list) ? (s as { list: unknown[] }).list : [],
          )
          .join(' ');
      }
    }
  }
  if (typeof text !== 'string') return null;
  // AS sets ({…}) and confederation parts (…) do not occur in meshctl's eBGP: their numbers are kept in order
  const numbers = text.match(/\d+/g) ?? [];
  return numbers.map(Number);
}

/** `show bgp ipv4 unicast json` → each prefix with the AS path of its best path (null where none is best). */
function parseBgpTable(text: string): BgpRoute[] | null {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return null;
  }
  const root = (data ?? {}) as Record<string, unknown>;
  const routes = (root.routes ??
    (root.ipv4Unicast as Record<string, unknown> | undefined)?.routes) as unknown;
  if (typeof routes !== 'object' || routes === null) return null;
  const result: BgpRoute[] = [];
  for (const [key, paths] of Object.entries(routes as Record<string, unknown>)) {
    const [address, length] = key.split('/');
    const network = ipValue(address ?? '');
    const prefix = Number(length);
    if (network === null || !Number.isInteger(prefix) || prefix < 0 || prefix > 32 || !Array.isArray(paths))
      continue;
    const candidates = paths.filter((p): p is Record<string, unknown> => typeof p === 'object' && p !== null);
    const isBest = (p: Record<string, unknown>) =>
      p.bestpath === true || (p.bestpath as { overall?: unknown } | undefined)?.overall === true;
    const best =
      candidates.find(isBest) ??
      (candidates.filter((p) => p.valid === true).length === 1
        ? candidates.find((p) => p.valid === true)
        : undefined);
    result.push({ prefix, network, asPath: best ? asPathOf(best) : null });
  }
  return result;
}

/** The AS path of the best route to the longest prefix holding `destination`; null when none holds it. */
function asPathTo(table: BgpRoute[], destination: string): number[] | null {
  const ip = ipValue(destination);
  if (ip === null) return null;
  let found: BgpRoute | null = null;
  for (const route of table) {
    const mask = maskOf(route.prefix);
    if ((ip & mask) >>> 0 === (route.network & mask) >>> 0 && (!found || route.prefix > found.prefix))
      found = route;
  }
  return found?.asPath ?? null;
}

function bgpSummary(text: string): BgpReading[] | null {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return null;
  }
  const table = (v: unknown) => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : null);
  const root = table(data);
  if (!root) return null;
  const unicast = table(root.ipv4Unicast) ?? root;
  const peers = table(unicast.peers) ?? {};
  return Object.entries(peers).map(([address, value]) => {
    const peer = table(value) ?? {};
    return {
      address,
      state: typeof peer.state === 'string' ? peer.state : 'unknown',
      prefixesReceived: typeof peer.pfxRcd === 'number' ? peer.pfxRcd : 0,
    };
  });
}

interface ProbeRecords {
  target: string;
  source: string;
  destination: string;
  ping?: { code: number; output: string };
  route?: { code: number; output: string };
}

export function parseReading(
  gateway: string,
  stdout: string,
  opts: { startedAt: number; finishedAt: number; peers: Map<string, string> },
): GatewayReading {
  const { lines, cut } = completeLines(stdout);
  const unreadable: string[] = [];
  const tunnels = new Map<string, TunnelRecords>();
  const tunnelOf = (unit: string) => {
    let r = tunnels.get(unit);
    if (!r) {
      r = emptyTunnel();
      tunnels.set(unit, r);
    }
    return r;
  };
  const probes = new Map<string, ProbeRecords>();
  const probeOf = (target: string, source: string, destination: string) => {
    const key = `${target} ${source} ${destination}`;
    let p = probes.get(key);
    if (!p) {
      p = { target, source, destination };
      probes.set(key, p);
    }
    return p;
  };
  let version: string | null = null;
  let gatewayTime: number | null = null;
  const addresses: { device: string; cidr: string }[] = [];
  let cert: string[] | null = [];
  let certDone = false;
  let unitBlock: Record<string, string> = {};
  const bgpLines: string[] = [];
  let bgpSeen = false;
  let bgpDone = false;
  let bgpUnavailable = false;
  const routeLines: string[] = [];
  let routesDone = false;
  let ready = false;
  let ended = false;

  for (const line of lines) {
    const tab = line.indexOf(TAB);
    const tag = tab < 0 ? line : line.slice(0, tab);
    let understood = true;
    switch (tag) {
      case 'status':
        version = line.slice(tab + 1);
        understood = tab > 0;
        break;
      case 'time': {
        const value = line.slice(tab + 1);
        understood = tab > 0 && /^\d+$/.test(value);
        if (understood) gatewayTime = Number(value);
        break;
      }
      case 'addr': {
        const address = addressOf(line);
        if (address) addresses.push(address);
        // loopback and other lines without an IPv4 address of interest still are records
        understood = tab > 0;
        break;
      }
      case 'addr-unavailable':
        break;
      case 'cert':
        if (cert && tab > 0) cert.push(line.slice(tab + 1));
        else understood = false;
        break;
      case 'cert-end':
        certDone = true;
        break;
      case 'cert-unreadable':
        cert = null;
        break;
      case 'unit': {
        const text = line.slice(tab + 1);
        const eq = text.indexOf('=');
        if (tab > 0 && eq > 0) unitBlock[text.slice(0, eq)] = text.slice(eq + 1);
        else understood = false;
        break;
      }
      case 'unit-end':
        if (unitBlock.Id) tunnelOf(unitBlock.Id).unit = unitBlock;
        unitBlock = {};
        break;
      case 'systemd-unavailable':
        break;
      case 'config': {
        const f = fields(line, 3);
        if (f && (f[2] === 'present' || f[2] === 'absent')) tunnelOf(f[1]!).config = f[2];
        else understood = false;
        break;
      }
      case 'mgmt': {
        const f = fields(line, 4);
        if (!f) understood = false;
        else {
          const uptime = /^\d+(\.\d+)?$/.test(f[3]!) ? Number(f[3]) : null;
          tunnelOf(f[1]!).rounds.set(f[2]!, { uptime, lines: [], ended: false, failed: null });
        }
        break;
      }
      case 'mgmt-line':
      case 'mgmt-end':
      case 'mgmt-failed': {
        const f = fields(line, tag === 'mgmt-end' ? 3 : 4);
        const conversation = f ? tunnels.get(f[1]!)?.rounds.get(f[2]!) : undefined;
        if (!f || !conversation || conversation.ended || conversation.failed !== null) understood = false;
        else if (tag === 'mgmt-line') conversation.lines.push(f[3]!);
        else if (tag === 'mgmt-end') conversation.ended = true;
        else conversation.failed = f[3]!;
        break;
      }
      case 'bgp-summary':
        if (bgpDone || tab < 0) understood = false;
        else {
          bgpSeen = true;
          bgpLines.push(line.slice(tab + 1));
        }
        break;
      case 'bgp-summary-end':
        bgpDone = true;
        break;
      case 'bgp-unavailable':
        bgpUnavailable = true;
        break;
      case 'ready':
        ready = true;
        understood = line === READY_LINE;
        break;
      case 'probe-refused':
        break;
      case 'probe':
      case 'route': {
        const f = fields(line, 6);
        if (!f || !/^\d+$/.test(f[4]!)) understood = false;
        else
          probeOf(f[1]!, f[2]!, f[3]!)[tag === 'probe' ? 'ping' : 'route'] = {
            code: Number(f[4]),
            output: f[5]!,
          };
        break;
      }
      case 'bgp-routes':
        if (routesDone || tab < 0) understood = false;
        else routeLines.push(line.slice(tab + 1));
        break;
      case 'bgp-routes-end':
        routesDone = true;
        break;
      case 'bgp-routes-unavailable':
        break;
      case 'ping': {
        const f = fields(line, 5);
        if (!f || !/^\d+$/.test(f[3]!)) understood = false;
        else tunnelOf(f[1]!).ping = { peerAddress: f[2]!, code: Number(f[3]), output: f[4]! };
        break;
      }
      case 'end':
        ended = line === END_LINE;
        understood = ended;
        break;
      default:
        understood = false;
    }
    if (!understood) unreadable.push(line);
  }
  if (cut !== null) unreadable.push(cut);

  const problems: string[] = [];
  if (version === null) problems.push('it printed no status records');
  else if (version !== '1') problems.push(`its output is format ${JSON.stringify(version)}, not 1`);
  else if (!ready) problems.push('its output stopped before the probes (no `ready`)');
  else if (!ended) problems.push('its output was cut short (no `end`)');

  const units = [...opts.peers.keys(), ...[...tunnels.keys()].filter((u) => !opts.peers.has(u))];
  const routeTable = routesDone ? parseBgpTable(routeLines.join('\n')) : null;
  const bgp = bgpDone && !bgpUnavailable ? bgpSummary(bgpLines.join('\n')) : null;
  // FRR's JSON that is not JSON (or cut short): its lines were not understood
  if (bgpSeen && bgp === null) unreadable.push(...bgpLines.map((l) => `bgp-summary${TAB}${l}`));

  const reading: GatewayReading = {
    gateway,
    startedAt: opts.startedAt,
    finishedAt: opts.finishedAt,
    gatewayTime,
    addresses,
    certificatePem: cert && certDone && cert.length > 0 ? `${cert.join('\n')}\n` : null,
    tunnels: units.map((unit) => {
      const reading = tunnelReading(
        unit,
        opts.peers.get(unit) ?? peerOfTunnelUnit(unit) ?? unit,
        tunnels.get(unit),
      );
      if (problems.length > 0 && reading.problem === null && !ended) reading.problem = problems.join('; ');
      return reading;
    }),
    bgp,
    probes: [...probes.values()].map(
      (p): ProbeReading => ({
        target: p.target,
        source: p.source,
        destination: p.destination,
        ping: p.ping ? parsePing(p.ping.output) : null,
        device:
          p.route && p.route.code === 0 ? (/(?:^|\s)dev (\S+)/.exec(p.route.output)?.[1] ?? null) : null,
        asPath: routeTable ? asPathTo(routeTable, p.destination) : null,
      }),
    ),
    unreadable,
  };
  if (problems.length > 0) reading.problem = problems.join('; ');
  return reading;
}
