import type { Mesh, Pair } from '../types.js';

/**
 * Pictures of the topology (SPEC §8), pure: LANs as clusters of their gateways (each with its endpoint and the
 * subnets it owns), tunnels as edges labelled with the pair index and UDP port, leaf tunnels dashed. Everything is
 * in id order, so one inventory always gives the same text. `meshctl graph` prints these or renders the DOT text
 * to SVG (src/operator/svg.ts); `status --html` can reuse topologyDot with a style per tunnel (its live state).
 */

export const GRAPH_FORMATS = ['dot', 'mermaid', 'svg'] as const;
export type GraphFormat = (typeof GRAPH_FORMATS)[number];

/** Graphviz attributes of one tunnel's edge that a caller may set (e.g. its live state). */
export interface EdgeStyle {
  color?: string;
  fontcolor?: string;
  style?: 'solid' | 'dashed' | 'dotted' | 'bold';
  penwidth?: number;
  /** Shown on hover in SVG. */
  tooltip?: string;
  /** Added to the edge's SVG class (`edge tunnel core …`), for a stylesheet. */
  class?: string;
}

export interface DotOptions {
  /** Per pair index: attributes that replace the defaults of that tunnel's edge. */
  styles?: ReadonlyMap<number, EdgeStyle>;
}

/** One tunnel of the picture: its pair, and whether one end is a leaf LAN's gateway. */
export interface GraphTunnel {
  pair: Pair;
  kind: 'core' | 'leaf';
}

/** The tunnels in pair-index order, each with its kind from the topology. */
export function graphTunnels(mesh: Mesh): GraphTunnel[] {
  const kinds = new Map(mesh.topology.tunnels.map((t) => [`${t.low} ${t.high}`, t.kind]));
  return mesh.pairs.map((pair) => ({
    pair,
    kind: kinds.get(`${pair.low.name} ${pair.high.name}`) ?? 'core',
  }));
}

function tunnelLabel(pair: Pair): string {
  return `pair ${pair.index}, udp ${pair.port}`;
}

function lanLabel(name: string, via: string[]): string {
  return via.length > 0 ? `${name} (leaf via ${via.join(', ')})` : `${name} (core)`;
}

/** A DOT double-quoted string; a newline in the text becomes Graphviz's centred line break `\n`. */
function dotString(text: string): string {
  const lines = text.split('\n').map((l) => l.replace(/\\/g, '\\\\').replace(/"/g, '\\"'));
  return `"${lines.join('\\n')}"`;
}

function attributes(attrs: Record<string, string | number | undefined>): string {
  const list = Object.entries(attrs)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'number' ? v : dotString(v!)}`);
  return `[${list.join(', ')}]`;
}

/** The topology as a Graphviz `graph` (undirected: a tunnel has no direction). */
export function topologyDot(mesh: Mesh, options: DotOptions = {}): string {
  const lines = [
    `graph ${dotString(mesh.name)} {`,
    `  graph ${attributes({
      label: `mesh ${mesh.name}: solid lines are core tunnels, dashed lines leaf tunnels`,
      labelloc: 't',
      fontname: 'Helvetica',
      fontsize: 12,
      rankdir: 'LR',
    })};`,
    `  node ${attributes({ shape: 'box', style: 'rounded', fontname: 'Helvetica', fontsize: 10 })};`,
    `  edge ${attributes({ fontname: 'Helvetica', fontsize: 9 })};`,
  ];
  for (const lan of mesh.inventory.lans) {
    const leaf = lan.via.length > 0;
    lines.push(`  subgraph ${dotString(`cluster_${lan.name}`)} {`);
    lines.push(
      `    graph ${attributes({ label: lanLabel(lan.name, lan.via), id: `lan-${lan.name}`, style: leaf ? 'dashed' : 'solid' })};`,
    );
    for (const g of lan.gateways) {
      lines.push(
        `    ${dotString(g.name)} ${attributes({ label: [g.name, g.endpoint, ...g.subnets].join('\n'), id: `gateway-${g.name}` })};`,
      );
    }
    lines.push('  }');
  }
  for (const { pair, kind } of graphTunnels(mesh)) {
    const style = options.styles?.get(pair.index) ?? {};
    const { class: extra, ...attrs } = style;
    lines.push(
      `  ${dotString(pair.low.name)} -- ${dotString(pair.high.name)} ${attributes({
        label: tunnelLabel(pair),
        id: `tunnel-${pair.index}`,
        class: ['tunnel', kind, extra].filter(Boolean).join(' '),
        style: kind === 'leaf' ? 'dashed' : 'solid',
        ...attrs,
      })};`,
    );
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

/** Mermaid ids: `gw_eu_a` for gateway eu-a (names hold only a-z, 0-9 and "-", so the mapping is one to one). */
function mermaidId(kind: 'gw' | 'lan', name: string): string {
  return `${kind}_${name.replace(/-/g, '_')}`;
}

function mermaidString(...lines: string[]): string {
  return `"${lines.map((l) => l.replace(/"/g, '#quot;')).join('<br/>')}"`;
}

/** The topology as a Mermaid flowchart (GitHub and GitLab render it in Markdown). */
export function topologyMermaid(mesh: Mesh): string {
  const lines = [
    'flowchart LR',
    `  %% mesh ${mesh.name}: solid links are core tunnels, dashed links leaf tunnels`,
  ];
  for (const lan of mesh.inventory.lans) {
    lines.push(`  subgraph ${mermaidId('lan', lan.name)}[${mermaidString(lanLabel(lan.name, lan.via))}]`);
    for (const g of lan.gateways) {
      lines.push(`    ${mermaidId('gw', g.name)}[${mermaidString(g.name, g.endpoint, ...g.subnets)}]`);
    }
    lines.push('  end');
  }
  for (const { pair, kind } of graphTunnels(mesh)) {
    const link = kind === 'leaf' ? '-.-' : '---';
    lines.push(
      `  ${mermaidId('gw', pair.low.name)} ${link}|${mermaidString(tunnelLabel(pair))}| ${mermaidId('gw', pair.high.name)}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** One line that says what the picture shows (the SVG's title). */
export function graphTitle(mesh: Mesh): string {
  const leaves = mesh.inventory.lans.filter((lan) => lan.via.length > 0).length;
  return `mesh ${mesh.name}: ${mesh.inventory.lans.length} LANs (${leaves} leaf), ${mesh.inventory.gateways.length} gateways, ${mesh.pairs.length} tunnels`;
}
