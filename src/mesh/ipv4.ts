import ipaddr from 'ipaddr.js';

/** Small IPv4 helpers on top of ipaddr.js: integer arithmetic for allocation and overlap checks. */

export interface Cidr {
  /** Network address as an unsigned 32-bit integer. */
  base: number;
  prefix: number;
}

export function ipToInt(address: string): number {
  const bytes = ipaddr.IPv4.parse(address).toByteArray();
  return ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
}

export function intToIp(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

/** Parses `a.b.c.d/p`; throws on anything else. Does not require canonical form (see isCanonical). */
export function parseCidr(cidr: string): Cidr {
  const [address, prefix] = ipaddr.IPv4.parseCIDR(cidr);
  return { base: ipToInt(address.toString()), prefix };
}

export function cidrSize(c: Cidr): number {
  return 2 ** (32 - c.prefix);
}

export function netmask(prefix: number): string {
  return intToIp(prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);
}

/** The canonical form: host bits cleared. */
export function canonical(c: Cidr): string {
  const mask = c.prefix === 0 ? 0 : (0xffffffff << (32 - c.prefix)) >>> 0;
  return `${intToIp((c.base & mask) >>> 0)}/${c.prefix}`;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  const aEnd = a.base + cidrSize(a) - 1;
  const bEnd = b.base + cidrSize(b) - 1;
  return a.base <= bEnd && b.base <= aEnd;
}

/** True when every address of `inner` lies inside `outer`. */
export function contains(outer: Cidr, inner: Cidr): boolean {
  return inner.base >= outer.base && inner.base + cidrSize(inner) <= outer.base + cidrSize(outer);
}

const PRIVATE_RANGES = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'].map(parseCidr);

/** RFC 1918. */
export function isPrivate(c: Cidr): boolean {
  return PRIVATE_RANGES.some((range) => contains(range, c));
}
