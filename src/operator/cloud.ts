import type { CloudIds, Gateway, Lan } from '../types.js';

/**
 * The cloud ids `meshctl routes` reads from `cloud:` blocks (SPEC §1, §9), per provider. A gateway's ids are its
 * own block's, completed from its LAN's block: keys that name something the whole LAN shares (the network, the
 * project, the resource group, a security group or NSG) always fall back to the LAN's; keys that name something
 * one gateway owns (its instance, its NIC, the route tables of its subnets) fall back to the LAN's only when the
 * LAN has that one gateway — with several gateways each one's route tables point at it, not at its sibling.
 */

export type Provider = CloudIds['provider'];

export const PROVIDERS: readonly Provider[] = ['aws', 'gcp', 'azure'];

interface KeySpec {
  /** Owned by one gateway: taken from the LAN's block only when the LAN has one gateway. */
  perGateway: readonly string[];
  /** Shared by the LAN's gateways: taken from the LAN's block when the gateway's has none. */
  shared: readonly string[];
  /** Keys that take one id (the first is used; more is a warning). */
  single: readonly string[];
}

export const CLOUD_KEYS: Readonly<Record<Provider, KeySpec>> = {
  aws: {
    perGateway: ['instance', 'route_tables'],
    shared: ['region', 'security_group'],
    single: ['instance', 'region'],
  },
  gcp: {
    perGateway: ['instance', 'zone', 'tags'],
    shared: ['project', 'network'],
    single: ['instance', 'zone', 'project', 'network'],
  },
  azure: {
    perGateway: ['nic', 'route_table'],
    shared: ['resource_group', 'nsg'],
    single: ['nic', 'resource_group', 'nsg'],
  },
};

/** Every key a provider's block may hold, sorted (for messages and the README). */
export function knownKeys(provider: Provider): string[] {
  const spec = CLOUD_KEYS[provider];
  return [...spec.perGateway, ...spec.shared].sort();
}

/** The ids that apply to `gateway`; undefined when neither it nor its LAN has a `cloud:` block. */
export function gatewayCloud(lan: Lan, gateway: Gateway): CloudIds | undefined {
  const own = gateway.cloud;
  const shared = lan.cloud;
  const provider = own?.provider ?? shared?.provider;
  if (!provider) return undefined;
  const ids: Record<string, string[]> = {};
  const spec = CLOUD_KEYS[provider];
  const inherit = shared?.provider === provider ? shared.ids : {};
  const alone = lan.gateways.length === 1;
  for (const key of knownKeys(provider)) {
    const value =
      own?.provider === provider && own.ids[key]
        ? own.ids[key]
        : spec.shared.includes(key) || alone
          ? inherit[key]
          : undefined;
    if (value && value.length > 0) ids[key] = value;
  }
  return { provider, ids };
}

/** Something in a `cloud:` block that `meshctl routes` does not use as written. */
export interface CloudFinding {
  lan: string;
  /** The gateway whose block it is in; undefined for the LAN's own block. */
  gateway?: string;
  /** Dotted field path in lans/NAME.yml, e.g. `cloud.route_table` or `gateways[eu-a].cloud.instance`. */
  field: string;
  value: unknown;
  message: string;
  fix: string;
}

/** Unknown keys (typos such as `route_table` for aws), several ids where one is used, ids of a sibling ignored. */
export function cloudFindings(lan: Lan): CloudFinding[] {
  const findings: CloudFinding[] = [];
  const check = (cloud: CloudIds, field: string, gateway?: string) => {
    const known = knownKeys(cloud.provider);
    const spec = CLOUD_KEYS[cloud.provider];
    for (const [key, value] of Object.entries(cloud.ids)) {
      const at = `${field}.${key}`;
      if (!known.includes(key)) {
        findings.push({
          lan: lan.name,
          ...(gateway ? { gateway } : {}),
          field: at,
          value,
          message: `meshctl routes does not read "${key}" for ${cloud.provider}`,
          fix: `use the keys it reads: ${known.join(', ')}`,
        });
      } else if (spec.single.includes(key) && value.length > 1) {
        findings.push({
          lan: lan.name,
          ...(gateway ? { gateway } : {}),
          field: at,
          value,
          message: `${key} takes one id; only ${value[0]} is used`,
          fix: `give one ${key}${gateway || lan.gateways.length === 1 ? '' : ', or one per gateway under gateways[]'}`,
        });
      } else if (!gateway && lan.gateways.length > 1 && spec.perGateway.includes(key)) {
        findings.push({
          lan: lan.name,
          field: at,
          value,
          message: `${key} belongs to one gateway, and ${lan.name} has ${lan.gateways.length}: it is not used`,
          fix: `move ${key} into the cloud block of each gateway under gateways[]`,
        });
      }
    }
  };
  if (lan.cloud) check(lan.cloud, 'cloud');
  const single = lan.gateways.length === 1 && lan.gateways[0]!.name === lan.name;
  // gateways are held in id order, not file order: an entry is named by its gateway's name
  for (const gateway of lan.gateways) {
    if (gateway.cloud)
      check(gateway.cloud, single ? 'gateway.cloud' : `gateways[${gateway.name}].cloud`, gateway.name);
  }
  return findings;
}
