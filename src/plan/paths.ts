/**
 * What a managed path is, judged from where render puts it (SPEC §3). The planner needs this to know which
 * follow-up a changed file calls for: a systemd reload, a sysctl load, or a tunnel unit.
 */

export const TUNNEL_CONFIG_DIR = '/etc/openvpn/server';
export const FIREWALL_UNIT = 'meshctl-firewall.service';

/** Unit files meshctl writes live here; changing one needs `systemctl daemon-reload`. */
export function isUnitFile(path: string): boolean {
  return path.startsWith('/etc/systemd/system/');
}

/** Loaded with `sysctl -p FILE`. */
export function isSysctlFile(path: string): boolean {
  return path.startsWith('/etc/sysctl.d/');
}

/** `/etc/openvpn/server/mesh-branch.conf` → `openvpn-server@mesh-branch.service`; null for any other path. */
export function tunnelUnitOfConfig(path: string): string | null {
  const match = /^\/etc\/openvpn\/server\/(mesh-[a-z0-9][a-z0-9-]*)\.conf$/.exec(path);
  return match ? `openvpn-server@${match[1]}.service` : null;
}

/** Unit names in messages: `openvpn-server@mesh-branch` reads better than with `.service`. */
export function shortUnit(unit: string): string {
  return unit.endsWith('.service') ? unit.slice(0, -'.service'.length) : unit;
}

/** `ab12cd34…`: enough of a checksum to compare by eye. */
export function shortSha(sha256: string): string {
  return `${sha256.slice(0, 8)}…`;
}

export function octal(mode: number): string {
  return `0${mode.toString(8).padStart(3, '0')}`;
}
