import { describe, expect, it } from 'vitest';
import { spectraChart } from '../../src/report/charts.js';
import { renderSvg } from '../../src/report/render.js';

/** The line paths of a rendered chart in drawing order, each with its stroke colour and dash pattern. */
function lines(svg: string): { stroke: string; dash: string | null }[] {
  return [...svg.matchAll(/<path[^>]*role-mark[^>]*>|<path([^>]*)stroke="(#[0-9a-f]{6})"([^>]*)>/g)]
    .filter((m) => m[2])
    .map((m) => ({ stroke: m[2]!, dash: /stroke-dasharray="([^"]+)"/.exec(m[0])?.[1] ?? null }));
}

describe('spectraChart dash patterns and drawing order', () => {
  it('dashes only the series named so, and draws later series on top of earlier ones', async () => {
    const axis = [0, 1, 2, 3];
    const same = [1, 2, 1, 2];
    // the reconstruction coincides with the clean line: drawn after it, solid, over a dashed clean line
    const series = [{ name: 'clean', values: same }, { name: 'reconstruction', values: same }];
    const svg = await renderSvg(spectraChart('t', axis, 'x', series, { dash: { clean: [5, 3], reconstruction: [1, 0] }, colors: { clean: '#1f77b4', reconstruction: '#d62728' } }));
    const drawn = lines(svg).filter((l) => l.stroke === '#1f77b4' || l.stroke === '#d62728');
    expect(drawn.map((l) => l.stroke)).toEqual(['#1f77b4', '#d62728']);
    expect(drawn[0]!.dash).toMatch(/^5[ ,]3$/);
    expect(drawn[1]!.dash === null || /^1[ ,]0$/.test(drawn[1]!.dash)).toBe(true);
  });
});
