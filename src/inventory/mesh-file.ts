import type { Cidr } from '../mesh/ipv4.js';
import type { BgpSettings, OpenVpnSettings, RoutingMode, SshSettings } from '../types.js';
import { readBgp, readRouting } from './bgp.js';
import { checkCidr } from './cidrs.js';
import {
  checkInteger,
  checkUnknownKeys,
  isMapping,
  readList,
  readMapping,
  readString,
  wrongType,
} from './fields.js';
import type { FileFindings } from './findings.js';
import { childPath, itemPath } from './line-index.js';
import { NAME_PATTERN, NAME_RULE, suggestName } from './names.js';
import { extraDirectiveProblem } from './openvpn-extra.js';
import { defaultSshSettings, expandPath, type PathContext, readSshBlock } from './ssh-settings.js';

export const MESH_KEYS = [
  'name',
  'transit',
  'port_base',
  'retired_ids',
  'pki_dir',
  'ssh',
  'openvpn',
  'routing',
  'bgp',
] as const;
export const OPENVPN_KEYS = ['keepalive', 'extra'] as const;

export const DEFAULT_TRANSIT = '172.19.0.0/16';
export const DEFAULT_PORT_BASE = 11000;
export const DEFAULT_KEEPALIVE: [number, number] = [10, 60];

/** Lowest and highest port_base: unprivileged, and room for at least pair 1. */
export const MIN_PORT_BASE = 1024;
export const MAX_PORT_BASE = 65534;

/** mesh.yml after per-field validation. A field that failed validation is undefined; cross-checks skip it. */
export interface MeshDraft {
  findings: FileFindings;
  name?: string;
  transit?: string;
  transitCidr?: Cidr;
  portBase?: number;
  retiredIds: number[];
  pkiDir: string;
  ssh: SshSettings;
  openvpn: OpenVpnSettings;
  /** Undefined when mesh.yml could not be read or its routing: was refused: rules that depend on it are skipped. */
  routing?: RoutingMode;
  /** Defaults filled in; undefined when a key of bgp: was refused. */
  bgp?: BgpSettings;
}

/** `bgp:` when mesh.yml leaves it out (SPEC §1): private 4-byte ASNs from 4200000000, BFD 300 ms × 3. */
export const DEFAULT_BGP: BgpSettings = { asnBase: 4200000000, bfd: { intervalMs: 300, multiplier: 3 } };

const LAN_ONLY_KEYS: Record<string, string> = {
  id: 'LAN settings belong in lans/NAME.yml, not mesh.yml',
  subnets: 'LAN settings belong in lans/NAME.yml, not mesh.yml',
  gateway: 'LAN settings belong in lans/NAME.yml, not mesh.yml',
};

/** The defaults of every mesh.yml key; also what LANs are checked against when mesh.yml cannot be read. */
export function defaultMeshDraft(findings: FileFindings, context: PathContext): MeshDraft {
  return {
    findings,
    retiredIds: [],
    pkiDir: expandPath('pki', context),
    ssh: defaultSshSettings(context),
    openvpn: { keepalive: [...DEFAULT_KEEPALIVE], extra: [] },
    bgp: { asnBase: DEFAULT_BGP.asnBase, bfd: { ...DEFAULT_BGP.bfd } },
  };
}

