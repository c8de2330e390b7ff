import { describe, expect, it } from 'vitest';
import { spectrumMapOf } from '../../src/data/arrow-io.js';
import { generateEels, grainLayout, type EelsOptions } from '../../src/data/synthetic/eels.js';
import { subsample } from '../../src/report/large.js';
import { blockSize, phaseMap, valueMap, type MapGeometry } from '../../src/report/maps.js';

const base: EelsOptions = {
  phases: 3, perClass: 1, channels: 16, dose: 50, eMin: 690, eMax: 740, includeAnomaly: true,
  shiftJitter: 0.15, intensityJitter: 0.1, background: 1, exponent: 3,
};

/** Pixels of each value in each row form one run (a Voronoi cell is convex). */
function rowsContiguous(layout: Int32Array, width: number, height: number): boolean {
  for (let y = 0; y < height; y++) {
    const seen = new Set<number>();
    let prev = -1;
    for (let x = 0; x < width; x++) {
      const v = layout[y * width + x]!;
      if (v !== prev && seen.has(v)) return false;
      seen.add(v);
      prev = v;
    }
  }
  return true;
}

describe('spectrum-image layout of synthetic.eels', () => {
  it('is seeded, gives every phase a grain, and one grain per phase is a convex cell', () => {
    const a = grainLayout(5, 40, 30, 3, 3);
    expect(grainLayout(5, 40, 30, 3, 3)).toEqual(a);
    expect(grainLayout(6, 40, 30, 3, 3)).not.toEqual(a);
    expect(new Set(a)).toEqual(new Set([0, 1, 2]));
    expect(rowsContiguous(a, 40, 30)).toBe(true);
    // transposed, columns are contiguous too
    const t = Int32Array.from({ length: 40 * 30 }, (_, i) => a[(i % 30) * 40 + Math.floor(i / 30)]!);
    expect(rowsContiguous(t, 30, 40)).toBe(true);
    // more grains than phases: phases repeat (g mod phases) and all appear
    expect(new Set(grainLayout(5, 40, 30, 12, 4))).toEqual(new Set([0, 1, 2, 3]));
  });

  it('an anomaly phase is exactly one grain', () => {
    const layout = grainLayout(9, 50, 50, 10, 4, true);
    expect(new Set(layout)).toEqual(new Set([0, 1, 2, 3]));
    const only = Int32Array.from(layout, (v) => (v === 3 ? 1 : 0));
    expect(rowsContiguous(only.map((v, i) => (v ? 1 : 2 + (i % 50))), 50, 50)).toBe(true);
  });

  it('writes one spectrum per pixel, row-major, with x/y coordinates and the map geometry', () => {
    const t = generateEels(3, { ...base, map: { width: 6, height: 4, grains: 3, pixelSize: 2.5 } });
    expect(t.n).toBe(24);
    expect(t.ids[0]).toBe('px-0-0');
    expect(t.ids[7]).toBe('px-1-1');
    expect(t.columns.x!.slice(0, 7)).toEqual([0, 2.5, 5, 7.5, 10, 12.5, 0]);
    expect(t.columns.y![6]).toBe(2.5);
    expect(spectrumMapOf(t.metadata, t.n)).toEqual({ width: 6, height: 4, xUnit: 'nm', yUnit: 'nm' });
    const layout = grainLayout(3, 6, 4, 3, 3);
    const names = JSON.parse(t.metadata.phases!) as { name: string }[];
    expect(t.labels).toEqual(Array.from(layout, (p) => names[p]!.name));
    expect(() => generateEels(3, { ...base, map: { width: 6, height: 4, grains: 2, pixelSize: 1 } })).toThrow(/at least the number of phases/);
  });
});

describe('large figures', () => {
  const geometry = (w: number, h: number): MapGeometry => ({
    width: w, height: h, xUnit: 'nm', yUnit: 'nm', source: 's',
    pixelOf: new Map(Array.from({ length: w * h }, (_, i) => [`p${i}`, i])),
    xs: Array.from({ length: w }, (_, i) => i), ys: Array.from({ length: h }, (_, i) => i),
  });

  it('a map over 128 × 128 pixels is drawn in blocks (mean value, majority label), said in the title', () => {
    const g = geometry(200, 100);
    const ids = [...g.pixelOf.keys()];
    const v = valueMap(g, 'err', ids, ids.map((_, i) => i % 200), 'error');
    const rows = (v.spec.data as { values: { v: number; x: number; x2: number }[] }).values;
    expect(rows).toHaveLength(100 * 50);
    expect(v.spec.title).toBe('err (2×2-pixel blocks)');
    expect(rows[0]!.v).toBe(0.5); // mean of columns 0 and 1
    expect([rows[0]!.x, rows[0]!.x2]).toEqual([-0.5, 1.5]);
    const p = phaseMap(g, 'phase', ids, ids.map((_, i) => (i % 200 < 101 ? 'a' : 'b')), 'cluster');
    expect((p.spec.data as { values: { v: string }[] }).values.filter((r) => r.v === 'a')).toHaveLength(51 * 50);
    const small = valueMap(geometry(32, 32), 'e', [...geometry(32, 32).pixelOf.keys()], new Array(1024).fill(1), 'error');
    expect((small.spec.data as { values: unknown[] }).values).toHaveLength(1024);
  });

  it('a line scan longer than 128 × 128 pixels is blocked along its length only, to at most 128 × 128 cells', () => {
    // 40,000 × 1: square 2×2 blocks would leave 20,000 cells (over the 16,384 limit) and call them 2×2;
    // ⌈40000 / 16384⌉ = 3 pixels a cell gives ⌈40000 / 3⌉ = 13,334 cells of 3 × 1
    const g = geometry(40_000, 1);
    const ids = [...g.pixelOf.keys()];
    const v = valueMap(g, 'err', ids, ids.map((_, i) => i), 'error');
    const rows = (v.spec.data as { values: { v: number; x: number; x2: number; y: number; y2: number }[] }).values;
    expect(rows).toHaveLength(13_334);
    expect(v.spec.title).toBe('err (3×1-pixel blocks)');
    expect(v.caption).toContain('drawn as 3×1 block means');
    // the first cell: pixels 0, 1, 2 (mean 1), spanning their centres ± half a step; the last holds pixel 39,999 alone
    expect(rows[0]).toMatchObject({ v: 1, x: -0.5, x2: 2.5, y: -0.5, y2: 0.5 });
    expect(rows.at(-1)).toMatchObject({ v: 39_999, x: 39_998.5, x2: 39_999.5 });
    // the same for a map 3 pixels wide and 100,000 high: ⌈100000 / 16384⌉ = 7 rows a cell
    expect(blockSize(3, 100_000)).toEqual({ bw: 3, bh: 7 });
    expect(blockSize(600, 500)).toEqual({ bw: 5, bh: 5 });
    expect(blockSize(128, 128)).toEqual({ bw: 1, bh: 1 });
  });

  it('scatters above 5000 points draw a seeded sample and say so', () => {
    const rows = Array.from({ length: 12000 }, (_, i) => i);
    const a = subsample(rows);
    expect(a.rows).toHaveLength(5000);
    expect(a.note).toBe(' (random 5000 of 12000 shown)');
    expect(subsample(rows)).toEqual(a);
    expect(new Set(a.rows).size).toBe(5000);
    expect(subsample(rows.slice(0, 100))).toEqual({ rows: rows.slice(0, 100), note: '' });
  });
});
