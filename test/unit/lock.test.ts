import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { LockError } from '../../src/errors.js';
import { acquireLock, LOCK_FILE } from '../../src/lock.js';

describe('inventory lock', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'meshctl-lock-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('lets one run in and refuses a second, naming the holder', () => {
    const lock = acquireLock(dir, 'meshctl apply');
    assert.throws(
      () => acquireLock(dir, 'meshctl diff'),
      (err: unknown) =>
        err instanceof LockError &&
        err.message.includes('"meshctl apply"') &&
        err.message.includes(`pid ${process.pid}`) &&
        err.message.includes(hostname()),
    );
    lock.release();
    assert.equal(existsSync(join(dir, LOCK_FILE)), false);
    acquireLock(dir, 'meshctl apply').release();
  });

  it('explains a stale lock left by a process that is gone, and does not take it over', () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
      encoding: 'utf8',
    });
    const pid = Number(dead.stdout);
    const holder = { pid, host: hostname(), command: 'meshctl apply', since: '2026-01-01T00:00:00.000Z' };
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify(holder));
    assert.throws(
      () => acquireLock(dir, 'meshctl apply'),
      (err: unknown) => err instanceof LockError && /stale lock/.test(err.message) && /rm /.test(err.message),
    );
    assert.ok(existsSync(join(dir, LOCK_FILE)), 'the stale lock is left for the operator to inspect');
  });
});
