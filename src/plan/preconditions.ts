import { foreignEntriesProblem, foreignManifestEntries, MANIFEST_FIX } from '../facts/manifest.js';
import type { Facts } from '../facts/types.js';
import {
  FRR_PACKAGES,
  FRR_RELOAD_SCRIPT,
  gatewayPaths,
  MANIFEST_PATH,
  TUNNEL_UNIT_TEMPLATE,
} from '../gateway/layout.js';
import type { DesiredState } from '../types.js';
import { HostPlanError } from './errors.js';
import type { InstallPackageAction, Noop } from './types.js';

/** OpenVPN releases whose options the rendered configs use (SPEC §4: 2.5 and 2.6, loads on 2.7). */
const MINIMUM_OPENVPN: [number, number] = [2, 5];

/**
 * A gateway whose manifest names another mesh (or another LAN of this mesh) is refused, untouched: the
 * inventory most likely points at the wrong machine, and meshctl would otherwise delete another mesh's tunnels.
 */
export function checkOwnership(desired: DesiredState, facts: Facts): void {
  const manifest = facts.manifest;
  if (!manifest) return;
  const { name, sshHost } = desired.gateway;
  if (manifest.mesh !== desired.manifest.mesh) {
    throw new HostPlanError(
      name,
      'other-mesh',
      `${name} (${sshHost}): ${MANIFEST_PATH} says this gateway belongs to mesh "${manifest.mesh}" (as LAN ` +
        `"${manifest.lan}"), not "${desired.manifest.mesh}"; meshctl never touches another mesh's gateway. Fix: ` +
        `check gateway.ssh_host in lans/${name}.yml, or remove the gateway from mesh "${manifest.mesh}" first ` +
        `(meshctl remove-lan ${manifest.lan} with that mesh's inventory)`,
    );
  }
  if (manifest.lan !== name) {
    throw new HostPlanError(
      name,
      'other-lan',
      `${name} (${sshHost}): ${MANIFEST_PATH} says this gateway is LAN "${manifest.lan}" of mesh ` +
        `"${manifest.mesh}", not "${name}"; two LANs must not share a gateway. Fix: check gateway.ssh_host in ` +
        `lans/${name}.yml and lans/${manifest.lan}.yml`,
    );
  }
}

/**
 * A gateway whose manifest names a path or unit outside meshctl's own is refused, untouched: apply would delete
 * or stop it as stale (as root), and only a hand edit or a bug writes such an entry. The operator decides.
 */
export function checkManifestEntries(desired: DesiredState, facts: Facts): void {
  if (!facts.manifest) return;
  const foreign = foreignManifestEntries(facts.manifest);
  if (foreign.length === 0) return;
  const { name, sshHost } = desired.gateway;
  throw new HostPlanError(
    name,
    'foreign-manifest-entry',
    `${name} (${sshHost}): ${MANIFEST_PATH} is refused: ${foreignEntriesProblem(foreign)}; nothing on this ` +
      `gateway is touched. Fix: ${MANIFEST_FIX}`,
  );
}

/**
 * meshctl runs tunnels and restores the firewall as systemd units (SPEC §3): a gateway without systemd as PID 1 is
 * refused before anything is written, naming what was found. An old probe that said nothing (`unknown`) is left to
 * the unit checks.
 */
export function checkSystemd(desired: DesiredState, facts: Facts): void {
  const { systemd } = facts;
  if (systemd.state === 'running' || systemd.state === 'unknown') return;
  const { name, sshHost } = desired.gateway;
  const found =
    systemd.state === 'missing'
      ? 'has no systemctl'
      : `has systemctl${systemd.version ? ` (systemd ${systemd.version})` : ''} but systemd is not running as PID 1 (no /run/systemd/system)`;
  throw new HostPlanError(
    name,
    'no-systemd',
    `${name} (${sshHost}): ${osName(facts)} ${found}; meshctl needs a systemd Linux (Debian/Ubuntu, the RHEL ` +
      'family, Amazon Linux) booted with systemd, to run the tunnels as units and restore the firewall at boot. ' +
      'Fix: point gateway.ssh_host at a systemd host (a container needs systemd as its init), then re-run',
  );
}

/** `debian 12 (bookworm)`, `debian (sid)`: how diff and messages name the gateway's system. */
export function releaseName(facts: Facts): string {
  const { id, versionId, codename } = facts.os;
  if (!id) return 'unknown OS';
  return `${[id, versionId].filter(Boolean).join(' ')}${codename ? ` (${codename})` : ''}`;
}

function osName(facts: Facts): string {
  if (!facts.os.id) return 'an unknown OS (no /etc/os-release)';
  return `"${[facts.os.id, facts.os.versionId].filter(Boolean).join(' ')}"`;
}

