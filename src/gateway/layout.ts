/**
 * What meshctl puts on a gateway and where (SPEC §3): directories, file and unit names, file modes, and the rules
 * that say which paths and units are meshctl's own. The one source read by render (what to write), facts (the
 * probe gets these as arguments), plan (what a change calls for, what may be deleted), execute (the last check
 * before `rm` and `systemctl stop`) and remove-lan. Pure: constants and string functions, no imports with effects.
 *
 * The iptables chain prefix is not here: it is a role default (roles/firewall/defaults.yml `chain_prefix`) that
 * render reads and carries in each DesiredState; this module only says which prefixes are valid.
 */

/** A LAN (and mesh) name: it becomes a file name, a systemd instance name and a certificate CN. */
export const LAN_NAME_SOURCE = '[a-z0-9][a-z0-9-]{0,30}';
export const LAN_NAME_PATTERN = new RegExp(`^${LAN_NAME_SOURCE}$`);

export const OPENVPN_SERVER_DIR = '/etc/openvpn/server';
/** Keys and certificates: private keys 0600, root, in a 0700 directory. */
export const KEY_DIR = `${OPENVPN_SERVER_DIR}/meshctl`;
/** Status files, written by OpenVPN (the openvpn-server@ unit's runtime directory). */
export const STATUS_DIR = '/run/openvpn-server';
export const MESHCTL_DIR = '/etc/meshctl';
/** Unit files and drop-ins meshctl writes; changing one needs `systemctl daemon-reload`. */
export const SYSTEMD_DIR = '/etc/systemd/system';
export const SYSCTL_DIR = '/etc/sysctl.d';

/** A tunnel's name is `mesh-<peer>`: the stem of its config file and the instance of its unit. */
export const TUNNEL_NAME_PREFIX = 'mesh-';
/** The template unit the OpenVPN packages ship (`openvpn-server@.service`, reads /etc/openvpn/server/NAME.conf). */
export const TUNNEL_UNIT_TEMPLATE = 'openvpn-server@';
/** `openvpn-server@mesh-`: every tunnel unit meshctl runs starts with this. */
export const TUNNEL_UNIT_PREFIX = `${TUNNEL_UNIT_TEMPLATE}${TUNNEL_NAME_PREFIX}`;
/** meshctl's own units are `meshctl-<name>.service`. */
export const OWN_UNIT_PREFIX = 'meshctl-';
export const FIREWALL_UNIT = `${OWN_UNIT_PREFIX}firewall.service`;
/** Installs routes to subnets reached through a peer (transit, SPEC §7); only on gateways that have such routes. */
export const ROUTES_UNIT = `${OWN_UNIT_PREFIX}routes.service`;
/**
 * The routing protocol number meshctl's transit routes carry (`ip route … proto 199`), so routes.sh can tell its
 * own routes from everyone else's and remove only those. 199 is unassigned in iproute2's rt_protos.
 */
export const ROUTE_PROTOCOL = 199;
/**
 * FRR (`routing: bgp`, SPEC §3): meshctl owns these two files of the package's configuration directory and runs
 * the package's unit. `frr.conf` changes are loaded with `systemctl reload` (frr-reload, sessions stay up);
 * `daemons` changes (which daemons run) need a restart.
 */
export const FRR_DIR = '/etc/frr';
export const FRR_UNIT = 'frr.service';
/** The packages a bgp gateway needs: FRR, and on Debian its reload tool (frr-reload.py, only a Recommends). */
export const FRR_PACKAGES = { 'apt-get': ['frr', 'frr-pythontools'], dnf: ['frr'], yum: ['frr'] } as const;
/** frr-reload.py: what `systemctl reload frr` runs; without it a reload fails and a change would need a restart. */
export const FRR_RELOAD_SCRIPT = '/usr/lib/frr/frr-reload.py';

/** File name of the drop-in meshctl adds to each of its tunnel units (next to any drop-in of the operator's). */
export const TUNNEL_DROP_IN = 'meshctl.conf';

/**
 * meshctl's tun devices: `mtun<k>` for pair k (the name is given by src/mesh/allocate.ts). Addresses and routes on
 * them are the mesh's own, never a collision with the mesh.
 */
export const TUNNEL_DEVICE_PREFIX = 'mtun';
export const TUNNEL_DEVICE_PATTERN = new RegExp(`^${TUNNEL_DEVICE_PREFIX}\\d+$`);

