import assert from 'node:assert/strict';
import { lanText, removeInventory, writeInventory } from '../../helpers/inventory.js';
import { meshctl } from './helpers.js';

/** `meshctl validate -v` proves every LAN reaches every other one by printing one path per LAN pair (SPEC §7). */
describe('validate -v: one path per LAN pair', () => {
  it('prints the gateways each LAN pair crosses, and the same paths in --json', async () => {
    const dir = writeInventory('name: corp\n', {
      hub: lanText(1),
      spoke: `${lanText(2)}via: [hub]\n`,
      other: `${lanText(3)}via: [hub]\n`,
    });
    try {
      const run = await meshctl(['validate', '-v', '-i', dir]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /valid — mesh "corp", 3 LANs, 2 tunnels \(1–2 per gateway\)/);
      assert.match(run.stdout, /Paths \(every LAN reaches every other one; 3 LAN pair\(s\)\):/);
      assert.match(run.stdout, /^ {2}hub → spoke: hub > spoke$/m);
      assert.match(run.stdout, /^ {2}spoke → other: spoke > hub > other$/m);
      const json = JSON.parse((await meshctl(['validate', '-i', dir, '--json'])).stdout);
      assert.deepEqual(json.paths[2], { from: 'spoke', to: 'other', gateways: ['spoke', 'hub', 'other'] });
    } finally {
      removeInventory(dir);
    }
  });
});
