import { posix } from 'node:path';
import type { Facts, NetworkFacts, RouteFact } from '../facts/types.js';
import {
  FIREWALL_UNIT,
  gatewayPaths,
  isTunnelUnit,
  ROUTE_PROTOCOL,
  TUNNEL_DEVICE_PATTERN,
  tunnelName,
} from '../gateway/layout.js';
import { type Cidr, canonical, contains, overlaps, parseCidr } from '../mesh/ipv4.js';
import type { DesiredState } from '../types.js';
import { HostPlanError } from './errors.js';

/**
 * Pre-flight checks (pure): what the probe saw on a gateway that would make the rendered mesh fail silently
 * later — a subnet typo, a network the gateway already reaches another way, a port another process holds, a
 * clock that makes fresh certificates invalid, forwarding that a later sysctl file or a firewall rule turns off.
 * An `error` refuses the gateway before anything is written (a HostPlanError); a `warning` is a plan note, shown
 * by diff. Every message names the gateway, what was found and the fix.
 *
 * Each check reads only facts the probe gathered; a fact the probe could not read (null) skips its check.
 */

export interface PreflightOptions {
  /** The bastion's clock (ms since the epoch) when the facts were planned; without it the clock is not checked. */
  now?: number;
  /** Force the rp_filter check on or off (default: topologyNeedsAsymmetricPaths). */
  asymmetricPaths?: boolean;
}

export type PreflightCheck =
  | 'lan-address'
  | 'collision'
  | 'udp-port'
  | 'clock'
  | 'sysctl-forward'
  | 'forward-chain'
  | 'rp-filter';

export interface PreflightFinding {
  check: PreflightCheck;
  severity: 'error' | 'warning';
  /** A full sentence: the gateway, what was found, and `Fix: …`. */
  message: string;
}

/** Farther than this from the bastion's clock, the gateway's is off (certificates are backdated 1 h, the CRL not). */
export const MAX_CLOCK_SKEW_SECONDS = 300;

/**
 * Whether this gateway's traffic may come back over another device than the one it left by. With static routing
 * (SPEC §7) it never does, in any topology: every gateway routes each remote subnet over one tunnel by the same
 * shortest-path rule, a hub forwards both directions of a flow between the same two tunnels, and each tunnel's
 * source check admits exactly what routing delivers over it — so strict rp_filter drops nothing real. A routing
 * mode with failover (`routing: bgp`, where a broken tunnel heals through a third LAN) makes this true; return
 * true here for it, and the rp_filter check runs.
 */
export function topologyNeedsAsymmetricPaths(_desired: DesiredState): boolean {
  return false;
}

/** One of this gateway's tunnels, as the checks need it. */
interface TunnelView {
  peer: string;
  unit: string;
  /** The pair's /30. */
  transit: string;
  /** The UDP port the rendered config listens on; null when the config names none. */
  port: number | null;
}

function tunnelsOf(desired: DesiredState): TunnelView[] {
  return desired.units.flatMap((unit) => {
    if (!unit.tunnel) return [];
    const { peer, peerAddress } = unit.tunnel;
    const config = desired.files.find((f) => f.path === gatewayPaths.tunnelConfig(tunnelName(peer)));
    const port = config ? /^port (\d+)$/m.exec(config.content)?.[1] : undefined;
    return [
      {
        peer,
        unit: unit.name,
        transit: canonical({ base: parseCidr(`${peerAddress}/32`).base, prefix: 30 }),
        port: port === undefined ? null : Number(port),
      },
    ];
  });
}

const isMeshDevice = (dev: string | null) => dev !== null && TUNNEL_DEVICE_PATTERN.test(dev);
/**
 * On one of meshctl's tun devices, a transit route routes.sh installed (`proto 199`), or (routing: bgp) the
 * blackhole route FRR keeps for a remote mesh subnet while no BGP route is installed (frr.conf `ip route … blackhole`:
 * zebra installs it as `proto static`; no other FRR route is a blackhole unless an operator wrote one, and an FRR
 * configuration that is not meshctl's is refused anyway).
 */
