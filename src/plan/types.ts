import type { PackageManager } from '../facts/types.js';
import type { Gateway } from '../types.js';

/**
 * A HostPlan is what `apply` will do on one gateway, in order, and why; plus why everything else needs nothing.
 * It carries no file content: the executor takes content from the DesiredState by path, so a plan (and its JSON)
 * can never leak key material.
 */

/** Terraform-like change symbols: create, change in place, destroy, restart; `✓` checks and changes nothing. */
export type ChangeSymbol = '+' | '~' | '-' | '↻' | '✓';

interface ActionBase {
  /** Why this action is needed, for `diff` and logs. Never contains file content. */
  reason: string;
}

export interface InstallPackageAction extends ActionBase {
  kind: 'install-package';
  /** What is installed, as diff names it: `openvpn`, `frr`. */
  package: 'openvpn' | 'frr';
  /** The package names given to the package manager, in one command. */
  packages: string[];
  manager: PackageManager;
}

/** FRR loads a changed frr.conf in place (`systemctl reload`, frr-reload): no daemon restarts, sessions stay up. */
export interface ReloadFrrAction extends ActionBase {
  kind: 'reload-frr';
  unit: string;
}

/** After apply: these BGP sessions must be Established, each with the peer's own subnets received. */
export interface VerifyBgpAction extends ActionBase {
  kind: 'verify-bgp';
  unit: string;
  neighbors: { peer: string; address: string; expects: string[] }[];
}

export interface WriteFileAction extends ActionBase {
  kind: 'write-file';
  /** create: absent on the gateway; update: content differs; mode-only: content matches, mode or owner do not. */
  change: 'create' | 'update' | 'mode-only';
  path: string;
  mode: number;
  owner: 'root';
  /** Key material: never shown, diffed or logged; no checksum is carried either. */
  secret: boolean;
  /** sha256 of the gateway's current content (non-secret files being updated or chmod-ed only). */
  oldSha256?: string;
  /** sha256 of the desired content (non-secret files only). */
  newSha256?: string;
  /** The gateway's current mode, when the file exists. */
  oldMode?: number;
}

export interface RemoveFileAction extends ActionBase {
  kind: 'remove-file';
  path: string;
}

export interface DaemonReloadAction extends ActionBase {
  kind: 'daemon-reload';
}

export interface ApplySysctlAction extends ActionBase {
  kind: 'apply-sysctl';
  /** The file to load with `sysctl -p FILE`. */
  path: string;
}

export interface ReloadFirewallAction extends ActionBase {
  kind: 'reload-firewall';
  /** The unit that owns the firewall (restarting it re-runs the firewall script). */
  unit: string;
}

export interface ReloadRoutesAction extends ActionBase {
  kind: 'reload-routes';
  /** The unit that installs the routes through peers (reloading it reruns routes.sh in place). */
  unit: string;
}

export type UnitActionKind = 'enable-unit' | 'start-unit' | 'restart-unit' | 'stop-unit' | 'disable-unit';

export interface UnitAction extends ActionBase {
  kind: UnitActionKind;
  unit: string;
}

export interface VerifyTunnelAction extends ActionBase {
  kind: 'verify-tunnel';
  unit: string;
  peer: string;
  /** The peer's transit address: it answers once the tunnel is up. */
  peerAddress: string;
}

export interface WriteManifestAction extends ActionBase {
  kind: 'write-manifest';
  path: string;
}

/** A gateway leaving the mesh: meshctl's chains and jumps go, even with the firewall unit already stopped. */
export interface RemoveFirewallAction extends ActionBase {
  kind: 'remove-firewall';
  /** firewall.sh, run with `stop`. */
  script: string;
}

/** A gateway leaving the mesh: the manifest goes last, then meshctl's directories when they are empty. */
export interface RemoveManifestAction extends ActionBase {
  kind: 'remove-manifest';
  path: string;
  directories: string[];
}

export type Action =
  | InstallPackageAction
  | WriteFileAction
  | RemoveFileAction
  | DaemonReloadAction
  | ApplySysctlAction
  | ReloadFirewallAction
  | ReloadRoutesAction
  | ReloadFrrAction
  | UnitAction
  | VerifyTunnelAction
  | VerifyBgpAction
  | WriteManifestAction
  | RemoveFirewallAction
  | RemoveManifestAction;

export type ActionKind = Action['kind'];

/** Something that needs no action, with the reason (pyinfra's `host.noop`). */
export interface Noop {
  /** The path, unit or package concerned. */
  subject: string;
  reason: string;
}

/** Resources (package, files, units, manifest) by what happens to them; tunnels restarted or started. */
export interface PlanSummary {
  add: number;
  change: number;
  remove: number;
  restart: number;
}

/** What the gateway runs, as the probe found it: shown by diff, so a mixed mesh is visible at a glance. */
export interface GatewaySystem {
  /** `debian 12 (bookworm)`. */
  release: string;
  /** e.g. `2.6.14`; null when OpenVPN is not installed yet. */
  openvpn: string | null;
  /** systemd's version number, when known. */
  systemd: number | null;
  /** FRR's version with routing: bgp (null: not installed yet); absent with static routing. */
  frr?: string | null;
}

export interface HostPlan {
  gateway: Gateway;
  system: GatewaySystem;
  /** In execution order; write-manifest, when present, is last. */
  actions: Action[];
  noops: Noop[];
  /** Things the operator should know that are not actions: peers outside --limit, probe warnings. */
  notes: string[];
  summary: PlanSummary;
}
