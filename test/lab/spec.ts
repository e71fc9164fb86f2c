import { canonical, cidrSize, intToIp, overlaps, parseCidr } from '../../src/mesh/ipv4.js';

/** What a lab is made of, and where everything in it lives. Pure: no I/O. */

/**
 * The Debian releases a gateway can run, each with the OpenVPN it ships: bullseye 2.5.1, bookworm and trixie 2.6,
 * sid 2.7. All built with the same recipe; bookworm is the default.
 */
export const RELEASES = ['bullseye', 'bookworm', 'trixie', 'sid'] as const;
export type Release = (typeof RELEASES)[number];
export const DEFAULT_RELEASE: Release = 'bookworm';

export function isRelease(value: unknown): value is Release {
  return typeof value === 'string' && (RELEASES as readonly string[]).includes(value);
}

export interface GatewaySpec {
  /** LAN name, as in the inventory (`lans/<name>.yml`). */
  name: string;
  /** The LAN id; the gateway's public address is 198.18.0.<id>. */
  id: number;
  /**
   * Any prefix up to /30. The gateway takes the first host of each subnet; one LAN host per subnet takes the
   * tenth host (or the last usable one in subnets too small for ten).
   */
  subnets: string[];
  /**
   * The Debian release the gateway runs (default bookworm): bullseye ships OpenVPN 2.5, bookworm and trixie 2.6,
   * sid 2.7.
   */
  release?: Release;
  /**
   * Default true. False: an image without OpenVPN, with the local package folder (of the gateway's release) as
   * apt's only source.
   */
  openvpn?: boolean;
  /**
   * Default true: FRR 7.5 (bullseye), 8.4 (bookworm), 10.3 (trixie) or 10.7 (sid) with frr-pythontools, its
   * frr.service disabled (no zebra until meshctl enables it for `routing: bgp`). False: an image without FRR, with
   * the local package folder of the gateway's release (which also holds frr and frr-pythontools) as apt's only
   * source. Combines with `openvpn: false`.
   */
  frr?: boolean;
  /** A non-root SSH login with passwordless sudo; root login is then refused. */
  sshUser?: string;
  /** A per-host layer on disk that survives restart(); otherwise every start begins from the clean image. */
  persistent?: boolean;
}

export interface LabSpec {
  /** [a-z0-9]{1,8}: prefix of every namespace, cgroup and machine name, so labs never collide. */
  name: string;
  /** The mesh name written to the inventory; default `lab`. */
  mesh?: string;
  /** Copied to the inventory's mesh.yml when set. */
  transit?: string;
  portBase?: number;
  /** Copied to the inventory's mesh.yml (`routing:`) when set; meshctl's default is static. */
  routing?: 'static' | 'bgp';
  /** Copied to the inventory's mesh.yml (`bgp:`, keys in snake_case) when set, only the keys given. */
  bgp?: LabBgp;
  gateways: GatewaySpec[];
}

/** `bgp:` of mesh.yml as a lab spec gives it: any key left out is left out of the file (meshctl's default). */
export interface LabBgp {
  asn_base?: number;
  bfd?: { interval_ms?: number; multiplier?: number };
}

/** The lab's "internet": the bridge in the ctl namespace, from the benchmarking range that is never routed. */
export const PUBLIC_NETWORK = '198.18.0.0/24';
export const PUBLIC_PREFIX = 24;
export const BRIDGE_ADDRESS = '198.18.0.254';

export const LAB_NAME = /^[a-z0-9]{1,8}$/;
const GATEWAY_NAME = /^[a-z0-9][a-z0-9-]{0,30}$/;
const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;

export function publicAddress(id: number): string {
  return `198.18.0.${id}`;
}

/** The gateway's address in a LAN subnet: its first host. */
export function gatewayLanAddress(subnet: string): string {
  return intToIp(parseCidr(subnet).base + 1);
}

/** The LAN host's address: the tenth host, or the last usable one when the subnet is smaller. */
export function lanHostAddress(subnet: string): string {
  const cidr = parseCidr(subnet);
  return intToIp(cidr.base + Math.min(10, cidrSize(cidr) - 2));
}

export function prefixOf(subnet: string): number {
  return parseCidr(subnet).prefix;
}