/** Modes of what meshctl writes. Directories holding a secret file are made (or tightened to) `privateDir`. */
export const MODES = {
  public: 0o644,
  secret: 0o600,
  executable: 0o755,
  publicDir: 0o755,
  privateDir: 0o700,
} as const;

/** `branch` → `mesh-branch`. */
export function tunnelName(peer: string): string {
  return `${TUNNEL_NAME_PREFIX}${peer}`;
}

/** `mesh-branch` → `openvpn-server@mesh-branch.service`. */
export function tunnelUnitOf(name: string): string {
  return `${TUNNEL_UNIT_TEMPLATE}${name}.service`;
}

/**
 * Every tunnel's OpenVPN management interface listens on TCP at this address, on the number of the tunnel's UDP
 * port, so `meshctl status` can ask OpenVPN for its own state (state, peer address, byte counts).
 */
export const MANAGEMENT_ADDRESS = '127.0.0.1';

export const gatewayPaths = {
  caCert: `${KEY_DIR}/ca.crt`,
  /** The password of every management interface of the gateway (one line; 0600, root). */
  managementPassword: `${KEY_DIR}/management.pass`,
  crl: `${KEY_DIR}/crl.pem`,
  cert: (lan: string) => `${KEY_DIR}/${lan}.crt`,
  key: (lan: string) => `${KEY_DIR}/${lan}.key`,
  tlsCrypt: (pairIndex: number) => `${KEY_DIR}/pair-${pairIndex}.key`,
  /** `name` is the tunnel's `mesh-<peer>`. */
  tunnelConfig: (name: string) => `${OPENVPN_SERVER_DIR}/${name}.conf`,
  /** The drop-in that orders (and binds) the tunnel's unit after the firewall unit. */
  tunnelDropIn: (name: string) => `${SYSTEMD_DIR}/${tunnelUnitOf(name)}.d/${TUNNEL_DROP_IN}`,
  status: (name: string) => `${STATUS_DIR}/status-${name}.log`,
  sysctl: `${SYSCTL_DIR}/99-meshctl.conf`,
  iptablesRules: `${MESHCTL_DIR}/iptables.rules`,
  firewallScript: `${MESHCTL_DIR}/firewall.sh`,
  firewallUnit: `${SYSTEMD_DIR}/${FIREWALL_UNIT}`,
  routesScript: `${MESHCTL_DIR}/routes.sh`,
  routesUnit: `${SYSTEMD_DIR}/${ROUTES_UNIT}`,
  manifest: `${MESHCTL_DIR}/manifest.json`,
  frrConf: `${FRR_DIR}/frr.conf`,
  frrDaemons: `${FRR_DIR}/daemons`,
} as const;

/** Where meshctl records what it owns on a gateway. */
export const MANIFEST_PATH = gatewayPaths.manifest;

function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** A file name meshctl puts in one of its own directories: no slash, no leading dot (no `..`, no rollback copy). */
const PLAIN_NAME = '[A-Za-z0-9][A-Za-z0-9._-]*';
const TUNNEL_STEM = `${literal(TUNNEL_NAME_PREFIX)}${LAN_NAME_SOURCE}`;
const TUNNEL_CONFIG = new RegExp(`^${literal(OPENVPN_SERVER_DIR)}/(${TUNNEL_STEM})\\.conf$`);
const TUNNEL_UNIT = new RegExp(`^${literal(TUNNEL_UNIT_TEMPLATE)}${TUNNEL_STEM}\\.service$`);
const OWN_UNIT = new RegExp(`^${literal(OWN_UNIT_PREFIX)}${LAN_NAME_SOURCE}\\.service$`);
const MANAGED_PATHS: readonly RegExp[] = [
  TUNNEL_CONFIG,
  new RegExp(`^${literal(KEY_DIR)}/${PLAIN_NAME}$`),
  new RegExp(`^${literal(MESHCTL_DIR)}/${PLAIN_NAME}$`),
  new RegExp(`^${literal(gatewayPaths.sysctl)}$`),
  new RegExp(`^${literal(gatewayPaths.frrConf)}$`),
  new RegExp(`^${literal(gatewayPaths.frrDaemons)}$`),
  new RegExp(`^${literal(SYSTEMD_DIR)}/${literal(OWN_UNIT_PREFIX)}${LAN_NAME_SOURCE}\\.service$`),
  new RegExp(
    `^${literal(SYSTEMD_DIR)}/${literal(TUNNEL_UNIT_TEMPLATE)}${TUNNEL_STEM}\\.service\\.d/${literal(TUNNEL_DROP_IN)}$`,
  ),
];

