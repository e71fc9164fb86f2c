import assert from 'node:assert/strict';
import { formatHtml, PAIR_COLOURS } from '../../../src/status/format/html.js';
import type { PairState, StatusReport } from '../../../src/status/types.js';
import { checkWellFormed } from '../../helpers/xml.js';
import { zonesMesh } from './fixture.js';
import { healthyReport, troubledReport } from './scenarios.js';

/** `status --html FILE`: one self-contained page with the matrix, the problems and the coloured topology. */

/** The edges of Graphviz's SVG: pair index → its class and stroke colour. */
function edges(html: string): Map<number, { class: string; stroke: string }> {
  const result = new Map<number, { class: string; stroke: string }>();
  // each edge group holds its title, a link group with the path, and the label
  for (const m of html.matchAll(/<g id="tunnel&#45;(\d+)" class="([^"]*)">([\s\S]*?)<text/g)) {
    const stroke = /<path[^>]*stroke="([^"]*)"/.exec(m[3]!)?.[1] ?? '';
    result.set(Number(m[1]), { class: m[2]!.replace(/&#45;/g, '-'), stroke });
  }
  return result;
}

describe('formatHtml', () => {
  let troubled: { html: string; report: StatusReport };
  before(async () => {
    const { mesh, report } = troubledReport(4);
    troubled = { html: await formatHtml(report, mesh), report };
  });

  it('fetches nothing: no address in src, href or url(), no script, no link, no refresh', () => {
    const { html } = troubled;
    assert.ok(
      !/\b(?:src|href)\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:)?\/\//i.test(html),
      'src/href to the network',
    );
    assert.ok(!/url\(\s*['"]?\s*(?:[a-z]+:)?\/\//i.test(html), 'url() to the network');
    assert.ok(!/https?:\/\//i.test(html), 'no address at all');
    assert.ok(!/<script|<link|<iframe|<img|@import|http-equiv/i.test(html));
  });

  it('an HTML5 page with a viewport, inline CSS sized for phones and wall screens', () => {
    const { html } = troubled;
    assert.ok(html.startsWith('<!DOCTYPE html>\n<html lang="en">'));
    assert.match(html, /<meta name="viewport" content="width=device-width, initial-scale=1">/);
    assert.match(html, /<style>[\s\S]*clamp\([\s\S]*<\/style>/);
    assert.match(html, /\.scroll \{ overflow-x: auto;/);
    assert.match(html, /#topology svg \{ width: 100%; max-width: 100%; height: auto; \}/);
  });

  it('the matrix: a table with a word and a class per cell', () => {
    const { html } = troubled;
    const table = /<table id="matrix">[\s\S]*?<\/table>/.exec(html)![0];
    checkWellFormed(table);
    const cells = [
      ...table.matchAll(/<td class="state-([a-z-]+)" data-a="([^"]*)" data-b="([^"]*)"[^>]*>([^<]*)<\/td>/g),
    ];
    assert.equal(cells.length, 12);
    const cell = (a: string, b: string) => cells.find((c) => c[2] === a && c[3] === b)!;
    assert.deepEqual(cell('l1', 'l2').slice(1, 5), ['down', 'l1', 'l2', 'DOWN']);
    assert.deepEqual([cell('l2', 'l3')[1], cell('l2', 'l3')[4]], ['disagree', 'disagree: l3 not up']);
    assert.deepEqual([cell('l1', 'l4')[1], cell('l1', 'l4')[4]], ['unknown', 'unknown']);
    assert.equal((table.match(/<td class="diagonal"><\/td>/g) ?? []).length, 4);
  });

  it('the problems and the summary', () => {
    const { html } = troubled;
    assert.match(html, /<p id="summary" class="health-error">error: 1 of 4 gateways not read/);
    const list = /<ul id="problems">([\s\S]*?)<\/ul>/.exec(html)![1]!;
    assert.match(
      list,
      /<li>gateway l4 \(LAN l4\) could not be read: connect ETIMEDOUT 198\.51\.100\.4:22<\/li>/,
    );
    assert.match(list, /<li>tunnel l2 &lt;-&gt; l3 \(pair 3, mtun3\) disagree: l3 is not up/);
  });

  it('the topology SVG inline, each tunnel coloured and classed by its pair state', () => {
    const { html, report } = troubled;
    const svg = /<svg[\s\S]*<\/svg>/.exec(html)![0];
    assert.equal(checkWellFormed(svg)[0], 'svg');
    assert.ok(!html.includes('<?xml') && !html.includes('<!-- '));
    const found = edges(html);
    assert.equal(found.size, report.tunnels.length);
    const seen = new Set<PairState>();
    for (const t of report.tunnels) {
      const edge = found.get(t.pair)!;
      assert.ok(edge, `edge of pair ${t.pair}`);
      assert.ok(edge.class.split(' ').includes(`state-${t.state}`), `${t.pair}: ${edge.class}`);
      assert.equal(edge.stroke, PAIR_COLOURS[t.state], `pair ${t.pair}`);
      seen.add(t.state);
    }
    assert.deepEqual([...seen].sort(), ['disagree', 'down', 'unknown', 'up']);
    assert.match(html, /xlink:title="l2 &#45; l3, pair 3: disagree \(l3 is not up\)/);
  });

  it('escapes every text it puts in the page', async () => {
    const mesh = zonesMesh();
    const report = healthyReport(mesh);
    report.mesh = '<b>"x"</b>';
    report.tunnels[0]!.ends[0]!.problem = '<script>alert(1)</script>';
    const html = await formatHtml(report, mesh);
    assert.ok(!html.includes('<b>') && !html.includes('<script>'));
    assert.match(html, /<h1>Mesh &lt;b&gt;&quot;x&quot;&lt;\/b&gt;<\/h1>/);
    assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  });

  it('a healthy mesh says so, every edge green', async () => {
    const mesh = zonesMesh();
    const html = await formatHtml(healthyReport(mesh), mesh);
    assert.match(html, /<ul id="problems" class="none"><li>none<\/li><\/ul>/);
    assert.ok([...edges(html).values()].every((e) => e.stroke === PAIR_COLOURS.up));
    assert.equal(edges(html).size, 5);
  });
});
