import assert from 'node:assert/strict';
import { type RemoveLanOptions, run } from '../../../src/commands/remove-lan.js';
import { InventoryError, UsageError } from '../../../src/errors.js';
import { lanText, removeInventory, writeInventory } from '../../helpers/inventory.js';
import { fileHashes } from '../../helpers/snapshot.js';
import { capture } from './helpers.js';

function options(dir: string, name: string): RemoveLanOptions {
  return { inventory: dir, forks: 4, json: false, color: false, verbose: false, name };
}

describe('remove-lan: refusals change nothing', () => {
  const cases: [string, Record<string, string>, string, (e: unknown) => boolean][] = [
    [
      'a LAN that never existed',
      { hq: lanText(1, '10.1.0.0/16', '203.0.113.1'), branch: lanText(2, '10.2.0.0/16', '203.0.113.2') },
      'cloud',
      (e) => e instanceof UsageError && /there is no LAN "cloud".*LANs are: hq, branch/.test(e.message),
    ],
    [
      'the last LAN of the mesh',
      { hq: lanText(1, '10.1.0.0/16', '203.0.113.1') },
      'hq',
      (e) => e instanceof UsageError && /only LAN of the mesh/.test(e.message),
    ],
    [
      'a LAN whose own file is broken (its id is needed to retire it)',
      {
        hq: lanText(1, '10.1.0.0/16', '203.0.113.1'),
        branch: 'id: [\n',
        cloud: lanText(5, '10.5.0.0/16', '203.0.113.5'),
      },
      'branch',
      (e) => e instanceof InventoryError && /branch\.yml is invalid: remove-lan needs its id/.test(e.message),
    ],
    [
      'an inventory that is invalid without the LAN too',
      {
        hq: lanText(1, '10.1.0.0/16', '203.0.113.1'),
        branch: lanText(2, '10.2.0.0/16', '203.0.113.2'),
        cloud: lanText(5, '10.1.0.0/24', '203.0.113.5'),
      },
      'branch',
      (e) => e instanceof InventoryError && /without LAN "branch" is invalid/.test(e.message),
    ],
  ];
  for (const [title, lans, name, check] of cases) {
    it(title, async () => {
      const dir = writeInventory('# keep me\nname: corp\n', lans);
      try {
        const before = fileHashes(dir);
        await assert.rejects(run(options(dir, name), capture().out), check);
        assert.deepEqual(fileHashes(dir), before);
      } finally {
        removeInventory(dir);
      }
    });
  }
});
