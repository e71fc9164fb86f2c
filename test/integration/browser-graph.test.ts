import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../../src/version.js';
import {
  chromiumVersion,
  type OfflinePage,
  openOffline,
  pngSize,
  skipUnlessBrowser,
} from '../helpers/browser.js';

const run = promisify(execFile);

/**
 * `meshctl graph --format svg` of the example inventory (inventory/), in a real browser: the built CLI writes the
 * SVG, a minimal page embeds it inline as `#topology` (as `status --html` will), and headless Chromium opens the
 * page with no network at a laptop's, a phone's and a wall screen's size. In each: the picture is laid out with a
 * size, every tunnel is an edge inside it, it scales down to the width (no horizontal scrolling, proportions
 * kept), nothing was fetched, and a screenshot of the requested size is left in test-artifacts/. The bare .svg
 * file, as a user opens it, loads offline too (its DOCTYPE names a DTD on w3.org that must not be fetched).
 */

interface Tunnel {
  pair: number;
  low: string;
  high: string;
}

interface Layout {
  svg: { left: number; right: number; width: number; height: number } | null;
  viewBox: { width: number; height: number } | null;
  naturalWidth: number;
  innerWidth: number;
  scrollWidth: number;
  clientWidth: number;
  edges: { id: string; inside: boolean; width: number; height: number }[];
}

const VIEWPORTS = [
  { name: 'laptop', width: 1280, height: 800 },
  { name: 'phone', width: 390, height: 844 },
  { name: 'wall', width: 1920, height: 1080 },
];

