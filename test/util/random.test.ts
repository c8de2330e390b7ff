/**
 * The seeded generator against a plain transcription of xoshiro128** and
 * splitmix32 (the stream every seeded choice in specflow depends on must not
 * change when its implementation is made faster), its bulk normals against its
 * one-at-a-time normal(), and addNoise's Gaussian noise against the
 * per-element formula it replaced.
 */
import { describe, expect, it } from 'vitest';
import { addNoise, addRowNoise } from '../../src/ml/metrics.js';
import { Rng } from '../../src/util/random.js';

const bits = (a: ArrayLike<number>): string[] => Array.from(a, (v) => (Object.is(v, -0) ? '-0' : v.toString()));

/** xoshiro128** (Blackman & Vigna) seeded by splitmix32, on uint32 numbers in object fields: specflow's generator as first written. */
class ReferenceXoshiro {
  s: number[];
  constructor(seed: number) {
    let x = seed >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s = [next(), next(), next(), next()];
    if ((this.s[0]! | this.s[1]! | this.s[2]! | this.s[3]!) === 0) this.s[0] = 1;
  }
  next(): number {
    const rotl = (v: number, k: number): number => ((v << k) | (v >>> (32 - k))) >>> 0;
    const [s0, s1, s2, s3] = this.s as [number, number, number, number];
    const result = Math.imul(rotl(Math.imul(s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (s1 << 9) >>> 0;
    const n2 = (s2 ^ s0) >>> 0;
    const n3 = (s3 ^ s1) >>> 0;
    this.s = [(s0 ^ n3) >>> 0, (s1 ^ n2) >>> 0, (n2 ^ t) >>> 0, rotl(n3, 11)];
    return result;
  }
}

describe('Rng', () => {
  it('draws the xoshiro128** stream of its splitmix32-expanded seed', () => {
    for (const seed of [0, 1, 42, 0xffffffff]) {
      const rng = new Rng(seed);
      const ref = new ReferenceXoshiro(seed);
      const got = Array.from({ length: 1000 }, () => rng.nextUint32());
      expect(got).toEqual(Array.from({ length: 1000 }, () => ref.next()));
    }
    // uniform() is two words: 27 + 26 bits of a 53-bit fraction
    const rng = new Rng(5);
    const ref = new ReferenceXoshiro(5);
    for (let i = 0; i < 100; i++) {
      const hi = ref.next() >>> 5;
      expect(rng.uniform()).toBe((hi * 67108864 + (ref.next() >>> 6)) / 9007199254740992);
    }
  });
});

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

describe('Rng.fillPoisson', () => {
  it('gives exactly the counts of successive poisson() calls, small means (Knuth), large ones (PTRS) and none mixed', () => {
    const lambdas = Float64Array.from({ length: 3000 }, (_, i) => [0, 0.3, 2.5, 12, 29.99, 30, 75, -1][i % 8]! * (1 + (i % 13) / 50));
    const one = new Rng(77);
    const bulk = new Rng(77);
    const out = new Float64Array(lambdas.length);
    bulk.fillPoisson(lambdas, out);
    expect(Array.from(out)).toEqual(Array.from(lambdas, (l) => one.poisson(l)));
    expect(bulk.nextUint32()).toBe(one.nextUint32());
  });
});

describe('addNoise, poisson', () => {
  it('draws Poisson(x·f)/f in order, as the per-element loop did', () => {
    const x = Float32Array.from({ length: 999 }, (_, i) => Math.abs(Math.sin(i)) * 40 - 1);
    const stats = { sd: 1, mean: 20 };
    const spec = { noise: 'poisson' as const, level: 15 };
    const f = 15 / 20;
    const rng = new Rng(4);
    const ref = new Rng(4);
    const want = Float32Array.from(x, (v) => ref.poisson(Math.max(v, 0) * f) / f);
    expect(bits(addNoise(x, spec, rng, stats))).toEqual(bits(want));
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

describe('addRowNoise', () => {
  it('gives row r the noise of its own generator Rng(seeds[r]), whatever rows come before it', () => {
    const d = 7; // odd: a Gaussian row ends on a spare, which the next row must not take
    const y = Float32Array.from({ length: 5 * d }, (_, i) => 2 + Math.sin(i));
    const seeds = [11, 12, 13, 14, 15];
    const stats = { sd: 1.3, mean: 2 };
    for (const spec of [{ noise: 'gaussian' as const, level: 0.3 }, { noise: 'poisson' as const, level: 30 }]) {
      const out = new Float32Array(y.length);
      addRowNoise(y, d, seeds, spec, stats, out);
      const want = new Float32Array(y.length);
      seeds.forEach((s, r) => {
        want.set(addNoise(y.subarray(r * d, (r + 1) * d), spec, new Rng(s), stats), r * d);
      });
      expect(bits(out)).toEqual(bits(want));
      // the last three rows alone (another thread's shard): the same draws
      const tail = new Float32Array(3 * d);
      addRowNoise(y.subarray(2 * d), d, seeds.slice(2), spec, stats, tail);
      expect(bits(tail)).toEqual(bits(out.subarray(2 * d)));
      expect(out).not.toEqual(y);
    }
  });
});
