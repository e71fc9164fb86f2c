import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { LOCK_FILE } from '../../../src/lock.js';
import { treeSnapshot } from '../../helpers/snapshot.js';
import { exampleCopy, meshctl } from './helpers.js';

/**
 * Every argument is resolved against the inventory before a key, a file or the lock exists: a typo costs nothing.
 * The example inventory (four LANs, no pki/ yet) would get 25 PKI files on its first real run.
 */
describe('cli: arguments are resolved against the inventory before anything is created', () => {
  let dir: string;
  beforeEach(() => {
    dir = exampleCopy();
  });
  afterEach(() => rmSync(path.dirname(dir), { recursive: true, force: true }));

  const limited: [string, string[]][] = [
    ['apply', []],
    ['diff', []],
    ['render', ['--out', 'OUT']],
    ['validate', []],
  ];
  for (const [command, extra] of limited) {
    it(`${command} --limit nosuchlan: exit 1 naming the LANs; no pki dir, no lock, nothing else`, async () => {
      const out = path.join(path.dirname(dir), 'rendered');
      const before = treeSnapshot(path.dirname(dir));
      const args = [command, '-i', dir, '--limit', 'nosuchlan', ...extra.map((a) => (a === 'OUT' ? out : a))];
      const run = await meshctl(args);
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, /--limit names "nosuchlan", not in the inventory .*LANs are: head-office, /);
      assert.equal(existsSync(path.join(dir, 'pki')), false, 'no PKI directory');
      assert.equal(existsSync(path.join(dir, LOCK_FILE)), false, 'no lock file');
      assert.equal(existsSync(out), false, 'no render output');
      assert.deepEqual(treeSnapshot(path.dirname(dir)), before);
    });
  }

  it('render into a directory it may not use creates no PKI', async () => {
    const foreign = path.join(path.dirname(dir), 'thesis');
    mkdirSync(foreign);
    writeFileSync(path.join(foreign, 'chapter1.tex'), 'precious\n');
    const run = await meshctl(['render', '-i', dir, '--out', foreign]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /--out \S+thesis is not empty and was not written by meshctl render/);
    assert.equal(existsSync(path.join(dir, 'pki')), false);
  });

  /** Another run holds the lock: a bad argument is still reported as such, so it was judged before the lock. */
  const whileLocked: [string[], RegExp][] = [
    [['apply', '--limit', 'nosuchlan'], /--limit names "nosuchlan"/],
    [['diff', '--limit', 'head-office,nosuchlan'], /--limit names "nosuchlan"/],
    [['render', '--limit', 'nosuchlan', '--out', 'rendered'], /--limit names "nosuchlan"/],
    [
      ['add-lan', 'datacenter', '--subnet', '10.99.0.0/16', '--endpoint', '198.51.100.99'],
      /datacenter\.yml already exists \(LAN "datacenter", id 2\)/,
    ],
    [
      ['add-lan', 'lab', '--subnet', '10.99.0.0/16', '--endpoint', '198.51.100.99', '--id', '3'],
      /--id 3 is already the id of LAN "branch-paris"/,
    ],
    [['add-lan', 'lab', '--subnet', '10.1.0.0/24', '--endpoint', '198.51.100.99'], /would be invalid/],
    [['remove-lan', 'nosuchlan'], /there is no LAN "nosuchlan"/],
  ];
  for (const [args, message] of whileLocked) {
    it(`${args.join(' ')} while another run holds the lock: the argument is what is refused`, async () => {
      const lock = path.join(dir, LOCK_FILE);
      const holder = {
        pid: process.pid,
        host: hostname(),
        command: 'meshctl apply',
        since: new Date().toISOString(),
      };
      writeFileSync(lock, `${JSON.stringify(holder)}\n`);
      const before = treeSnapshot(path.dirname(dir));
      const run = await meshctl([
        ...args.map((a) => (a === 'rendered' ? path.join(dir, '..', a) : a)),
        '-i',
        dir,
      ]);
      assert.equal(run.code, 1);
      assert.match(run.stderr, message);
      assert.doesNotMatch(run.stderr, /another meshctl run holds/);
      assert.deepEqual(treeSnapshot(path.dirname(dir)), before);
    });
  }
});
