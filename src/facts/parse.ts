import { MANIFEST_PATH } from '../gateway/layout.js';
import type { FirewallLayout } from '../types.js';
import { ProbeOutputError } from './errors.js';
import { readManifest } from './manifest.js';
import {
  parseAddress,
  parseNftChains,
  parseProcUdpLine,
  parseRoute,
  parseSsLine,
  parseSysctlForward,
  unknownNetwork,
} from './network.js';
import { choosePackageManager, osFamily, osReleaseValue } from './os.js';
import type { Facts, FileFact, PackageManager, UnitFact } from './types.js';

/** The probe format this parser reads (the `probe` record). */
export const PROBE_FORMAT = '1';

const SHA256_HEX = /^[0-9a-f]{64}$/;
const PACKAGE_MANAGERS: readonly string[] = ['apt-get', 'dnf', 'yum'];

interface ProbeRecord {
  tag: string;
  fields: string[];
  /** Everything after the first TAB, verbatim (for records whose single field may itself hold TABs). */
  rest: string;
}

function splitRecord(line: string): ProbeRecord {
  const tab = line.indexOf('\t');
  if (tab < 0) return { tag: line, fields: [], rest: '' };
  const rest = line.slice(tab + 1);
  return { tag: line.slice(0, tab), fields: rest.split('\t'), rest };
}

/** The probe's records, from its header to its `end`; anything printed before the header is ignored. */
function probeRecords(stdout: string, gateway: string, warnings: string[]): ProbeRecord[] {
  const lines = stdout.split('\n');
  const start = lines.findIndex((line) => line.startsWith('probe\t'));
  if (start < 0) {
    const first = JSON.stringify(stdout.slice(0, 80));
    throw new ProbeOutputError(
      gateway,
      `${gateway}: the probe printed no "probe" header (output starts ${first}); the remote shell did not run ` +
        'the probe: check that `sh` exists and that the login user can run commands there',
    );
  }
  if (start > 0) {
    warnings.push(
      `${start} line(s) printed before the probe's output were ignored (a login script prints them)`,
    );
  }
  const header = splitRecord(lines[start]!);
  if (header.rest !== PROBE_FORMAT) {
    throw new ProbeOutputError(
      gateway,
      `${gateway}: the probe reports format ${JSON.stringify(header.rest)}, this meshctl reads format ` +
        `${PROBE_FORMAT}: the probe and the parser come from different meshctl versions; reinstall meshctl`,
    );
  }
  const end = lines.indexOf('end', start);
  if (end < 0) {
    throw new ProbeOutputError(
      gateway,
      `${gateway}: the probe's output stops after ${lines.length - start} line(s) without its "end" record ` +
        '(the connection dropped or the probe was killed): re-run; facts from a partial probe are never used',
    );
  }
  return lines.slice(start + 1, end).map(splitRecord);
}

function parseFileRecord(fields: string[], warnings: string[]): [string, FileFact | null] {
  const [path = '', sha256 = '', mode = '', owner = ''] = fields;
  if (!SHA256_HEX.test(sha256) || !/^[0-7]{3,4}$/.test(mode)) {
    warnings.push(
      `${path}: the probe reported checksum ${JSON.stringify(sha256)} and mode ${JSON.stringify(mode)}, ` +
        'which cannot be read: the file is treated as different from what meshctl wants',
    );
    return [path, { sha256: '', mode: Number.parseInt(mode, 8) || 0, owner }];
  }
  return [path, { sha256, mode: Number.parseInt(mode, 8), owner }];
}

/** One `systemctl show` block (KEY=VALUE lines) → [unit name, state]. */
function parseUnitBlock(lines: string[]): [string, UnitFact] | null {
  const props = new Map<string, string>();
  for (const line of lines) {
    const eq = line.indexOf('=');
    if (eq > 0) props.set(line.slice(0, eq), line.slice(eq + 1));
  }
  const id = props.get('Id');
  if (!id) return null;
  return [
    id,
    {
      load: props.get('LoadState') ?? '',
      active: props.get('ActiveState') ?? '',
      sub: props.get('SubState') ?? '',
      enabled: props.get('UnitFileState') ?? '',
      mainPid: Number.parseInt(props.get('MainPID') ?? '0', 10) || 0,
      statusText: props.get('StatusText') ?? '',
    },
  ];
}

/** `-A INPUT … -j MESHCTL-…`: a jump from a built-in chain into one of meshctl's chains. */
function jumpsFrom(rules: string[], builtin: string, chainPrefix: string): boolean {
  return rules.some((rule) => {
    const words = rule.split(/\s+/);
    const jump = words.indexOf('-j');
    return (
      words[0] === '-A' &&
      words[1] === builtin &&
      jump > 0 &&
      (words[jump + 1] ?? '').startsWith(`${chainPrefix}-`)
    );
  });
}

