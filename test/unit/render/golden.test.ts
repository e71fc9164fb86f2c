import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { loadInventory } from '../../../src/inventory/load.js';
import { allocateMesh } from '../../../src/mesh/allocate.js';
import { renderMesh } from '../../../src/render/render.js';
import { loadRoles } from '../../../src/render/roles.js';
import { RENDER_MARKER, writeRenderTree } from '../../../src/render/tree.js';
import { packageRoot } from '../../../src/version.js';
import { bgpFixtureMesh, fixtureMesh, fixturePki } from './fixture.js';

/**
 * The whole rendered tree of the 3-LAN fixture, file by file, against test/fixtures/render/golden/.
 * After an intended template change, regenerate with UPDATE_GOLDEN=1 and review the diff.
 */

const goldenDir = join(packageRoot(), 'test', 'fixtures', 'render', 'golden');

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name !== RENDER_MARKER)
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

describe('render: golden tree of the 3-LAN fixture', () => {
  let outDir: string;

  before(async () => {
    const mesh = fixtureMesh();
    const states = renderMesh(mesh, fixturePki(mesh), loadRoles(), { version: '0.1.0-test' });
    if (process.env.UPDATE_GOLDEN) await writeRenderTree(goldenDir, states);
    outDir = await mkdtemp(join(tmpdir(), 'meshctl-golden-'));
    await writeRenderTree(outDir, states);
  });

  after(async () => {
    await rm(outDir, { recursive: true, force: true });
  });

  it('renders exactly the golden set of files', async () => {
    const rendered = await listFiles(outDir);
    assert.deepEqual(rendered, await listFiles(goldenDir));
    // 3 gateways × (2 tunnel configs + their 2 unit drop-ins + ca, crl, cert, key + 2 tls-crypt keys + sysctl,
    // rules, script, unit + manifest)
    assert.equal(rendered.length, 3 * 15);
  });

  it('renders every file byte for byte as the golden copy', async () => {
    for (const file of await listFiles(goldenDir)) {
      const expected = await readFile(join(goldenDir, file), 'utf8');
      const actual = await readFile(join(outDir, file), 'utf8');
      assert.equal(actual, expected, `${file} differs from the golden copy (UPDATE_GOLDEN=1 regenerates it)`);
    }
  });
});

/**
 * The example inventory (inventory/ of this repository), rendered with the fixed fake PKI, against the tree the
 * release before topologies rendered from it: an inventory written before SPEC §7 keeps every byte.
 */
describe('render: the example inventory keeps every byte across topology support', () => {
  const exampleGolden = join(packageRoot(), 'test', 'fixtures', 'render', 'example-golden');
  let outDir: string;

  before(async () => {
    const { inventory } = loadInventory(join(packageRoot(), 'inventory'), { homedir: '/home/operator' });
    const mesh = allocateMesh(inventory!);
    const states = renderMesh(mesh, fixturePki(mesh), loadRoles(), { version: '0.1.0-test' });
    outDir = await mkdtemp(join(tmpdir(), 'meshctl-golden-example-'));
    await writeRenderTree(outDir, states);
  });

  after(async () => {
    await rm(outDir, { recursive: true, force: true });
  });

  it('renders the same files with the same bytes', async () => {
    const files = await listFiles(exampleGolden);
    assert.deepEqual(await listFiles(outDir), files);
    for (const file of files) {
      const expected = await readFile(join(exampleGolden, file), 'utf8');
      assert.equal(await readFile(join(outDir, file), 'utf8'), expected, `${file} differs`);
    }
  });
});

/**
 * One gateway of a `routing: bgp` mesh (SPEC §7), whole: hq of the bgp fixture, a core LAN's gateway with
 * sessions to another core, to both AZs of a split LAN and to a leaf. Against test/fixtures/render/bgp/golden/;
 * UPDATE_GOLDEN=1 regenerates it.
 */
describe('render: golden tree of a bgp gateway', () => {
  const bgpGolden = join(packageRoot(), 'test', 'fixtures', 'render', 'bgp', 'golden');
  let outDir: string;

  before(async () => {
    const mesh = bgpFixtureMesh();
    const states = renderMesh(mesh, fixturePki(mesh), loadRoles(), { version: '0.1.0-test' });
    const hq = new Map([['hq', states.get('hq')!]]);
    if (process.env.UPDATE_GOLDEN) await writeRenderTree(bgpGolden, hq);
    outDir = await mkdtemp(join(tmpdir(), 'meshctl-golden-bgp-'));
    await writeRenderTree(outDir, hq);
  });

  after(async () => {
    await rm(outDir, { recursive: true, force: true });
  });

  it('renders the same files with the same bytes', async () => {
    const files = await listFiles(bgpGolden);
    // 4 tunnels × (config, drop-in, tls-crypt key) + ca, crl, cert, key + sysctl, rules, script, unit + frr.conf,
    // daemons + manifest; no routes.sh
    assert.equal(files.length, 4 * 3 + 4 + 4 + 2 + 1);
    assert.ok(files.includes('hq/etc/frr/frr.conf') && files.includes('hq/etc/frr/daemons'));
    assert.deepEqual(await listFiles(outDir), files);
    for (const file of files) {
      const expected = await readFile(join(bgpGolden, file), 'utf8');
      assert.equal(await readFile(join(outDir, file), 'utf8'), expected, `${file} differs (UPDATE_GOLDEN=1)`);
    }
  });
});
