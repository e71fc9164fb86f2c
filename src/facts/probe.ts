import {
  CHAIN_PREFIX_PATTERN,
  FIREWALL_UNIT,
  FRR_UNIT,
  MANIFEST_PATH,
  OPENVPN_SERVER_DIR,
  OWN_UNIT_PREFIX,
  TUNNEL_NAME_PREFIX,
  TUNNEL_UNIT_TEMPLATE,
} from '../gateway/layout.js';
import type { FirewallLayout } from '../types.js';
import { readPackageScript } from './script.js';

/** The probe script (probe.sh), read once at module load. */
export const PROBE_SCRIPT = readPackageScript('src/facts/probe.sh');

/** `$0` of the probe's shell: what `ps` shows on the gateway while it runs. */
const PROBE_NAME = 'meshctl-probe';

/**
 * What the probe is told about the gateway's layout, in probe.sh's argument order: it writes down none of it, so
 * the probe, render and the planner can never disagree on a name.
 */
export function probeSettings(firewall: FirewallLayout): string[] {
  if (!CHAIN_PREFIX_PATTERN.test(firewall.chainPrefix)) {
    throw new Error(
      `probeCommand: chain prefix ${JSON.stringify(firewall.chainPrefix)} was not checked by render: fix the caller`,
    );
  }
  return [
    MANIFEST_PATH,
    OPENVPN_SERVER_DIR,
    TUNNEL_NAME_PREFIX,
    TUNNEL_UNIT_TEMPLATE,
    OWN_UNIT_PREFIX,
    FIREWALL_UNIT,
    firewall.chainPrefix,
    FRR_UNIT,
  ];
}

/**
 * The ONE read-only command that gathers a gateway's facts. The layout and the paths travel as positional
 * arguments (quoted by the connection's `quote`), never spliced into the script text. The caller runs it
 * privileged: it checksums root-only keys and reads iptables.
 */
export function probeCommand(paths: string[], firewall: FirewallLayout): string[] {
  for (const path of paths) {
    if (!path.startsWith('/') || /[\t\n\r]/.test(path)) {
      throw new Error(
        `probeCommand: path ${JSON.stringify(path)} must be absolute and free of TAB and newline characters ` +
          '(the probe reports one path per line): fix the renderer that produced it',
      );
    }
  }
  return ['sh', '-c', PROBE_SCRIPT, PROBE_NAME, ...probeSettings(firewall), '--', ...paths];
}
