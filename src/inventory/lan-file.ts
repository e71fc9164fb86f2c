import type { Cidr } from '../mesh/ipv4.js';
import type { CloudIds, SshSettings } from '../types.js';
import { checkCidr } from './cidrs.js';
import {
  checkUnknownKeys,
  isMapping,
  readBoolean,
  readInteger,
  readList,
  readMapping,
  readString,
  wrongType,
} from './fields.js';
import type { FileFindings } from './findings.js';
import { hostProblem } from './hosts.js';
import { childPath, itemPath } from './line-index.js';
import { NAME_PATTERN, NAME_RULE, reservedName, suggestName } from './names.js';
import { type PathContext, readSshBlock } from './ssh-settings.js';

export const LAN_KEYS = ['id', 'subnets', 'gateway', 'gateways', 'via', 'cloud'] as const;
export const GATEWAY_KEYS = ['endpoint', 'ssh_host', 'ssh', 'cloud'] as const;
/** An entry of `gateways:` (a LAN served by several gateways, one per availability zone). */
export const GATEWAYS_ENTRY_KEYS = ['name', 'id', 'endpoint', 'ssh_host', 'ssh', 'subnets', 'cloud'] as const;
export const CLOUD_PROVIDERS = ['aws', 'gcp', 'azure'] as const;
/** A subnet of a `gateways:` entry written as a mapping: `{ cidr: 10.5.0.0/20, backup: true }`. */
export const SUBNET_ENTRY_KEYS = ['cidr', 'backup'] as const;

export interface SubnetDraft {
  text: string;
  cidr: Cidr;
  /** Where the CIDR is written: `subnets[0]`, or `gateways[1].subnets[0].cidr` for the mapping form. */
  field: string;
}

/** A subnet a gateway serves as a backup (`backup: true`): another gateway of its LAN owns it. */
export interface BackupSubnetDraft extends SubnetDraft {
  /** Where `backup: true` is written, e.g. `gateways[1].subnets[0].backup`. */
  backupField: string;
}

/** One gateway of a LAN: the `gateway:` section (named and numbered like the LAN) or an entry of `gateways:`. */
export interface GatewayDraft {
  /** Where it is written: `gateway` or `gateways[i]`, the prefix of its fields in messages. */
  field: string;
  name?: string;
  id?: number;
  endpoint?: string;
  sshHost?: string;
  ssh: SshSettings;
  /** Its own part of the LAN (`gateways:` entries); undefined: all of the LAN's subnets. */
  subnets?: SubnetDraft[];
  /** Subnets of other gateways of its LAN it serves as a backup (`gateways:` entries only, routing: bgp). */
  backupSubnets: BackupSubnetDraft[];
  cloud?: CloudIds;
}

/** One lans/NAME.yml after per-field validation; undefined fields failed and are skipped by cross-checks. */
export interface LanDraft {
  name: string;
  /** Absolute path. */
  file: string;
  findings: FileFindings;
  nameValid: boolean;
  id?: number;
  subnets: SubnetDraft[];
  /** Empty: a core LAN. */
  via: string[];
  gateways: GatewayDraft[];
  cloud?: CloudIds;
}

const MISPLACED_LAN_KEYS: Record<string, string> = {
  endpoint: 'move it under gateway: (gateway.endpoint)',
  ssh_host: 'move it under gateway: (gateway.ssh_host)',
  ssh: 'per-LAN SSH settings go under gateway: (gateway.ssh)',
  name: "a LAN's name is its file name: rename the file instead",
  subnet: 'did you mean "subnets"? It is a list: subnets: [10.1.0.0/16]',
  transit: 'mesh-wide settings belong in mesh.yml',
  port_base: 'mesh-wide settings belong in mesh.yml',
  retired_ids: 'mesh-wide settings belong in mesh.yml',
  pki_dir: 'mesh-wide settings belong in mesh.yml',
  openvpn: 'mesh-wide settings belong in mesh.yml',
};

