import type { Diagnostic } from './types.js';

/** Base class: every error meshctl reports on purpose. `exitCode` is applied in one place (src/cli.ts). */
export class MeshctlError extends Error {
  readonly exitCode: number = 1;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The inventory is invalid; carries every finding (validation collects all problems, then fails once). */
export class InventoryError extends MeshctlError {
  constructor(
    readonly diagnostics: Diagnostic[],
    message = `inventory is invalid: ${diagnostics.filter((d) => d.severity === 'error').length} problem(s)`,
  ) {
    super(message);
  }
}

/** Bad command-line usage (unknown LAN in --limit, missing --out, …). */
export class UsageError extends MeshctlError {}

/** The PKI directory is unusable (unsafe permissions, another mesh's CA, missing material). */
export class PkiError extends MeshctlError {}

/** A role template or its defaults.yml is missing or fails to render. */
export class RoleError extends MeshctlError {}

/** Could not connect to a gateway (network, authentication, timeout). */
export class ConnectError extends MeshctlError {
  constructor(
    readonly host: string,
    message: string,
  ) {
    super(message);
  }
}

/** The gateway's SSH host key is unknown or changed. */
export class HostKeyError extends MeshctlError {
  constructor(
    readonly host: string,
    readonly kind: 'unknown' | 'changed' | 'revoked',
    message: string,
  ) {
    super(message);
  }
}

/** A remote command exited non-zero where success was required. Never carries stdin (secrets travel there). */
export class RemoteCommandError extends MeshctlError {
  constructor(
    readonly host: string,
    readonly argv: string[],
    readonly code: number | null,
    readonly stderr: string,
    message?: string,
  ) {
    super(
      message ??
        `${host}: \`${argv.join(' ')}\` exited ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`,
    );
  }
}

/** Another meshctl run holds the inventory lock. */
export class LockError extends MeshctlError {}
