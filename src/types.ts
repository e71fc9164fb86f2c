import type { BgpPolicy } from './topology/bgp.js';
import type { Topology } from './topology/types.js';

/**
 * The data model shared by every stage of the pipeline:
 *
 *   inventory ──load/validate──▶ Inventory ──allocateMesh (pure)──▶ Mesh ──render (pure)──▶ DesiredState per gateway
 *
 * Nothing here does I/O. Paths inside these objects are already resolved (absolute) by the loader.
 */

/** SSH settings after merging mesh.yml defaults with a LAN's overrides. */
export interface SshSettings {
  user: string;
  port: number;
  /** Absolute path, `~` expanded. Undefined: rely on ssh-agent (SSH_AUTH_SOCK). */
  identityFile?: string;
  /** Absolute path, `~` expanded. */
  knownHosts: string;
  /** Run privileged commands through `sudo -n`. */
  become: boolean;
}

export interface OpenVpnSettings {
  /** [interval, timeout] seconds, as OpenVPN's `keepalive`. */
  keepalive: [number, number];
  /** Extra directives appended verbatim to every tunnel config (validated: one directive per entry). */
  extra: string[];
}

/** How gateways learn the routes to other LANs (SPEC §7): computed by meshctl, or BGP between the gateways. */
export type RoutingMode = 'static' | 'bgp';

/** `bgp:` of mesh.yml: used only with `routing: bgp`. */
export interface BgpSettings {
  /** A gateway's ASN is asn_base + its id: every one a private 4-byte ASN (4200000000–4294967294). */
  asnBase: number;
  /** BFD on every session: transmit/receive interval (ms) and detect multiplier. */
  bfd: { intervalMs: number; multiplier: number };
}

export interface MeshSettings {
  name: string;
  /** Transit network in CIDR form, e.g. `172.19.0.0/16`. */
  transit: string;
  portBase: number;
  retiredIds: number[];
  /** Absolute path of the PKI directory. */
  pkiDir: string;
  ssh: SshSettings;
  openvpn: OpenVpnSettings;
  /** `routing:` of mesh.yml, `static` by default. */
  routing: RoutingMode;
  /** `bgp:` of mesh.yml with its defaults filled in (read even with static routing, used only with bgp). */
  bgp: BgpSettings;
}

/** Ids of the LAN's or gateway's cloud resources, for `meshctl routes` only (meshctl never calls a cloud API). */
export interface CloudIds {
  provider: 'aws' | 'gcp' | 'azure';
  /** Provider ids by kind: route tables, security group, instance, network interface, VPC network… */
  ids: Record<string, string[]>;
}

/**
 * A gateway: one Linux host that terminates tunnels for (part of) a LAN. A LAN with one gateway (`gateway:` in its
 * file) has one whose name and id are the LAN's and which serves all its subnets; a LAN with `gateways:` has one
 * per entry, each serving its own subnets (one per availability zone, SPEC §7).
 */
export interface Gateway {
  /** Unique among LAN and gateway names: certificate CN, tunnel names (`mesh-<name>`), the --limit unit. */
  name: string;
  /** From the LAN id space: pair indices, ports and transit addresses are computed from gateway ids (SPEC §2). */
  id: number;
  /** The name of the LAN it serves. */
  lan: string;
  /** Canonical CIDRs this gateway owns, e.g. `10.1.0.0/16`. */
  subnets: string[];
  /**
   * Subnets of its LAN that another gateway of the LAN owns and this one serves as a backup (`backup: true` in its
   * `subnets`, bgp only): advertised with a longer AS path, so peers use it only while the owner is unreachable.
   * Not in `subnets`. Empty for every gateway of a static mesh.
   */
  backupSubnets: string[];
  /** What peers connect to: IPv4 address or DNS name. */
  endpoint: string;
  /** What meshctl connects to over SSH (defaults to endpoint). */
  sshHost: string;
  ssh: SshSettings;
  /** Absolute path of the LAN's file. */
  file: string;
  cloud?: CloudIds;
}

/** A LAN (lans/NAME.yml): its address space, how it joins the mesh (core, or a leaf via core LANs), its gateways. */
export interface Lan {
  /** The file stem of lans/NAME.yml. */
  name: string;
  id: number;
  /** Canonical CIDRs, e.g. `10.1.0.0/16`: every gateway's subnets, in file order. */
  subnets: string[];
  /** Empty for a core LAN; otherwise the core LANs whose gateways this leaf tunnels to (SPEC §7). */
  via: string[];
  /** Sorted by id; one for a LAN written with `gateway:`. */
  gateways: Gateway[];
  /** Absolute path of the LAN's file. */
  file: string;
  cloud?: CloudIds;
}

export interface Inventory {
  /** Absolute path of the inventory directory. */
  dir: string;
  /** Absolute path of mesh.yml. */
  meshFile: string;
  mesh: MeshSettings;
  /** Sorted by id. */
  lans: Lan[];
  /** Every gateway of every LAN, sorted by id: what the engine converges, one DesiredState each. */
  gateways: Gateway[];
}

