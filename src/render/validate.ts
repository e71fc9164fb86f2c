import { InventoryError } from '../errors.js';
import { canonical, parseCidr } from '../mesh/ipv4.js';
import type { Diagnostic, Inventory, Lan } from '../types.js';

/**
 * Defensive checks on the values render pastes into paths, configs and shell scripts. The inventory loader
 * validates all of this first; render checks again because a name that escaped a path (`../x`) or a value with a
 * newline (a second directive smuggled into a config) must never reach a gateway, whoever built the Inventory.
 */

const NAME = /^[a-z0-9][a-z0-9-]{0,30}$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HOSTNAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/**
 * Directives `openvpn.extra` may not contain: removed or deprecated in OpenVPN 2.5–2.7, weakening the tunnel, or
 * overriding what meshctl sets for the pinning and encryption promises of SPEC §4.
 */
const FORBIDDEN_EXTRA = new Set([
  'secret',
  'tls-auth',
  'tls-remote',
  'comp-lzo',
  'compress',
  'ns-cert-type',
  'ncp-ciphers',
  'ncp-disable',
  'cipher',
  'data-ciphers',
  'data-ciphers-fallback',
  'tls-crypt',
  'verify-x509-name',
  'remote-cert-tls',
  'crl-verify',
  'ca',
  'cert',
  'key',
  'tls-server',
  'tls-client',
  'tls-version-min',
]);

export function isIpv4Address(value: string): boolean {
  return IPV4.test(value);
}

function fail(file: string, field: string, value: unknown, message: string, fix: string): never {
  const diagnostic: Diagnostic = { severity: 'error', file, field, value, message, fix };
  throw new InventoryError([diagnostic], `${file}: ${field} ${JSON.stringify(value)}: ${message}; ${fix}`);
}

export function checkLan(lan: Lan): void {
  if (!NAME.test(lan.name)) {
    fail(
      lan.file,
      'name',
      lan.name,
      'not a valid LAN name (it becomes a path, a certificate CN and a unit name)',
      'rename the file to match ^[a-z0-9][a-z0-9-]{0,30}$',
    );
  }
  if (!isIpv4Address(lan.endpoint) && !HOSTNAME.test(lan.endpoint)) {
    fail(
      lan.file,
      'gateway.endpoint',
      lan.endpoint,
      'not an IPv4 address or DNS name',
      'use e.g. 203.0.113.10',
    );
  }
  lan.subnets.forEach((subnet, i) => {
    let ok = false;
    try {
      ok = canonical(parseCidr(subnet)) === subnet;
    } catch {
      ok = false;
    }
    if (!ok)
      fail(lan.file, `subnets[${i}]`, subnet, 'not a canonical IPv4 CIDR', 'write it as e.g. 10.1.0.0/16');
  });
}

export function checkMeshSettings(inventory: Inventory): void {
  const { mesh } = inventory;
  if (!NAME.test(mesh.name)) {
    fail(inventory.meshFile, 'name', mesh.name, 'not a valid mesh name', 'use ^[a-z0-9][a-z0-9-]{0,30}$');
  }
  const [interval, timeout] = mesh.openvpn.keepalive;
  // OpenVPN itself refuses a timeout shorter than twice the interval
  if (!Number.isInteger(interval) || !Number.isInteger(timeout) || interval < 1 || timeout < 2 * interval) {
    fail(
      inventory.meshFile,
      'openvpn.keepalive',
      mesh.openvpn.keepalive,
      'needs two positive integers, the timeout at least twice the interval',
      'use e.g. [10, 60]',
    );
  }
  mesh.openvpn.extra.forEach((line, i) => {
    const field = `openvpn.extra[${i}]`;
    // printable ASCII only: no newline (a second directive), no inline config blocks
    if (!/^[\x20-\x7e]+$/.test(line) || line.trim() === '' || line.trim().startsWith('<')) {
      fail(
        inventory.meshFile,
        field,
        line,
        'must be one OpenVPN directive on one line',
        'split it into entries',
      );
    }
    const directive = line.trim().split(/\s+/)[0]!.replace(/^--/, '');
    if (FORBIDDEN_EXTRA.has(directive)) {
      fail(
        inventory.meshFile,
        field,
        line,
        `\`${directive}\` is removed/deprecated in OpenVPN 2.5-2.7 or overrides a tunnel security setting meshctl manages`,
        'remove the entry (change role defaults in roles/openvpn-tunnel/defaults.yml instead)',
      );
    }
  });
}
