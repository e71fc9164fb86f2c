import { createHash } from 'node:crypto';
import { PkiError, RoleError, UsageError } from '../errors.js';
import {
  CHAIN_PREFIX_PATTERN,
  CHAIN_PREFIX_RULE,
  FIREWALL_UNIT,
  FRR_UNIT,
  gatewayPaths,
  MANAGEMENT_ADDRESS,
  MODES,
  ROUTE_PROTOCOL,
  ROUTES_UNIT,
  TUNNEL_DEVICE_PREFIX,
  tunnelUnitOf,
} from '../gateway/layout.js';
import { intToIp, netmask, parseCidr } from '../mesh/ipv4.js';
import { managementPassword } from '../pki/management-password.js';
import type { BgpPolicy } from '../topology/bgp.js';
import type {
  DesiredBgp,
  DesiredFile,
  DesiredState,
  DesiredUnit,
  FirewallLayout,
  Gateway,
  Manifest,
  Mesh,
  PkiMaterial,
  Tunnel,
} from '../types.js';
import type { Roles } from './roles.js';
import { renderTemplate } from './template.js';
import { checkGateway, checkMeshSettings, isIpv4Address } from './validate.js';

/**
 * Render (pure): mesh + PKI material + role templates → everything meshctl wants on each gateway (SPEC §3).
 * No I/O, clock or randomness: the same inputs always give byte-identical output, sorted by path and unit name.
 */

const PUBLIC = MODES.public;
const SECRET = MODES.secret;
const EXECUTABLE = MODES.executable;

export interface RenderOptions {
  /** meshctl's version, recorded in the manifest. */
  version: string;
}

export function renderMesh(
  mesh: Mesh,
  pki: PkiMaterial,
  roles: Roles,
  opts: RenderOptions,
): Map<string, DesiredState> {
  const states = new Map<string, DesiredState>();
  // every gateway is every other's peer: each is checked once, in the order a gateway at a time would, and the
  // names and lists that recur on every gateway (a tunnel unit, what a file notifies) are held once
  const shared = sharedValues();
  for (const gateway of [...mesh.inventory.gateways].sort((a, b) => a.id - b.id)) {
    states.set(gateway.name, renderOne(mesh, gateway.name, pki, roles, opts, shared));
  }
  return states;
}

export function renderGateway(
  mesh: Mesh,
  gatewayName: string,
  pki: PkiMaterial,
  roles: Roles,
  opts: RenderOptions,
): DesiredState {
  return renderOne(mesh, gatewayName, pki, roles, opts, sharedValues());
}

/**
 * Renders the gateways of one mesh one at a time (render --out drops each once written), sharing what
 * renderMesh shares between them: each gateway is checked once, not once per gateway that has it as a peer.
 */
export function gatewayRenderer(
  mesh: Mesh,
  pki: PkiMaterial,
  roles: Roles,
  opts: RenderOptions,
): (gatewayName: string) => DesiredState {
  const shared = sharedValues();
  return (gatewayName) => renderOne(mesh, gatewayName, pki, roles, opts, shared);
}

/**
 * What the gateways of one render share. A mesh of n gateways renders n·(n-1) tunnel ends: each tunnel's unit
 * name and the one-unit list its files notify recur on every gateway that has a tunnel to the same peer, and are
 * held once instead of once per file.
 */
interface Shared {
  /** Gateways whose values already passed checkGateway in this render (the checks are pure). */
  checked: Set<Gateway>;
  /** Tunnel name → its unit. */
  units: Map<string, string>;
  /** Unit → `[unit]`, the notifies list of a file that restarts that unit only. */
  notifies: Map<string, string[]>;
  /** Gateway → the subnets it originates, which its BGP neighbours expect from it. */
  expects: Map<string, string[]>;
}

function sharedValues(): Shared {
  return { checked: new Set(), units: new Map(), notifies: new Map(), expects: new Map() };
}