/** Install OpenVPN when missing; refuse a gateway that cannot get it or has one too old for the configs. */
export function checkOpenvpn(
  desired: DesiredState,
  facts: Facts,
  noops: Noop[],
  notes: string[],
): InstallPackageAction | null {
  const { name, sshHost } = desired.gateway;
  const version = facts.openvpnVersion;
  if (version === null) {
    const manager = facts.packageManager;
    if (!manager) {
      throw new HostPlanError(
        name,
        'unsupported-os',
        `${name} (${sshHost}): OpenVPN is not installed and ${osName(facts)} has none of apt-get, dnf or yum, ` +
          'so meshctl cannot install it (it supports Debian/Ubuntu, the RHEL family and Amazon Linux). Fix: ' +
          `install OpenVPN 2.5 or later with its ${TUNNEL_UNIT_TEMPLATE}.service unit by hand, then re-run`,
      );
    }
    return {
      kind: 'install-package',
      package: 'openvpn',
      packages: ['openvpn'],
      manager,
      reason: `OpenVPN is not installed; ${osName(facts)} installs it with ${manager}`,
    };
  }
  const match = /^(\d+)\.(\d+)/.exec(version);
  if (!match) {
    notes.push(`the installed OpenVPN reports no version number (${version}): 2.5 or later is assumed`);
  } else {
    const [major, minor] = [Number(match[1]), Number(match[2])];
    if (major < MINIMUM_OPENVPN[0] || (major === MINIMUM_OPENVPN[0] && minor < MINIMUM_OPENVPN[1])) {
      throw new HostPlanError(
        name,
        'old-openvpn',
        `${name} (${sshHost}): OpenVPN ${version} is installed, but meshctl's tunnel configs need 2.5 or later ` +
          '(data-ciphers, tls-crypt). Fix: upgrade OpenVPN on the gateway (a newer OS release or the OpenVPN ' +
          'community repository), then re-run',
      );
    }
  }
  noops.push({ subject: 'openvpn', reason: `openvpn ${version} already installed` });
  if (!facts.hasServerTemplate) {
    notes.push(
      `OpenVPN ${version} is installed but no ${TUNNEL_UNIT_TEMPLATE}.service unit file was found: tunnels cannot start ` +
        'until a package providing it is installed',
    );
  }
  return null;
}

/** FRR releases the rendered frr.conf is written for (Debian 11's 7.5 to 10.x). */
const MINIMUM_FRR: [number, number] = [7, 5];

/**
 * With `routing: bgp`: install FRR when missing (and, on Debian, frr-reload's package: without it a changed
 * frr.conf could only be loaded by restarting FRR); refuse an FRR too old for the rendered configuration.
 */
export function checkFrr(
  desired: DesiredState,
  facts: Facts,
  noops: Noop[],
  notes: string[],
): InstallPackageAction | null {
  if (!desired.bgp) return null;
  const { name, sshHost } = desired.gateway;
  const version = facts.frr.version;
  const manager = facts.packageManager;
  if (version === null || (!facts.frr.reload && manager === 'apt-get')) {
    if (!manager) {
      throw new HostPlanError(
        name,
        'unsupported-os',
        `${name} (${sshHost}): routing: bgp needs FRR, which is not installed, and ${osName(facts)} has none of ` +
          'apt-get, dnf or yum, so meshctl cannot install it. Fix: install FRR 7.5 or later (bgpd, bfdd and ' +
          'frr-reload.py) by hand, then re-run',
      );
    }
    const packages = version === null ? [...FRR_PACKAGES[manager]] : ['frr-pythontools'];
    return {
      kind: 'install-package',
      package: 'frr',
      packages,
      manager,
      reason:
        version === null
          ? `routing: bgp needs FRR, which is not installed; ${osName(facts)} installs ${packages.join(' and ')} with ${manager}`
          : `FRR ${version} is installed without frr-reload.py: ${manager} installs frr-pythontools, so a changed frr.conf is loaded in place`,
    };
  }
  const match = /^(\d+)\.(\d+)/.exec(version);
  if (match) {
    const [major, minor] = [Number(match[1]), Number(match[2])];
    if (major < MINIMUM_FRR[0] || (major === MINIMUM_FRR[0] && minor < MINIMUM_FRR[1])) {
      throw new HostPlanError(
        name,
        'old-frr',
        `${name} (${sshHost}): FRR ${version} is installed, but meshctl's frr.conf needs 7.5 or later (BFD peers ` +
          "in bfdd, route-maps on every session). Fix: upgrade FRR on the gateway (a newer OS release or FRR's " +
          'own package repository), then re-run',
      );
    }
  } else notes.push(`the installed FRR reports no version number (${version}): 7.5 or later is assumed`);
  if (!facts.frr.reload) {
    notes.push(
      `FRR ${version} has no ${FRR_RELOAD_SCRIPT}: a changed frr.conf is loaded by restarting FRR (its sessions drop for a moment)`,
    );
  }
  noops.push({ subject: 'frr', reason: `FRR ${version} already installed` });
  return null;
}

/**
 * With `routing: bgp` meshctl owns FRR's frr.conf and daemons (SPEC §3). A gateway where either holds someone
 * else's configuration (neither the package's default nor meshctl's) is refused, untouched: overwriting it would
 * silently end whatever routing the operator runs there.
 */
export function checkFrrConfig(desired: DesiredState, facts: Facts): void {
  if (!desired.bgp) return;
  const { name, sshHost } = desired.gateway;
  const foreign: string[] = [];
  for (const path of [gatewayPaths.frrConf, gatewayPaths.frrDaemons]) {
    const present = facts.files[path];
    // absent (FRR not installed yet), meshctl's (in its manifest), or already the content meshctl wants
    if (!present || facts.manifest?.files[path] !== undefined) continue;
    if (present.sha256 === desired.manifest.files[path]) continue;
    if (facts.frr.config[path] === 'pristine') continue;
    foreign.push(path);
  }
  if (foreign.length === 0) return;
  const what = foreign.length === 1 ? `${foreign[0]} is` : `${foreign.join(' and ')} are`;
  throw new HostPlanError(
    name,
    'foreign-frr-config',
    `${name} (${sshHost}): ${what} neither FRR's package default nor meshctl's: this gateway's FRR runs ` +
      "someone else's configuration, which routing: bgp would replace; nothing on this gateway is touched. Fix: " +
      'if that FRR configuration is no longer needed, move it aside (e.g. ' +
      `\`mv ${foreign[0]} ${foreign[0]}.before-meshctl\`) and re-run; if it is, keep this gateway out of a bgp ` +
      'mesh (meshctl needs FRR on the gateway to itself)',
  );
}
