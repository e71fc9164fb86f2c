import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { type AddLanOptions, run } from '../../../src/commands/add-lan.js';
import { InventoryError, LockError, UsageError } from '../../../src/errors.js';
import { loadInventory } from '../../../src/inventory/load.js';
import { LOCK_FILE } from '../../../src/lock.js';
import { lanText, removeInventory, writeInventory } from '../../helpers/inventory.js';
import { fileHashes } from '../../helpers/snapshot.js';
import { capture } from './helpers.js';

const MESH = '# corp mesh\nname: corp\nretired_ids: [3]   # old branch\n';

function inventory(): string {
  return writeInventory(MESH, {
    hq: lanText(1, '10.1.0.0/16', '203.0.113.1'),
    branch: lanText(2, '10.2.0.0/16', '203.0.113.2'),
  });
}

function options(dir: string, over: Partial<AddLanOptions> = {}): AddLanOptions {
  return {
    inventory: dir,
    forks: 4,
    json: false,
    color: false,
    verbose: false,
    name: 'cloud',
    subnet: ['10.5.0.0/16'],
    endpoint: '203.0.113.5',
    apply: false,
    ...over,
  };
}

describe('add-lan: refusals write nothing', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) removeInventory(dir);
  });

  /** Runs add-lan expecting a refusal; the inventory (and the absence of a PKI) must keep every byte. */
  async function refused(over: Partial<AddLanOptions>, check: (e: unknown) => boolean): Promise<void> {
    const dir = inventory();
    dirs.push(dir);
    const before = fileHashes(dir);
    const { out } = capture();
    await assert.rejects(run(options(dir, over), out), check);
    assert.deepEqual(fileHashes(dir), before, 'no file written, changed or left behind (lock, PKI, temp)');
  }

  it('a subnet overlapping another LAN: the loader diagnostic names the new file and line', async () => {
    await refused({ subnet: ['10.2.128.0/17'] }, (e) => {
      assert.ok(e instanceof InventoryError);
      assert.match(e.message, /lans\/cloud\.yml was not written: the mesh with LAN "cloud" would be invalid/);
      const d = e.diagnostics.find((x) => x.field === 'subnets[0]')!;
      assert.equal(d.file, path.join(dirs[0]!, 'lans', 'cloud.yml'));
      assert.equal(typeof d.line, 'number');
      assert.match(d.message, /overlaps 10\.2\.0\.0\/16 of LAN "branch"/);
      assert.ok(!d.message.includes('meshctl-view'), 'no temporary path leaks into messages');
      return true;
    });
  });

  it('every problem at once: non-canonical subnet, public subnet, duplicate endpoint, bad ssh port', async () => {
    await refused({ subnet: ['10.5.0.1/16', '8.8.8.0/24'], endpoint: '203.0.113.1', sshPort: 70000 }, (e) => {
      assert.ok(e instanceof InventoryError);
      const fields = e.diagnostics.map((d) => d.field).sort();
      assert.deepEqual(fields, ['gateway.endpoint', 'gateway.ssh.port', 'subnets[0]', 'subnets[1]']);
      return true;
    });
  });

  it('--id in use or retired, and a name that exists already', async () => {
    await refused(
      { id: 2 },
      (e) => e instanceof UsageError && /already the id of LAN "branch"/.test(e.message),
    );
    await refused({ id: 3 }, (e) => e instanceof UsageError && /in retired_ids/.test(e.message));
    await refused(
      { name: 'branch' },
      (e) => e instanceof UsageError && /branch\.yml already exists \(LAN "branch", id 2\)/.test(e.message),
    );
  });

  it('a name that is not a valid LAN name (it would be a path)', async () => {
    await refused(
      { name: '../evil' },
      (e) => e instanceof UsageError && /LAN name "\.\.\/evil" is not allowed/.test(e.message),
    );
  });

  it('--limit, and an inventory that is already invalid', async () => {
    await refused({ limit: 'hq' }, (e) => e instanceof UsageError && /cannot be limited/.test(e.message));
    const dir = writeInventory('name: corp\n', { hq: lanText(1, '10.1.0.1/16', '203.0.113.1') });
    dirs.push(dir);
    const before = fileHashes(dir);
    await assert.rejects(
      run(options(dir), capture().out),
      (e) => e instanceof InventoryError && /fix it \(meshctl validate\) before adding a LAN/.test(e.message),
    );
    assert.deepEqual(fileHashes(dir), before);
  });

  it('another meshctl run holding the inventory', async () => {
    const dir = inventory();
    dirs.push(dir);
    const { out } = capture();
    const { acquireLock } = await import('../../../src/lock.js');
    const lock = acquireLock(dir, 'meshctl apply');
    try {
      await assert.rejects(run(options(dir), out), LockError);
      assert.equal(existsSync(path.join(dir, 'lans', 'cloud.yml')), false);
    } finally {
      lock.release();
    }
  });
});