/** Namespace and machine names, all starting with the lab's name. */
export const names = {
  ctl: (lab: string) => `${lab}-ctl`,
  gateway: (lab: string, gw: string) => `${lab}-gw-${gw}`,
  lan: (lab: string, gw: string, index: number) => `${lab}-lan-${gw}-${index}`,
  machine: (lab: string, gw: string) => `${lab}-${gw}`,
  cgroup: (lab: string) => `${lab}.meshctl-lab`,
  /** The veth end on the bridge, inside the ctl namespace (≤ 15 characters). */
  bridgePort: (id: number) => `gw${id}`,
};

/** Every problem with a spec, each naming the value, where it is, and the fix. Empty when valid. */
export function specProblems(spec: LabSpec): string[] {
  const problems: string[] = [];
  if (typeof spec.name !== 'string' || !LAB_NAME.test(spec.name)) {
    problems.push(`lab name ${JSON.stringify(spec.name)} is invalid: use 1 to 8 characters from a-z and 0-9`);
  }
  if (!Array.isArray(spec.gateways) || spec.gateways.length === 0) {
    problems.push('the lab has no gateways: list at least one under "gateways"');
    return problems;
  }
  const seenNames = new Set<string>();
  const seenIds = new Set<number>();
  const allSubnets: { subnet: string; where: string }[] = [];
  spec.gateways.forEach((gw, i) => {
    const where = `gateways[${i}]${typeof gw.name === 'string' ? ` (${gw.name})` : ''}`;
    if (typeof gw.name !== 'string' || !GATEWAY_NAME.test(gw.name)) {
      problems.push(
        `${where}.name ${JSON.stringify(gw.name)} is invalid: use a-z, 0-9 and '-', 1 to 31 characters`,
      );
    } else if (seenNames.has(gw.name)) {
      problems.push(`${where}.name '${gw.name}' is used twice: give each gateway its own name`);
    }
    seenNames.add(gw.name);
    if (!Number.isInteger(gw.id) || gw.id < 1 || gw.id > 253) {
      problems.push(
        `${where}.id ${JSON.stringify(gw.id)} is invalid: use an integer from 1 to 253 (198.18.0.<id>)`,
      );
    } else if (seenIds.has(gw.id)) {
      problems.push(`${where}.id ${gw.id} is used twice: give each gateway its own id`);
    }
    seenIds.add(gw.id);
    if (!Array.isArray(gw.subnets) || gw.subnets.length === 0) {
      problems.push(`${where}.subnets is empty: give at least one CIDR such as 10.10.${i + 1}.0/24`);
    } else {
      gw.subnets.forEach((subnet, j) => {
        const at = `${where}.subnets[${j}]`;
        let prefix: number;
        try {
          const cidr = parseCidr(subnet);
          prefix = cidr.prefix;
          if (canonical(cidr) !== subnet) {
            problems.push(`${at} ${subnet} has host bits set: write ${canonical(cidr)}`);
            return;
          }
        } catch {
          problems.push(`${at} ${JSON.stringify(subnet)} is not an IPv4 CIDR: write it like 10.10.1.0/24`);
          return;
        }
        if (prefix > 30) {
          problems.push(
            `${at} ${subnet} is too small for a gateway and a LAN host: use a prefix of /30 or shorter`,
          );
          return;
        }
        allSubnets.push({ subnet, where: at });
      });
    }
    if (gw.release !== undefined && !isRelease(gw.release)) {
      problems.push(
        `${where}.release ${JSON.stringify(gw.release)} is not a lab release: use one of ${RELEASES.join(', ')}`,
      );
    }
    if (gw.sshUser !== undefined && (!USER_NAME.test(gw.sshUser) || gw.sshUser === 'root')) {
      problems.push(
        `${where}.sshUser ${JSON.stringify(gw.sshUser)} is invalid: use a non-root user name like 'admin'`,
      );
    }
  });
  const publicNet = parseCidr(PUBLIC_NETWORK);
  allSubnets.forEach((a, i) => {
    if (overlaps(parseCidr(a.subnet), publicNet)) {
      problems.push(
        `${a.where} ${a.subnet} overlaps the lab's public network ${PUBLIC_NETWORK}: pick a private range`,
      );
    }
    for (const b of allSubnets.slice(i + 1)) {
      if (overlaps(parseCidr(a.subnet), parseCidr(b.subnet))) {
        problems.push(`${b.where} ${b.subnet} overlaps ${a.where} ${a.subnet}: LAN subnets must be disjoint`);
      }
    }
  });
  return problems;
}
