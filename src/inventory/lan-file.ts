import type { Cidr } from '../mesh/ipv4.js';
import type { SshSettings } from '../types.js';
import { checkCidr } from './cidrs.js';
import { checkUnknownKeys, isMapping, readInteger, readList, readMapping, readString } from './fields.js';
import type { FileFindings } from './findings.js';
import { hostProblem } from './hosts.js';
import { childPath, itemPath } from './line-index.js';
import { NAME_PATTERN, NAME_RULE, suggestName } from './names.js';
import { type PathContext, readSshBlock } from './ssh-settings.js';

export const LAN_KEYS = ['id', 'subnets', 'gateway'] as const;
export const GATEWAY_KEYS = ['endpoint', 'ssh_host', 'ssh'] as const;

export interface SubnetDraft {
  text: string;
  cidr: Cidr;
  field: string;
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
  endpoint?: string;
  sshHost?: string;
  ssh: SshSettings;
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
    ssh: { ...meshSsh },
  };
  if (!NAME_PATTERN.test(name)) {
    draft.nameValid = false;
    findings.error(
      'name',
      name,
      `${JSON.stringify(name)} (the file name) is not allowed as a LAN name: ${NAME_RULE}`,
      `rename the file to lans/${suggestName(name)}.yml`,
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

  const id = readInteger(data, 'id', '', findings, {
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
    const cidr = checkCidr(value, field, findings, 'subnet');
    if (cidr) draft.subnets.push({ text: value as string, cidr, field });
  });

  const gateway = readMapping(data, 'gateway', '', findings);
  if (data.gateway === undefined) {
    findings.error(
      'gateway.endpoint',
      undefined,
      'required key gateway.endpoint is missing (there is no gateway: section)',
      'add a gateway: section with endpoint: ADDRESS-OR-DNS-NAME that the other gateways can reach',
    );
  }
  if (gateway) readGateway(gateway, draft, context);
  return draft;
}

function readGateway(gateway: Record<string, unknown>, draft: LanDraft, context: PathContext): void {
  const { findings } = draft;
  checkUnknownKeys(gateway, 'gateway', GATEWAY_KEYS, findings, {
    user: 'SSH settings go under gateway.ssh:',
    port: 'SSH settings go under gateway.ssh:',
    become: 'SSH settings go under gateway.ssh:',
  });
  const endpoint = readString(gateway, 'endpoint', 'gateway', findings, {
    required: true,
    missingFix: 'add endpoint: ADDRESS-OR-DNS-NAME under gateway: (what the other gateways connect to)',
  });
  draft.endpoint = checkHost(endpoint, 'gateway.endpoint', draft);
  if (gateway.ssh_host === undefined) draft.sshHost = draft.endpoint;
  else
    draft.sshHost = checkHost(
      readString(gateway, 'ssh_host', 'gateway', findings),
      'gateway.ssh_host',
      draft,
    );

  const ssh = readMapping(gateway, 'ssh', 'gateway', findings);
  if (ssh) Object.assign(draft.ssh, readSshBlock(ssh, childPath('gateway', 'ssh'), findings, context));
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
