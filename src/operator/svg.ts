/**
 * DOT → SVG in-process with @viz-js/viz (Graphviz compiled to WebAssembly): no Graphviz binary on the bastion.
 * Imported only by the commands that draw, so the WebAssembly module is loaded only when a picture is rendered.
 * Graphviz's `dot` layout is deterministic: one DOT text always gives the same SVG with a given build.
 */
export async function renderSvg(dot: string): Promise<string> {
  const { instance } = await import('@viz-js/viz');
  const viz = await instance();
  return viz.renderString(dot, { format: 'svg', engine: 'dot' });
}
