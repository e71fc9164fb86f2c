import type { Facts } from '../facts/types.js';
import type { DesiredState } from '../types.js';
import type { FileChange } from './file-changes.js';
import type { Action } from './types.js';

/** Everything planning one gateway may look at: its peers' desired state and facts decide tunnel restarts. */
export interface MeshView {
  desired: Map<string, DesiredState>;
  facts: Map<string, Facts>;
  limit: ReadonlySet<string>;
  /** compareFiles of a gateway being planned, computed once; null when it has no facts. */
  changes(lan: string): FileChange[] | null;
  /** A peer's file changes, or why its end cannot be judged (outside --limit, no facts, refused). */
  peerChanges(peer: string): { changes: FileChange[] } | { unknown: string };
  /**
   * Tunnels to restart (both ends) whether or not their files changed, keyed `gateway unit`, with the reason:
   * rotate --gateway after a revocation (OpenVPN checks a changed CRL only from its next TLS session on).
   */
  restart?: ReadonlyMap<string, string>;
}

/** Collects actions by phase; `ordered()` returns them in execution order. */
export class PhasedActions {
  readonly install: Action[] = [];
  readonly stop: Action[] = [];
  readonly remove: Action[] = [];
  readonly write: Action[] = [];
  readonly reload: Action[] = [];
  readonly system: Action[] = [];
  readonly enable: Action[] = [];
  readonly start: Action[] = [];
  readonly verify: Action[] = [];

  ordered(): Action[] {
    return [
      ...this.install,
      // stale tunnels stop before their files go; removals before writes free nothing but keep the story readable
      ...this.stop,
      ...this.remove,
      ...this.write,
      // systemd must see changed unit files before anything is enabled or started
      ...this.reload,
      // forwarding and firewall are in place before tunnels come up
      ...this.system,
      ...this.enable,
      ...this.start,
      ...this.verify,
    ];
  }
}
