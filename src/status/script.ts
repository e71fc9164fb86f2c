import { readPackageScript } from '../facts/script.js';
import { LAN_NAME_PATTERN } from '../gateway/layout.js';

/**
 * The one read-only command `meshctl status` runs on each gateway (src/status/status.sh, see its header for the
 * records it prints). It runs in two phases: it prints what it can read at once and a line `ready`; meshctl then
 * picks LAN addresses from that output (parseAddresses) and writes the LAN probes to its stdin (probeInput),
 * ended by `go`; the script runs them and ends with `end`.
 */

/** status.sh, read once at module load. */
export const STATUS_SCRIPT = readPackageScript('src/status/status.sh');

/** `$0` of the status shell: what `ps` shows on the gateway while it runs. */
export const STATUS_NAME = 'meshctl-status';

/** The line that ends phase 1: the probes may be sent now. */
export const READY_LINE = 'ready';
/** The line that ends the probes on stdin (the end of stdin does too). */
export const GO_LINE = 'go';
/** The script's last line: the read is complete. */
export const END_LINE = 'end';

/** One tunnel to read: its unit, its config file, its management port (TCP, localhost), its peer's transit address. */
export interface StatusTarget {
  unit: string;
  /** The peer gateway's name (for the caller; not sent to the gateway). */
  peer: string;
  config: string;
  managementPort: number;
  peerAddress: string;
}

/** One LAN-to-LAN probe: from SOURCE (a LAN address of this gateway) to DESTINATION (one of TARGET's). */
export interface StatusProbe {
  target: string;
  source: string;
  destination: string;
}

const UNIT_NAME = /^[A-Za-z0-9@_.:-]+$/;
const ABSOLUTE_PATH = /^\/[A-Za-z0-9@_.:/+-]*$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isIpv4(text: string): boolean {
  return IPV4.test(text);
}

function fixTheCaller(what: string, value: unknown, rule: string): never {
  throw new Error(
    `statusCommand: ${what} ${JSON.stringify(value)} is not ${rule}: fix the caller that produced it`,
  );
}

function checkPath(what: string, path: string): void {
  if (!ABSOLUTE_PATH.test(path) || path.includes('/../') || path.endsWith('/..')) {
    fixTheCaller(what, path, 'an absolute path without spaces');
  }
}

/** The argv of the status command (see status.sh for its arguments and its output). */
export function statusCommand(opts: {
  passwordFile: string;
  certFile: string;
  bgp: boolean;
  tunnels: StatusTarget[];
}): string[] {
  checkPath('password file', opts.passwordFile);
  checkPath('certificate file', opts.certFile);
  const words: string[] = [];
  for (const t of opts.tunnels) {
    if (!UNIT_NAME.test(t.unit)) fixTheCaller('unit', t.unit, 'a unit name');
    checkPath('config', t.config);
    if (!Number.isInteger(t.managementPort) || t.managementPort < 1 || t.managementPort > 65535) {
      fixTheCaller('management port', t.managementPort, 'a port number (1-65535)');
    }
    if (!IPV4.test(t.peerAddress)) fixTheCaller('peer address', t.peerAddress, 'an IPv4 address');
    words.push(t.unit, t.config, String(t.managementPort), t.peerAddress);
  }
  return [
    'sh',
    '-c',
    STATUS_SCRIPT,
    STATUS_NAME,
    opts.passwordFile,
    opts.certFile,
    opts.bgp ? '1' : '0',
    '--',
    ...words,
  ];
}

/** What to write to the status command's stdin once it printed `ready`: one line per probe, then `go`. */
export function probeInput(probes: StatusProbe[]): string {
  const lines = probes.map((p) => {
    if (!LAN_NAME_PATTERN.test(p.target)) {
      throw new Error(
        `probeInput: target ${JSON.stringify(p.target)} is not a gateway name: fix the caller that produced it`,
      );
    }
    for (const address of [p.source, p.destination]) {
      if (!IPV4.test(address)) {
        throw new Error(
          `probeInput: ${JSON.stringify(address)} is not an IPv4 address: fix the caller that produced it`,
        );
      }
    }
    return `probe ${p.target} ${p.source} ${p.destination}\n`;
  });
  return `${lines.join('')}${GO_LINE}\n`;
}