export function readLanFile(
  name: string,
  absoluteFile: string,
  data: unknown,
  findings: FileFindings,
  meshSsh: SshSettings,
  context: PathContext,
): LanDraft {
  const draft: LanDraft = {
    name,
    file: absoluteFile,
    findings,
    nameValid: true,
    subnets: [],
    via: [],
    gateways: [],
  };
  if (!NAME_PATTERN.test(name)) {
    draft.nameValid = false;
    findings.error(
      'name',
      name,
      `${JSON.stringify(name)} (the file name) is not allowed as a LAN name: ${NAME_RULE}`,
      `rename the file to lans/${suggestName(name)}.yml`,
    );
  } else if (reservedName(name)) {
    draft.nameValid = false;
    findings.error(
      'name',
      name,
      `"${name}" (the file name) is reserved: a gateway's key and certificate are named after it, and ${reservedName(name)}`,
      `rename the file, e.g. to lans/${name}-1.yml or lans/site-${name}.yml`,
    );
  }
  if (!isMapping(data)) {
    findings.error(
      '',
      data ?? undefined,
      data === null || data === undefined
        ? 'the LAN file is empty'
        : 'the LAN file is not a mapping of settings',
      'write at least id, subnets and gateway.endpoint (see `meshctl init` for a commented example)',
    );
    return draft;
  }
  checkUnknownKeys(data, '', LAN_KEYS, findings, MISPLACED_LAN_KEYS);

  const several = data.gateways !== undefined;
  if (several && data.id !== undefined) {
    findings.error(
      'id',
      data.id,
      'a LAN with gateways: has no id of its own: each gateway has one',
      'remove id: here, and give each entry of gateways: its own id',
    );
  }
  const id = several
    ? undefined
    : readInteger(data, 'id', '', findings, {
        required: true,
        missingFix: 'add `id: N` with a positive integer no other LAN uses and not in retired_ids',
      });
  if (id !== undefined) {
    if (id >= 1) draft.id = id;
    else
      findings.error(
        'id',
        id,
        `${id} is not a positive integer`,
        'LAN ids start at 1: pick an unused positive integer',
      );
  }

  const subnets = readList(data, 'subnets', '', findings, {
    required: true,
    missingFix: 'add `subnets: [10.x.0.0/16]` listing the networks behind this gateway',
  });
  if (subnets && subnets.length === 0) {
    findings.error(
      'subnets',
      subnets,
      'the list is empty: a LAN needs at least one subnet',
      'list at least one network behind this gateway, e.g. [10.5.0.0/16]',
    );
  }
  subnets?.forEach((value, i) => {
    const field = itemPath('subnets', i);
    if (isMapping(value)) {
      refuseSubnetMapping(value, field, several, findings);
      return;
    }
    const cidr = checkCidr(value, field, findings, 'subnet');
    if (cidr) draft.subnets.push({ text: value as string, cidr, field });
  });

  readVia(data, draft);
  const cloud = readMapping(data, 'cloud', '', findings);
  if (cloud) draft.cloud = readCloud(cloud, 'cloud', findings);
  if (several) {
    if (data.gateway !== undefined) {
      findings.error(
        'gateway',
        undefined,
        'a LAN has either gateway: (one gateway) or gateways: (several), not both',
        'keep one of them: move this gateway into the gateways: list',
      );
    }
    readGateways(data, draft, meshSsh, context);
    return draft;
  }
  const gateway = readMapping(data, 'gateway', '', findings);
  if (data.gateway === undefined) {
    findings.error(
      'gateway.endpoint',
      undefined,
      'required key gateway.endpoint is missing (there is no gateway: section)',
      'add a gateway: section with endpoint: ADDRESS-OR-DNS-NAME that the other gateways can reach (or gateways: for a LAN with several)',
    );
  }
  const single: GatewayDraft = { field: 'gateway', name: draft.name, ssh: { ...meshSsh }, backupSubnets: [] };
  if (draft.id !== undefined) single.id = draft.id;
  draft.gateways.push(single);
  if (gateway) readGateway(gateway, single, draft, context);
  return draft;
}

/** `via: [core LANs]`: a leaf. Names are checked here; what they name is checked against the mesh (topology). */
function readVia(data: Record<string, unknown>, draft: LanDraft): void {
  const via = readList(data, 'via', '', draft.findings);
  if (!via) return;
  if (via.length === 0) {
    draft.findings.error(
      'via',
      via,
      'the list is empty',
      'name the core LAN(s) this leaf is tunnelled to, or remove via to make it a core LAN',
    );
  }
  via.forEach((value, i) => {
    const field = itemPath('via', i);
    if (typeof value !== 'string' || !NAME_PATTERN.test(value)) {
      draft.findings.error(
        field,
        value,
        `${JSON.stringify(value)} is not a LAN name (${NAME_RULE})`,
        'write the name of a core LAN, e.g. via: [hub]',
      );
    } else draft.via.push(value);
  });
}