export function readMeshFile(data: unknown, findings: FileFindings, context: PathContext): MeshDraft {
  const draft = defaultMeshDraft(findings, context);
  if (!isMapping(data)) {
    findings.error(
      '',
      data ?? undefined,
      data === null || data === undefined ? 'mesh.yml is empty' : 'mesh.yml is not a mapping of settings',
      'start from `meshctl init` and write settings as key: value lines, at least `name: MESHNAME`',
    );
    return draft;
  }
  checkUnknownKeys(data, '', MESH_KEYS, findings, LAN_ONLY_KEYS);

  const name = readString(data, 'name', '', findings, {
    required: true,
    missingFix: 'add a line `name: corp` (the mesh name, written on every gateway)',
  });
  if (name !== undefined) {
    if (NAME_PATTERN.test(name)) draft.name = name;
    else
      findings.error(
        'name',
        name,
        `${JSON.stringify(name)} is not allowed as the mesh name: ${NAME_RULE}`,
        `use e.g. name: ${suggestName(name)}`,
      );
  }

  if (data.transit === undefined) {
    draft.transit = DEFAULT_TRANSIT;
    draft.transitCidr = checkCidr(DEFAULT_TRANSIT, 'transit', findings, 'transit');
  } else {
    const cidr = checkCidr(data.transit, 'transit', findings, 'transit');
    if (cidr) {
      draft.transit = data.transit as string;
      draft.transitCidr = cidr;
    }
  }

  if (data.port_base === undefined) draft.portBase = DEFAULT_PORT_BASE;
  else {
    const portBase = checkInteger(data.port_base, 'port_base', findings);
    if (portBase !== undefined) {
      if (portBase >= MIN_PORT_BASE && portBase <= MAX_PORT_BASE) draft.portBase = portBase;
      else {
        findings.error(
          'port_base',
          portBase,
          `port_base ${portBase} is outside ${MIN_PORT_BASE}..${MAX_PORT_BASE} (pair k uses UDP port port_base + k)`,
          `use an unprivileged base with room above it, e.g. ${DEFAULT_PORT_BASE}`,
        );
      }
    }
  }

  draft.retiredIds = readRetiredIds(data, findings);

  const pkiDir = readString(data, 'pki_dir', '', findings);
  if (pkiDir !== undefined) draft.pkiDir = expandPath(pkiDir, context);

  const ssh = readMapping(data, 'ssh', '', findings);
  if (ssh) Object.assign(draft.ssh, readSshBlock(ssh, 'ssh', findings, context));

  const openvpn = readMapping(data, 'openvpn', '', findings);
  if (openvpn) readOpenVpn(openvpn, findings, draft.openvpn);

  const routing = readRouting(data, findings);
  if (routing !== undefined) draft.routing = routing;
  draft.bgp = readBgp(data, findings, DEFAULT_BGP);
  if (routing === 'static' && data.bgp !== undefined) {
    findings.warning(
      'bgp',
      undefined,
      `the block is ignored: ${data.routing === undefined ? 'there is no routing: key, so routing is static (the default)' : 'routing is static'}, and only routing: bgp uses it`,
      'set routing: bgp to run BGP between the gateways, or remove the bgp: block',
    );
  }
  return draft;
}

function readRetiredIds(data: Record<string, unknown>, findings: FileFindings): number[] {
  const list = readList(data, 'retired_ids', '', findings);
  if (!list) return [];
  const ids: number[] = [];
  list.forEach((value, i) => {
    const field = itemPath('retired_ids', i);
    const id = checkInteger(value, field, findings);
    if (id === undefined) return;
    if (id < 1)
      findings.error(
        field,
        id,
        `${id} is not a positive integer, so it was never a LAN id`,
        'LAN ids start at 1: remove it',
      );
    else if (ids.includes(id)) findings.error(field, id, `${id} is listed twice`, `remove the second ${id}`);
    else ids.push(id);
  });
  return ids;
}

function readOpenVpn(
  block: Record<string, unknown>,
  findings: FileFindings,
  settings: OpenVpnSettings,
): void {
  checkUnknownKeys(block, 'openvpn', OPENVPN_KEYS, findings);
  const keepalive = readList(block, 'keepalive', 'openvpn', findings);
  if (keepalive) {
    const field = childPath('openvpn', 'keepalive');
    const fix = `write two whole seconds, interval then timeout, e.g. keepalive: [${DEFAULT_KEEPALIVE.join(', ')}]`;
    if (keepalive.length !== 2) {
      findings.error(
        field,
        keepalive,
        `${JSON.stringify(keepalive)} has ${keepalive.length} ${keepalive.length === 1 ? 'entry' : 'entries'}, not 2`,
        fix,
      );
    } else {
      const [interval, timeout] = keepalive.map((v, i) => checkInteger(v, itemPath(field, i), findings));
      if (interval !== undefined && timeout !== undefined) {
        if (interval < 1 || timeout < 1)
          findings.error(field, keepalive, `${JSON.stringify(keepalive)}: both values must be positive`, fix);
        else if (timeout < 2 * interval) {
          // OpenVPN refuses to start otherwise ("must be at least twice the value of the first parameter")
          findings.error(
            field,
            keepalive,
            `${JSON.stringify(keepalive)}: OpenVPN needs the timeout (${timeout}) to be at least twice the interval (${interval})`,
            `use a timeout several times the interval, e.g. [${interval}, ${interval * 6}]`,
          );
        } else settings.keepalive = [interval, timeout];
      }
    }
  }
  const extra = readList(block, 'extra', 'openvpn', findings);
  if (extra) {
    extra.forEach((entry, i) => {
      const field = itemPath('openvpn.extra', i);
      if (typeof entry !== 'string') {
        findings.error(
          field,
          entry,
          wrongType(entry, 'a string'),
          'quote the directive, e.g. "sndbuf 524288"',
        );
        return;
      }
      const problem = extraDirectiveProblem(entry);
      if (problem) findings.error(field, entry, `${JSON.stringify(entry)} ${problem.message}`, problem.fix);
      else settings.extra.push(entry);
    });
  }
}
