import { type EdgeStyle, graphTitle, topologyDot } from '../../operator/graph.js';
import { renderSvg } from '../../operator/svg.js';
import type { Mesh } from '../../types.js';
import type { PairState, StatusReport, TunnelStatus } from '../types.js';
import { type CellState, lanCell, lanOfGateway, problemLines, summaryLine } from './summary.js';

/**
 * `meshctl status --html FILE`: one self-contained page (SPEC §8) — inline CSS, no script, nothing fetched from
 * anywhere — with the LAN × LAN matrix as a table (each cell's state as a word and a colour), the problems, the
 * tunnels, and the topology picture with every tunnel's edge coloured by its merged state. No refresh tag:
 * `--watch` rewrites the file. Stable ids and classes (`#matrix`, `td.state-down`, `#topology`, `#problems`,
 * `#summary`, `#tunnels`) for stylesheets and browser tests.
 */

/** Colour of a tunnel's edge by its merged state. */
export const PAIR_COLOURS: Record<PairState, string> = {
  up: '#1a7f37',
  down: '#cf222e',
  disagree: '#d97706',
  unknown: '#8c959f',
};

const CELL_LABELS: Record<CellState, string> = {
  up: 'up',
  down: 'DOWN',
  disagree: 'disagree',
  unknown: 'unknown',
  'not-connected': 'not connected',
};

/** Text for HTML content and double-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

function tunnelTooltip(t: TunnelStatus): string {
  const ends = t.ends.map((e) => `${e.gateway} ${e.state}`).join(', ');
  const who = t.state === 'disagree' ? ` (${t.disagreeing} is not up)` : '';
  return `${t.low} - ${t.high}, pair ${t.pair}: ${t.state}${who}; ${ends}`;
}

/** The edge style of each tunnel (by pair index) from its merged state. */
export function tunnelStyles(report: StatusReport): Map<number, EdgeStyle> {
  return new Map(
    report.tunnels.map((t) => [
      t.pair,
      {
        color: PAIR_COLOURS[t.state],
        fontcolor: PAIR_COLOURS[t.state],
        penwidth: t.state === 'up' ? 1.5 : 2.5,
        tooltip: tunnelTooltip(t),
        class: `state-${t.state}`,
      },
    ]),
  );
}

/**
 * Graphviz's SVG made fit to sit inside the page: no XML prolog, doctype or comments, and no namespace
 * declarations (the HTML parser knows SVG's elements; the page then holds no address at all).
 */
export function inlineSvg(svg: string): string {
  return svg
    .replace(/<\?xml[^>]*\?>/g, '')
    .replace(/<!DOCTYPE[^>]*>/gi, '')
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/\s+xmlns(:\w+)?="[^"]*"/g, '')
    .trim();
}

const STYLE = `
:root { color-scheme: light dark; --up: #1a7f37; --down: #cf222e; --disagree: #b35900; --unknown: #6e7781; }
* { box-sizing: border-box; }
body { margin: 0; padding: clamp(0.5rem, 2vw, 2rem); font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  font-size: clamp(14px, 0.6rem + 0.6vw, 32px); line-height: 1.4; }
h1 { font-size: 1.5em; margin: 0 0 0.3em; }
h2 { font-size: 1.15em; margin: 1.2em 0 0.4em; }
#summary { font-weight: 600; padding: 0.4em 0.7em; border-radius: 0.3em; display: inline-block; }
#summary.health-healthy { background: #dafbe1; color: #0a3d1a; }
#summary.health-degraded { background: #fff1c2; color: #5c3b00; }
#summary.health-error { background: #ffd8d3; color: #6b0b06; }
.scroll { overflow-x: auto; max-width: 100%; -webkit-overflow-scrolling: touch; }
table { border-collapse: collapse; }
th, td { border: 1px solid #8c959f66; padding: 0.25em 0.5em; text-align: center; white-space: nowrap; }
th[scope="row"] { text-align: left; }
td.state-up { background: #dafbe1; color: #0a3d1a; }
td.state-down { background: #cf222e; color: #fff; font-weight: 700; }
td.state-disagree { background: #ffd8a8; color: #5c2d00; font-weight: 700; }
td.state-unknown { background: #eaeef2; color: #424a53; }
td.state-not-connected { color: #6e7781; }
td.end-up { color: var(--up); font-weight: 600; }
td.end-down, td.end-connecting, td.end-not-running, td.end-not-deployed { color: var(--down); font-weight: 600; }
td.end-unknown { color: var(--unknown); }
td.diagonal { background: repeating-linear-gradient(45deg, transparent 0 4px, #8c959f33 4px 8px); }
#problems li { margin: 0.2em 0; }
#topology { margin: 0; overflow-x: auto; max-width: 100%; -webkit-overflow-scrolling: touch; }
#topology svg { width: 100%; max-width: 100%; height: auto; }
/* a phone: the picture keeps a legible size and scrolls sideways instead of shrinking to a stamp */
@media (max-width: 720px) { #topology svg { width: 720px; max-width: none; } }
#tunnels td { text-align: left; }
footer { margin-top: 2em; font-size: 0.8em; color: #6e7781; }
`;

