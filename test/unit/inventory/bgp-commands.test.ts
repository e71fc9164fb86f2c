import assert from 'node:assert/strict';
import path from 'node:path';
import { type AddLanOptions, run as addLan } from '../../../src/commands/add-lan.js';
import { InventoryError } from '../../../src/errors.js';
import { loadInventoryOrThrow } from '../../../src/inventory/load.js';
import { allocateMesh } from '../../../src/mesh/allocate.js';
import { formatAllocation, formatPaths } from '../../../src/mesh/table.js';
import { lanText, removeInventory, writeInventory } from '../../helpers/inventory.js';
import { fileHashes } from '../../helpers/snapshot.js';
import { meshctl } from '../cli/helpers.js';
import { capture } from '../commands/helpers.js';

/** What routing: bgp changes in `validate -v` and `add-lan`, and what it leaves alone under static routing. */

const EU = [
  'subnets: [10.5.0.0/20, 10.5.16.0/20]',
  'gateways:',
  '  - { name: eu-a, id: 5, endpoint: 198.51.100.5, subnets: [10.5.0.0/20] }',
  '  - name: eu-b',
  '    id: 6',
  '    endpoint: 198.51.100.6',
  '    subnets: [10.5.16.0/20, { cidr: 10.5.0.0/20, backup: true }]',
  '',
].join('\n');

describe('validate -v under routing: bgp', () => {
  const dirs: string[] = [];
  after(() => {
    for (const dir of dirs) removeInventory(dir);
  });
  const temp = (mesh: string, lans: Record<string, string>) => {
    const dir = writeInventory(mesh, lans);
    dirs.push(dir);
    return dir;
  };

  it("prints each gateway's ASN, subnets and backup subnets, per LAN, after the paths", async () => {
    const dir = temp('name: corp\nrouting: bgp\nbgp: { asn_base: 4200000100, bfd: { interval_ms: 200 } }\n', {
      hq: lanText(1),
      eu: EU,
    });
    const run = await meshctl(['validate', '-v', '-i', dir]);
    assert.equal(run.code, 0, run.stderr);
    const bgp = run.stdout.slice(run.stdout.indexOf('\nBGP'));
    assert.equal(
      bgp,
      [
        '',
        "BGP (routing: bgp): each gateway's ASN is asn_base 4200000100 + its id; BFD every 200 ms, a session is down after 3 missed (600 ms)",
        'lan  gateway  id  asn         subnets       backup subnets',
        '---  -------  --  ----------  ------------  --------------',
        'hq   hq       1   4200000101  10.1.0.0/16   -',
        'eu   eu-a     5   4200000105  10.5.0.0/20   -',
        'eu   eu-b     6   4200000106  10.5.16.0/20  10.5.0.0/20',
        '',
      ].join('\n'),
    );
    assert.ok(
      run.stdout.indexOf('Paths (every LAN') < run.stdout.indexOf('\nBGP'),
      'the allocation and the paths come first, as before',
    );
  });

  it('prints nothing new under static routing: the allocation table and the paths, byte for byte', async () => {
    const lans = { hq: lanText(1), eu: EU.replace(', { cidr: 10.5.0.0/20, backup: true }', '') };
    for (const mesh of ['name: corp\n', 'name: corp\nrouting: static\n']) {
      const dir = temp(mesh, lans);
      const run = await meshctl(['validate', '-v', '-i', dir]);
      assert.equal(run.code, 0, run.stderr);
      const mesh2 = allocateMesh(loadInventoryOrThrow(dir).inventory);
      assert.equal(
        run.stdout,
        `${dir}: valid — mesh "corp", 2 LANs, 3 gateways, 2 tunnels (1–2 per gateway)\n\n${formatAllocation(mesh2)}\n\n${formatPaths(mesh2)}\n`,
      );
      assert.doesNotMatch(run.stdout, /BGP|asn/);
    }
  });
});

describe('add-lan under routing: bgp: a new id whose ASN would overflow', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) removeInventory(dir);
  });

  function options(dir: string): AddLanOptions {
    return {
      inventory: dir,
      forks: 4,
      json: false,
      color: false,
      verbose: false,
      name: 'cloud',
      subnet: ['10.3.0.0/16'],
      endpoint: '203.0.113.3',
      apply: false,
    };
  }

  it('is refused before anything is written, at bgp.asn_base of mesh.yml, naming the new LAN', async () => {
    // ids 1 and 2 get 4294967293 and 4294967294; the next id, 3, would get 4294967295
    const dir = writeInventory('name: corp\nrouting: bgp\nbgp:\n  asn_base: 4294967292\n', {
      hq: lanText(1, '10.1.0.0/16', '203.0.113.1'),
      branch: lanText(2, '10.2.0.0/16', '203.0.113.2'),
    });
    dirs.push(dir);
    const before = fileHashes(dir);
    await assert.rejects(addLan(options(dir), capture().out), (e: unknown) => {
      assert.ok(e instanceof InventoryError);
      assert.match(e.message, /lans\/cloud\.yml was not written: the mesh with LAN "cloud" would be invalid/);
      assert.deepEqual(
        e.diagnostics.map((d) => [d.file, d.line, d.field, d.value]),
        [[path.join(dir, 'mesh.yml'), 4, 'bgp.asn_base', 4294967292]],
      );
      const [d] = e.diagnostics;
      assert.equal(
        d!.message,
        `bgp.asn_base 4294967292 + id 3 (LAN "cloud", ${path.join(dir, 'lans', 'cloud.yml')}:4) = 4294967295, past 4294967294, the last private 4-byte ASN (RFC 6996)`,
      );
      assert.equal(
        d!.fix,
        'lower asn_base to at most 4294967291 (the highest gateway id is 3), or keep every gateway id at most 2',
      );
      return true;
    });
    assert.deepEqual(fileHashes(dir), before, 'no LAN file, PKI, lock or temporary file left behind');
  });

  it('is no problem under static routing, where ASNs are not used', async () => {
    const dir = writeInventory('name: corp\nbgp:\n  asn_base: 4294967292\n', {
      hq: lanText(1, '10.1.0.0/16', '203.0.113.1'),
      branch: lanText(2, '10.2.0.0/16', '203.0.113.2'),
    });
    dirs.push(dir);
    const { out, stderr } = capture();
    assert.equal(await addLan(options(dir), out), 0);
    assert.ok(
      stderr.some((line) => /bgp: the block is ignored/.test(line)),
      'the ignored bgp: block is a warning',
    );
    assert.equal(loadInventoryOrThrow(dir).inventory.lans.length, 3);
  });
});