function unitOf(shared: Shared, tunnelName: string): string {
  let unit = shared.units.get(tunnelName);
  if (unit === undefined) {
    unit = tunnelUnitOf(tunnelName);
    shared.units.set(tunnelName, unit);
  }
  return unit;
}

function notifiesOnly(shared: Shared, unit: string): string[] {
  let list = shared.notifies.get(unit);
  if (list === undefined) {
    list = [unit];
    shared.notifies.set(unit, list);
  }
  return list;
}

function renderOne(
  mesh: Mesh,
  gatewayName: string,
  pki: PkiMaterial,
  roles: Roles,
  opts: RenderOptions,
  shared: Shared,
): DesiredState {
  const { checked } = shared;
  const check = (gateway: Gateway) => {
    if (checked.has(gateway)) return;
    checkGateway(gateway);
    checked.add(gateway);
  };
  const lan = mesh.inventory.gateways.find((candidate) => candidate.name === gatewayName);
  if (!lan) {
    const known = mesh.inventory.gateways.map((l) => l.name).join(', ');
    throw new UsageError(
      `no gateway named ${JSON.stringify(gatewayName)} in mesh ${mesh.name}: use one of ${known}`,
    );
  }
  checkMeshSettings(mesh.inventory);
  check(lan);
  const firewall = firewallLayout(roles);
  const tunnels = mesh.tunnels.get(lan.name) ?? [];
  for (const tunnel of tunnels) check(tunnel.peer);
  // with bgp, FRR installs every route to another LAN: no route in a tunnel config, no routes.sh
  const policy = mesh.bgp?.get(lan.name);
  const bgp = policy ? desiredBgp(mesh, lan, tunnels, shared) : undefined;
  const transitRoutes = !policy && tunnels.some((t) => routedThrough(t).length > 0);

  const tunnelUnits = tunnels.map((t) => unitOf(shared, t.name));
  const files: DesiredFile[] = [
    ...keyFiles(mesh, lan, tunnels, pki, tunnelUnits, shared),
    ...tunnels.map((t) => tunnelConfig(mesh, t, roles, policy !== undefined, shared)),
    ...tunnels.map((t) => tunnelDropIn(mesh, lan, t, roles, transitRoutes, shared)),
    ...systemFiles(mesh, lan, tunnels, roles, firewall, policy),
    ...(transitRoutes ? routeFiles(mesh, lan, tunnels, roles) : []),
    ...(policy && bgp ? frrFiles(mesh, lan, tunnels, roles, policy, bgp) : []),
  ].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));

  const units: DesiredUnit[] = [
    { name: FIREWALL_UNIT, enabled: true, running: true },
    ...(transitRoutes ? [{ name: ROUTES_UNIT, enabled: true, running: true }] : []),
    ...(bgp ? [{ name: FRR_UNIT, enabled: true, running: true }] : []),
    ...tunnels.map(
      (t): DesiredUnit => ({
        name: unitOf(shared, t.name),
        enabled: true,
        running: true,
        tunnel: { pairIndex: t.pair.index, peer: t.peer.name, peerAddress: t.peerAddress },
      }),
    ),
  ].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  const manifest: Manifest = {
    mesh: mesh.name,
    version: opts.version,
    lan: lan.name,
    files: fileChecksums(files),
    units: units.map((u) => u.name),
  };
  return {
    gateway: lan,
    files,
    units,
    manifest,
    manifestPath: gatewayPaths.manifest,
    firewall,
    ...(bgp ? { bgp } : {}),
  };
}

/**
 * The firewall settings the roles define, checked: `chain_prefix` names every chain firewall.sh creates and
 * deletes, and the probe and the planner look for exactly those chains.
 */
export function firewallLayout(roles: Roles): FirewallLayout {
  const where = `${roles.dir}/firewall/defaults.yml`;
  const prefix = roles.roles.get('firewall')?.defaults.chain_prefix;
  if (typeof prefix !== 'string' || !CHAIN_PREFIX_PATTERN.test(prefix)) {
    throw new RoleError(
      `${where}: chain_prefix ${prefix === undefined ? 'is missing' : `${JSON.stringify(prefix)} is invalid`}: ` +
        `it must be ${CHAIN_PREFIX_RULE}; set e.g. \`chain_prefix: MESHCTL\``,
    );
  }
  return { chainPrefix: prefix };
}

