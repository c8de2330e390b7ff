/**
 * The wasm SIMD preprocessing kernels (wasm/preprocess.ts via row-kernels.ts) give the
 * same bits as the JavaScript they stand in for: Savitzky–Golay against
 * savitzkyGolayIntoJs (itself held to ml-savitzky-golay-generalized and scipy elsewhere),
 * the area integral against trapezoidOf, over odd and even lengths, windows,
 * polynomial and derivative orders, uneven axes, and rows holding NaN, ±Infinity,
 * −0 and subnormals. "Same" is Object.is on every value: −0 and +0 differ, any NaN
 * equals any NaN.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { areaRows, meanLevel, trapezoidOf } from '../../src/data/preprocess/normalize.js';
import { float32Into, rowKernelsStatus } from '../../src/data/preprocess/row-kernels.js';
import { savitzkyGolayIntoJs, savitzkyGolayRows } from '../../src/data/preprocess/smooth.js';
import { applyStep, type Work } from '../../src/data/preprocess/steps.js';
import { Rng } from '../../src/util/random.js';

function sameValues(actual: Float64Array, expected: Float64Array, what: string): void {
  expect(actual.length, what).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    if (!Object.is(actual[i], expected[i])) expect.fail(`${what}, index ${i}: ${actual[i]} vs ${expected[i]}`);
  }
}

/** A row with some of everything: ordinary values of mixed sign and scale, and, when `special`, the awkward ones. */
function row(rng: Rng, d: number, special: boolean): Float64Array {
  const y = Float64Array.from({ length: d }, () => rng.normal() * 10 ** Math.floor(rng.uniform() * 6 - 3));
  if (special && d > 4) {
    const at = (k: number) => Math.floor(rng.uniform() * d) % d;
    y[at(0)] = -0;
    y[at(1)] = 5e-324;
    y[at(2)] = -2.2e-308;
    if (d > 20) {
      y[at(3)] = NaN;
      y[at(4)] = Infinity;
    }
  }
  return y;
}

function axis(rng: Rng, d: number, even: boolean): Float64Array {
  let v = 400 + rng.uniform();
  return Float64Array.from({ length: d }, () => (v += even ? 0.5 : 0.2 + rng.uniform()));
}