export async function formatHtml(report: StatusReport, mesh: Mesh): Promise<string> {
  const svg = await renderSvg(topologyDot(mesh, { styles: tunnelStyles(report) }), {
    title: graphTitle(mesh),
  });
  const e = escapeHtml;
  const problems = problemLines(report);
  const parts = [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${e(`meshctl status: ${report.mesh} (${report.health})`)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    `<body class="health-${report.health}">`,
    `<h1>Mesh ${e(report.mesh)}</h1>`,
    `<p id="summary" class="health-${report.health}">${e(summaryLine(report))}</p>`,
    `<p id="checked">Checked <time datetime="${e(report.checkedAt)}">${e(report.checkedAt)}</time>, routing ${e(report.routing)}.</p>`,
    '<h2>LAN × LAN</h2>',
    `<div class="scroll">${matrixTable(report)}</div>`,
    '<h2>Problems</h2>',
    problems.length === 0
      ? '<ul id="problems" class="none"><li>none</li></ul>'
      : `<ul id="problems">${problems.map((p) => `<li>${e(p)}</li>`).join('')}</ul>`,
    '<h2>Topology</h2>',
    `<figure id="topology">${inlineSvg(svg)}<figcaption>Edges: green up, red down, orange the ends disagree, grey unknown; dashed: leaf tunnels.</figcaption></figure>`,
    '<h2>Tunnels</h2>',
    `<div class="scroll">${tunnelsTable(report)}</div>`,
    `<footer>meshctl status, exit code ${report.exitCode}</footer>`,
    '</body>',
    '</html>',
  ];
  return `${parts.join('\n')}\n`;
}

function matrixTable(report: StatusReport): string {
  const e = escapeHtml;
  const lanOf = lanOfGateway(report);
  const head = `<tr><th scope="col"></th>${report.lans.map((l) => `<th scope="col">${e(l)}</th>`).join('')}</tr>`;
  const rows = report.lans.map((a) => {
    const cells = report.lans.map((b) => {
      if (a === b) return '<td class="diagonal"></td>';
      const cell = lanCell(report, a, b, lanOf);
      const label =
        cell.state === 'disagree' ? `disagree: ${cell.disagreeing ?? '?'} not up` : CELL_LABELS[cell.state];
      const title = [
        `${a} - ${b}: ${CELL_LABELS[cell.state]}`,
        ...cell.tunnels.map((t) => tunnelTooltip(t)),
        ...(cell.lanPair?.probes ?? []).map(
          (p) =>
            `probe ${p.from} -> ${p.to}: ${p.ok === true ? 'ok' : p.ok === false ? 'failed' : 'not run'}`,
        ),
      ].join('\n');
      return `<td class="state-${cell.state}" data-a="${e(a)}" data-b="${e(b)}" title="${e(title)}">${e(label)}</td>`;
    });
    return `<tr><th scope="row">${e(a)}</th>${cells.join('')}</tr>`;
  });
  return `<table id="matrix"><thead>${head}</thead><tbody>${rows.join('')}</tbody></table>`;
}

function tunnelsTable(report: StatusReport): string {
  const e = escapeHtml;
  const num = (n: number | null, unit = '') => (n === null ? '' : `${Math.round(n * 10) / 10}${unit}`);
  const head =
    '<tr><th scope="col">pair</th><th scope="col">tunnel</th><th scope="col">state</th><th scope="col">end</th>' +
    '<th scope="col">end state</th><th scope="col">since</th><th scope="col">rtt</th><th scope="col">loss</th>' +
    '<th scope="col">peer cert</th><th scope="col">problem</th></tr>';
  const rows = report.tunnels.flatMap((t) =>
    t.ends.map(
      (end, i) =>
        `<tr id="tunnel-${t.pair}-${e(end.gateway)}">` +
        (i === 0
          ? `<td rowspan="2">${t.pair}</td><td rowspan="2">${e(`${t.low} - ${t.high} (${t.kind}, ${t.device})`)}</td>` +
            `<td rowspan="2" class="state-${t.state}">${e(t.state)}</td>`
          : '') +
        `<td>${e(end.gateway)}</td><td class="end-${end.state}">${e(end.state)}</td>` +
        `<td>${e(end.since ?? '')}</td><td>${e(num(end.rttMs, ' ms'))}</td><td>${e(num(end.lossPercent, '%'))}</td>` +
        `<td>${e(num(end.peerCertificateDaysLeft, ' d'))}</td><td>${e(end.problem ?? '')}</td></tr>`,
    ),
  );
  return `<table id="tunnels"><thead>${head}</thead><tbody>${rows.join('')}</tbody></table>`;
}
