import { type Cidr, canonical, isPrivate, parseCidr } from '../mesh/ipv4.js';
import { wrongType } from './fields.js';
import { type FileFindings, show } from './findings.js';

/** Shortest and longest LAN prefixes: /8 is the largest private block, a /30 still has two hosts. */
export const MIN_LAN_PREFIX = 8;
export const MAX_LAN_PREFIX = 30;

/**
 * Checks one CIDR value (a LAN subnet or the transit network) and returns it parsed, or undefined after reporting
 * every problem with it.
 */
export function checkCidr(
  value: unknown,
  field: string,
  findings: FileFindings,
  what: 'subnet' | 'transit',
): Cidr | undefined {
  if (typeof value !== 'string') {
    findings.error(
      field,
      value,
      wrongType(value, 'a network in CIDR form'),
      'write it as ADDRESS/PREFIX, e.g. 10.1.0.0/16',
    );
    return undefined;
  }
  let cidr: Cidr;
  try {
    if (!/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(value)) throw new Error('shape');
    cidr = parseCidr(value);
  } catch {
    findings.error(
      field,
      value,
      `${show(value)} is not an IPv4 network in CIDR form`,
      'write it as ADDRESS/PREFIX with a prefix length, e.g. 10.1.0.0/16 (IPv6 is not supported yet)',
    );
    return undefined;
  }
  let ok = true;
  const canonicalForm = canonical(cidr);
  if (canonicalForm !== value) {
    findings.error(field, value, `${show(value)} has host bits set`, `use ${canonicalForm}`);
    ok = false;
  }
  if (what === 'subnet' && (cidr.prefix < MIN_LAN_PREFIX || cidr.prefix > MAX_LAN_PREFIX)) {
    findings.error(
      field,
      value,
      cidr.prefix > MAX_LAN_PREFIX
        ? `${show(value)} is a /${cidr.prefix}: it leaves no room for hosts behind the gateway`
        : `${show(value)} is a /${cidr.prefix}: wider than any private network`,
      `use a prefix between /${MIN_LAN_PREFIX} and /${MAX_LAN_PREFIX}`,
    );
    ok = false;
  }
  if (!isPrivate(cidr)) {
    findings.error(
      field,
      value,
      `${show(value)} is not a private (RFC 1918) network`,
      'use a network inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16',
    );
    ok = false;
  }
  return ok ? { base: parseCidr(canonicalForm).base, prefix: cidr.prefix } : undefined;
}
