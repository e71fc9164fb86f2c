/** Where meshctl's files live on a gateway (SPEC §3). One place, so render, diff and cleanup agree. */

export const OPENVPN_SERVER_DIR = '/etc/openvpn/server';
/** Keys and certificates: private keys 0600, root. */
export const KEY_DIR = `${OPENVPN_SERVER_DIR}/meshctl`;
/** Status files, written by OpenVPN (the openvpn-server@ unit's runtime directory). */
export const STATUS_DIR = '/run/openvpn-server';
export const MESHCTL_DIR = '/etc/meshctl';

export const gatewayPaths = {
  caCert: `${KEY_DIR}/ca.crt`,
  crl: `${KEY_DIR}/crl.pem`,
  cert: (lan: string) => `${KEY_DIR}/${lan}.crt`,
  key: (lan: string) => `${KEY_DIR}/${lan}.key`,
  tlsCrypt: (pairIndex: number) => `${KEY_DIR}/pair-${pairIndex}.key`,
  /** `name` is the tunnel's `mesh-<peer>`. */
  tunnelConfig: (name: string) => `${OPENVPN_SERVER_DIR}/${name}.conf`,
  status: (name: string) => `${STATUS_DIR}/status-${name}.log`,
  sysctl: '/etc/sysctl.d/99-meshctl.conf',
  iptablesRules: `${MESHCTL_DIR}/iptables.rules`,
  firewallScript: `${MESHCTL_DIR}/firewall.sh`,
  firewallUnit: '/etc/systemd/system/meshctl-firewall.service',
  manifest: `${MESHCTL_DIR}/manifest.json`,
} as const;

export const FIREWALL_UNIT = 'meshctl-firewall.service';

/** Full systemd unit name of a tunnel (`openvpn-server@mesh-<peer>.service`). */
export function tunnelUnitName(unit: string): string {
  return unit.endsWith('.service') ? unit : `${unit}.service`;
}
