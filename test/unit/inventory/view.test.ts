import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadInventoryView } from '../../../src/inventory/view.js';
import { lanText, removeInventory, writeInventory } from '../../helpers/inventory.js';
import { fileHashes } from '../../helpers/snapshot.js';

function views(): string[] {
  return readdirSync(tmpdir()).filter((f) => f.startsWith('meshctl-view-'));
}

describe('add-lan/remove-lan: the would-be inventory', () => {
  it('resolves relative paths as the real inventory does, even ones that leave it', () => {
    const dir = writeInventory(
      'name: corp\npki_dir: ../secrets/pki\nssh:\n  known_hosts: kh\n  identity_file: ~/.ssh/k\n',
      {
        hq: lanText(1, '10.1.0.0/16', '203.0.113.1'),
      },
    );
    try {
      const before = views();
      const view = loadInventoryView(
        dir,
        { add: { name: 'cloud', text: lanText(2, '10.2.0.0/16', '203.0.113.2') } },
        { homedir: '/home/op' },
      );
      assert.deepEqual(views(), before, 'the temporary copy is gone');
      const inv = view.inventory!;
      assert.equal(inv.dir, path.resolve(dir));
      assert.equal(inv.mesh.pkiDir, path.resolve(dir, '../secrets/pki'));
      assert.equal(inv.mesh.ssh.knownHosts, path.resolve(dir, 'kh'));
      assert.equal(inv.mesh.ssh.identityFile, '/home/op/.ssh/k');
      assert.deepEqual(
        inv.lans.map((l) => [l.name, l.file]),
        [
          ['hq', path.resolve(dir, 'lans/hq.yml')],
          ['cloud', path.resolve(dir, 'lans/cloud.yml')],
        ],
      );
    } finally {
      removeInventory(dir);
    }
  });

  it('leaves a LAN out, and names the real files (as given) in diagnostics, never touching them', () => {
    const dir = writeInventory('name: corp\nretired_ids: [2]\n', {
      hq: lanText(1, '10.1.0.0/16', '203.0.113.1'),
      old: lanText(2, '10.2.0.0/16', '203.0.113.2'),
      dup: lanText(3, '10.1.5.0/24', '203.0.113.3'),
    });
    try {
      const before = fileHashes(dir);
      const view = loadInventoryView(dir, { omit: 'old' });
      assert.equal(view.inventory, undefined);
      assert.deepEqual(
        view.diagnostics.map((d) => [d.file, d.field]),
        [[path.join(dir, 'lans', 'hq.yml'), 'subnets[0]']],
        'the retired id of "old" is no problem once it is left out; the overlap is',
      );
      assert.match(
        view.diagnostics[0]!.message,
        new RegExp(`\\(${path.join(dir, 'lans', 'dup.yml').replace(/[.]/g, '\\.')}:\\d+\\)`),
      );
      assert.deepEqual(fileHashes(dir), before);
    } finally {
      removeInventory(dir);
    }
  });
});
