/**
 * Seeded randomness. Every random choice in specflow derives from the pipeline
 * seed through `deriveSeed(seed, ...labels)`, so adding a new random consumer
 * never shifts the stream of another one.
 */
import { createHash } from 'node:crypto';

/** A 32-bit seed from a base seed and labels (e.g. deriveSeed(seed, 'noise', phase)). */
export function deriveSeed(seed: number, ...labels: (string | number)[]): number {
  const h = createHash('sha256').update(JSON.stringify([seed, ...labels])).digest();
  return h.readUInt32LE(0);
}

/**
 * xoshiro128** — small, fast, good statistical quality, reproducible across platforms.
 * The four state words live in an Int32Array (as object fields, uint32 words above 2³⁰ are boxed
 * numbers, and every draw allocated: 2.5× slower); the arithmetic is on their bits either way.
 */
export class Rng {
  private readonly state = new Int32Array(4);
  /** The second normal of the last pair drawn, when hasSpare. */
  private readonly spare = new Float64Array(1);
  private hasSpare = false;

  constructor(seed: number) {
    // splitmix32 expands the seed into the four state words
    let x = seed >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    const st = this.state;
    for (let i = 0; i < 4; i++) st[i] = next();
    if ((st[0]! | st[1]! | st[2]! | st[3]!) === 0) st[0] = 1;
  }

  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number {
    return next32(this.state) >>> 0;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    return uniform53(this.state);
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal (Marsaglia polar method). */
  normal(mean = 0, sd = 1): number {
    if (this.hasSpare) {
      this.hasSpare = false;
      return mean + sd * this.spare[0]!;
    }
    let u: number;
    let v: number;
    let s: number;
    do {
      u = 2 * this.uniform() - 1;
      v = 2 * this.uniform() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const f = Math.sqrt((-2 * Math.log(s)) / s);
    this.spare[0] = v * f;
    this.hasSpare = true;
    return mean + sd * u * f;
  }

  /**
   * `n` standard normals into out[0..n): exactly what n calls of normal() return, in order, the
   * spare of a pair carried over as normal() carries it; about twice as fast, so noising a
   * mini-batch stays cheap.
   */
  fillNormals(out: Float64Array, n: number): void {
    let i = 0;
    if (n > 0 && this.hasSpare) {
      out[i++] = 0 + 1 * this.spare[0]!;
      this.hasSpare = false;
    }
    const st = this.state;
    while (i < n) {
      let u: number;
      let v: number;
      let s: number;
      do {
        u = 2 * uniform53(st) - 1;
        v = 2 * uniform53(st) - 1;
        s = u * u + v * v;
      } while (s >= 1 || s === 0);
      const f = Math.sqrt((-2 * Math.log(s)) / s);
      out[i++] = 0 + 1 * u * f;
      if (i < n) {
        out[i++] = 0 + 1 * (v * f);
      } else {
        this.spare[0] = v * f;
        this.hasSpare = true;
      }
    }
  }

  /** poisson(lambdas[i]) into out[i] for every i: exactly what successive poisson() calls return, about twice as fast. */
  fillPoisson(lambdas: ArrayLike<number>, out: Float64Array): void {
    const st = this.state;
    for (let i = 0; i < lambdas.length; i++) {
      const lambda = lambdas[i]!;
      if (!(lambda > 0) || lambda >= 30) {
        out[i] = this.poisson(lambda);
        continue;
      }
      // Knuth's product method, as poisson()
      const limit = Math.exp(-lambda);
      let k = 0;
      let p = uniform53(st);
      while (p > limit) {
        k++;
        p *= uniform53(st);
      }
      out[i] = k;
    }
  }

  /** Poisson variate: Knuth's product method for small means, PTRS (Hörmann 1993) otherwise. */
  poisson(lambda: number): number {
    if (!(lambda > 0)) return 0;
    if (lambda < 30) {
      const limit = Math.exp(-lambda);
      let k = 0;
      let p = this.uniform();
      while (p > limit) {
        k++;
        p *= this.uniform();
      }
      return k;
    }
    const slam = Math.sqrt(lambda);
    const loglam = Math.log(lambda);
    const b = 0.931 + 2.53 * slam;
    const a = -0.059 + 0.02483 * b;
    const invalpha = 1.1239 + 1.1328 / (b - 3.4);
    const vr = 0.9277 - 3.6224 / (b - 2);
    for (;;) {
      const u = this.uniform() - 0.5;
      const v = this.uniform();
      const us = 0.5 - Math.abs(u);
      const k = Math.floor(((2 * a) / us + b) * u + lambda + 0.43);
      if (us >= 0.07 && v <= vr) return k;
      if (k < 0 || (us < 0.013 && v > us)) continue;
      if (Math.log(v) + Math.log(invalpha) - Math.log(a / (us * us) + b) <= -lambda + k * loglam - logFactorial(k)) return k;
    }
  }

  /** In-place Fisher–Yates shuffle. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = items[i]!;
      items[i] = items[j]!;
      items[j] = t;
    }
    return items;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): number[] {
    return this.shuffle(Array.from({ length: n }, (_, i) => i));
  }
}

/** rotl on int32 words. */
function rotl32(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** One xoshiro128** step on the four state words: the next output's bits as an int32. */
function next32(st: Int32Array): number {
  const s0 = st[0]!;
  const s1 = st[1]!;
  const s2 = st[2]! ^ s0;
  const s3 = st[3]! ^ s1;
  st[0] = s0 ^ s3;
  st[1] = s1 ^ s2;
  st[2] = s2 ^ (s1 << 9);
  st[3] = rotl32(s3, 11);
  return Math.imul(rotl32(Math.imul(s1, 5), 7), 9);
}

/** Uniform in [0, 1) from two steps: 27 + 26 bits of a 53-bit fraction. */
function uniform53(st: Int32Array): number {
  const hi = next32(st) >>> 5;
  const lo = next32(st) >>> 6;
  return (hi * 67108864 + lo) / 9007199254740992;
}

function logFactorial(k: number): number {
  if (k < 2) return 0;
  // Stirling series is accurate to ~1e-10 from k = 10 on; sum exactly below
  if (k < 10) {
    let s = 0;
    for (let i = 2; i <= k; i++) s += Math.log(i);
    return s;
  }
  return (k + 0.5) * Math.log(k) - k + 0.5 * Math.log(2 * Math.PI) + 1 / (12 * k) - 1 / (360 * k ** 3);
}