const isMeshRoute = (route: RouteFact) =>
  isMeshDevice(route.dev) ||
  route.proto === String(ROUTE_PROTOCOL) ||
  (route.type === 'blackhole' &&
    (route.proto === 'static' || route.proto === '196') &&
    /\bmetric 20\b/.test(route.line));

/** `10.1.0.5/24` → the address alone as a /32. */
function hostOf(cidr: string): Cidr {
  return { base: parseCidr(cidr).base, prefix: 32 };
}

/**
 * Every pre-flight finding for one gateway. `all` is every gateway's desired state (a tunnel's far end has the
 * subnets this gateway routes to).
 */
export function preflightFindings(
  desired: DesiredState,
  facts: Facts,
  all: Map<string, DesiredState>,
  opts: PreflightOptions = {},
): PreflightFinding[] {
  // a gateway leaving the mesh (remove-lan) is only emptied: nothing of the mesh runs there afterwards to break
  if (desired.retire) return [];
  const gateway = `${desired.gateway.name} (${desired.gateway.sshHost})`;
  const tunnels = tunnelsOf(desired);
  const n = facts.network;
  const asymmetric = opts.asymmetricPaths ?? topologyNeedsAsymmetricPaths(desired);
  return [
    ...checkLanAddress(gateway, desired, n),
    ...checkCollisions(gateway, tunnels, remoteSubnets(desired, all), n),
    ...checkUdpPorts(gateway, tunnels, facts),
    ...checkClock(gateway, n, opts.now),
    ...checkSysctlForward(gateway, desired, n),
    ...checkForwardChain(gateway, desired, n),
    ...(asymmetric ? checkRpFilter(gateway, desired, n) : []),
  ];
}

/**
 * Refuses the gateway (HostPlanError `preflight`) when any finding is an error, listing all of them; returns the
 * warnings, as plan notes, otherwise.
 */
export function checkPreflight(
  desired: DesiredState,
  facts: Facts,
  all: Map<string, DesiredState>,
  opts: PreflightOptions = {},
): string[] {
  const findings = preflightFindings(desired, facts, all, opts);
  const errors = findings.filter((f) => f.severity === 'error');
  const warnings = findings.filter((f) => f.severity === 'warning').map((f) => `pre-flight: ${f.message}`);
  if (errors.length > 0) {
    // continuation lines indented: the summary prints the message after the gateway's name and stage
    const lines = [
      ...errors.map((f) => f.message),
      `${desired.gateway.name}: refused before anything is written (${errors.length} pre-flight problem` +
        `${errors.length === 1 ? '' : 's'}); fix and re-run`,
      ...warnings,
    ];
    throw new HostPlanError(desired.gateway.name, 'preflight', lines.join('\n  '));
  }
  return warnings;
}

// --- the LAN is on the gateway ---------------------------------------------------------------------------------

function checkLanAddress(gateway: string, desired: DesiredState, n: NetworkFacts): PreflightFinding[] {
  if (!n.addresses || !n.routes) return [];
  const addresses = n.addresses.filter((a) => a.iface !== 'lo' && !isMeshDevice(a.iface));
  const reached = (subnet: string) => {
    const s = parseCidr(subnet);
    const hasAddress = addresses.some((a) => contains(s, hostOf(a.cidr)));
    // a route into the subnet (a LAN behind a router), or the gateway's own link to a network overlapping it
    const hasRoute = n.routes!.some(
      (r) =>
        r.type === null &&
        !isMeshRoute(r) &&
        (contains(s, parseCidr(r.dest)) || (!r.via && overlaps(s, parseCidr(r.dest)))),
    );
    return hasAddress || hasRoute;
  };
  const own = desired.gateway.subnets;
  const missing = own.filter((s) => !reached(s));
  if (missing.length === 0) return [];
  const file = `lans/${desired.gateway.lan}.yml`;
  const found =
    addresses.length > 0
      ? `its addresses are ${addresses.map((a) => `${a.cidr} (${a.iface})`).join(', ')}`
      : 'it has no IPv4 address but loopback';
  if (missing.length === own.length) {
    return [
      {
        check: 'lan-address',
        severity: 'error',
        message:
          `${gateway}: no interface address or route of the gateway lies in its subnets ` +
          `${missing.join(', ')} (${found}), so the mesh would route that LAN's traffic to a gateway that is not ` +
          `on it. Fix: correct subnets in ${file} (a typo?), or point gateway.ssh_host at the LAN's gateway; a ` +
          'LAN behind another router needs a route to it on the gateway first',
      },
    ];
  }
  return missing.map((subnet) => ({
    check: 'lan-address' as const,
    severity: 'warning' as const,
    message:
      `${gateway}: subnet ${subnet} of ${file} has no interface address or route on the gateway (${found}): ` +
      `traffic the other LANs send to it arrives here and goes nowhere. Fix: correct that subnet in ${file}, or ` +
      'add a route to it on the gateway if it lies behind another router',
  }));
}

