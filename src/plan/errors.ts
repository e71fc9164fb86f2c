import { MeshctlError } from '../errors.js';

/** Why a gateway gets no plan at all; every other gateway is still planned (SPEC §6). */
export type HostPlanErrorKind =
  | 'other-mesh'
  | 'other-lan'
  | 'foreign-manifest-entry'
  | 'unsupported-os'
  | 'no-systemd'
  | 'old-openvpn'
  | 'old-frr'
  | 'foreign-frr-config'
  | 'preflight'
  | 'no-facts'
  | 'unknown-lan';

/** A gateway meshctl refuses to touch or cannot converge; the message names the gateway, the value and the fix. */
export class HostPlanError extends MeshctlError {
  constructor(
    readonly lan: string,
    readonly kind: HostPlanErrorKind,
    message: string,
  ) {
    super(message);
  }
}
