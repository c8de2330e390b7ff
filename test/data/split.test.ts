import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStageForTest } from '../../src/runner/testing.js';
import { readSpectra, writeSpectra, type SpectraTable } from '../../src/data/arrow-io.js';
import { allocate } from '../../src/data/split.js';
import { split } from '../../src/stages/split.js';

const dir = mkdtempSync(join(tmpdir(), 'specflow-split-'));

async function input(labels: string[] | undefined): Promise<string> {
  const n = labels?.length ?? 100;
  const t: SpectraTable = {
    n, d: 2,
    ids: Array.from({ length: n }, (_, i) => `r${i}`),
    spectra: Float32Array.from({ length: 2 * n }, (_, k) => k),
    clean: Float32Array.from({ length: 2 * n }, (_, k) => -k),
    axis: Float64Array.from([1, 2]), axisUnit: '', axisName: 'feature',
    columns: { index: Array.from({ length: n }, (_, i) => i) },
    metadata: {},
  };
  if (labels) t.labels = labels;
  const p = join(dir, `in-${labels ? 'l' : 'u'}-${n}.arrow`);
  await writeSpectra(p, t);
  return p;
}

describe('split', () => {
  // 60 a, 30 b, 10 c
  const labels = [...Array(60).fill('a'), ...Array(30).fill('b'), ...Array(10).fill('c')] as string[];

  it('partitions every row exactly once, with stratified class proportions and aligned columns', async () => {
    const r = await runStageForTest(split, { params: { train: 0.6, validation: 0.2, test: 0.2 }, inputs: { spectra: await input(labels) }, seed: 1 });
    const parts = await Promise.all(['train', 'validation', 'test'].map((s) => readSpectra(r.outputs[s]!)));
    const ids = parts.flatMap((p) => p.ids);
    expect(new Set(ids).size).toBe(100);
    expect(ids).toHaveLength(100);
    const count = (t: SpectraTable, l: string) => t.labels!.filter((x) => x === l).length;
    // stratified: 60/30/10 split 60/20/20 → a 36/12/12, b 18/6/6, c 6/2/2
    expect(parts.map((p) => [count(p, 'a'), count(p, 'b'), count(p, 'c')])).toEqual([[36, 18, 6], [12, 6, 2], [12, 6, 2]]);
    for (const p of parts) {
      p.ids.forEach((id, i) => {
        const src = Number(id.slice(1));
        expect(p.columns.index![i]).toBe(src);
        expect(p.spectra[2 * i]).toBe(2 * src);
        expect(p.clean![2 * i + 1]).toBe(-(2 * src + 1));
      });
    }
    expect(r.metrics).toEqual({ train: 60, validation: 20, test: 20 });
  });

  it('is seeded: same seed → identical files, another seed → another partition', async () => {
    const path = await input(labels);
    const a = await runStageForTest(split, { inputs: { spectra: path }, seed: 4 });
    const b = await runStageForTest(split, { inputs: { spectra: path }, seed: 4 });
    const c = await runStageForTest(split, { inputs: { spectra: path }, seed: 5 });
    expect(readFileSync(a.outputs.train!).equals(readFileSync(b.outputs.train!))).toBe(true);
    expect((await readSpectra(a.outputs.test!)).ids).not.toEqual((await readSpectra(c.outputs.test!)).ids);
  });

  it('splits unlabelled tables (and stratify: false) by plain shuffling', async () => {
    const r = await runStageForTest(split, { params: { train: 0.5, validation: 0, test: 0.5, stratify: false }, inputs: { spectra: await input(undefined) }, seed: 2 });
    expect((await readSpectra(r.outputs.train!)).n).toBe(50);
    expect((await readSpectra(r.outputs.validation!)).n).toBe(0);
    expect((await readSpectra(r.outputs.test!)).n).toBe(50);
  });

  it('rejects fractions that do not add up to 1', async () => {
    await expect(runStageForTest(split, { params: { train: 0.8, validation: 0.3, test: 0.1 }, inputs: { spectra: await input(labels) } })).rejects.toThrow(/must be 1 \(got 1\.2\)/);
  });

  it('allocates by largest remainder', () => {
    expect(allocate(10, { train: 0.7, validation: 0.15, test: 0.15 })).toEqual({ train: 7, validation: 2, test: 1 });
    expect(allocate(7, { train: 1 / 3, validation: 1 / 3, test: 1 / 3 })).toEqual({ train: 3, validation: 2, test: 2 });
    expect(allocate(3, { train: 1, validation: 0, test: 0 })).toEqual({ train: 3, validation: 0, test: 0 });
  });
});