// --- collisions with what the gateway already reaches -----------------------------------------------------------

/** A route that takes `range` (or part of it) from the mesh: as specific or more, or the link it sits on. */
function takes(range: Cidr, route: RouteFact, dest: Cidr): boolean {
  if (isMeshRoute(route)) return false;
  if (contains(range, dest)) return true;
  return route.type === null && !route.via && contains(dest, range);
}

function describeRoute(route: RouteFact): string {
  return `route "${route.line}"`;
}

/** Every subnet of the other LANs, with its LAN: the mesh routes each of them from this gateway (SPEC §7). */
function remoteSubnets(
  desired: DesiredState,
  all: Map<string, DesiredState>,
): { lan: string; subnet: string }[] {
  const result: { lan: string; subnet: string }[] = [];
  for (const other of all.values()) {
    // a LAN's other gateways (one per AZ) are reached inside the LAN, not through the mesh
    if (other.gateway.lan === desired.gateway.lan || other.retire) continue;
    for (const subnet of other.gateway.subnets) result.push({ lan: other.gateway.lan, subnet });
  }
  return result;
}

function checkCollisions(
  gateway: string,
  tunnels: TunnelView[],
  remote: { lan: string; subnet: string }[],
  n: NetworkFacts,
): PreflightFinding[] {
  if (!n.addresses || !n.routes) return [];
  // ranges that collide with the same things get one message (a bridge over the whole transit range takes every /30)
  const groups = new Map<string, { labels: string[]; what: string; fix: string }>();
  // parsed once: a gateway with 149 tunnels checks every route against ~300 ranges
  const routes = n.routes.map((route) => ({ route, dest: parseCidr(route.dest) }));
  const addresses = n.addresses
    .filter((a) => !isMeshDevice(a.iface))
    .map((address) => ({ address, host: hostOf(address.cidr) }));
  const seen = new Set<string>();
  const check = (label: string, cidr: string, fix: string) => {
    if (seen.has(cidr)) return;
    seen.add(cidr);
    const range = parseCidr(cidr);
    const what = [
      ...addresses
        .filter((a) => contains(range, a.host))
        .map(({ address: a }) => `address ${a.cidr} on ${a.iface}`),
      ...routes.filter((r) => takes(range, r.route, r.dest)).map((r) => describeRoute(r.route)),
    ].join(', ');
    if (!what) return;
    const key = `${what}\n${fix}`;
    const group = groups.get(key) ?? { labels: [], what, fix };
    group.labels.push(label);
    groups.set(key, group);
  };
  for (const t of tunnels) {
    check(
      `transit ${t.transit} (tunnel to ${t.peer})`,
      t.transit,
      'give mesh.yml a transit range that is free on every gateway (on a running mesh this renumbers every tunnel), ' +
        'or renumber what uses it on the gateway (Docker: "bip" and "default-address-pools" in ' +
        '/etc/docker/daemon.json)',
    );
  }
  for (const { lan, subnet } of remote) {
    check(
      `${lan}'s subnet ${subnet}`,
      subnet,
      `a network is reached one way only: remove that route or address from the gateway (another VPN, an old ` +
        `static route, a container bridge), or renumber one of the two networks (lans/${lan}.yml)`,
    );
  }
  const findings: PreflightFinding[] = [...groups.values()].map(({ labels, what, fix }) => ({
    check: 'collision',
    severity: 'error',
    message: `${gateway}: ${labels.join(', ')} collide${labels.length === 1 ? 's' : ''} with ${what} already on the gateway: the mesh's traffic for ${labels.length === 1 ? 'it' : 'them'} would go there instead of the tunnel. Fix: ${fix}`,
  }));
  if (n.routesTruncated && findings.length === 0) {
    findings.push({
      check: 'collision',
      severity: 'warning',
      message: `${gateway}: the gateway has more than 5000 routes; only the first 5000 were checked for collisions with the mesh's networks. Fix: none needed if the rest are known not to overlap the transit range or any LAN`,
    });
  }
  return findings;
}