describe('add-lan --no-apply: the inventory file and the PKI only', () => {
  it('writes lans/NAME.yml with the next id never used, issues its certificate, keeps every other byte', async () => {
    const dir = inventory();
    try {
      const before = fileHashes(dir);
      const { out, stdout } = capture();
      const code = await run(
        options(dir, { subnet: ['10.5.0.0/16', '192.168.5.0/24'], sshHost: '10.5.0.1', sshUser: 'admin' }),
        out,
      );
      assert.equal(code, 0);
      const after = fileHashes(dir);
      const added = Object.keys(after).filter((f) => !(f in before));
      const inventoryFiles = added.filter((f) => !f.startsWith('pki'));
      assert.deepEqual(inventoryFiles, [path.join('lans', 'cloud.yml')], 'the only inventory file added');
      for (const [file, sha] of Object.entries(before)) assert.equal(after[file], sha, `${file} unchanged`);
      assert.ok(added.includes(path.join('pki', 'issued', 'cloud.crt')));
      assert.equal(existsSync(path.join(dir, LOCK_FILE)), false, 'lock released');

      const text = readFileSync(path.join(dir, 'lans', 'cloud.yml'), 'utf8');
      assert.match(text, /^id: 4$/m, 'above the highest current id (2) and the retired id (3)');
      const { inventory: loaded } = loadInventory(dir);
      const cloud = loaded!.gateways.find((l) => l.name === 'cloud')!;
      assert.deepEqual(cloud.subnets, ['10.5.0.0/16', '192.168.5.0/24']);
      assert.equal(cloud.sshHost, '10.5.0.1');
      assert.equal(cloud.ssh.user, 'admin');

      const printed = stdout.join('');
      assert.match(printed, /hq +route 10\.5\.0\.0\/16 via <hq's gateway address in 10\.1\.0\.0\/16>/);
      assert.match(
        printed,
        /cloud +route 10\.1\.0\.0\/16 via 10\.5\.0\.1/,
        'ssh_host inside the LAN is the next hop',
      );
      // ids 1 and 4: k = 3·2/2 + 1 = 4; ids 2 and 4: k = 5
      assert.match(printed, /cloud \(203\.0\.113\.5\) +UDP 11004 from 203\.0\.113\.1 \(hq, pair 4\)/);
      assert.match(printed, /branch \(203\.0\.113\.2\) +UDP 11005 from 203\.0\.113\.5 \(cloud, pair 5\)/);
    } finally {
      removeInventory(dir);
    }
  });

  it('takes an --id never used below the highest, and prints a --json result', async () => {
    const dir = inventory();
    try {
      const stdout: string[] = [];
      const { createOutput } = await import('../../../src/output.js');
      const out = createOutput({
        json: true,
        stdout: { write: (s: string) => stdout.push(s) },
        stderr: { write: () => true },
      });
      assert.equal(await run(options(dir, { id: 9, json: true }), out), 0);
      const result = JSON.parse(stdout.join(''));
      assert.equal(result.ok, true);
      assert.equal(result.applied, false);
      assert.deepEqual(result.lan.id, 9);
      assert.equal(result.ports.length, 4);
      assert.equal(result.routes.length, 2 + 2, 'hq and branch: one route each; cloud: one per other LAN');
    } finally {
      removeInventory(dir);
    }
  });
});