/** `cloud: { provider: aws, route_tables: [...], security_group: sg-1, … }`: ids only meshctl routes prints. */
function readCloud(
  cloud: Record<string, unknown>,
  path: string,
  findings: FileFindings,
): CloudIds | undefined {
  const provider = readString(cloud, 'provider', path, findings, {
    required: true,
    missingFix: `add provider: one of ${CLOUD_PROVIDERS.join(', ')}`,
  });
  if (provider !== undefined && !(CLOUD_PROVIDERS as readonly string[]).includes(provider)) {
    findings.error(
      childPath(path, 'provider'),
      provider,
      `unknown cloud provider ${JSON.stringify(provider)}`,
      `use one of ${CLOUD_PROVIDERS.join(', ')}`,
    );
    return undefined;
  }
  const ids: Record<string, string[]> = {};
  for (const [key, value] of Object.entries(cloud)) {
    if (key === 'provider') continue;
    const field = childPath(path, key);
    const list = Array.isArray(value) ? value : [value];
    if (
      !/^[a-z][a-z0-9_]{0,40}$/.test(key) ||
      list.some((v) => typeof v !== 'string' || !/^[A-Za-z0-9._:/@-]{1,200}$/.test(v))
    ) {
      findings.error(
        field,
        value,
        'a cloud id must be a string (or a list of strings) of letters, digits and . _ : / @ -',
        'copy the id from the provider console, e.g. route_tables: [rtb-0a1b2c3d]',
      );
      continue;
    }
    ids[key] = list as string[];
  }
  return provider === undefined ? undefined : { provider: provider as CloudIds['provider'], ids };
}

function readGateways(
  data: Record<string, unknown>,
  draft: LanDraft,
  meshSsh: SshSettings,
  context: PathContext,
): void {
  const { findings } = draft;
  const list = readList(data, 'gateways', '', findings);
  if (!list) return;
  if (list.length === 0) {
    findings.error(
      'gateways',
      list,
      'the list is empty',
      'list each gateway with name, id, endpoint and subnets',
    );
  }
  list.forEach((entry, i) => {
    const field = itemPath('gateways', i);
    if (!isMapping(entry)) {
      findings.error(
        field,
        entry,
        'a gateway is a mapping of name, id, endpoint, subnets',
        'write it as { name: NAME, id: N, endpoint: HOST, subnets: [CIDR] }',
      );
      return;
    }
    checkUnknownKeys(entry, field, GATEWAYS_ENTRY_KEYS, findings);
    const gateway: GatewayDraft = { field, ssh: { ...meshSsh }, backupSubnets: [] };
    const name = readString(entry, 'name', field, findings, {
      required: true,
      missingFix: `add name: ${draft.name}-a (unique among LAN and gateway names)`,
    });
    if (name !== undefined) {
      if (NAME_PATTERN.test(name) && reservedName(name)) {
        findings.error(
          childPath(field, 'name'),
          name,
          `"${name}" is reserved: a gateway's key and certificate are named after it, and ${reservedName(name)}`,
          `use e.g. ${name}-a`,
        );
      } else if (NAME_PATTERN.test(name)) gateway.name = name;
      else
        findings.error(
          childPath(field, 'name'),
          name,
          `${JSON.stringify(name)} is not allowed as a gateway name: ${NAME_RULE}`,
          `use e.g. ${suggestName(name)}`,
        );
    }
    const id = readInteger(entry, 'id', field, findings, {
      required: true,
      missingFix: 'add id: N with a positive integer no other LAN or gateway uses and not in retired_ids',
    });
    if (id !== undefined) {
      if (id >= 1) gateway.id = id;
      else
        findings.error(
          childPath(field, 'id'),
          id,
          `${id} is not a positive integer`,
          'ids start at 1: pick an unused positive integer',
        );
    }
    const subnets = readList(entry, 'subnets', field, findings, {
      required: true,
      missingFix: "add subnets: listing this gateway's part of the LAN",
    });
    if (subnets) {
      gateway.subnets = [];
      subnets.forEach((value, j) => {
        readGatewaySubnet(value, itemPath(childPath(field, 'subnets'), j), gateway, findings);
      });
    }
    readGateway(entry, gateway, draft, context);
    draft.gateways.push(gateway);
  });
}

/**
 * One entry of a `gateways:` entry's subnets: a CIDR, or `{ cidr: CIDR, backup: true }` for a subnet another
 * gateway of the LAN owns and this one serves as a backup (`{ cidr: CIDR }` or `backup: false` is the plain CIDR).
 * Whether the backup is allowed (routing: bgp, an owner in the LAN) is for the cross-checks.
 */
