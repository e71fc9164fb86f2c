import { peerOfTunnelUnit } from '../gateway/layout.js';
import type { VerifyTunnelAction } from '../plan/types.js';

/**
 * What a run did to a gateway and to each tunnel it touched, as closed types (Terraform's `plans.Action` is the
 * model): every decision after verification — rollback, the manifest, the exit code, the summary — switches on a
 * kind, never on the text of a message.
 */

/** Where a gateway's run stopped. Later phases skip a failed gateway. */
export type Stage = 'connect' | 'plan' | 'converge' | 'start' | 'verify' | 'manifest';

export interface GatewayFailure {
  stage: Stage;
  /** The step within the stage, when there is one (e.g. `write 3 files (one atomic bundle)`). */
  step?: string;
  message: string;
}

/** What verification saw at one end of a tunnel. `error`: the check itself failed, so the state is unknown. */
export type EndCheck =
  | { probe: VerifyTunnelAction; seen: 'up' }
  | { probe: VerifyTunnelAction; seen: 'down' }
  | { probe: VerifyTunnelAction; seen: 'error'; error: string };

/** A changed file a rollback did not put back, and why. */
export interface KeptFile {
  path: string;
  /** Other tunnels of this gateway that were not rolled back: they run on the new version and keep it. */
  sharedWith: string[];
}

export type TunnelOutcome =
  /**
   * Up at this end, and at the other end when the other end took part in this run. `restartedAgain`: restarted a
   * second time because its BGP session stayed down after the first (why; see waitForBgpOrRestart).
   */
  | { kind: 'verified'; restartedAgain?: string }
  /** Did not come up; changed files of its own were put back (or a new tunnel removed) and the unit restarted. */
  | { kind: 'rolled-back'; restored: string[]; kept: KeptFile[]; removed: boolean; firewallWidened: boolean }
  /**
   * Did not come up, and nothing of its own could be put back at this end: this run changed none of its files
   * here, or only files other tunnels came up on (`kept`).
   */
  | { kind: 'down'; kept: KeptFile[] }
  /** Did not come up, and putting the previous files back failed too. */
  | { kind: 'rollback-failed'; error: string }
  /** Verification itself failed (an exec timeout, a lost link): whether the tunnel is up is unknown. */
  | { kind: 'verify-error'; error: string }
  /** Not checked: the other end failed earlier in this run, so its half of the tunnel was never started. */
  | { kind: 'peer-failed' }
  /** Not checked: the other end is not part of this run (--limit, or add-lan's first phase). */
  | { kind: 'peer-not-in-run' };

export type TunnelOutcomeKind = TunnelOutcome['kind'];

export interface TunnelResult {
  unit: string;
  peer: string;
  outcome: TunnelOutcome;
}

/**
 * A tunnel that came up, or was not checked because of its peer: the peer is reported failed itself, or was left
 * out of the run on purpose.
 */
export function acceptable(outcome: TunnelOutcome): boolean {
  return outcome.kind === 'verified' || outcome.kind === 'peer-failed' || outcome.kind === 'peer-not-in-run';
}

/**
 * The tunnel runs on files this run cannot vouch for: the manifest must not record them as converged, so the next
 * run restarts and verifies the tunnel again (see `confirmedManifestFiles`).
 */
