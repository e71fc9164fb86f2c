import type { Manifest } from '../types.js';

/**
 * What one read-only probe learns about a gateway (see probe.sh). Everything the planner compares against the
 * desired state comes from here, so a plan can be assembled and tested without a gateway.
 */

export type OsFamily = 'debian' | 'rhel' | 'amazon' | 'unknown';

export type PackageManager = 'apt-get' | 'dnf' | 'yum';

export interface OsFacts {
  /** `ID` of /etc/os-release, e.g. `debian`, `rocky`, `amzn`; empty when the file is missing. */
  id: string;
  /** `ID_LIKE`, split on spaces, e.g. `['rhel', 'centos', 'fedora']`. */
  idLike: string[];
  /** `VERSION_ID`, e.g. `12`, `9.4`, `2023`; empty when absent (e.g. Debian testing). */
  versionId: string;
  /** `VERSION_CODENAME`, e.g. `bookworm`, `trixie`; empty when absent. */
  codename: string;
  family: OsFamily;
}

/** A regular file that exists on the gateway. */
export interface FileFact {
  /** sha256 hex of the content. */
  sha256: string;
  /** Permission bits, e.g. 0o644. */
  mode: number;
  /** Owner user name. */
  owner: string;
}

/** `systemctl show` properties of one unit. */
export interface UnitFact {
  /** LoadState: `loaded`, `not-found`, `masked`, … */
  load: string;
  /** ActiveState: `active`, `inactive`, `failed`, `activating`, … */
  active: string;
  /** SubState: `running`, `exited`, `dead`, `auto-restart`, … */
  sub: string;
  /** UnitFileState: `enabled`, `disabled`, `static`, `masked`, or empty for a unit without a file. */
  enabled: string;
  /** MainPID; 0 when no process runs. */
  mainPid: number;
  /** StatusText (sd_notify STATUS=), empty when the service sends none. */
  statusText: string;
}

export type SystemdFacts =
  | { state: 'running'; version: number | null }
  | { state: 'not-booted'; version: number | null }
  | { state: 'missing' }
  | { state: 'unknown' };

export interface FrrFacts {
  /** e.g. `8.4.4`; null when FRR is not installed (no /usr/lib/frr/bgpd). */
  version: string | null;
  /** frr-reload.py exists: `systemctl reload frr` can load a changed frr.conf without restarting anything. */
  reload: boolean;
  /**
   * Package configuration files asked for, by path: `pristine` as the package shipped it, `changed` otherwise.
   * A path not listed is not one of the package's files (or FRR is not installed).
   */
  config: Record<string, 'pristine' | 'changed'>;
}

export interface FirewallFacts {
  /** iptables could be read (it exists and `iptables -S` succeeded). */
  readable: boolean;
  /** At least one of meshctl's chains exists. */
  chains: boolean;
  /** Both INPUT and FORWARD jump to one of meshctl's chains. */
  jumps: boolean;
}

export interface Facts {
  os: OsFacts;
  /** The package manager meshctl would install with, or null when none of apt-get/dnf/yum exists. */
  packageManager: PackageManager | null;
  /** e.g. `2.6.14`; null when `openvpn` is not installed. */
  openvpnVersion: string | null;
  /** The `openvpn-server@.service` template unit exists (OpenVPN ≥ 2.4 packages ship it). */
  hasServerTemplate: boolean;
  /** FRR (routing: bgp), as the probe found it. */
  frr: FrrFacts;
  /**
   * systemd: `running` (PID 1, with its version number, e.g. 252), `not-booted` (systemctl exists but systemd is
   * not PID 1: a container or chroot without it), `missing` (no systemctl), or `unknown` (the probe said nothing).
   */
  systemd: SystemdFacts;
  /**
   * Every probed path: the paths asked for, every path of the gateway's manifest, every
   * /etc/openvpn/server/mesh-*.conf present. null: the path does not exist (or is not a regular file — see warnings).
   */
  files: Record<string, FileFact | null>;
  /** Full unit names (`openvpn-server@mesh-branch.service`) → state. */
  units: Record<string, UnitFact>;
  /** /etc/meshctl/manifest.json; null when absent or unreadable (a corrupt one also adds a warning). */
  manifest: Manifest | null;
  /** net.ipv4.ip_forward is 1; null when it could not be read. */
  ipForward: boolean | null;
  firewall: FirewallFacts;
  /** Addresses, routes, sockets, clock and kernel settings, for the pre-flight checks. */
  network: NetworkFacts;
  /** Things the probe could not learn, each a full sentence. */
  warnings: string[];
}

/** An IPv4 address on an interface (`ip -4 -o addr show`). */
export interface AddressFact {
  iface: string;
  /** Address and prefix length, e.g. `10.1.0.5/24`. */
  cidr: string;
}

/** A route of any table but `local` (`ip -4 route show table all`). */
export interface RouteFact {
  /** Canonical destination network, e.g. `172.17.0.0/16`; `default` routes are not kept. */
  dest: string;
  /** Route type when not unicast: `blackhole`, `unreachable`, `prohibit`, `throw`. */
  type: string | null;
  dev: string | null;
  /** The routing table, when not `main`. */
  table: string | null;
  /** `proto` as ip prints it (`kernel`, `static`, `199`, …); null when not printed. */
  proto: string | null;
  /** A gateway route (`via`); false for a network on the link (a connected route). */
  via: boolean;
  /** The line as `ip` printed it, for messages. */
  line: string;
}

/** A UDP socket (`ss -ulnp`, or /proc/net/udp without ss). */
export interface UdpSocketFact {
  /** Local address as printed, e.g. `0.0.0.0`, `*`, `[::]`, `10.1.0.5`. */
  address: string;
  port: number;
  /** The processes holding it: empty when unknown (/proc/net/udp names none). */
  processes: { name: string; pid: number }[];
}

/** A line setting IPv4 forwarding in a sysctl file. */
export interface SysctlForwardFact {
  path: string;
  /** `net.ipv4.ip_forward` or `net.ipv4.conf.all.forwarding`, dotted. */
  key: string;
  value: string;
  line: string;
}

/** A base chain of nftables, as `nft list chains` shows it. */
export interface NftChainFact {
  /** `inet filter`. */
  table: string;
  chain: string;
  hook: string;
  policy: string;
}

/**
 * What the probe reads beyond meshctl's own files, for the pre-flight checks (src/plan/preflight.ts). Each field
 * is null when the probe did not read it (no such tool on the gateway, or an older probe): its check is skipped.
 */
export interface NetworkFacts {
  /** The gateway's clock, in seconds since the epoch. */
  clock: number | null;
  addresses: AddressFact[] | null;
  routes: RouteFact[] | null;
  /** More routes than the probe reads: collisions among the rest go unseen. */
  routesTruncated: boolean;
  udp: UdpSocketFact[] | null;
  /** Every sysctl file present, in the probe's directory order (/etc/sysctl.d first, /etc/sysctl.conf last). */
  sysctlFiles: string[] | null;
  /** Every line of a sysctl file that sets IPv4 forwarding (empty: none does). */
  sysctlForward: SysctlForwardFact[] | null;
  /** `iptables -S FORWARD`: the `-P FORWARD …` line and every rule, in order. */
  forwardChain: string[] | null;
  /** nftables base chains; null when `nft` is not installed. */
  nftChains: NftChainFact[] | null;
  /** net.ipv4.conf.<iface>.rp_filter by interface, with `all` and `default`. */
  rpFilter: Record<string, number> | null;
}