/** The paths meshctl may create and delete, in words, for messages. */
export const MANAGED_PATHS_RULE =
  `${gatewayPaths.tunnelConfig(tunnelName('<name>'))}, files directly in ${KEY_DIR}/ and ${MESHCTL_DIR}/, ` +
  `${gatewayPaths.sysctl}, ${gatewayPaths.frrConf}, ${gatewayPaths.frrDaemons}, ${SYSTEMD_DIR}/${OWN_UNIT_PREFIX}<name>.service and ` +
  `${gatewayPaths.tunnelDropIn(tunnelName('<name>'))}`;

/** The units meshctl may stop and disable, in words, for messages. */
export const MANAGED_UNITS_RULE = `${tunnelUnitOf(tunnelName('<name>'))}, ${OWN_UNIT_PREFIX}<name>.service and ${FRR_UNIT} (bgp)`;

/** A path meshctl creates and may therefore delete (SPEC §3). Anything else is never removed. */
export function isManagedPath(path: string): boolean {
  return MANAGED_PATHS.some((pattern) => pattern.test(path));
}

/** `openvpn-server@mesh-<name>.service`. */
export function isTunnelUnit(unit: string): boolean {
  return TUNNEL_UNIT.test(unit);
}

/** A unit meshctl starts and may therefore stop and disable: a tunnel or one of its own. */
export function isManagedUnit(unit: string): boolean {
  return TUNNEL_UNIT.test(unit) || OWN_UNIT.test(unit) || unit === FRR_UNIT;
}

/** `openvpn-server@mesh-branch.service` → `branch`, the peer's LAN name; null for any other unit. */
export function peerOfTunnelUnit(unit: string): string | null {
  return TUNNEL_UNIT.test(unit) ? unit.slice(TUNNEL_UNIT_PREFIX.length, -'.service'.length) : null;
}

/** `/etc/openvpn/server/mesh-branch.conf` → `openvpn-server@mesh-branch.service`; null for any other path. */
export function tunnelUnitOfConfig(path: string): string | null {
  const match = TUNNEL_CONFIG.exec(path);
  return match ? tunnelUnitOf(match[1]!) : null;
}

/** Unit files and drop-ins: changing one needs `systemctl daemon-reload`. */
export function isUnitFile(path: string): boolean {
  return path.startsWith(`${SYSTEMD_DIR}/`);
}

/**
 * The unit a unit file or drop-in belongs to: `/etc/systemd/system/X.service` → `X.service`,
 * `/etc/systemd/system/X.service.d/meshctl.conf` → `X.service`; null for any other path.
 */
export function unitOfUnitFile(path: string): string | null {
  if (!isUnitFile(path)) return null;
  const parts = path.slice(SYSTEMD_DIR.length + 1).split('/');
  if (parts.length === 1) return parts[0]!;
  if (parts.length === 2 && parts[0]!.endsWith('.d')) return parts[0]!.slice(0, -'.d'.length);
  return null;
}

/** Loaded with `sysctl -p FILE`. */
export function isSysctlFile(path: string): boolean {
  return path.startsWith(`${SYSCTL_DIR}/`);
}

/**
 * A valid `chain_prefix`. iptables limits a chain name to 28 characters; the longest chain meshctl builds is
 * `<prefix>-SRC-mtun<k>`, and k < 65536 (a UDP port), so 12 + 5 + 9 = 26 leaves room. Upper case keeps meshctl's
 * chains apart from the built-in ones and from the lower-case names most tools use.
 */
export const CHAIN_PREFIX_PATTERN = /^[A-Z][A-Z0-9_]{0,11}$/;

/** What a valid chain prefix looks like, in words, for messages. */
export const CHAIN_PREFIX_RULE =
  '1 to 12 characters from A-Z, 0-9 and "_", starting with a letter (iptables limits chain names to 28 ' +
  'characters and the longest chain meshctl builds is <prefix>-SRC-mtun<k>)';
