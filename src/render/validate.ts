import { InventoryError } from '../errors.js';
import { LAN_NAME_PATTERN, LAN_NAME_SOURCE } from '../gateway/layout.js';
import { hostProblem } from '../inventory/hosts.js';
import { extraDirectiveProblem } from '../inventory/openvpn-extra.js';
import { canonical, parseCidr } from '../mesh/ipv4.js';
import type { Diagnostic, Gateway, Inventory } from '../types.js';

/**
 * Defensive checks on the values render pastes into paths, configs and shell scripts, with the inventory's own
 * rules (one definition of each). The inventory loader validates all of this first; render checks again because a name that escaped a path (`../x`) or a value with a
 * newline (a second directive smuggled into a config) must never reach a gateway, whoever built the Inventory.
 */

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isIpv4Address(value: string): boolean {
  return IPV4.test(value);
}

function fail(file: string, field: string, value: unknown, message: string, fix: string): never {
  const diagnostic: Diagnostic = { severity: 'error', file, field, value, message, fix };
  throw new InventoryError([diagnostic], `${file}: ${field} ${JSON.stringify(value)}: ${message}; ${fix}`);
}

export function checkGateway(lan: Gateway): void {
  if (!LAN_NAME_PATTERN.test(lan.name)) {
    fail(
      lan.file,
      'name',
      lan.name,
      'not a valid LAN or gateway name (it becomes a path, a certificate CN and a unit name)',
      `rename it to match ^${LAN_NAME_SOURCE}$`,
    );
  }
  const endpointProblem = hostProblem(lan.endpoint);
  if (endpointProblem) {
    fail(lan.file, 'gateway.endpoint', lan.endpoint, endpointProblem, 'use e.g. 203.0.113.10');
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
  if (!LAN_NAME_PATTERN.test(mesh.name)) {
    fail(inventory.meshFile, 'name', mesh.name, 'not a valid mesh name', `use ^${LAN_NAME_SOURCE}$`);
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
    const problem = extraDirectiveProblem(line);
    if (problem) fail(inventory.meshFile, `openvpn.extra[${i}]`, line, problem.message, problem.fix);
  });
}
