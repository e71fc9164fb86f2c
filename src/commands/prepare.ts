import { statSync } from 'node:fs';
import { sshConnector } from '../connection/ssh.js';
import type { Connector } from '../connection/types.js';
import { recoverInterrupted } from '../execute/run.js';
import { loadInventoryOrThrow } from '../inventory/load.js';
import { acquireLock, type Lock } from '../lock.js';
import type { Output } from '../output.js';
import type { Inventory } from '../types.js';
import { computeDesired, type Desired, type PkiMode } from './desired.js';
import { type GlobalOptions, selectLans } from './options.js';

/**
 * Command preparation shared by diff/apply/add-lan/remove-lan (and render): the inventory lock, the offline desired
 * state, the --limit selection and the connector. The push engine itself is src/execute/run.ts.
 */

/** What a caller (a test, a benchmark) may hand a command instead of the real thing: the SSH connector. */
export interface CommandDeps {
  connector?: Connector;
}

export interface ConnectingOptions extends GlobalOptions {
  acceptNew?: boolean;
  tunnelTimeout?: number;
}

/** The engine options every converging command takes from its own options (SPEC §5: --forks, --accept-new, --tunnel-timeout). */
export function engineBase(
  options: ConnectingOptions,
  out: Output,
  connector: Connector,
): { forks: number; acceptNew: boolean; connector: Connector; out: Output; tunnelTimeoutMs: number } {
  return {
    forks: options.forks,
    acceptNew: Boolean(options.acceptNew),
    connector,
    out,
    tunnelTimeoutMs: (options.tunnelTimeout ?? 60) * 1000,
  };
}

export interface Prepared {
  desired: Desired;
  selected: string[];
  connector: Connector;
  lock: Lock | undefined;
  /** Releases the lock and the Ctrl-C handler: call it when the command ends. */
  done: () => void;
}

/**
 * Refuse bad input first (an invalid inventory, a --limit name it does not have), then lock the inventory, then
 * validate and render everything offline (creating the PKI on first use, or only previewing it: `pki`). Any
 * problem here stops the run before a gateway is touched; a problem with the arguments stops it before a lock,
 * key or file exists.
 */
export async function prepare(
  command: string,
  options: ConnectingOptions,
  out: Output,
  deps: CommandDeps = {},
  pki: PkiMode = 'create',
): Promise<Prepared> {
  checkAgainstInventory(options);
  // a missing directory is reported by the inventory loader, with its fix
  // (-i naming a file is also left to the loader: there is no directory to lock)
  const { lock, done } = lockInventory(options.inventory, command);
  try {
    // read again under the lock: another run may have changed the inventory since the check above, and what is
    // acted on must be what the files say while this run holds it
    const desired = await computeDesired(options, out, pki, 'refuse', (inventory) =>
      selectLans(inventory, options.limit),
    );
    const selected = selectLans(desired.inventory, options.limit);
    return { desired, selected, connector: deps.connector ?? sshConnector, lock, done };
  } catch (error) {
    done();
    throw error;
  }
}

/**
 * Resolves the arguments against the inventory without taking the lock or writing anything: the inventory must be
 * valid and every --limit name one of its LANs. Warnings are left to the locked pass, which prints them once.
 */
export function checkAgainstInventory(options: GlobalOptions): Inventory {
  const { inventory } = loadInventoryOrThrow(options.inventory);
  selectLans(inventory, options.limit);
  return inventory;
}

/**
 * Takes the inventory lock and, from that moment, handles Ctrl-C (see releaseOnSignal). `done` releases both.
 * A path that is not a directory gets no lock: the inventory loader reports it, with its fix.
 */
export function lockInventory(
  inventory: string,
  command: string,
): { lock: Lock | undefined; done: () => void } {
  const isDir = statSync(inventory, { throwIfNoEntry: false })?.isDirectory() ?? false;
  const lock = isDir ? acquireLock(inventory, command) : undefined;
  return { lock, done: releaseOnSignal(lock) };
}

/**
 * On Ctrl-C (or SIGTERM): start again any tunnel the run had stopped for a restart, release the lock, exit 130.
 * A second signal exits at once. The remote side removes its temporary files when the channel drops.
 */
export function releaseOnSignal(lock: Lock | undefined): () => void {
  const handler = (signal: NodeJS.Signals) => {
    const now = () => {
      lock?.release();
      process.exit(130);
    };
    process.once('SIGINT', now);
    process.once('SIGTERM', now);
    void recoverInterrupted()
      .then(
        (started) =>
          started > 0 ? ` (started again ${started} tunnel(s) it had stopped for a restart)` : '',
        () => '',
      )
      .then((recovered) => {
        lock?.release();
        process.stderr.write(
          `\nmeshctl: interrupted (${signal}); re-run to converge what is left${recovered}\n`,
        );
        process.exit(130);
      });
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
    lock?.release();
  };
}
