import { canonical, intToIp, parseCidr } from '../mesh/ipv4.js';
import type {
  AddressFact,
  NetworkFacts,
  NftChainFact,
  RouteFact,
  SysctlForwardFact,
  UdpSocketFact,
} from './types.js';

/**
 * Parsers of the probe's pre-flight records (probe.sh: time, addr, route, udp-ss, udp-proc, sysctl-forward,
 * forward-chain, nft, rp-filter). Pure; a line that cannot be read is skipped, never fatal: these facts feed
 * warnings and refusals, and a gateway must not fail to plan because `ip` printed something new.
 */

/** What an older probe, or a gateway lacking every tool, tells: nothing (each check is skipped). */
export function unknownNetwork(): NetworkFacts {
  return {
    clock: null,
    addresses: null,
    routes: null,
    routesTruncated: false,
    udp: null,
    sysctlFiles: null,
    sysctlForward: null,
    forwardChain: null,
    nftChains: null,
    rpFilter: null,
  };
}

const ROUTE_TYPES = new Set(['blackhole', 'unreachable', 'prohibit', 'throw', 'unicast']);
const NOT_ROUTES = new Set(['local', 'broadcast', 'multicast', 'anycast', 'nat']);

function wordAfter(words: string[], key: string): string | null {
  const at = words.indexOf(key);
  return at >= 0 && at + 1 < words.length ? words[at + 1]! : null;
}

/** `10.1.0.0/16` or a host `10.1.0.5` → canonical CIDR; null for anything else (`default`, `nexthop`). */
function routeDestination(word: string): string | null {
  try {
    return canonical(parseCidr(word.includes('/') ? word : `${word}/32`));
  } catch {
    return null;
  }
}

/** One `ip -4 route show table all` line; null for default, local-table and unreadable lines. */
export function parseRoute(line: string): RouteFact | null {
  const words = line.trim().split(/\s+/);
  let type: string | null = null;
  if (NOT_ROUTES.has(words[0]!)) return null;
  if (ROUTE_TYPES.has(words[0]!)) type = words.shift()!;
  const dest = routeDestination(words[0] ?? '');
  if (!dest || dest === '0.0.0.0/0') return null;
  const table = wordAfter(words, 'table');
  return {
    dest,
    type: type === 'unicast' ? null : type,
    dev: wordAfter(words, 'dev'),
    table: table === 'main' ? null : table,
    proto: wordAfter(words, 'proto'),
    via: words.includes('via'),
    line: line.trim(),
  };
}

/** `2: eth1    inet 10.1.0.5/24 brd … scope global eth1\ …` → eth1, 10.1.0.5/24. */
export function parseAddress(line: string): AddressFact | null {
  const words = line.trim().split(/\s+/);
  const inet = wordAfter(words, 'inet');
  const iface = words[1]?.replace(/@.*$/, '');
  if (!inet || !iface) return null;
  // a point-to-point address (`inet 172.19.0.5 peer 172.19.0.6/32`) is a host of its own
  const cidr = inet.includes('/') ? inet : `${inet}/32`;
  try {
    parseCidr(cidr);
  } catch {
    return null;
  }
  return { iface, cidr };
}

/** `UNCONN 0 0 0.0.0.0:11001 0.0.0.0:* users:(("openvpn",pid=812,fd=6))`; null for the header. */
export function parseSsLine(line: string): UdpSocketFact | null {
  const local = line
    .trim()
    .split(/\s+/)
    .find((word) => /^.+:\d+$/.test(word));
  if (!local) return null;
  const colon = local.lastIndexOf(':');
  const processes = [...line.matchAll(/\("((?:[^"\\]|\\.)*)",pid=(\d+)/g)].map((m) => ({
    name: m[1]!,
    pid: Number(m[2]),
  }));
  return { address: local.slice(0, colon), port: Number(local.slice(colon + 1)), processes };
}

/** A /proc/net/udp(6) line: `0: 00000000:2AF9 00000000:0000 07 …` (no owner); null for the header. */
export function parseProcUdpLine(line: string): UdpSocketFact | null {
  const local = line.trim().split(/\s+/)[1] ?? '';
  const match = /^([0-9A-F]{8}|[0-9A-F]{32}):([0-9A-F]{4})$/.exec(local);
  if (!match) return null;
  const hex = match[1]!;
  let address = '*';
  if (!/^0+$/.test(hex)) {
    // the kernel prints an IPv4 address as one host-order (little-endian here) word
    address =
      hex.length === 8 ? intToIp(Number.parseInt(hex.match(/../g)!.reverse().join(''), 16)) : '[ipv6]';
  }
  return { address, port: Number.parseInt(match[2]!, 16), processes: [] };
}

/** `sysctl-forward PATH LINE` → the key (dotted) and the value it sets. */
export function parseSysctlForward(path: string, line: string): SysctlForwardFact | null {
  const eq = line.indexOf('=');
  if (eq < 0) return null;
  const key = line.slice(0, eq).trim().replace(/^-\s*/, '').replace(/\//g, '.');
  return { path, key, value: line.slice(eq + 1).trim(), line: line.trim() };
}

/** `nft list chains`' table / chain / type lines → the base chains with their hook and policy. */
export function parseNftChains(lines: string[]): NftChainFact[] {
  const chains: NftChainFact[] = [];
  let table = '';
  let chain = '';
  for (const line of lines) {
    const words = line.trim().replace(/[{;]/g, ' ').split(/\s+/).filter(Boolean);
    if (words[0] === 'table') table = words.slice(1).join(' ');
    else if (words[0] === 'chain') chain = words[1] ?? '';
    else if (words[0] === 'type') {
      const hook = wordAfter(words, 'hook');
      if (hook) chains.push({ table, chain, hook, policy: wordAfter(words, 'policy') ?? 'accept' });
    }
  }
  return chains;
}
