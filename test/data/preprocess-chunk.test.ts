/**
 * A streamed batch (runChunk) run in cache-sized blocks of rows, and written over its own
 * input when the worker owns it, gives the same bits as the steps applied to the whole
 * batch at once (applyStep, as the in-memory path runs them).
 */
import { describe, expect, it } from 'vitest';
import { runChunk, type ChunkJob } from '../../src/data/preprocess/chunk.js';
import { applyStep, type Step, type StepStats, type Work } from '../../src/data/preprocess/steps.js';
import { Rng } from '../../src/util/random.js';

const n = 300;
const d = 100; // blocks of 163 rows: two blocks, the second shorter
const rng = new Rng(12);
const axis = Float64Array.from({ length: d }, (_, j) => 400 + 3 * j + (j % 3) * 0.5);
const spectra = Float32Array.from({ length: n * d }, (_, k) => 50 + 10 * Math.sin(k / 7) + rng.normal());
const clean = Float32Array.from({ length: n * d }, (_, k) => 50 + 10 * Math.sin(k / 7));
const ids = Array.from({ length: n }, (_, i) => `s${i}`);

/** The steps on the whole batch at once, float32 → float64 rows → float32, as the in-memory path. */
function whole(steps: Step[], stats: (StepStats | null)[]): { spectra: Float32Array; clean: Float32Array; axis: Float64Array } {
  const rowsOf = (data: Float32Array) => Array.from({ length: n }, (_, i) => Float64Array.from(data.subarray(i * d, (i + 1) * d)));
  const w: Work = { ids, axis, xs: ids.map(() => axis), spectrum: rowsOf(spectra), clean: rowsOf(clean) };
  steps.forEach((step, k) => applyStep(step, w, undefined, { where: 'test', log: () => undefined, ...(stats[k] ? { stats: stats[k]! } : {}) }));
  const pack = (rows: Float64Array[]) => {
    const out = new Float32Array(rows.length * w.axis!.length);
    rows.forEach((r, i) => out.set(r, i * w.axis!.length));
    return out;
  };
  return { spectra: pack(w.spectrum), clean: pack(w.clean!), axis: w.axis! };
}

function job(steps: Step[], stats: (StepStats | null)[]): ChunkJob {
  return { steps, from: 0, to: steps.length, ids, axis, d, spectra: spectra.slice(), clean: clean.slice(), stats, where: 'test' };
}

function sameBits(a: Float32Array | Float64Array, b: Float32Array, what: string): void {
  expect(a.length, what).toBe(b.length);
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) expect.fail(`${what}, value ${i}: ${a[i]} vs ${b[i]}`);
}

describe('a streamed batch in blocks of rows', () => {
  const mean = Float64Array.from({ length: 80 }, (_, j) => 1 + j / 100);
  const sd = Float64Array.from({ length: 80 }, (_, j) => 0.5 + j / 50);
  const steps: Step[] = [
    { smooth: { method: 'savgol', window: 9, polynomial: 2 } },
    { normalize: { method: 'area' } },
    { crop: { min: 430, max: 668 } }, // 80 points: a block's rows change length
    { derivative: { order: 1, window: 7, polynomial: 3 } },
    { normalize: { method: 'snv' } },
    { normalize: { method: 'msc' } },
    { standardize: {} },
  ];
  const stats: (StepStats | null)[] = [null, null, null, null, null, { msc: mean }, { standardize: { mean, sd } }];

  for (const owns of [false, true]) {
    it(`gives the bits of the whole batch at once${owns ? ', written over its own input' : ''}`, () => {
      const expected = whole(steps, stats);
      expect(expected.axis.length).toBe(80);
      const j = job(steps, stats);
      const input = j.spectra;
      const r = runChunk(j, owns);
      if (!r.ok) throw new Error(r.message);
      expect(Array.from(r.axis)).toEqual(Array.from(expected.axis));
      sameBits(r.spectra, expected.spectra, 'spectra');
      sameBits(r.clean!, expected.clean, 'clean');
      // rows changed length (crop), so the output cannot be the input's buffer, whether owned or not
      expect(r.spectra.buffer).not.toBe(input.buffer);
    });
  }

  it('written over its own input when the rows keep their length, and never over a caller’s', () => {
    const keep: Step[] = [{ smooth: { method: 'savgol', window: 9, polynomial: 2 } }, { normalize: { method: 'area' } }, { normalize: { method: 'snv' } }];
    const expected = whole(keep, [null, null, null]);
    const owned = job(keep, [null, null, null]);
    const r = runChunk(owned, true);
    if (!r.ok) throw new Error(r.message);
    expect(r.spectra.buffer).toBe(owned.spectra.buffer);
    sameBits(r.spectra, expected.spectra, 'owned spectra');
    sameBits(r.clean!, expected.clean, 'owned clean');
    const borrowed = job(keep, [null, null, null]);
    const r2 = runChunk(borrowed, false);
    if (!r2.ok) throw new Error(r2.message);
    expect(r2.spectra.buffer).not.toBe(borrowed.spectra.buffer);
    sameBits(borrowed.spectra, spectra, 'the caller’s input, untouched');
    sameBits(r2.spectra, expected.spectra, 'borrowed spectra');
  });

  it('as float64 (the statistics passes), in blocks: the float64 values of the whole batch', () => {
    const keep: Step[] = [{ smooth: { method: 'savgol', window: 9, polynomial: 2 } }, { normalize: { method: 'area' } }];
    const rowsOf = (data: Float32Array) => Array.from({ length: n }, (_, i) => Float64Array.from(data.subarray(i * d, (i + 1) * d)));
    const w: Work = { ids, axis, xs: ids.map(() => axis), spectrum: rowsOf(spectra) };
    keep.forEach((step) => applyStep(step, w, undefined, { where: 'test', log: () => undefined }));
    const r = runChunk({ ...job(keep, [null, null]), float64: true }, true);
    if (!r.ok) throw new Error(r.message);
    expect(r.spectra).toBeInstanceOf(Float64Array);
    const expected = new Float64Array(n * d);
    w.spectrum.forEach((row, i) => expected.set(row, i * d));
    expect(r.spectra.length).toBe(expected.length);
    for (let i = 0; i < expected.length; i++) if (!Object.is(r.spectra[i], expected[i])) expect.fail(`value ${i}: ${r.spectra[i]} vs ${expected[i]}`);
  });

  it('a per-batch log (despike) keeps the batch whole: one message for the batch', () => {
    const r = runChunk(job([{ despike: {} }, { normalize: { method: 'snv' } }], [null, null]), true);
    if (!r.ok) throw new Error(r.message);
    expect(r.logs.filter((m) => m.startsWith('despike')).length).toBe(1);
  });

  it('an error in a later block names its spectrum', () => {
    const j = job([{ normalize: { method: 'area' } }], [null]);
    j.spectra.fill(-1, 250 * d, 251 * d);
    const r = runChunk(j, true);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toMatch(/spectrum "s250".*area is negative/);
  });
});