// --- UDP ports --------------------------------------------------------------------------------------------------

function checkUdpPorts(gateway: string, tunnels: TunnelView[], facts: Facts): PreflightFinding[] {
  const sockets = facts.network.udp;
  if (!sockets) return [];
  // a port held by one of meshctl's own tunnel processes is the mesh's (a running tunnel, or one being replaced)
  const own = new Set(
    Object.entries(facts.units)
      .filter(([unit, state]) => isTunnelUnit(unit) && state.mainPid > 0)
      .map(([, state]) => state.mainPid),
  );
  const findings: PreflightFinding[] = [];
  for (const t of tunnels) {
    if (t.port === null) continue;
    const tunnelRuns = (facts.units[t.unit]?.mainPid ?? 0) > 0;
    const holders = sockets.filter((s) => s.port === t.port);
    const foreign = holders.filter((s) =>
      s.processes.length > 0 ? !s.processes.some((p) => own.has(p.pid)) : !tunnelRuns,
    );
    if (foreign.length === 0) continue;
    const by = foreign
      .map((s) => {
        const who =
          s.processes.length > 0
            ? s.processes.map((p) => `"${p.name}" (pid ${p.pid})`).join(', ')
            : 'a process the probe cannot name (no ss)';
        return `${who} on ${s.address}`;
      })
      .join('; ');
    findings.push({
      check: 'udp-port',
      severity: 'error',
      message:
        `${gateway}: UDP port ${t.port} of the tunnel to ${t.peer} is already bound by ${by}, which meshctl does ` +
        `not manage: the tunnel could not start. Fix: stop or reconfigure that process (\`ss -ulnp 'sport = :${t.port}'\` ` +
        'shows it), or move every tunnel port with port_base in mesh.yml',
    });
  }
  return findings;
}

// --- clock ------------------------------------------------------------------------------------------------------

function duration(seconds: number): string {
  const s = Math.round(Math.abs(seconds));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 2 * 86400) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} days`;
}

function checkClock(gateway: string, n: NetworkFacts, now: number | undefined): PreflightFinding[] {
  if (now === undefined || n.clock === null) return [];
  const skew = n.clock - now / 1000;
  if (Math.abs(skew) <= MAX_CLOCK_SKEW_SECONDS) return [];
  const times = `gateway ${new Date(n.clock * 1000).toISOString()}, bastion ${new Date(now).toISOString()}`;
  const fix =
    'Fix: set the clock and keep it synced (timedatectl set-ntp true, or chronyc makestep), then re-run';
  if (skew < 0) {
    return [
      {
        check: 'clock',
        severity: 'error',
        message:
          `${gateway}: the gateway's clock is ${duration(skew)} behind the bastion's (${times}): a CRL or ` +
          'certificate meshctl issues is not valid yet there, so its tunnels refuse every peer ("CRL is not yet ' +
          `valid") until the clock catches up. ${fix}`,
      },
    ];
  }
  return [
    {
      check: 'clock',
      severity: 'warning',
      message:
        `${gateway}: the gateway's clock is ${duration(skew)} ahead of the bastion's (${times}): tunnels work, ` +
        `but certificates and the CRL look expired that much early there, and its logs disagree with the others. ${fix}`,
    },
  ];
}

