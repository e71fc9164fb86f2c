/**
 * The data model of `meshctl status` (SPEC §8):
 *
 *   gateway ──status.sh (one read-only command)──▶ stdout ──parseReading (pure)──▶ GatewayReading
 *   readings of every gateway + Mesh ──mergeStatus (pure)──▶ StatusReport ──formatters (pure)──▶ text, JSON,
 *   Prometheus textfile, HTML page
 *
 * Nothing here does I/O. A reading is what ONE end says; the report is both ends merged.
 */

/** One tunnel as one end sees it. */
export type EndState =
  /** OpenVPN CONNECTED and the peer's transit address answers. */
  | 'up'
  /** The unit runs and OpenVPN is still (or again) negotiating. */
  | 'connecting'
  /** OpenVPN says connected, but the peer's transit address does not answer. */
  | 'down'
  /** The config is on the gateway but its unit is not running (stopped, failed). */
  | 'not-running'
  /** No config for this tunnel on the gateway: apply has not put it there. */
  | 'not-deployed'
  /** The gateway could not be read, or what it printed for this tunnel could not be understood. */
  | 'unknown';

/** A packet-loss and round-trip measurement (ping). */
export interface PingResult {
  sent: number;
  received: number;
  /** 0–100. */
  lossPercent: number;
  /** Average round trip in milliseconds; null when nothing answered. */
  rttMs: number | null;
}

/** What the age of the last packet received from the peer is known to be (sampled during the read). */
export type LastReceived =
  /** A packet came in within the last `seconds` (the read saw the received-bytes counter grow). */
  | { within: number }
  /** Nothing came in during the last `seconds`. */
  | { over: number };

/** One tunnel, from one end's reading (parsed; every field that could not be read is null). */
export interface TunnelReading {
  /** `openvpn-server@mesh-<peer>.service`. */
  unit: string;
  /** The peer gateway's name. */
  peer: string;
  /** The tunnel's config file is on the gateway. */
  deployed: boolean;
  /** systemd's ActiveState (`active`, `inactive`, `failed`, `activating`, …); null when unknown. */
  activeState: string | null;
  /** OpenVPN's own state from its management interface (`CONNECTED`, `RECONNECTING`, `WAIT`, …). */
  openvpnState: string | null;
  /** Unix seconds of OpenVPN's last state change (for CONNECTED: since when the tunnel is up). */
  stateSince: number | null;
  /** `ADDRESS:PORT` of the peer this end talks to. */
  peerAddress: string | null;
  /** Bytes received from / sent to the peer over UDP since OpenVPN started. */
  bytesIn: number | null;
  bytesOut: number | null;
  lastReceived: LastReceived | null;
  /** Ping of the peer's transit address through the tunnel. */
  ping: PingResult | null;
  /** Why part of this tunnel's reading is missing (e.g. the management interface did not answer); null if none. */
  problem: string | null;
}

/** One BGP neighbour (routing: bgp), from FRR. */
export interface BgpReading {
  /** Neighbour (transit) address. */
  address: string;
  state: string;
  prefixesReceived: number;
}

/** One LAN-to-LAN probe run by this gateway: from its LAN address to a remote gateway's LAN address. */
export interface ProbeReading {
  /** The remote gateway's name. */
  target: string;
  source: string;
  destination: string;
  ping: PingResult | null;
  /** The tun device the route to the destination leaves by (`ip route get`); null when no route. */
  device: string | null;
  /** With bgp: the AS path of the best route to the destination's subnet (ASNs, nearest first). */
  asPath: number[] | null;
}

/** Everything one gateway's read told, parsed. */
export interface GatewayReading {
  gateway: string;
  /** Bastion clock (ms) when the read started and ended. */
  startedAt: number;
  finishedAt: number;
  /** Gateway clock (unix seconds) as the read ran, to turn stateSince into an age. */
  gatewayTime: number | null;
  /** The gateway's IPv4 addresses, `DEVICE CIDR` (e.g. `eth1 10.1.0.1/24`), mesh tun devices included. */
  addresses: { device: string; cidr: string }[];
  /** Its own certificate as deployed (PEM); null when it could not be read. */
  certificatePem: string | null;
  tunnels: TunnelReading[];
  /** Null when FRR is not asked about (static routing) or did not answer. */
  bgp: BgpReading[] | null;
  probes: ProbeReading[];
  /** Record lines that could not be understood (kept for the "could not read" message and for debugging). */
  unreadable: string[];
  /**
   * Why the reading as a whole is incomplete (no status records at all, an unknown format, output cut short before
   * `ready` or `end`); absent when it is complete.
   */
  problem?: string;
}

