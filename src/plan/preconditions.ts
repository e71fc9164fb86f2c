import { foreignEntriesProblem, foreignManifestEntries, MANIFEST_FIX } from '../facts/manifest.js';
import type { Facts } from '../facts/types.js';
import { MANIFEST_PATH, TUNNEL_UNIT_TEMPLATE } from '../gateway/layout.js';
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