// --- forwarding: sysctl files -----------------------------------------------------------------------------------

const FORWARD_KEYS = new Set(['net.ipv4.ip_forward', 'net.ipv4.conf.all.forwarding']);
const SYSCTL_CONF = '/etc/sysctl.conf';

/**
 * The order the files are applied in at boot (systemd-sysctl) and by `sysctl --system`: sysctl.d files by name
 * (a name in an earlier directory masks the same name in later ones), then /etc/sysctl.conf (read last by
 * `sysctl --system`). `files` is in the probe's directory order.
 */
export function sysctlOrder(files: string[]): string[] {
  const byName = new Map<string, string>();
  for (const file of files) {
    if (file === SYSCTL_CONF) continue;
    const name = posix.basename(file);
    if (!byName.has(name)) byName.set(name, file);
  }
  const ordered = [...byName.keys()].sort().map((name) => byName.get(name)!);
  return files.includes(SYSCTL_CONF) ? [...ordered, SYSCTL_CONF] : ordered;
}

function checkSysctlForward(gateway: string, desired: DesiredState, n: NetworkFacts): PreflightFinding[] {
  if (!n.sysctlFiles || !n.sysctlForward) return [];
  const ours = gatewayPaths.sysctl;
  if (!desired.files.some((f) => f.path === ours)) return [];
  const order = sysctlOrder(n.sysctlFiles.includes(ours) ? n.sysctlFiles : [ours, ...n.sysctlFiles]);
  const settings = n.sysctlForward.filter((s) => FORWARD_KEYS.has(s.key) && s.path !== ours);
  const ourPlace = order.indexOf(ours);
  const later = settings.filter((s) => order.indexOf(s.path) > ourPlace);
  // within the files read after meshctl's, the last setting is what stays
  const last = later.sort((a, b) => order.indexOf(a.path) - order.indexOf(b.path)).at(-1);
  if (!last || last.value === '1') return [];
  return [
    {
      check: 'sysctl-forward',
      severity: 'error',
      message:
        `${gateway}: ${last.path} sets "${last.line}" and is read after ${ours} (sysctl files apply in name order, ` +
        `${SYSCTL_CONF} last): at boot, and whenever \`sysctl --system\` runs, forwarding goes off and the mesh ` +
        `stops routing between LANs. Fix: delete that line from ${last.path} (or set it to 1), or rename the file ` +
        `to sort before ${posix.basename(ours)}`,
    },
  ];
}

// --- forwarding: the FORWARD chain and nftables -----------------------------------------------------------------

const CATCH_ALL_DROP = /^-A FORWARD -j (DROP|REJECT)( --reject-with \S+)?$/;
const DROPS = / -j (DROP|REJECT)\b/;