/** A gateway that could not be read at all (no connection, the command failed, its output made no sense). */
export interface GatewayFailure {
  gateway: string;
  error: string;
}

export type Reading = GatewayReading | GatewayFailure;

export function isFailure(reading: Reading | undefined): reading is GatewayFailure {
  return reading !== undefined && 'error' in reading;
}

/** How the whole mesh is: the exit code of `status` follows it (0, 2, 1). */
export type Health = 'healthy' | 'degraded' | 'error';

/** One end of a tunnel in the report. */
export interface TunnelEnd {
  gateway: string;
  state: EndState;
  /** ISO time since when the tunnel is in this state at this end (from OpenVPN); null when unknown. */
  since: string | null;
  peerAddress: string | null;
  bytesIn: number | null;
  bytesOut: number | null;
  /** Bytes per second since the previous read (--watch); null on a first read. */
  rateIn: number | null;
  rateOut: number | null;
  lastReceived: LastReceived | null;
  rttMs: number | null;
  lossPercent: number | null;
  /** Days until the peer's certificate (as deployed on the peer) expires; negative once expired. */
  peerCertificateDaysLeft: number | null;
  /** With bgp: the session with the peer. */
  bgp: { state: string; prefixesReceived: number } | null;
  /** What is wrong at this end, in words; null when nothing is. */
  problem: string | null;
}

/**
 * A tunnel's merged state: `up` when both ends say up; `down` when both say it is not; `disagree` when one end
 * says up and the other does not (`disagreeing` names the end that is not up); `unknown` when an end could not be
 * read.
 */
export type PairState = 'up' | 'down' | 'disagree' | 'unknown';

export interface TunnelStatus {
  pair: number;
  kind: 'core' | 'leaf';
  port: number;
  device: string;
  /** Gateway names, lower id first. */
  low: string;
  high: string;
  state: PairState;
  /** With `disagree`: the gateway whose end is not up. */
  disagreeing: string | null;
  /**
   * The end where the problem is, when one end can be named: the end not up (disagree), the end that could not be
   * read (unknown), or, with both ends down, the end whose own state is furthest from up (not deployed, then not
   * running, then connecting: a stopped unit at one end leaves the other end merely unanswered). Null when the
   * pair is up or both ends are equally down.
   */
  blame: string | null;
  /** [low end, high end]. */
  ends: [TunnelEnd, TunnelEnd];
}

/** One probe in the report: from one gateway of LAN a to one gateway of LAN b. */
export interface ProbeStatus {
  from: string;
  to: string;
  source: string | null;
  destination: string | null;
  ok: boolean | null;
  rttMs: number | null;
  lossPercent: number | null;
  /** Gateway names the probe's route goes through, first hop first, ending at `to`; null when unknown. */
  path: string[] | null;
  problem: string | null;
}

/**
 * A LAN pair: `up` when every probe between their gateways answers; `down` when a probe fails; `unknown` when no
 * probe could run (a gateway unread, no LAN address found).
 */
export interface LanPairStatus {
  a: string;
  b: string;
  state: 'up' | 'down' | 'unknown';
  probes: ProbeStatus[];
}

export interface GatewayStatus {
  name: string;
  lan: string;
  read: boolean;
  /** Why the gateway could not be read; null when it was. */
  error: string | null;
  lanAddress: string | null;
  certificateDaysLeft: number | null;
  /** How long its read took, in ms. */
  durationMs: number | null;
  /** Lines of its output that could not be understood. */
  unreadable: number;
  /** Why its reading is incomplete (output cut short, no status records); null when it is complete. */
  problem: string | null;
}

export interface StatusReport {
  mesh: string;
  routing: 'static' | 'bgp';
  /** ISO time of the read (bastion clock). */
  checkedAt: string;
  health: Health;
  /** 0 healthy, 2 degraded, 1 error. */
  exitCode: 0 | 1 | 2;
  gateways: GatewayStatus[];
  tunnels: TunnelStatus[];
  lanPairs: LanPairStatus[];
  /** LAN names in id order (the matrix's rows and columns). */
  lans: string[];
}