function readGatewaySubnet(
  value: unknown,
  field: string,
  gateway: GatewayDraft,
  findings: FileFindings,
): void {
  if (!isMapping(value)) {
    const cidr = checkCidr(value, field, findings, 'subnet');
    if (cidr) gateway.subnets!.push({ text: value as string, cidr, field });
    return;
  }
  checkUnknownKeys(value, field, SUBNET_ENTRY_KEYS, findings);
  const cidrField = childPath(field, 'cidr');
  if (value.cidr === undefined) {
    findings.error(
      cidrField,
      undefined,
      `required key ${cidrField} is missing`,
      "write the subnet as a CIDR, or as { cidr: 10.5.16.0/20, backup: true } for a backup of another gateway's subnet",
    );
  }
  const cidr = value.cidr === undefined ? undefined : checkCidr(value.cidr, cidrField, findings, 'subnet');
  const backup = readBoolean(value, 'backup', field, findings);
  if (!cidr) return;
  const subnet = { text: value.cidr as string, cidr, field: cidrField };
  if (backup === true) gateway.backupSubnets.push({ ...subnet, backupField: childPath(field, 'backup') });
  else if (backup !== undefined || value.backup === undefined) gateway.subnets!.push(subnet);
}

/** A mapping in a LAN's own `subnets:` list: only the subnets of a `gateways:` entry may be written that way. */
function refuseSubnetMapping(
  value: Record<string, unknown>,
  field: string,
  several: boolean,
  findings: FileFindings,
): void {
  const plain = typeof value.cidr === 'string' ? value.cidr : '10.1.0.0/16';
  if (value.backup !== undefined) {
    findings.error(
      childPath(field, 'backup'),
      value.backup,
      several
        ? "backup is only allowed in a gateway's own subnets (an entry of gateways:), not in the LAN's subnets"
        : 'backup is only allowed in a LAN with several gateways (gateways:): this LAN has one gateway, which serves every subnet',
      several
        ? `list ${plain} plainly here, and write { cidr: ${plain}, backup: true } in the subnets of the gateways: entry that backs it up`
        : `write ${plain} plainly (subnets: [${plain}]); for a backup, list the LAN's gateways under gateways: (one per zone) and mark the backup there`,
    );
    return;
  }
  findings.error(
    field,
    value,
    wrongType(value, 'a network in CIDR form'),
    `write it as ADDRESS/PREFIX, e.g. ${plain} (the { cidr: … } form is only for the subnets of a gateways: entry)`,
  );
}

function readGateway(
  section: Record<string, unknown>,
  gateway: GatewayDraft,
  draft: LanDraft,
  context: PathContext,
): void {
  const { findings } = draft;
  const path = gateway.field;
  if (path === 'gateway') {
    checkUnknownKeys(section, 'gateway', GATEWAY_KEYS, findings, {
      user: 'SSH settings go under gateway.ssh:',
      port: 'SSH settings go under gateway.ssh:',
      become: 'SSH settings go under gateway.ssh:',
    });
  }
  const endpoint = readString(section, 'endpoint', path, findings, {
    required: true,
    missingFix: `add endpoint: ADDRESS-OR-DNS-NAME under ${path}: (what the other gateways connect to)`,
  });
  gateway.endpoint = checkHost(endpoint, childPath(path, 'endpoint'), draft);
  if (section.ssh_host === undefined) gateway.sshHost = gateway.endpoint;
  else
    gateway.sshHost = checkHost(
      readString(section, 'ssh_host', path, findings),
      childPath(path, 'ssh_host'),
      draft,
    );

  const ssh = readMapping(section, 'ssh', path, findings);
  if (ssh) Object.assign(gateway.ssh, readSshBlock(ssh, childPath(path, 'ssh'), findings, context));
  const cloud = readMapping(section, 'cloud', path, findings);
  if (cloud) gateway.cloud = readCloud(cloud, childPath(path, 'cloud'), findings);
}

function checkHost(value: string | undefined, field: string, draft: LanDraft): string | undefined {
  if (value === undefined) return undefined;
  const problem = hostProblem(value);
  if (!problem) return value;
  draft.findings.error(
    field,
    value,
    `${JSON.stringify(value)} ${problem}`,
    'use an IPv4 address such as 203.0.113.10 or a DNS name such as gw1.example.net',
  );
  return undefined;
}