describe('wasm preprocessing kernels', () => {
  it('are the ones in use (built by `npm run build`)', () => {
    expect(rowKernelsStatus(), 'dist/data/preprocess/specflow-preprocess.wasm missing or broken: run `npm run build`').toBe('WebAssembly SIMD');
  });

  it('Savitzky–Golay: the same bits as the JavaScript for every window, polynomial and derivative order, length and axis', () => {
    const rng = new Rng(41);
    let cases = 0;
    for (const window of [5, 7, 9, 11, 15, 21]) { // sgg takes windows of 5 and up
      for (let polynomial = 1; polynomial < Math.min(window, 6); polynomial++) {
        for (let derivative = 0; derivative <= Math.min(polynomial, 3); derivative++) {
          // lengths: the window itself, just past it, and interiors that leave 0–7 outputs past a multiple of 8
          for (const d of [window, window + 1, window + 2, 2 * window + 3, 64 + window - 1, 97, 259]) {
            if (d < window) continue;
            const x = axis(rng, d, d % 2 === 0);
            const kernel = savitzkyGolayRows(x, window, polynomial, derivative);
            for (const special of [false, true]) {
              const y = row(rng, d, special);
              const expected = new Float64Array(d);
              savitzkyGolayIntoJs(y, x, window, polynomial, derivative, expected);
              const out = new Float64Array(d).fill(7);
              kernel(y, out);
              sameValues(out, expected, `window ${window}, polynomial ${polynomial}, derivative ${derivative}, d ${d}${special ? ', special values' : ''}`);
              cases++;
            }
          }
        }
      }
    }
    expect(cases).toBeGreaterThan(500);
  });

  it('Savitzky–Golay: row functions used in turn, and a longer row growing the memory, do not disturb one another', () => {
    const rng = new Rng(7);
    const short = axis(rng, 50, true);
    const long = axis(rng, 300_000, false); // 2.4 MB a row: past the memory the short rows needed
    const a = savitzkyGolayRows(short, 5, 2, 0);
    const b = savitzkyGolayRows(short, 9, 3, 1);
    const c = savitzkyGolayRows(long, 7, 2, 2);
    for (let k = 0; k < 3; k++) {
      for (const [f, x, window, polynomial, derivative] of [[a, short, 5, 2, 0], [b, short, 9, 3, 1], [c, long, 7, 2, 2]] as const) {
        const y = row(rng, x.length, true);
        const expected = new Float64Array(x.length);
        savitzkyGolayIntoJs(y, x, window, polynomial, derivative, expected);
        const out = new Float64Array(x.length);
        f(y, out);
        sameValues(out, expected, `round ${k}, window ${window}`);
      }
    }
  });

  it('area: the integral and the division give the same bits as trapezoidOf and a JavaScript division', () => {
    const rng = new Rng(43);
    for (const d of [2, 3, 4, 5, 8, 31, 32, 33, 1023, 1024]) {
      const x = axis(rng, d, d % 3 === 0);
      const kernels = areaRows(x);
      for (const special of [false, true, false]) {
        const y = row(rng, d, special);
        const area = kernels.integrate(y);
        expect(Object.is(area, trapezoidOf(x, y)), `d ${d}: ${area} vs ${trapezoidOf(x, y)}`).toBe(true);
        const level = meanLevel(x, y, area);
        const expected = y.map((v) => v / level);
        const out = new Float64Array(d);
        kernels.divide(y, out, level);
        sameValues(out, expected, `d ${d}, divided`);
        kernels.divide(y, y, level); // in place, as the step does
        sameValues(y, expected, `d ${d}, divided in place`);
      }
    }
  });

  it('the area and savgol steps on a batch: the same bits as the JavaScript kernels composed by hand', () => {
    const rng = new Rng(44);
    const d = 203;
    const x = axis(rng, d, false);
    const rows = Array.from({ length: 6 }, () => row(rng, d, false).map(Math.abs));
    const work = (): Work => ({ ids: rows.map((_, i) => `r${i}`), axis: x, xs: rows.map(() => x), spectrum: rows.map((r) => r.slice()) });
    const ctx = { where: 'test', log: () => undefined };

    const smoothed = work();
    applyStep({ derivative: { order: 1, window: 11, polynomial: 3 } }, smoothed, undefined, ctx);
    rows.forEach((r, i) => {
      const expected = new Float64Array(d);
      savitzkyGolayIntoJs(r, x, 11, 3, 1, expected);
      sameValues(smoothed.spectrum[i]!, expected, `derivative, row ${i}`);
    });

    const scaled = work();
    applyStep({ normalize: { method: 'area' } }, scaled, undefined, ctx);
    rows.forEach((r, i) => {
      const level = meanLevel(x, r, trapezoidOf(x, r));
      sameValues(scaled.spectrum[i]!, r.map((v) => v / level), `area, row ${i}`);
    });
  });

  it('float64 → float32: the bits of Float32Array’s own conversion (rounding ties to even, overflow, subnormals, NaN)', () => {
    const rng = new Rng(46);
    const f32max = 3.4028234663852886e38;
    const awkward = [0, -0, 1, -1, 1 + 2 ** -24, 1 + 3 * 2 ** -24, 1 + 2 ** -23 + 2 ** -24, f32max, f32max * (1 + 2 ** -25), f32max * (1 + 2 ** -23), -1e39, 1.4e-45, 7e-46, 7.1e-46, 1e-46, -1e-40, 5e-324, Infinity, -Infinity, NaN, -NaN];
    // 16,384 values a piece: a source past two pieces, with a ragged end, written at an offset
    const src = Float64Array.from({ length: 40_003 }, (_, i) => (i < awkward.length ? awkward[i]! : rng.normal() * 10 ** Math.floor(rng.uniform() * 80 - 40)));
    const expected = new Float32Array(40_010).fill(7);
    expected.set(src, 5);
    const out = new Float32Array(40_010).fill(7);
    float32Into(src, out, 5);
    const a = new Uint32Array(out.buffer);
    const b = new Uint32Array(expected.buffer);
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) expect.fail(`value ${i}: ${out[i]} (0x${a[i]!.toString(16)}) vs ${expected[i]} (0x${b[i]!.toString(16)})`);
  });

  describe('without the wasm module', () => {
    afterEach(() => {
      vi.unstubAllEnvs();
      vi.resetModules();
    });

    it('SPECFLOW_PREPROCESS_WASM=0: the JavaScript runs, says so, and gives the same bits', async () => {
      vi.stubEnv('SPECFLOW_PREPROCESS_WASM', '0');
      vi.resetModules();
      const kernels = await import('../../src/data/preprocess/row-kernels.js');
      const smooth = await import('../../src/data/preprocess/smooth.js');
      expect(kernels.rowKernelsStatus()).toBe('JavaScript (SPECFLOW_PREPROCESS_WASM=0)');
      expect(kernels.wasmSavgolRows(new Float64Array(9), 3, undefined, 10)).toBeUndefined();
      const rng = new Rng(45);
      const x = axis(rng, 40, true);
      const y = row(rng, 40, true);
      const viaJs = new Float64Array(40);
      smooth.savitzkyGolayRows(x, 9, 2, 1)(y, viaJs);
      const viaWasm = new Float64Array(40);
      savitzkyGolayRows(x, 9, 2, 1)(y, viaWasm);
      sameValues(viaJs, viaWasm, 'JavaScript vs wasm');
      const inPlace = y.slice();
      smooth.savitzkyGolayRows(x, 9, 2, 1)(inPlace, inPlace);
      sameValues(inPlace, viaWasm, 'JavaScript in place');
    });
  });
});
