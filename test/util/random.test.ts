/**
 * The seeded generator's bulk normals against its one-at-a-time normal() (the
 * reference: the bulk loop must give the same stream, bit for bit, or every
 * denoising training would change), and addNoise's Gaussian noise against the
 * per-element formula it replaced.
 */
import { describe, expect, it } from 'vitest';
import { addNoise } from '../../src/ml/metrics.js';
import { Rng } from '../../src/util/random.js';

const bits = (a: ArrayLike<number>): string[] => Array.from(a, (v) => (Object.is(v, -0) ? '-0' : v.toString()));

describe('Rng.fillNormals', () => {
  it('gives exactly the stream of successive normal() calls, carrying the spare of a pair across calls', () => {
    const one = new Rng(12345);
    const bulk = new Rng(12345);
    const want: number[] = [];
    const got: number[] = [];
    // odd and even lengths, an empty call, and normal() in between: the spare must pass both ways
    for (const n of [5, 4, 0, 1, 7, 1000, 3]) {
      for (let i = 0; i < n; i++) want.push(one.normal());
      const out = new Float64Array(n);
      bulk.fillNormals(out, n);
      got.push(...out);
      want.push(one.normal());
      got.push(bulk.normal());
    }
    expect(bits(got)).toEqual(bits(want));
    // and the generator is left in the same state
    expect(bulk.nextUint32()).toBe(one.nextUint32());
    expect(bulk.uniform()).toBe(one.uniform());
  });

  it('draws standard normals (mean 0, variance 1 within sampling error)', () => {
    const out = new Float64Array(200_000);
    new Rng(3).fillNormals(out, out.length);
    const mean = out.reduce((a, v) => a + v, 0) / out.length;
    const variance = out.reduce((a, v) => a + (v - mean) ** 2, 0) / out.length;
    expect(Math.abs(mean)).toBeLessThan(0.01); // sd of the mean 0.0022
    expect(Math.abs(variance - 1)).toBeLessThan(0.02); // sd of the variance 0.0032
  });
});

describe('addNoise, gaussian', () => {
  it('adds sigma × the generator\'s normals in order, as the per-element loop x + σ·normal() did', () => {
    const x = Float32Array.from({ length: 1001 }, (_, i) => Math.sin(i) * 3);
    const spec = { noise: 'gaussian' as const, level: 0.2 };
    const stats = { sd: 1.7, mean: 0 };
    const rng = new Rng(99);
    const ref = new Rng(99);
    for (let pass = 0; pass < 2; pass++) { // the second pass starts on the first's spare
      const got = addNoise(x, spec, rng, stats);
      const want = new Float32Array(x.length);
      for (let i = 0; i < x.length; i++) want[i] = x[i]! + 0.2 * 1.7 * ref.normal();
      expect(bits(got)).toEqual(bits(want));
    }
  });
});
