/** Vega-Lite → Vega → SVG, entirely in Node (no browser, no canvas). */
import type { VlSpec } from './charts.js';

export async function renderSvg(spec: VlSpec): Promise<string> {
  const [vl, vega] = await Promise.all([import('vega-lite'), import('vega')]);
  const compiled = vl.compile(spec as unknown as Parameters<typeof vl.compile>[0]).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    // the `marks` class lets tests (and CSS) find figures; drop the fixed white
    // background so figures follow the page colour
    return svg.replace(/^<svg /, '<svg role="img" ');
  } finally {
    view.finalize();
  }
}
