import { describe, expect, it } from 'vitest';
import { histogramChart } from '../../src/report/charts.js';
import { renderSvg } from '../../src/report/render.js';

/** The bars of a rendered chart as [x, y, width, height] (Vega writes a bar as `Mx,yhWvHh-WZ`). */
function bars(svg: string): number[][] {
  const marks = svg.match(/<g class="mark-rect role-mark[^"]*"[^>]*>(.*?)<\/g>/s)![1]!;
  return [...marks.matchAll(/d="M([\d.]+),([\d.]+)h([\d.]+)v([\d.]+)h-[\d.]+Z"/g)].map((m) => m.slice(1, 5).map(Number));
}

describe('histogramChart', () => {
  it('stacks the groups\' bars: in a shared bin they touch and never overlap, so no colours mix', async () => {
    // two bins, at 1 and at 2: a has 2 values in the first and 1 in the second, b 1 and 2; 3 spectra in each
    const rows = [1, 1, 2].map((value) => ({ value, group: 'a' })).concat([1, 2, 2].map((value) => ({ value, group: 'b' })));
    const svg = await renderSvg(histogramChart('t', rows, 'x'));
    const rects = bars(svg);
    expect(rects).toHaveLength(4);
    const byX = new Map<number, number[][]>();
    for (const r of rects) byX.set(r[0]!, [...(byX.get(r[0]!) ?? []), r]);
    expect(byX.size).toBe(2);
    const unit = Math.min(...rects.map((r) => r[3]!)); // the height of one spectrum
    for (const column of byX.values()) {
      const [lower, upper] = column.sort((p, q) => q[1]! - p[1]!);
      // the upper bar ends where the lower begins, and each bin holds 3 spectra in all
      expect(upper![1]! + upper![3]!).toBeCloseTo(lower![1]!, 1);
      expect((lower![3]! + upper![3]!) / unit).toBeCloseTo(3, 5);
    }
    expect(svg).not.toMatch(/fill-opacity="0\.7"/);
  });

  it('gives the groups the colours asked for', async () => {
    const rows = [{ value: 1, group: 'flagged' }, { value: 2, group: 'not flagged' }];
    const svg = await renderSvg(histogramChart('t', rows, 'x', 1.5, { flagged: '#d62728', 'not flagged': '#9aa7b4' }));
    const fills = bars(svg).length && [...svg.matchAll(/fill="(#[0-9a-f]{6})"/g)].map((m) => m[1]);
    expect(fills).toEqual(expect.arrayContaining(['#d62728', '#9aa7b4']));
  });
});
