import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { LockError } from './errors.js';

/**
 * One meshctl run per inventory at a time (SPEC §6). The lock is a file created with O_EXCL in the inventory
 * directory, holding who took it. A second run refuses and names the holder; a lock whose process is gone
 * (a crash, SIGKILL) is reported as stale with the way to clear it — never taken over silently, because a
 * holder on another machine sharing the directory cannot be checked from here.
 */

export const LOCK_FILE = '.meshctl.lock';

export interface LockHolder {
  pid: number;
  host: string;
  command: string;
  since: string;
}

export interface Lock {
  path: string;
  release(): void;
}

function describe(holder: LockHolder): string {
  return `"${holder.command}" (pid ${holder.pid} on ${holder.host}, since ${holder.since})`;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function readHolder(path: string): LockHolder | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LockHolder;
  } catch {
    return undefined;
  }
}

export function acquireLock(inventoryDir: string, command: string, now: Date = new Date()): Lock {
  const path = join(inventoryDir, LOCK_FILE);
  const holder: LockHolder = { pid: process.pid, host: hostname(), command, since: now.toISOString() };
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const other = readHolder(path);
    if (!other) {
      throw new LockError(
        `inventory ${inventoryDir} is locked by ${path}, which cannot be read; if no meshctl is running, remove it: rm ${path}`,
      );
    }
    if (other.host === holder.host && !isAlive(other.pid)) {
      throw new LockError(
        `stale lock: ${path} was taken by ${describe(other)}, which is no longer running (it crashed or was killed). ` +
          `Its gateways may be half-converged; after checking no meshctl runs, remove the lock (rm ${path}) and re-run apply`,
      );
    }
    throw new LockError(
      `another meshctl run holds the inventory ${inventoryDir}: ${describe(other)}. Wait for it to finish` +
        (other.host === holder.host ? '' : `, or check on ${other.host}`),
    );
  }
  writeSync(fd, `${JSON.stringify(holder)}\n`);
  closeSync(fd);
  let released = false;
  return {
    path,
    release() {
      if (released) return;
      released = true;
      try {
        unlinkSync(path);
      } catch {
        // already gone: nothing to release
      }
    },
  };
}