describe('browser: meshctl graph --format svg in headless Chromium, offline', function () {
  this.timeout(120_000);
  let work: string;
  let svgFile: string;
  let htmlFile: string;
  let tunnels: Tunnel[];

  before(async function () {
    skipUnlessBrowser(this);
    console.log(`      browser: ${chromiumVersion()}`);
    work = mkdtempSync(path.join(tmpdir(), 'meshctl-browser-'));
    svgFile = path.join(work, 'topology.svg');
    const root = packageRoot();
    const { stdout } = await run(
      process.execPath,
      [
        path.join(root, 'dist', 'src', 'cli.js'),
        'graph',
        '--format',
        'svg',
        '--out',
        svgFile,
        '--inventory',
        path.join(root, 'inventory'),
        '--json',
      ],
      { cwd: work },
    );
    ({ tunnels } = JSON.parse(stdout) as { tunnels: Tunnel[] });
    assert.ok(tunnels.length > 0, 'the example inventory has tunnels');
    const svg = readFileSync(svgFile, 'utf8');
    htmlFile = path.join(work, 'topology.html');
    writeFileSync(htmlFile, page(svg));
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  for (const viewport of VIEWPORTS) {
    it(`${viewport.name} ${viewport.width}×${viewport.height}: the picture is laid out with every tunnel, scaled to the width, nothing fetched`, async () => {
      const started = performance.now();
      let opened: OfflinePage | undefined;
      try {
        opened = await openOffline(htmlFile, viewport);
        const loaded = performance.now();
        const shot = await opened.screenshot(
          `graph-svg-${viewport.name}-${viewport.width}x${viewport.height}`,
        );
        const done = performance.now();
        console.log(`      artifact: ${shot}`);
        console.log(
          `      timing: launch + offline load ${Math.round(loaded - started)} ms, screenshot ${Math.round(done - loaded)} ms (isolation: ${opened.isolation})`,
        );

        const layout = await opened.page.evaluate((): Layout => {
          const svg = document.querySelector<SVGSVGElement>('svg#topology');
          const box = svg?.getBoundingClientRect();
          const viewBox = svg?.viewBox.baseVal;
          return {
            svg: box ? { left: box.left, right: box.right, width: box.width, height: box.height } : null,
            viewBox: viewBox ? { width: viewBox.width, height: viewBox.height } : null,
            naturalWidth: svg?.width.baseVal.value ?? 0,
            innerWidth: window.innerWidth,
            scrollWidth: Math.max(document.documentElement.scrollWidth, document.body.scrollWidth),
            clientWidth: document.documentElement.clientWidth,
            edges: [...document.querySelectorAll<SVGGElement>('svg#topology g.edge')].map((g) => {
              const r = g.getBoundingClientRect();
              const outer = box!;
              return {
                id: g.id,
                width: r.width,
                height: r.height,
                inside:
                  r.left >= outer.left - 1 &&
                  r.right <= outer.right + 1 &&
                  r.top >= outer.top - 1 &&
                  r.bottom <= outer.bottom + 1,
              };
            }),
          };
        });

        assert.ok(layout.svg, 'svg#topology is in the page');
        assert.ok(
          layout.svg.width > 0 && layout.svg.height > 0,
          `the SVG has a size: ${JSON.stringify(layout.svg)}`,
        );
        assert.deepEqual(
          layout.edges.map((e) => e.id).sort(),
          tunnels.map((t) => `tunnel-${t.pair}`).sort(),
          'one g.edge per tunnel of `meshctl graph --json`',
        );
        for (const edge of layout.edges) {
          assert.ok(edge.width > 0 || edge.height > 0, `${edge.id} is drawn: ${JSON.stringify(edge)}`);
          assert.ok(edge.inside, `${edge.id} lies inside the picture: ${JSON.stringify(edge)}`);
        }
        // scaled to the width: never wider than the viewport, no horizontal scrolling, proportions kept
        assert.ok(
          layout.scrollWidth <= layout.clientWidth,
          `no horizontal overflow: the page scrolls to ${layout.scrollWidth} px in ${layout.clientWidth} px`,
        );
        assert.ok(layout.svg.left >= 0 && layout.svg.right <= layout.innerWidth, JSON.stringify(layout));
        assert.ok(layout.viewBox && layout.viewBox.width > 0, 'the SVG has a viewBox');
        const ratio = layout.svg.height / layout.svg.width;
        const expected = layout.viewBox.height / layout.viewBox.width;
        assert.ok(Math.abs(ratio - expected) / expected < 0.01, `proportions kept: ${ratio} vs ${expected}`);
        if (layout.naturalWidth > layout.innerWidth)
          assert.ok(layout.svg.width < layout.naturalWidth, `scaled down from ${layout.naturalWidth} px`);
        else
          assert.ok(
            Math.abs(layout.svg.width - layout.naturalWidth) < 1,
            'shown at its own size when it fits',
          );

        assert.deepEqual(opened.requests, [], 'no network request was attempted');
        assert.deepEqual(pngSize(shot), { width: viewport.width, height: viewport.height });
      } finally {
        await opened?.close();
      }
    });
  }

  it('the bare .svg file opens offline too: no request for its DTD or namespaces, every tunnel drawn', async () => {
    const opened = await openOffline(svgFile, { width: 1280, height: 800 });
    try {
      const shot = await opened.screenshot('graph-svg-bare-1280x800');
      console.log(`      artifact: ${shot}`);
      const found = await opened.page.evaluate(() => ({
        root: document.documentElement.localName,
        edges: [...document.querySelectorAll('g.edge')].map((g) => g.id),
        height: document.documentElement.getBoundingClientRect().height,
      }));
      assert.equal(found.root, 'svg');
      assert.ok(found.height > 0);
      assert.deepEqual(found.edges.sort(), tunnels.map((t) => `tunnel-${t.pair}`).sort());
      assert.deepEqual(opened.requests, [], 'no network request was attempted');
      assert.deepEqual(pngSize(shot), { width: 1280, height: 800 });
    } finally {
      await opened.close();
    }
  });
});

/** The smallest self-contained page around an inline SVG, as `status --html` writes one: it scales to the width. */
function page(svg: string): string {
  const inline = svg.slice(svg.indexOf('<svg')).replace(/^<svg\b/, '<svg id="topology"');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>meshctl graph</title>
<style>
  body { margin: 0; padding: 8px; font-family: sans-serif; }
  #topology { display: block; max-width: 100%; height: auto; }
</style>
</head>
<body>
<h1>Topology</h1>
${inline}
</body>
</html>
`;
}