function checkForwardChain(gateway: string, desired: DesiredState, n: NetworkFacts): PreflightFinding[] {
  const findings: PreflightFinding[] = [];
  const chain = `${desired.firewall.chainPrefix}-FORWARD`;
  const reload = `systemctl reload ${FIREWALL_UNIT}`;
  if (n.forwardChain) {
    const policy = /^-P FORWARD (\S+)$/.exec(
      n.forwardChain.find((l) => l.startsWith('-P FORWARD ')) ?? '',
    )?.[1];
    const rules = n.forwardChain.filter((l) => l.startsWith('-A FORWARD '));
    const jump = rules.indexOf(`-A FORWARD -j ${chain}`);
    if (jump >= 0) {
      rules.slice(0, jump).forEach((rule, i) => {
        if (CATCH_ALL_DROP.test(rule)) {
          findings.push({
            check: 'forward-chain',
            severity: 'error',
            message:
              `${gateway}: rule ${i + 1} of the FORWARD chain, "${rule}", drops every forwarded packet before ` +
              `meshctl's chain ${chain} (rule ${jump + 1}) sees it: no traffic crosses the mesh. Fix: delete it ` +
              `(iptables -D FORWARD ${i + 1}) and, if it is meant as the default, append it after meshctl's jump ` +
              '(iptables -A FORWARD -j DROP) or make it the policy (iptables -P FORWARD DROP); then save your rules',
          });
        } else if (DROPS.test(rule)) {
          findings.push({
            check: 'forward-chain',
            severity: 'warning',
            message:
              `${gateway}: rule ${i + 1} of the FORWARD chain, "${rule}", comes before meshctl's chain ${chain} ` +
              `(rule ${jump + 1}) and may drop mesh traffic. Fix: if it matches traffic between LANs, move it after ` +
              `meshctl's jump`,
          });
        }
      });
    } else if (policy === 'DROP') {
      findings.push({
        check: 'forward-chain',
        severity: 'warning',
        message:
          `${gateway}: the FORWARD policy is DROP and meshctl's chain ${chain} is not in FORWARD yet: apply inserts ` +
          'it as rule 1, and it is then the only thing that lets mesh traffic through; a firewall tool that ' +
          'rebuilds FORWARD later (a ufw or firewalld reload, an iptables-restore without --noflush) drops the ' +
          `mesh's traffic until \`${reload}\`. Fix: nothing for apply; if such a tool runs here, make it keep ` +
          `"-A FORWARD -j ${chain}", or run \`${reload}\` after it`,
      });
    }
  }
  for (const c of n.nftChains ?? []) {
    // iptables-nft's own FORWARD chain is the one read above
    const iptables = c.table === 'ip filter' && c.chain === 'FORWARD';
    if (c.hook !== 'forward' || c.policy !== 'drop' || iptables) continue;
    findings.push({
      check: 'forward-chain',
      severity: 'warning',
      message:
        `${gateway}: nftables chain ${c.chain} of table ${c.table} (hook forward) has policy drop: a packet must ` +
        `pass every forward hook, so meshctl's iptables ACCEPT alone does not let mesh traffic through. Fix: make ` +
        `that chain accept the mesh, e.g. \`nft add rule ${c.table} ${c.chain} iifname "mtun*" accept\` and the ` +
        'same with oifname (and keep it in your nftables configuration)',
    });
  }
  return findings;
}

// --- rp_filter --------------------------------------------------------------------------------------------------

function checkRpFilter(gateway: string, desired: DesiredState, n: NetworkFacts): PreflightFinding[] {
  const rp = n.rpFilter;
  if (!rp) return [];
  const all = rp.all ?? 0;
  // the kernel uses the larger of `all` and the interface's own value: 1 is strict, 2 loose, 0 off
  const effective = (iface: string) => Math.max(all, rp[iface] ?? 0);
  const lanIfaces = new Set(
    (n.addresses ?? [])
      .filter((a) => desired.gateway.subnets.some((s) => contains(parseCidr(s), hostOf(a.cidr))))
      .map((a) => a.iface),
  );
  const strict = [
    ...(Math.max(all, rp.default ?? 0) === 1 ? ['new tunnel devices (default)'] : []),
    ...Object.keys(rp)
      .filter(
        (iface) => (TUNNEL_DEVICE_PATTERN.test(iface) || lanIfaces.has(iface)) && effective(iface) === 1,
      )
      .sort(),
  ];
  if (strict.length === 0) return [];
  return [
    {
      check: 'rp-filter',
      severity: 'warning',
      message:
        `${gateway}: rp_filter is strict (1) on ${strict.join(', ')}, and this topology routes some traffic back ` +
        'over another tunnel than it came in by: the kernel drops those packets as spoofed. Fix: loose mode, ' +
        '"net.ipv4.conf.all.rp_filter = 2" and "net.ipv4.conf.default.rp_filter = 2" in a file of /etc/sysctl.d, ' +
        'then `sysctl -p` that file',
    },
  ];
}
