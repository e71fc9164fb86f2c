import type { Provider } from './cloud.js';
import {
  forwardingSetting,
  type GatewayInstructions,
  type LanInstructions,
  type RouterRoute,
} from './instructions.js';

/**
 * The formats of `meshctl routes` (SPEC §9), pure: the operator instructions of src/operator/instructions.ts as
 * readable text, as `ip route` commands, or as one cloud's CLI commands. Every id comes from the `cloud:` blocks;
 * a missing one is a placeholder in angle brackets, quoted so that a command pasted with it fails instead of
 * doing something else (an unquoted `<…>` would be a shell redirection).
 */

export const ROUTE_FORMATS = ['text', 'linux', 'aws', 'gcp', 'azure'] as const;
export type RouteFormat = (typeof ROUTE_FORMATS)[number];

/** The whole output of one format: a header, then one block per LAN. */
export function formatRoutes(mesh: string, lans: LanInstructions[], format: RouteFormat): string {
  const blocks = lans.map((lan) => formatLan(lan, format).join('\n'));
  return `${[header(mesh, format).join('\n'), ...blocks].join('\n\n')}\n`;
}

/** One LAN's lines in `format` (also the `commands` of its `--json` entry). */
export function formatLan(lan: LanInstructions, format: RouteFormat): string[] {
  switch (format) {
    case 'text':
      return textLan(lan);
    case 'linux':
      return linuxLan(lan);
    default:
      return cloudLan(lan, format);
  }
}

function header(mesh: string, format: RouteFormat): string[] {
  if (format === 'text') {
    return [
      `Mesh ${mesh}: what each LAN needs outside its gateways (meshctl configures the gateways themselves).`,
    ];
  }
  const what =
    format === 'linux'
      ? "run on each LAN's routers, or add to their configuration; skip a subnet whose routers already use its gateway as their default route"
      : `${PROVIDER_NAMES[format]} CLI commands; review them before running`;
  return [
    `# meshctl routes --format ${format}: mesh ${mesh}; ${what}.`,
    "# Replace every '<…>' placeholder first: a command that still holds one fails.",
  ];
}

const PROVIDER_NAMES: Record<Provider, string> = { aws: 'AWS', gcp: 'Google Cloud', azure: 'Azure' };