/** The manifest as written on the gateway. */
export function manifestText(manifest: Manifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

export function sha256(content: string): string {
  return createHash('sha256').update(content, 'utf8').digest('hex');
}

/**
 * Path → sha256 of each file (the manifest's `files`), in the files' order. Added one by one, a record this large
 * is held as a dictionary, not as one hidden class per path per gateway, and serializes in the same order.
 */
function fileChecksums(files: DesiredFile[]): Record<string, string> {
  const sums: Record<string, string> = {};
  for (const f of files) {
    // on the file too: the planner compares it with the gateway's without hashing the content again
    f.sha256 = sha256(f.content);
    sums[f.path] = f.sha256;
  }
  return sums;
}

/** Whether `sort()` would leave the list as it is. */
function isSorted(list: string[]): boolean {
  for (let i = 1; i < list.length; i++) if (list[i - 1]! > list[i]!) return false;
  return true;
}

/** What a file that restarts nothing notifies: one list for all of them (never modified). */
const NOTHING: string[] = [];

/** A list already sorted (one unit, or none) is held as given, shared by the files that notify it. */
function file(path: string, content: string, mode: number, notifies: string[], secret = false): DesiredFile {
  return {
    path,
    content,
    mode,
    owner: 'root',
    secret,
    notifies: isSorted(notifies) ? notifies : [...notifies].sort(),
    // set by fileChecksums; present from the start, so every file keeps one shape
    sha256: undefined,
  };
}

/** PEM and key files end with a newline whatever the source gave, so checksums do not flap. */
function withNewline(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}

function keyFiles(
  mesh: Mesh,
  lan: Gateway,
  tunnels: Tunnel[],
  pki: PkiMaterial,
  tunnelUnits: string[],
  shared: Shared,
): DesiredFile[] {
  const own = pki.gateways.get(lan.name);
  if (!own) {
    throw new PkiError(
      `the PKI of mesh ${mesh.name} has no certificate for gateway ${lan.name}: run meshctl again so it issues one (pki_dir ${mesh.inventory.mesh.pkiDir})`,
    );
  }
  const key = withNewline(own.key);
  // what a change to the gateway's own material restarts: every tunnel (one sorted list for those files)
  const restart = [...tunnelUnits].sort();
  const files = [
    // a new CA or a new certificate/key only takes effect when each tunnel restarts
    file(gatewayPaths.caCert, withNewline(pki.caCert), PUBLIC, restart),
    // OpenVPN loads a changed CRL when it sets up its next TLS session (the first handshake after the change may
    // still be checked against the old one): no restart here. remove-lan stops every tunnel that accepted the
    // revoked CN; rotate --gateway restarts the tunnels that verify the rotated gateway itself
    file(gatewayPaths.crl, withNewline(pki.crl), PUBLIC, NOTHING),
    file(gatewayPaths.cert(lan.name), withNewline(own.cert), PUBLIC, restart),
    file(gatewayPaths.key(lan.name), key, SECRET, restart, true),
    // every tunnel's management interface (read by `meshctl status`); OpenVPN reads it at start only
    file(gatewayPaths.managementPassword, `${managementPassword(key, lan.name)}\n`, SECRET, restart, true),
  ];
  for (const t of tunnels) {
    const key = pki.tlsCrypt.get(t.pair.index);
    if (key === undefined) {
      throw new PkiError(
        `the PKI of mesh ${mesh.name} has no tls-crypt key for pair ${t.pair.index} (${t.pair.low.name} <-> ${t.pair.high.name}): run meshctl again so it creates one (pki_dir ${mesh.inventory.mesh.pkiDir})`,
      );
    }
    files.push(
      file(
        gatewayPaths.tlsCrypt(t.pair.index),
        withNewline(key),
        SECRET,
        notifiesOnly(shared, unitOf(shared, t.name)),
        true,
      ),
    );
  }
  return files;
}

function tunnelConfig(mesh: Mesh, t: Tunnel, roles: Roles, bgp: boolean, shared: Shared): DesiredFile {
  const { keepalive, extra } = mesh.inventory.mesh.openvpn;
  const content = renderTemplate(roles, 'openvpn-tunnel', 'tunnel.conf.liquid', {
    mesh: { name: mesh.name },
    local: { name: t.local.name, id: t.local.id },
    peer: { name: t.peer.name, id: t.peer.id, endpoint: t.peer.endpoint },
    // static: routes to the peer's own subnets (those through it are routes.sh's); bgp: FRR installs every route
    routing: bgp ? 'bgp' : 'static',
    routes: bgp
      ? []
      : t.peer.subnets.map((cidr) => {
          const parsed = parseCidr(cidr);
          return { cidr, network: cidr.split('/')[0], netmask: netmask(parsed.prefix) };
        }),
    pair: { index: t.pair.index, port: t.port, device: t.device },
    role: t.role,
    local_address: t.localAddress,
    peer_address: t.peerAddress,
    files: {
      ca: gatewayPaths.caCert,
      cert: gatewayPaths.cert(t.local.name),
      key: gatewayPaths.key(t.local.name),
      tls_crypt: gatewayPaths.tlsCrypt(t.pair.index),
      crl: gatewayPaths.crl,
      status: gatewayPaths.status(t.name),
    },
    // TCP on localhost, the same number as the tunnel's UDP port (unique per gateway, so no two tunnels collide)
    management: {
      address: MANAGEMENT_ADDRESS,
      port: t.port,
      password_file: gatewayPaths.managementPassword,
    },
    keepalive: { interval: keepalive[0], timeout: keepalive[1] },
    extra,
  });
  return file(
    gatewayPaths.tunnelConfig(t.name),
    content,
    PUBLIC,
    notifiesOnly(shared, unitOf(shared, t.name)),
  );
}

/**
 * The drop-in that orders a tunnel's unit after the firewall unit and binds it to it. It changes only how systemd
 * schedules the unit: a daemon-reload applies it, the running tunnel is not restarted (it notifies nothing).
 */
function tunnelDropIn(
  mesh: Mesh,
  lan: Gateway,
  t: Tunnel,
  roles: Roles,
  transitRoutes: boolean,
  shared: Shared,
): DesiredFile {
  const content = renderTemplate(roles, 'firewall', 'tunnel-unit.conf.liquid', {
    mesh: { name: mesh.name },
    lan: { name: lan.name },
    peer: { name: t.peer.name },
    unit: unitOf(shared, t.name),
    firewall_unit: FIREWALL_UNIT,
    // a gateway with routes through a peer re-applies them whenever one of its tunnel devices (re)appears
    routes_script: transitRoutes ? gatewayPaths.routesScript : '',
    device: t.device,
  });
  return file(gatewayPaths.tunnelDropIn(t.name), content, PUBLIC, NOTHING);
}

/** The remote subnets this tunnel carries that its peer does not own: reached through it (transit). */
function routedThrough(t: Tunnel): string[] {
  return t.routes.filter((subnet) => !t.peer.subnets.includes(subnet));
}

/**
 * Routes to subnets reached through a peer (SPEC §7): a script that installs exactly these routes (and removes
 * meshctl's others), run by its own unit at boot and on change, and by each tunnel unit when its device appears.
 * Changing a route reruns the script: no tunnel restarts.
 */
function routeFiles(mesh: Mesh, lan: Gateway, tunnels: Tunnel[], roles: Roles): DesiredFile[] {
  const vars = {
    mesh: { name: mesh.name },
    lan: { name: lan.name },
    routes: tunnels.flatMap((t) =>
      routedThrough(t).map((subnet) => ({ subnet, device: t.device, via: t.peerAddress, peer: t.peer.name })),
    ),
    route_protocol: ROUTE_PROTOCOL,
    paths: { routes_script: gatewayPaths.routesScript },
    firewall_unit: FIREWALL_UNIT,
  };
  return [
    file(gatewayPaths.routesScript, renderTemplate(roles, 'routing', 'routes.sh.liquid', vars), EXECUTABLE, [
      ROUTES_UNIT,
    ]),
    file(
      gatewayPaths.routesUnit,
      renderTemplate(roles, 'routing', 'meshctl-routes.service.liquid', vars),
      PUBLIC,
      [ROUTES_UNIT],
    ),
  ];
}

/** `admits` and `routes` with the peer's own subnets first, in its order: one-gateway full meshes render as before. */
function peerFirst(subnets: string[], peer: Gateway): string[] {
  return [
    ...peer.subnets.filter((s) => subnets.includes(s)),
    ...subnets.filter((s) => !peer.subnets.includes(s)),
  ];
}

function systemFiles(
  mesh: Mesh,
  lan: Gateway,
  tunnels: Tunnel[],
  roles: Roles,
  firewall: FirewallLayout,
  policy?: BgpPolicy,
): DesiredFile[] {
  const outDevice = new Map(tunnels.flatMap((t) => t.routes.map((subnet) => [subnet, t.device] as const)));
  const vars = {
    // the checked value, whatever else defaults.yml holds
    chain_prefix: firewall.chainPrefix,
    // a mesh with leaves or gateways per AZ forwards many remote subnets per tunnel: shared chains for the local
    // subnets keep the rule count linear; a one-gateway full mesh keeps the rules it always had, byte for byte
    lan_chains: mesh.inventory.lans.some((l) => l.via.length > 0 || l.gateways.length > 1),
    mesh: { name: mesh.name },
    lan: { name: lan.name, id: lan.id, subnets: lan.subnets },
    tunnels: tunnels.map((t) => ({
      peer: t.peer.name,
      peer_id: t.peer.id,
      pair_index: t.pair.index,
      device: t.device,
      port: t.port,
      endpoint: t.peer.endpoint,
      endpoint_is_address: isIpv4Address(t.peer.endpoint),
      // the source check admits what routing delivers over this tunnel; the forward rules pair each local subnet
      // with every remote subnet routed over it (in) or admitted from it (out): for a one-gateway full mesh
      // both are the peer's subnets, as they always were
      admits: peerFirst(t.admits, t.peer),
      forward: peerFirst([...new Set([...t.routes, ...t.admits])], t.peer).map((subnet) => ({
        subnet,
        in: t.admits.includes(subnet),
        out: t.routes.includes(subnet),
      })),
      // each destination forwarded onward leaves through the tunnel routing sends it over, and no other way: a
      // tunnel that is down takes its routes with it, and the traffic must not fall through to the default route
      transit: t.transit.map((subnet) => ({ subnet, device: outDevice.get(subnet) })),
      peer_address: t.peerAddress,
      local_address: t.localAddress,
    })),
    paths: {
      sysctl: gatewayPaths.sysctl,
      iptables_rules: gatewayPaths.iptablesRules,
      firewall_script: gatewayPaths.firewallScript,
    },
    bgp: policy !== undefined,
  };
  const rules = policy
    ? renderTemplate(
        roles,
        'firewall',
        'iptables-bgp.rules.liquid',
        bgpFirewallVars(mesh, lan, tunnels, policy, vars),
      )
    : renderTemplate(roles, 'firewall', 'iptables.rules.liquid', vars);
  // the unit applies the sysctl file and loads the firewall: a change to any of them re-runs it
  const notify = [FIREWALL_UNIT];
  return [
    file(
      gatewayPaths.sysctl,
      renderTemplate(roles, 'forwarding', '99-meshctl.conf.liquid', vars),
      PUBLIC,
      notify,
    ),
    file(gatewayPaths.iptablesRules, rules, PUBLIC, notify),
    file(
      gatewayPaths.firewallScript,
      renderTemplate(roles, 'firewall', 'firewall.sh.liquid', vars),
      EXECUTABLE,
      notify,
    ),
    file(
      gatewayPaths.firewallUnit,
      renderTemplate(roles, 'firewall', 'meshctl-firewall.service.liquid', vars),
      PUBLIC,
      notify,
    ),
  ];
}

/** A gateway's ASN under `routing: bgp` (SPEC §7): asn_base + its id. */
export function gatewayAsn(mesh: Mesh, gateway: Gateway): number {
  return mesh.inventory.mesh.bgp.asnBase + gateway.id;
}

/** The BGP sessions a gateway must have once converged: one per tunnel, each bringing at least the peer's own. */
function desiredBgp(mesh: Mesh, lan: Gateway, tunnels: Tunnel[], shared: Shared): DesiredBgp {
  // what a peer originates is the same from every gateway: one list per peer
  const expects = (peer: string) => {
    let list = shared.expects.get(peer);
    if (list === undefined) {
      list = mesh.bgp!.get(peer)!.originates.map((o) => o.subnet);
      shared.expects.set(peer, list);
    }
    return list;
  };
  return {
    asn: gatewayAsn(mesh, lan),
    neighbors: tunnels.map((t) => ({
      peer: t.peer.name,
      address: t.peerAddress,
      asn: gatewayAsn(mesh, t.peer),
      expects: expects(t.peer.name),
    })),
  };
}

/** The firewall of a bgp gateway: source checks and forwarding by address, whichever tunnel BGP picks. */
function bgpFirewallVars(
  mesh: Mesh,
  lan: Gateway,
  tunnels: Tunnel[],
  policy: BgpPolicy,
  common: Record<string, unknown>,
): Record<string, unknown> {
  const ownLan = mesh.inventory.lans.find((l) => l.name === lan.lan);
  const ownLanSubnets = [
    ...new Set(ownLan ? ownLan.gateways.flatMap((g) => [...g.subnets, ...g.backupSubnets]) : lan.subnets),
  ];
  return {
    ...common,
    stub: policy.stub,
    own_lan: ownLanSubnets,
    local_subnets: policy.originates.map((o) => o.subnet),
    remote: policy.remote,
    device_match: `${TUNNEL_DEVICE_PREFIX}+`,
    tunnels: tunnels.map((t) => {
      const leaf = mesh.bgp!.get(t.peer.name)!.stub;
      return {
        peer: t.peer.name,
        pair_index: t.pair.index,
        device: t.device,
        port: t.port,
        endpoint: t.peer.endpoint,
        endpoint_is_address: isIpv4Address(t.peer.endpoint),
        leaf,
        // a leaf's tunnel carries only what it may announce
        admits: leaf ? (policy.accepts.get(t.peer.name) ?? []) : [],
        peer_asn: gatewayAsn(mesh, t.peer),
        peer_address: t.peerAddress,
        local_address: t.localAddress,
      };
    }),
  };
}

/**
 * FRR's configuration (SPEC §3, §7): frr.conf (sessions, BFD, filters, what this gateway originates), reloaded in
 * place when it changes, and daemons (which FRR daemons run), whose change restarts FRR.
 */
function frrFiles(
  mesh: Mesh,
  lan: Gateway,
  tunnels: Tunnel[],
  roles: Roles,
  policy: BgpPolicy,
  bgp: DesiredBgp,
): DesiredFile[] {
  // A subnet is accepted only with its owner's ASN as the AS path's origin (or a backup gateway's), so a peer
  // may carry another LAN's subnet but never originate it: one prefix-list and one as-path list per gateway
  // that may originate what this one accepts, and per accepted set a route-map of those gateways. Neighbours
  // accepting the same set share the route-map: every remote gateway's is MESHCTL-IN-MESH, any other is named
  // after its peer (names stay put when LANs come and go).
  const announcedBy = new Map(mesh.inventory.gateways.map((g) => [g, [...g.subnets, ...g.backupSubnets]]));
  const announced = (g: Gateway) => announcedBy.get(g)!;
  const candidates = mesh.inventory.gateways.filter((g) => g.lan !== lan.lan && announced(g).length > 0);
  // the topology shares one accepted list among the peers of a part of the mesh (every core peer of a full
  // mesh): its origins are worked out once, not once per tunnel
  const originsByList = new Map<string[], { from: Gateway[]; key: string }>();
  const originsOf = (accepts: string[]) => {
    let found = originsByList.get(accepts);
    if (!found) {
      const set = new Set(accepts);
      const from = candidates.filter((g) => announced(g).every((s) => set.has(s)));
      found = { from, key: from.map((g) => g.name).join(' ') };
      originsByList.set(accepts, found);
    }
    return found;
  };
  const remoteKey = originsOf(policy.remote).key;
  const origins = new Map<string, Gateway>();
  const lists = new Map<string, { name: string; origins: string[] }>();
  const none: string[] = [];
  const neighbors = tunnels.map((t) => {
    const accepts = policy.accepts.get(t.peer.name) ?? none;
    const { from, key } = originsOf(accepts);
    let list = lists.get(key);
    if (!list) {
      for (const g of from) origins.set(g.name, g);
      list = {
        name: key === remoteKey ? 'MESHCTL-IN-MESH' : `MESHCTL-IN-${t.peer.name}`,
        origins: from.map((g) => `MESHCTL-FROM-${g.name}`),
      };
      lists.set(key, list);
    }
    return {
      peer: t.peer.name,
      tunnel: t.name,
      address: t.peerAddress,
      local_address: t.localAddress,
      asn: gatewayAsn(mesh, t.peer),
      in: list.name,
      // a ceiling against a flood, not the filter: a reload that shrinks the accepted set (remove-lan) applies the
      // new limit at once while the old prefixes are still counted, so it keeps room (and a torn-down session
      // comes back by itself after a minute)
      max_prefix: 2 * Math.max(1, accepts.length) + 16,
    };
  });
  const { intervalMs, multiplier } = mesh.inventory.mesh.bgp.bfd;
  const originated = policy.originates.map((o) => o.subnet);
  const vars = {
    mesh: { name: mesh.name },
    gateway: { name: lan.name, id: lan.id },
    asn: bgp.asn,
    // unique per gateway and fixed by its id; also BGP's last tie-break (compare-routerid): the lowest id wins,
    // the same rule static routing uses
    router_id: intToIp(lan.id),
    bfd: { interval_ms: intervalMs, multiplier },
    neighbors,
    originates: policy.originates,
    remote: policy.remote,
    accept_lists: [...lists.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    origins: [...origins.values()]
      .sort((a, b) => a.id - b.id)
      .map((g) => ({ name: `MESHCTL-FROM-${g.name}`, asn: gatewayAsn(mesh, g), subnets: announced(g) })),
    // a leaf announces its own subnets only (it is nobody's transit); a core one, every mesh subnet it knows
    announces: policy.stub ? originated : [...new Set([...originated, ...policy.remote])],
  };
  return [
    file(gatewayPaths.frrConf, renderTemplate(roles, 'frr', 'frr.conf.liquid', vars), PUBLIC, [FRR_UNIT]),
    file(gatewayPaths.frrDaemons, renderTemplate(roles, 'frr', 'daemons.liquid', vars), PUBLIC, [FRR_UNIT]),
  ];
}

/**
 * What a gateway that leaves the mesh should hold (remove-lan): nothing. Planned by the ordinary planner against
 * its manifest, it stops and removes exactly what meshctl put there, with a reason for everything left alone.
 */
export function retiringState(
  gateway: Gateway,
  meshName: string,
  roles: Roles,
  opts: RenderOptions,
): DesiredState {
  return {
    gateway,
    files: [],
    units: [],
    manifest: { mesh: meshName, version: opts.version, lan: gateway.name, files: {}, units: [] },
    manifestPath: gatewayPaths.manifest,
    firewall: firewallLayout(roles),
    retire: true,
  };
}
