import yaml from 'js-yaml';

/** What add-lan knows about a new LAN; everything else comes from mesh.yml defaults. */
export interface NewLanFile {
  id: number;
  subnets: string[];
  endpoint: string;
  sshHost?: string;
  ssh?: { user?: string; port?: number; become?: boolean };
  /** A leaf LAN: the core LANs it is tunnelled to (SPEC §7). */
  via?: string[];
}

/** A YAML scalar, quoted by js-yaml when the value needs it. */
function scalar(value: string | number | boolean): string {
  return yaml.dump(value, { lineWidth: -1 }).trimEnd();
}

/** The text of a commented lans/NAME.yml, in the layout of the example inventory. */
export function lanFileText(lan: NewLanFile): string {
  const lines = [
    "# One LAN of the mesh; its name is this file's name. See mesh.yml for mesh-wide settings.",
    '',
    "# Stable positive integer, unique in the mesh and never reused: it fixes this LAN's tunnel addresses and ports.",
    `id: ${scalar(lan.id)}`,
    '',
    '# The private networks behind this gateway (RFC 1918, canonical, no overlap with any other LAN or the transit).',
    'subnets:',
    ...lan.subnets.map((s) => `  - ${scalar(s)}`),
    '',
    ...(lan.via
      ? [
          '# A leaf LAN: tunnelled only to the gateways of these core LANs, which carry its traffic to the others.',
          `via: [${lan.via.map(scalar).join(', ')}]`,
          '',
        ]
      : []),
    'gateway:',
    '  # What the other gateways connect to (IPv4 address or DNS name).',
    `  endpoint: ${scalar(lan.endpoint)}`,
  ];
  if (lan.sshHost !== undefined && lan.sshHost !== lan.endpoint) {
    lines.push(
      '  # What meshctl connects to over SSH, when it differs from the endpoint.',
      `  ssh_host: ${scalar(lan.sshHost)}`,
    );
  }
  const ssh = Object.entries(lan.ssh ?? {}).filter(([, v]) => v !== undefined) as [
    string,
    string | number | boolean,
  ][];
  if (ssh.length > 0) {
    lines.push('  # Overrides of the ssh defaults in mesh.yml for this gateway.', '  ssh:');
    for (const [key, value] of ssh) lines.push(`    ${key}: ${scalar(value)}`);
  }
  return `${lines.join('\n')}\n`;
}