export function unconfirmed(outcome: TunnelOutcome): boolean {
  switch (outcome.kind) {
    case 'verified':
    case 'rolled-back':
      return false;
    case 'down':
    case 'rollback-failed':
    case 'verify-error':
    case 'peer-failed':
    case 'peer-not-in-run':
      return true;
  }
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function peersOf(units: string[]): string {
  return units.map((u) => peerOfTunnelUnit(u) ?? u).join(', ');
}

function keptText(kept: KeptFile): string {
  return `${basename(kept.path)} NOT restored: shared with tunnel(s) to ${peersOf(kept.sharedWith)}, which were not rolled back and run on the new version`;
}

/** One sentence for the summary and `--json`'s `note`; the outcome itself is the machine-readable part. */
export function describeOutcome(outcome: TunnelOutcome, peer: string): string {
  switch (outcome.kind) {
    case 'verified':
      return outcome.restartedAgain ? `up, after a second restart: ${outcome.restartedAgain}` : 'up';
    case 'rolled-back': {
      if (outcome.removed) return 'did not come up; new tunnel removed again';
      const parts = [
        `did not come up; previous config restored (${outcome.restored.map(basename).join(', ')}) and restarted`,
        ...outcome.kept.map(keptText),
      ];
      if (outcome.firewallWidened) {
        parts.push('firewall keeps its previous rules next to the new ones until the next successful apply');
      }
      return parts.join('; ');
    }
    case 'down':
      return [
        outcome.kept.length > 0
          ? 'did not come up; nothing of its own to restore on this gateway'
          : 'did not come up; none of its files changed on this gateway, nothing to restore here',
        ...outcome.kept.map(keptText),
      ].join('; ');
    case 'rollback-failed':
      return `did not come up, and restoring its previous files failed: ${outcome.error}`;
    case 'verify-error':
      return `not verified: the check failed (${outcome.error}); the next apply restarts and verifies it`;
    case 'peer-failed':
      return `not verified: ${peer} failed; the next apply restarts and verifies it`;
    case 'peer-not-in-run':
      return `not verified: ${peer} is not in this run; the next apply that includes it restarts and verifies it`;
  }
}

/** What one end needs from the pair decision: its check, and the other end's when the other end was checked. */
export type PairVerdict = 'up' | 'down' | 'error';

/**
 * The pair decision (both ends must agree, so neither stays on a config the other dropped): a tunnel seen down at
 * either end is rolled back at both; else a check that failed at either end leaves the pair unverified at both;
 * else it is up. `peer` is undefined when the other end was not checked in this run (outside the selection).
 */
export function pairVerdict(here: EndCheck, peer: EndCheck | undefined): PairVerdict {
  if (here.seen === 'down' || peer?.seen === 'down') return 'down';
  if (here.seen === 'error' || peer?.seen === 'error') return 'error';
  return 'up';
}

/** The error that made a pair unverified, from whichever end saw it. */
export function verdictError(here: EndCheck, peer: EndCheck | undefined): string {
  if (here.seen === 'error') return here.error;
  if (peer?.seen === 'error') return `at the other end: ${peer.error}`;
  return 'unknown';
}

/**
 * The file checksums the manifest records after a run. The manifest is what the next run trusts as converged, so:
 * - a file a rollback put back records its checksum from before the run (or leaves the manifest if it was new);
 * - a file this run wrote that an unconfirmed tunnel reads records `UNCONFIRMED_SHA256`, which no content has:
 *   the next run sees content that matches but is not confirmed, and restarts and verifies that tunnel;
 * - everything else records the desired checksum.
 */
export const UNCONFIRMED_SHA256 = '0'.repeat(64);

export function confirmedManifestFiles(input: {
  desired: Record<string, string>;
  /** Checksums before the run (null: the file did not exist). */
  before: Record<string, string | null>;
  restored: string[];
  /** Files this run wrote (created or updated), with the units they notify. */
  written: { path: string; notifies: string[] }[];
  /** Tunnel units whose outcome is unconfirmed. */
  unconfirmedUnits: Set<string>;
}): Record<string, string> {
  const files = { ...input.desired };
  const restored = new Set(input.restored);
  for (const { path, notifies } of input.written) {
    if (restored.has(path)) continue;
    if (notifies.some((unit) => input.unconfirmedUnits.has(unit))) files[path] = UNCONFIRMED_SHA256;
  }
  for (const path of restored) {
    const before = input.before[path];
    if (before) files[path] = before;
    else delete files[path];
  }
  return files;
}