/** One validation finding. Errors stop the run; warnings are printed. */
export interface Diagnostic {
  severity: 'error' | 'warning';
  /** Path of the file, relative to the inventory dir's parent when possible (as the operator typed it). */
  file: string;
  line?: number;
  /** Dotted field path, e.g. `gateway.ssh.port` or `subnets[1]`. */
  field: string;
  /** The offending value, when there is one (never a secret). */
  value?: unknown;
  /** What is wrong. */
  message: string;
  /** How to fix it. */
  fix: string;
}

/** A tunnel between two LANs, as allocated by SPEC §2. Depends only on the two ids. */
export interface Pair {
  /** k = (b-1)(b-2)/2 + a for ids a < b. */
  index: number;
  /** The lower gateway id: TLS server of the pair, first host address of the /30. */
  low: Gateway;
  /** The higher id: TLS client, second host address. */
  high: Gateway;
  /** UDP port on both gateways: port_base + k. */
  port: number;
  /** The pair's /30 in the transit network. */
  transitNetwork: string;
  lowAddress: string;
  highAddress: string;
  /** tun device name, ≤ 15 chars, stable per pair. */
  device: string;
}

/** One end of a pair, seen from the gateway `local`. */
export interface Tunnel {
  pair: Pair;
  local: Gateway;
  peer: Gateway;
  /** The remote subnets routed over this tunnel (the peer's own, and those reached through it). */
  routes: string[];
  /** The source subnets this tunnel admits (what routing delivers over it). */
  admits: string[];
  /** Destinations beyond this gateway that traffic from the peer is forwarded to (transit through a hub). */
  transit: string[];
  /** `server` when local has the lower id. */
  role: 'server' | 'client';
  localAddress: string;
  peerAddress: string;
  port: number;
  device: string;
  /** `mesh-<peer>`: config file stem and systemd instance name. */
  name: string;
}

export interface Mesh {
  name: string;
  inventory: Inventory;
  /** Sorted by index: only the pairs the topology tunnels (SPEC §7). */
  pairs: Pair[];
  /** Tunnels per gateway name, sorted by peer id. */
  tunnels: Map<string, Tunnel[]>;
  topology: Topology;
  /** With `routing: bgp`: what each gateway originates and accepts from each peer (SPEC §7), by gateway name. */
  bgp?: Map<string, BgpPolicy>;
}

/** PKI material handed to the renderer (read by src/pki, never created by render). */
export interface PkiMaterial {
  /** PEM. */
  caCert: string;
  /** PEM. */
  crl: string;
  /** Per gateway name: certificate and private key (PEM). */
  gateways: Map<string, { cert: string; key: string }>;
  /** Per pair index: OpenVPN static key V1 text used by tls-crypt. */
  tlsCrypt: Map<number, string>;
}

/** A file meshctl wants on a gateway. */
export interface DesiredFile {
  /** Absolute path on the gateway. */
  path: string;
  content: string;
  /** e.g. 0o644, 0o600. */
  mode: number;
  owner: 'root';
  /** Key material: never printed, diffed or logged. */
  secret: boolean;
  /** Units to restart when this file changes. */
  notifies: string[];
  /** sha256 of `content` (hex), when render recorded it: what the planner compares without reading the content. */
  sha256?: string;
}

export interface DesiredUnit {
  /** Full unit name, e.g. `openvpn-server@mesh-branch.service` or `meshctl-firewall.service`. */
  name: string;
  enabled: boolean;
  running: boolean;
  /** For tunnel units: the pair and the peer, so apply knows which tunnels to verify and restart at both ends. */
  tunnel?: { pairIndex: number; peer: string; peerAddress: string };
}

export interface Manifest {
  mesh: string;
  version: string;
  lan: string;
  /** Managed path → sha256 hex of its content. */
  files: Record<string, string>;
  /** Managed unit names. */
  units: string[];
}

/** The BGP sessions a bgp gateway must have (SPEC §7): what apply verifies after it changes them. */
export interface DesiredBgp {
  asn: number;
  /** One per tunnel, in tunnel order. */
  neighbors: {
    peer: string;
    /** The peer's transit address: the session's neighbour address. */
    address: string;
    asn: number;
    /** What the peer originates: received from it once the session works. */
    expects: string[];
  }[];
}

/** Everything meshctl wants on one gateway. */
export interface DesiredState {
  gateway: Gateway;
  files: DesiredFile[];
  units: DesiredUnit[];
  /** The manifest, written last on apply. Its own path is not listed in `files`. */
  manifest: Manifest;
  manifestPath: string;
  /** What the probe and the fact parser need to know of the firewall this state renders. */
  firewall: FirewallLayout;
  /**
   * The gateway leaves the mesh (remove-lan): it wants no file and no unit, so the ordinary planner stops and
   * removes everything its manifest lists, and the manifest itself goes last instead of being rewritten.
   */
  retire?: true;
  /** With `routing: bgp`: the sessions FRR must hold here. */
  bgp?: DesiredBgp;
}

/** Settings of meshctl's firewall that come from the roles (roles/firewall/defaults.yml), not from the code. */
export interface FirewallLayout {
  /** Prefix of every iptables chain meshctl creates (`chain_prefix`), e.g. `MESHCTL` → `MESHCTL-INPUT`. */
  chainPrefix: string;
}
