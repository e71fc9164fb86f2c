/**
 * DOT → SVG in-process with @viz-js/viz (Graphviz compiled to WebAssembly): no Graphviz binary on the bastion.
 * Imported only by the commands that draw, so the WebAssembly module is loaded only when a picture is rendered.
 * Graphviz's `dot` layout is deterministic: one DOT text always gives the same SVG with a given build.
 */
export async function renderSvg(dot: string, options: { title?: string } = {}): Promise<string> {
  const { instance } = await import('@viz-js/viz');
  const viz = await instance();
  const svg = viz.renderString(dot, { format: 'svg', engine: 'dot' });
  return options.title === undefined ? svg : withTitle(svg, options.title);
}

/**
 * Graphviz titles only its inner groups: a <title> as the first child of <svg> is what screen readers (and
 * browsers' tooltips for the whole picture) use.
 */
function withTitle(svg: string, title: string): string {
  const escaped = title.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return svg.replace(/(<svg\b[^>]*>)/, `$1\n<title>${escaped}</title>`);
}