/** A shell word: as it is when it is plain, else single-quoted. */
export function shellWord(value: string): string {
  return /^[A-Za-z0-9._:/@=,+%-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

function command(words: string[]): string {
  return words.map(shellWord).join(' ');
}

function placeholder(text: string): string {
  return `<${text}>`;
}

function isAddress(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host);
}

/** The peer's endpoint as a /32, or a placeholder when it is a DNS name (clouds take addresses only). */
function sourceCidr(endpoint: string): string {
  return isAddress(endpoint) ? `${endpoint}/32` : `${placeholder(`address of ${endpoint}`)}/32`;
}

function nextHopOf(gateway: string, r: Pick<RouterRoute, 'subnet' | 'nextHop'>): string {
  return r.nextHop ?? placeholder(`address of ${gateway} in ${r.subnet}`);
}

/** The remote subnets a gateway routes, each once, in routing order. */
function destinations(g: GatewayInstructions): RouterRoute[] {
  const seen = new Set<string>();
  return g.routes.filter((r) => {
    if (seen.has(r.destination)) return false;
    seen.add(r.destination);
    return true;
  });
}

/** `shop, through hq (2 hops)`, `eu (gateway eu-a)`: where a destination lives and, when not a direct tunnel, how it is reached. */
function reach(r: RouterRoute): string {
  const owner = r.owner === r.ownerLan ? r.owner : `${r.ownerLan} (gateway ${r.owner})`;
  return r.hops > 1 ? `${owner}, through ${r.through} (${r.hops} hops)` : owner;
}

/** A gateway with no tunnel (a mesh of one LAN) needs nothing outside: no route, no port, no forwarding. */
function isAlone(g: GatewayInstructions): boolean {
  return g.inbound.length === 0 && g.routes.length === 0;
}

function role(lan: LanInstructions): string {
  return lan.lan.via.length > 0 ? `leaf LAN via ${lan.lan.via.join(', ')}` : 'core LAN';
}

function gatewaysLabel(lan: LanInstructions): string {
  const list = lan.gateways.map((g) => `${g.gateway.name} (${g.gateway.endpoint})`).join(', ');
  return lan.gateways.length === 1 ? `gateway ${list}` : `gateways ${list}`;
}

function textLan(lan: LanInstructions): string[] {
  const lines = [`${lan.lan.name}: ${role(lan)}, ${gatewaysLabel(lan)}`];
  // with several gateways, each one's part gets a heading of its own and its lines are indented under it
  const several = lan.gateways.length > 1;
  const pad = several ? '    ' : '  ';
  for (const g of lan.gateways) {
    const name = g.gateway.name;
    if (several) lines.push(`  Gateway ${name}, owning ${g.gateway.subnets.join(', ')}:`);
    if (isAlone(g)) {
      lines.push(`${pad}Nothing to change for ${name}: it has no tunnel (the mesh has no other LAN yet).`);
      continue;
    }
    for (const subnet of g.gateway.subnets) {
      const routes = g.routes.filter((r) => r.subnet === subnet);
      if (routes.length === 0) continue;
      lines.push(
        `${pad}Routes on the routers of ${subnet} (not needed where ${name} is already their default route):`,
      );
      const cells = routes.map((r) => [`${r.destination} via ${nextHopOf(name, r)}`, reach(r)] as const);
      const width = Math.max(...cells.map(([route]) => route.length));
      for (const [route, where] of cells) lines.push(`${pad}  ${route.padEnd(width)}  ${where}`);
    }
    if (g.inbound.length > 0) {
      lines.push(
        `${pad}Inbound UDP to ${name} (${g.gateway.endpoint}), to allow in firewalls and security groups in front of it:`,
      );
      const cells = g.inbound.map(
        (i) => [`udp ${i.port} from ${i.from}`, `${i.peer}, pair ${i.pair}`] as const,
      );
      const width = Math.max(...cells.map(([rule]) => rule.length));
      for (const [rule, peer] of cells) lines.push(`${pad}  ${rule.padEnd(width)}  ${peer}`);
    }
    lines.push(`${pad}Forwarding: ${forwardingText(g)}`);
  }
  return lines;
}

function forwardingText(g: GatewayInstructions): string {
  const name = g.gateway.name;
  const setting = forwardingSetting(g);
  const resource = (kind: string) => setting?.resource ?? placeholder(`${kind} of ${name}`);
  switch (setting?.provider) {
    case 'aws':
      return `${name} forwards packets that are not its own: disable the source/destination check of instance ${resource('instance-id')} (AWS).`;
    case 'gcp':
      return `${name} forwards packets that are not its own: instance ${resource('instance')} needs can_ip_forward (Google Cloud).`;
    case 'azure':
      return `${name} forwards packets that are not its own: enable IP forwarding on network interface ${resource('nic')} (Azure).`;
    default:
      return `${name} forwards packets that are not its own; on a cloud instance allow it (AWS: source/destination check off; Google Cloud: can_ip_forward; Azure: IP forwarding on its NIC). meshctl enables net.ipv4.ip_forward on the gateway itself.`;
  }
}

function linuxLan(lan: LanInstructions): string[] {
  const lines: string[] = [];
  for (const g of lan.gateways) {
    for (const subnet of g.gateway.subnets) {
      const routes = g.routes.filter((r) => r.subnet === subnet);
      if (routes.length === 0) continue;
      lines.push(`# ${lan.lan.name}: on the routers of ${subnet}, via gateway ${g.gateway.name}`);
      for (const r of routes) {
        lines.push(command(['ip', 'route', 'add', r.destination, 'via', nextHopOf(g.gateway.name, r)]));
      }
    }
  }
  return lines.length > 0 ? lines : [`# ${lan.lan.name}: no route to add`];
}

/** The ids of `key` for this gateway, or one placeholder naming what to fill in. */
function idsOr(g: GatewayInstructions, key: string, what: string): string[] {
  return g.cloud?.ids[key] ?? [placeholder(what)];
}

function idOr(g: GatewayInstructions, key: string, what: string): string {
  return idsOr(g, key, what)[0]!;
}

/** `meshctl-hq-10-2-0-0-16`: a route or rule name every cloud accepts (lower case, digits and dashes). */
function resourceName(gateway: string, what: string): string {
  return `meshctl-${gateway}-${what.replace(/[./]/g, '-')}`;
}

function cloudLan(lan: LanInstructions, provider: Provider): string[] {
  const lines: string[] = [];
  for (const g of lan.gateways) {
    const name = g.gateway.name;
    const title = lan.gateways.length === 1 ? name : `${lan.lan.name}, gateway ${name}`;
    if (g.cloud && g.cloud.provider !== provider) {
      lines.push(
        `# ${title}: its cloud block names ${g.cloud.provider}: see meshctl routes ${lan.lan.name} --format ${g.cloud.provider}`,
      );
      continue;
    }
    if (isAlone(g)) {
      lines.push(`# ${title}: nothing to change, it has no tunnel (the mesh has no other LAN yet)`);
      continue;
    }
    if (!g.cloud)
      lines.push(`# ${title}: no cloud block in the inventory, so every id below is a placeholder`);
    if (provider === 'aws') lines.push(...awsGateway(g, title));
    else if (provider === 'gcp') lines.push(...gcpGateway(g, title, lan.gateways.length > 1));
    else lines.push(...azureGateway(g, title));
  }
  return lines;
}

function awsGateway(g: GatewayInstructions, title: string): string[] {
  const name = g.gateway.name;
  const region = g.cloud?.ids.region?.[0];
  const regionArgs = region ? ['--region', region] : [];
  const instance = idOr(g, 'instance', `instance-id of ${name}`);
  const lines: string[] = [];
  const routes = destinations(g);
  if (routes.length > 0) {
    lines.push(`# ${title}: routes to the mesh in the route tables of ${g.gateway.subnets.join(', ')}`);
    // without ids, one placeholder per subnet: each subnet's table is the one to fill in
    const tables =
      g.cloud?.ids.route_tables ?? g.gateway.subnets.map((s) => placeholder(`route-table-id of ${s}`));
    for (const table of tables) {
      for (const r of routes) {
        lines.push(
          command([
            'aws',
            'ec2',
            'create-route',
            ...regionArgs,
            '--route-table-id',
            table,
            '--destination-cidr-block',
            r.destination,
            '--instance-id',
            instance,
          ]),
        );
      }
    }
  }
  if (g.inbound.length > 0) {
    lines.push(`# ${title}: inbound UDP from each peer's endpoint, one port per tunnel`);
    for (const group of idsOr(g, 'security_group', `security-group-id of ${name}`)) {
      for (const i of g.inbound) {
        lines.push(
          command([
            'aws',
            'ec2',
            'authorize-security-group-ingress',
            ...regionArgs,
            '--group-id',
            group,
            '--protocol',
            'udp',
            '--port',
            String(i.port),
            '--cidr',
            sourceCidr(i.from),
          ]),
        );
      }
    }
  }
  lines.push(`# ${title}: forwards packets that are not its own`);
  lines.push(
    command([
      'aws',
      'ec2',
      'modify-instance-attribute',
      ...regionArgs,
      '--instance-id',
      instance,
      '--no-source-dest-check',
    ]),
  );
  return lines;
}

function gcpGateway(g: GatewayInstructions, title: string, several: boolean): string[] {
  const name = g.gateway.name;
  const project = g.cloud?.ids.project?.[0];
  const projectArgs = project ? ['--project', project] : [];
  const network = idOr(g, 'network', `network of ${name}`);
  const instance = idOr(g, 'instance', `instance of ${name}`);
  const zone = idOr(g, 'zone', `zone of ${name}`);
  // a VPC route applies to the whole network: with several gateways in one LAN, network tags send each part's
  // VMs to their own gateway (one gateway alone needs none)
  const tags =
    g.cloud?.ids.tags ??
    (several ? [placeholder(`network tag of the VMs in ${g.gateway.subnets.join(' and ')}`)] : []);
  const tagArgs = tags.length > 0 ? ['--tags', tags.join(',')] : [];
  const lines: string[] = [];
  const routes = destinations(g);
  if (routes.length > 0) {
    lines.push(`# ${title}: routes to the mesh via instance ${instance}`);
    for (const r of routes) {
      lines.push(
        command([
          'gcloud',
          'compute',
          'routes',
          'create',
          resourceName(name, r.destination),
          ...projectArgs,
          '--network',
          network,
          '--destination-range',
          r.destination,
          '--next-hop-instance',
          instance,
          '--next-hop-instance-zone',
          zone,
          ...tagArgs,
        ]),
      );
    }
  }
  if (g.inbound.length > 0) {
    // GCP firewall rules target instances by tag or service account only: the tags above are the VMs' of the
    // gateway's part, not the gateway's, so the rule is left to the whole network (from one address, one port)
    lines.push(
      `# ${title}: inbound UDP from each peer's endpoint, one port per tunnel (to narrow a rule to the gateway, add --target-tags with a tag of its own)`,
    );
    for (const i of g.inbound) {
      lines.push(
        command([
          'gcloud',
          'compute',
          'firewall-rules',
          'create',
          resourceName(name, `k${i.pair}`),
          ...projectArgs,
          '--network',
          network,
          '--direction',
          'INGRESS',
          '--action',
          'ALLOW',
          '--rules',
          `udp:${i.port}`,
          '--source-ranges',
          sourceCidr(i.from),
        ]),
      );
    }
  }
  lines.push(
    `# ${title}: forwards packets that are not its own, so the instance needs can_ip_forward: this prints True when it has it`,
  );
  lines.push(
    command([
      'gcloud',
      'compute',
      'instances',
      'describe',
      instance,
      ...projectArgs,
      '--zone',
      zone,
      '--format',
      'value(canIpForward)',
    ]),
  );
  lines.push(
    '# (it is set when the instance is created, --can-ip-forward; on an existing one: export it, set canIpForward: true, update-from-file)',
  );
  return lines;
}

/** Azure NSG priorities run from 100 to 4096: pair k gets 1000 + k, unique per pair, while it fits. */
export function nsgPriority(pair: number): string {
  return 1000 + pair <= 4096 ? String(1000 + pair) : placeholder('a free priority from 100 to 4096');
}

function azureGateway(g: GatewayInstructions, title: string): string[] {
  const name = g.gateway.name;
  const group = idOr(g, 'resource_group', `resource group of ${name}`);
  const lines: string[] = [];
  const routes = destinations(g);
  if (routes.length > 0) {
    // the next hop is the gateway's private address: the first one known among its subnets
    const hop = g.routes.find((r) => r.nextHop !== undefined) ?? g.routes[0]!;
    lines.push(`# ${title}: routes to the mesh in the route tables of ${g.gateway.subnets.join(', ')}`);
    const tables =
      g.cloud?.ids.route_table ?? g.gateway.subnets.map((s) => placeholder(`route table of ${s}`));
    for (const table of tables) {
      for (const r of routes) {
        lines.push(
          command([
            'az',
            'network',
            'route-table',
            'route',
            'create',
            '--resource-group',
            group,
            '--route-table-name',
            table,
            '--name',
            resourceName(name, r.destination),
            '--address-prefix',
            r.destination,
            '--next-hop-type',
            'VirtualAppliance',
            '--next-hop-ip-address',
            nextHopOf(name, hop),
          ]),
        );
      }
    }
  }
  if (g.inbound.length > 0) {
    lines.push(`# ${title}: inbound UDP from each peer's endpoint, one port per tunnel`);
    const nsg = idOr(g, 'nsg', `network security group of ${name}`);
    for (const i of g.inbound) {
      lines.push(
        command([
          'az',
          'network',
          'nsg',
          'rule',
          'create',
          '--resource-group',
          group,
          '--nsg-name',
          nsg,
          '--name',
          resourceName(name, `k${i.pair}`),
          '--priority',
          nsgPriority(i.pair),
          '--direction',
          'Inbound',
          '--access',
          'Allow',
          '--protocol',
          'Udp',
          '--source-address-prefixes',
          sourceCidr(i.from),
          '--destination-port-ranges',
          String(i.port),
        ]),
      );
    }
  }
  lines.push(`# ${title}: forwards packets that are not its own`);
  lines.push(
    command([
      'az',
      'network',
      'nic',
      'update',
      '--resource-group',
      group,
      '--name',
      idOr(g, 'nic', `nic of ${name}`),
      '--ip-forwarding',
      'true',
    ]),
  );
  return lines;
}
