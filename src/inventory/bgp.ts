import type { BgpSettings, RoutingMode } from '../types.js';
import { checkUnknownKeys, type Mapping, readInteger, readMapping, readString } from './fields.js';
import type { FileFindings } from './findings.js';
import { childPath } from './line-index.js';
import { closest } from './suggest.js';

/**
 * `routing:` and `bgp:` of mesh.yml (SPEC §1, §7). The per-field rules live here; the rule that needs the gateways
 * (every gateway's ASN private) is a cross-check.
 */

export const ROUTING_MODES: readonly RoutingMode[] = ['static', 'bgp'];
export const BGP_KEYS = ['asn_base', 'bfd'] as const;
export const BFD_KEYS = ['interval_ms', 'multiplier'] as const;

/** Private 4-byte ASNs (RFC 6996); 4294967295 is reserved (RFC 7300). */
export const PRIVATE_ASN_MIN = 4200000000;
export const PRIVATE_ASN_MAX = 4294967294;

/** FRR's bfdd accepts transmit/receive intervals of 10..60000 ms and a detect multiplier of 2..255. */
export const BFD_INTERVAL_MS = { min: 10, max: 60000 } as const;
export const BFD_MULTIPLIER = { min: 2, max: 255 } as const;

/** A gateway's ASN under `routing: bgp` (SPEC §7): asn_base + its id. */
export function gatewayAsn(bgp: BgpSettings, id: number): number {
  return bgp.asnBase + id;
}

/** `routing:`; absent means static. Undefined after reporting a value that is not a mode. */
export function readRouting(data: Mapping, findings: FileFindings): RoutingMode | undefined {
  if (data.routing === undefined) return 'static';
  const value = readString(data, 'routing', '', findings);
  if (value === undefined) return undefined;
  if ((ROUTING_MODES as readonly string[]).includes(value)) return value as RoutingMode;
  const suggestion = closest(value, ROUTING_MODES);
  findings.error(
    'routing',
    value,
    `unknown routing mode ${JSON.stringify(value)}`,
    `${suggestion ? `did you mean "${suggestion}"? ` : ''}routing is one of: static (the default: meshctl computes one route per remote subnet), bgp (FRR runs BGP and BFD on every gateway)`,
  );
  return undefined;
}

/**
 * `bgp:` with its defaults filled in, or undefined when a key of it was refused (so the ASN cross-check does not
 * judge the gateways against a value the operator did not write). Read whatever `routing` says: a block that is
 * wrong now would be wrong the day routing becomes bgp.
 */
export function readBgp(
  data: Mapping,
  findings: FileFindings,
  defaults: BgpSettings,
): BgpSettings | undefined {
  const settings: BgpSettings = { asnBase: defaults.asnBase, bfd: { ...defaults.bfd } };
  const block = readMapping(data, 'bgp', '', findings);
  if (data.bgp === undefined) return settings;
  if (!block) return undefined;
  const before = findings.errorCount();
  checkUnknownKeys(block, 'bgp', BGP_KEYS, findings);

  const asnBase = readInteger(block, 'asn_base', 'bgp', findings);
  if (asnBase !== undefined) settings.asnBase = asnBase;

  const bfd = readMapping(block, 'bfd', 'bgp', findings);
  if (bfd) {
    checkUnknownKeys(bfd, 'bgp.bfd', BFD_KEYS, findings);
    const interval = readRanged(bfd, 'interval_ms', BFD_INTERVAL_MS, findings, (v) =>
      v < BFD_INTERVAL_MS.min
        ? `${v} ms is below ${BFD_INTERVAL_MS.min} ms, the shortest BFD interval FRR accepts`
        : `${v} ms is above ${BFD_INTERVAL_MS.max} ms, the longest BFD interval FRR accepts`,
    );
    if (interval !== undefined) settings.bfd.intervalMs = interval;
    const multiplier = readRanged(bfd, 'multiplier', BFD_MULTIPLIER, findings, (v) =>
      v < BFD_MULTIPLIER.min
        ? `${v} is below ${BFD_MULTIPLIER.min}, the smallest detect multiplier FRR accepts (1 would drop a session on one lost packet)`
        : `${v} is above ${BFD_MULTIPLIER.max}, the largest detect multiplier FRR accepts`,
    );
    if (multiplier !== undefined) settings.bfd.multiplier = multiplier;
  }
  return findings.errorCount() === before ? settings : undefined;
}

function readRanged(
  block: Mapping,
  key: (typeof BFD_KEYS)[number],
  range: { min: number; max: number },
  findings: FileFindings,
  problem: (value: number) => string,
): number | undefined {
  const value = readInteger(block, key, 'bgp.bfd', findings);
  if (value === undefined) return undefined;
  if (value >= range.min && value <= range.max) return value;
  const detect = key === 'interval_ms' ? ' (a session is declared down after interval_ms × multiplier)' : '';
  findings.error(
    childPath('bgp.bfd', key),
    value,
    problem(value),
    `use a whole number from ${range.min} to ${range.max}${detect}, e.g. ${key}: ${key === 'interval_ms' ? 300 : 3}`,
  );
  return undefined;
}