/**
 * Parse probe.sh's report (pure). Tolerates what a gateway may lack (systemd as PID 1, iptables, os-release):
 * each gap becomes a `warnings` entry. Throws ProbeOutputError only when the output as a whole is unusable.
 * `gateway` names the gateway in messages; `firewall` is the layout the probe was run with (probeCommand).
 */
export function parseFacts(stdout: string, gateway: string, firewall: FirewallLayout): Facts {
  const { chainPrefix } = firewall;
  const warnings: string[] = [];
  const records = probeRecords(stdout, gateway, warnings);

  const osRelease = new Map<string, string>();
  const managersFound: PackageManager[] = [];
  let openvpnLine: string | null = null;
  let hasServerTemplate = false;
  const frr: Facts['frr'] = { version: null, reload: false, config: {} };
  let systemd: Facts['systemd'] = { state: 'unknown' };
  const files: Record<string, FileFact | null> = {};
  const manifestLines: string[] = [];
  let manifestPresent = false;
  const units: Facts['units'] = {};
  let unitBlock: string[] = [];
  let ipForward: boolean | null = null;
  const rules: string[] = [];
  let iptablesReadable = false;
  let unrecognised = 0;
  const network = unknownNetwork();
  const nftLines: string[] = [];
  let ipUnavailable = false;

  for (const { tag, fields, rest } of records) {
    switch (tag) {
      case 'os-release': {
        const eq = rest.indexOf('=');
        if (eq > 0) osRelease.set(rest.slice(0, eq), osReleaseValue(rest.slice(eq + 1)));
        break;
      }
      case 'systemd':
        systemd = { state: 'running', version: systemdVersion(rest) };
        break;
      case 'systemd-not-booted':
        systemd = { state: 'not-booted', version: systemdVersion(rest) };
        break;
      case 'systemd-missing':
        systemd = { state: 'missing' };
        break;
      case 'os-release-missing':
        warnings.push('neither /etc/os-release nor /usr/lib/os-release exists: the OS is unknown');
        break;
      case 'package-manager':
        if (PACKAGE_MANAGERS.includes(rest)) managersFound.push(rest as PackageManager);
        break;
      case 'openvpn':
        openvpnLine = rest;
        break;
      case 'openvpn-missing':
        openvpnLine = null;
        break;
      case 'server-template':
        hasServerTemplate = rest === 'yes';
        break;
      case 'frr':
        frr.version = frrVersion(rest, warnings);
        break;
      case 'frr-missing':
        frr.version = null;
        break;
      case 'frr-reload':
        frr.reload = rest === 'yes';
        break;
      case 'frr-config':
        if (fields[1] === 'pristine' || fields[1] === 'changed') frr.config[fields[0]!] = fields[1];
        break;
      case 'file': {
        const [path, fact] = parseFileRecord(fields, warnings);
        files[path] = fact;
        break;
      }
      case 'file-absent':
        files[rest] = null;
        break;
      case 'file-other':
        files[rest] = null;
        warnings.push(
          `${rest} exists but is not a regular file: replace it by hand (meshctl never deletes it)`,
        );
        break;
      case 'file-unreadable':
        files[fields[0]!] = null;
        warnings.push(`${fields[0]} could not be checksummed (${fields.slice(1).join(' ')})`);
        break;
      case 'manifest':
        manifestPresent = true;
        manifestLines.push(rest);
        break;
      case 'manifest-end':
        manifestPresent = true;
        break;
      case 'manifest-absent':
        break;
      case 'unit':
        unitBlock.push(rest);
        break;
      case 'unit-end': {
        const parsed = parseUnitBlock(unitBlock);
        if (parsed) units[parsed[0]] = parsed[1];
        unitBlock = [];
        break;
      }
      case 'systemd-unavailable':
        warnings.push(`unit states are unknown: systemctl does not answer (${rest || 'no detail'})`);
        break;
      case 'ip-forward':
        ipForward = rest === '1' ? true : rest === '0' ? false : null;
        if (ipForward === null)
          warnings.push(`net.ipv4.ip_forward reads ${JSON.stringify(rest)}, not 0 or 1`);
        break;
      case 'ip-forward-unknown':
        warnings.push('net.ipv4.ip_forward could not be read (/proc/sys/net/ipv4/ip_forward missing)');
        break;
      case 'iptables':
        rules.push(rest);
        break;
      case 'iptables-read':
        iptablesReadable = true;
        break;
      case 'iptables-missing':
        warnings.push(
          'iptables is not installed: the firewall cannot be checked or loaded (install iptables)',
        );
        break;
      case 'iptables-failed':
        warnings.push(`\`iptables -S\` failed (${rest || 'no detail'}): the firewall state is unknown`);
        break;
      case 'time': {
        const seconds = Number(rest);
        network.clock = Number.isInteger(seconds) && seconds > 0 ? seconds : null;
        // a probe that tells the time reads the sysctl files too: no record there means no file sets forwarding
        network.sysctlForward ??= [];
        network.sysctlFiles ??= [];
        break;
      }
      case 'addr': {
        const address = parseAddress(rest);
        network.addresses ??= [];
        if (address) network.addresses.push(address);
        break;
      }
      case 'route': {
        const route = parseRoute(rest);
        network.routes ??= [];
        if (route) network.routes.push(route);
        break;
      }
      case 'route-truncated':
        network.routesTruncated = true;
        warnings.push(
          'the gateway has more than 5000 routes: only the first 5000 were checked for collisions',
        );
        break;
      case 'ip-unavailable':
        ipUnavailable = true;
        warnings.push(
          `addresses and routes are unknown (${rest || 'no ip command'}): their checks are skipped`,
        );
        break;
      case 'udp-ss':
      case 'udp-proc': {
        const socket = tag === 'udp-ss' ? parseSsLine(rest) : parseProcUdpLine(rest);
        network.udp ??= [];
        if (socket) network.udp.push(socket);
        break;
      }
      case 'udp-unavailable':
        break;
      case 'sysctl-file':
        network.sysctlFiles ??= [];
        network.sysctlFiles.push(rest);
        break;
      case 'sysctl-forward': {
        const setting = parseSysctlForward(fields[0] ?? '', fields.slice(1).join(' '));
        network.sysctlForward ??= [];
        if (setting) network.sysctlForward.push(setting);
        break;
      }
      case 'forward-chain':
        network.forwardChain ??= [];
        network.forwardChain.push(rest);
        break;
      case 'nft':
        nftLines.push(rest);
        break;
      case 'rp-filter': {
        const value = Number(fields[1]);
        network.rpFilter ??= {};
        if (fields[0] && Number.isInteger(value)) network.rpFilter[fields[0]] = value;
        break;
      }
      default:
        unrecognised++;
    }
  }
  if (nftLines.length > 0) network.nftChains = parseNftChains(nftLines);
  // ip answered but printed no address (or no route): an empty list, not an unknown one
  if (network.clock !== null && !ipUnavailable) {
    network.addresses ??= [];
    network.routes ??= [];
  }
  if (unrecognised > 0)
    warnings.push(`${unrecognised} unrecognised line(s) in the probe's output were ignored`);

  const id = osRelease.get('ID') ?? '';
  const idLike = (osRelease.get('ID_LIKE') ?? '').split(/\s+/).filter(Boolean);
  const family = osFamily(id, idLike);

  let manifest: Facts['manifest'] = null;
  if (manifestPresent) {
    const parsed = readManifest(manifestLines.join('\n'));
    if ('manifest' in parsed) manifest = parsed.manifest;
    else {
      warnings.push(
        `${MANIFEST_PATH} is unusable: ${parsed.problem}. meshctl cannot tell which files it created there, so ` +
          'it removes none and writes a fresh manifest',
      );
    }
  }

  return {
    os: {
      id,
      idLike,
      versionId: osRelease.get('VERSION_ID') ?? '',
      codename: osRelease.get('VERSION_CODENAME') ?? '',
      family,
    },
    systemd,
    packageManager: choosePackageManager(family, managersFound),
    openvpnVersion: openvpnLine === null ? null : openvpnVersion(openvpnLine, warnings),
    hasServerTemplate,
    frr,
    files,
    units,
    manifest,
    ipForward,
    firewall: {
      readable: iptablesReadable,
      chains: rules.some((rule) => rule.startsWith(`-N ${chainPrefix}-`)),
      jumps: jumpsFrom(rules, 'INPUT', chainPrefix) && jumpsFrom(rules, 'FORWARD', chainPrefix),
    },
    network,
    warnings,
  };
}

/** `systemd 252 (252.39-1~deb12u1)` → 252. */
function systemdVersion(line: string): number | null {
  const match = /^systemd (\d+)/.exec(line);
  return match ? Number(match[1]) : null;
}

/** `bgpd version 8.4.4` → `8.4.4`. */
function frrVersion(line: string, warnings: string[]): string {
  const match = /\bversion (\d+\.\d+(?:\.\d+)?[^\s]*)/.exec(line);
  if (match) return match[1]!;
  warnings.push(`\`bgpd --version\` printed ${JSON.stringify(line.slice(0, 80))}: FRR's version is unknown`);
  return 'unknown';
}

/** `OpenVPN 2.6.14 x86_64-pc-linux-gnu [SSL …]` → `2.6.14`. */
function openvpnVersion(line: string, warnings: string[]): string {
  const match = /^OpenVPN (\d+\.\d+(?:\.\d+)?[^\s]*)/.exec(line);
  if (match) return match[1]!;
  warnings.push(`\`openvpn --version\` printed ${JSON.stringify(line.slice(0, 80))}: its version is unknown`);
  return 'unknown';
}
