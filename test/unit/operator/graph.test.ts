import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadInventoryOrThrow } from '../../../src/inventory/load.js';
import { allocateMesh } from '../../../src/mesh/allocate.js';
import { graphTitle, graphTunnels, topologyDot, topologyMermaid } from '../../../src/operator/graph.js';
import { renderSvg } from '../../../src/operator/svg.js';
import { packageRoot } from '../../../src/version.js';
import { checkWellFormed } from '../../helpers/xml.js';
import { goldenPath, operatorFixtureDir, operatorFixtureMesh } from './fixture.js';

/**
 * `meshctl graph` (SPEC §8): DOT and Mermaid text against golden files from the fixed inventory (regenerate with
 * UPDATE_GOLDEN=1 and review), and the SVG that @viz-js/viz renders from the DOT, parsed.
 */

const golden = (name: string, text: string) => {
  const file = goldenPath('graph', name);
  if (process.env.UPDATE_GOLDEN) writeFileSync(file, text);
  assert.equal(text, readFileSync(file, 'utf8'), `${file} differs (UPDATE_GOLDEN=1 regenerates it)`);
};

describe('graph: pictures of the topology', () => {
  const mesh = operatorFixtureMesh();

  it('dot matches test/fixtures/graph/corp.dot', () => golden('corp.dot', topologyDot(mesh)));

  it('mermaid matches test/fixtures/graph/corp.mmd', () => golden('corp.mmd', topologyMermaid(mesh)));

  it('core tunnels are solid, leaf tunnels dashed, each labelled with its pair index and port', () => {
    const dot = topologyDot(mesh);
    for (const { pair, kind } of graphTunnels(mesh)) {
      const line = dot.split('\n').find((l) => l.includes(`id="tunnel-${pair.index}"`))!;
      assert.ok(line.startsWith(`  "${pair.low.name}" -- "${pair.high.name}"`), line);
      assert.ok(line.includes(`label="pair ${pair.index}, udp ${pair.port}"`), line);
      assert.ok(line.includes(`style="${kind === 'leaf' ? 'dashed' : 'solid'}"`), line);
    }
    assert.deepEqual(
      graphTunnels(mesh)
        .filter((t) => t.kind === 'leaf')
        .map((t) => `${t.pair.low.name}-${t.pair.high.name}`),
      ['hq-shop'],
    );
  });

  it('a style per tunnel (as status --html will give) replaces the defaults of that edge only', () => {
    const dot = topologyDot(mesh, {
      styles: new Map([[2, { color: 'red', style: 'bold', class: 'down', tooltip: 'down since 10:00' }]]),
    });
    const line = dot.split('\n').find((l) => l.includes('id="tunnel-2"'))!;
    assert.match(line, /class="tunnel leaf down", style="bold", color="red", tooltip="down since 10:00"/);
    assert.equal(dot.split('\n').filter((l) => l.includes('color=')).length, 1);
  });
});

describe('graph: SVG rendered in-process', () => {
  const mesh = operatorFixtureMesh();
  let svg: string;
  before(async () => {
    svg = await renderSvg(topologyDot(mesh), { title: graphTitle(mesh) });
  });

  it('is well-formed XML with one cluster per LAN, one node per gateway and one edge per tunnel', () => {
    const elements = checkWellFormed(svg);
    assert.equal(elements[0], 'svg');
    // Graphviz writes "-" in ids as &#45;
    const groups = [...svg.matchAll(/<g id="([^"]*)" class="([^"]*)"/g)].map((m) => [
      m[1]!.replace(/&#45;/g, '-'),
      m[2]!,
    ]);
    assert.deepEqual(
      groups.filter(([, c]) => c === 'cluster').map(([id]) => id),
      mesh.inventory.lans.map((lan) => `lan-${lan.name}`),
    );
    assert.deepEqual(
      groups.filter(([, c]) => c === 'node').map(([id]) => id),
      mesh.inventory.gateways.map((g) => `gateway-${g.name}`),
    );
    const edges = groups.filter(([, c]) => c.startsWith('edge'));
    // Graphviz writes edges in its own order: compare them as sets
    assert.deepEqual(edges.map(([id]) => id).sort(), mesh.pairs.map((p) => `tunnel-${p.index}`).sort());
    assert.deepEqual(
      edges.filter(([, c]) => c.includes('leaf')).map(([id]) => id),
      ['tunnel-2'],
    );
    assert.match(svg, /pair 7, udp 11007/);
    assert.equal(elements[1], 'title', 'the picture has a title of its own');
    assert.match(svg, /<title>mesh corp: 4 LANs \(1 leaf\), 5 gateways, 6 tunnels<\/title>/);
  });

  it('is the same bytes every time for one inventory', async () => {
    const again = operatorFixtureMesh();
    assert.equal(await renderSvg(topologyDot(again), { title: graphTitle(again) }), svg);
  });
});

describe('graph: the pictures in README are current', () => {
  for (const [inventory, picture] of [
    [path.join(packageRoot(), 'inventory'), 'example-topology.svg'],
    [operatorFixtureDir(), 'topology-leaf-and-zones.svg'],
  ] as const) {
    it(`docs/${picture}`, async () => {
      const { inventory: loaded } = loadInventoryOrThrow(inventory);
      const mesh = allocateMesh(loaded);
      const svg = await renderSvg(topologyDot(mesh), { title: graphTitle(mesh) });
      const file = path.join(packageRoot(), 'docs', picture);
      if (process.env.UPDATE_GOLDEN) writeFileSync(file, svg.endsWith('\n') ? svg : `${svg}\n`);
      assert.equal(
        svg.trimEnd(),
        readFileSync(file, 'utf8').trimEnd(),
        `regenerate: meshctl graph -i ${path.relative(packageRoot(), inventory)} --format svg --out docs/${picture}`,
      );
    });
  }
});
