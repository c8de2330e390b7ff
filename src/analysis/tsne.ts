/**
 * Exact t-SNE (van der Maaten & Hinton 2008) for small data sets: O(n²) per
 * iteration, so meant for a few thousand points at most. Perplexity-calibrated
 * Gaussian affinities, Student-t similarities in the embedding, early
 * exaggeration (12× for the first 250 iterations), momentum 0.5 → 0.8 and
 * per-coordinate gains, as in the reference implementation.
 */
import { Rng } from '../util/random.js';
import { squaredDistance, type Rows } from './clustering-metrics.js';

export interface TsneOptions {
  seed: number;
  perplexity?: number;
  iterations?: number;
  learningRate?: number;
  dims?: number;
}

/**
 * Conditional affinities p_{j|i} with, for each i, the Gaussian precision found by
 * bisection so that the entropy of p_{·|i} is ln(perplexity). Row-major n × n.
 */
export function conditionalAffinities(x: Rows, perplexity: number): Float64Array {
  const n = x.length;
  const p = new Float64Array(n * n);
  const target = Math.log(perplexity);
  const d2 = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) d2[j] = j === i ? 0 : squaredDistance(x[i]!, x[j]!);
    let beta = 1;
    let lo = -Infinity;
    let hi = Infinity;
    for (let iter = 0; iter < 200; iter++) {
      // subtract the smallest off-diagonal distance for numerical stability
      let minD = Infinity;
      for (let j = 0; j < n; j++) if (j !== i) minD = Math.min(minD, d2[j]!);
      let sum = 0;
      let sumDP = 0;
      for (let j = 0; j < n; j++) {
        if (j === i) {
          p[i * n + j] = 0;
          continue;
        }
        const v = Math.exp(-beta * (d2[j]! - minD));
        p[i * n + j] = v;
        sum += v;
        sumDP += (d2[j]! - minD) * v;
      }
      const h = Math.log(sum) + (beta * sumDP) / sum;
      for (let j = 0; j < n; j++) p[i * n + j]! /= sum;
      const diff = h - target;
      if (Math.abs(diff) < 1e-7) break;
      if (diff > 0) {
        lo = beta;
        beta = hi === Infinity ? beta * 2 : (beta + hi) / 2;
      } else {
        hi = beta;
        beta = lo === -Infinity ? beta / 2 : (beta + lo) / 2;
      }
    }
  }
  return p;
}

/** Entropy (natural log) of row i of a row-stochastic n × n matrix. */
export function rowEntropy(p: Float64Array, n: number, i: number): number {
  let h = 0;
  for (let j = 0; j < n; j++) {
    const v = p[i * n + j]!;
    if (v > 0) h -= v * Math.log(v);
  }
  return h;
}

/** Embed `x` in `dims` (default 2) dimensions. Returns n rows. */
export function tsne(x: Rows, options: TsneOptions): number[][] {
  const n = x.length;
  const dims = options.dims ?? 2;
  const perplexity = options.perplexity ?? 30;
  if (n < 4) throw new RangeError(`t-SNE needs at least 4 points, got ${n}`);
  if (perplexity >= n) throw new RangeError(`perplexity (${perplexity}) must be smaller than the number of points (${n})`);
  const iterations = options.iterations ?? 1000;
  const eta = options.learningRate ?? Math.max(n / 12 / 4, 50);
  const cond = conditionalAffinities(x, perplexity);
  const P = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) P[i * n + j] = Math.max((cond[i * n + j]! + cond[j * n + i]!) / (2 * n), 1e-12);
  }
  const rng = new Rng(options.seed);
  const y = new Float64Array(n * dims);
  for (let i = 0; i < y.length; i++) y[i] = rng.normal(0, 1e-4);
  const update = new Float64Array(n * dims);
  const gains = new Float64Array(n * dims).fill(1);
  const num = new Float64Array(n * n);
  const grad = new Float64Array(n * dims);
  for (let iter = 0; iter < iterations; iter++) {
    const exaggeration = iter < 250 ? 12 : 1;
    const momentum = iter < 250 ? 0.5 : 0.8;
    let sumNum = 0;
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        let d = 0;
        for (let c = 0; c < dims; c++) {
          const t = y[i * dims + c]! - y[j * dims + c]!;
          d += t * t;
        }
        const v = 1 / (1 + d);
        num[i * n + j] = v;
        num[j * n + i] = v;
        sumNum += 2 * v;
      }
    }
    grad.fill(0);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        if (j === i) continue;
        const v = num[i * n + j]!;
        const mult = 4 * (exaggeration * P[i * n + j]! - Math.max(v / sumNum, 1e-12)) * v;
        for (let c = 0; c < dims; c++) grad[i * dims + c]! += mult * (y[i * dims + c]! - y[j * dims + c]!);
      }
    }
    for (let t = 0; t < y.length; t++) {
      const g = grad[t]!;
      gains[t] = Math.sign(g) !== Math.sign(update[t]!) ? gains[t]! + 0.2 : Math.max(gains[t]! * 0.8, 0.01);
      update[t] = momentum * update[t]! - eta * gains[t]! * g;
      y[t]! += update[t]!;
    }
    // keep the embedding centred
    for (let c = 0; c < dims; c++) {
      let m = 0;
      for (let i = 0; i < n; i++) m += y[i * dims + c]!;
      m /= n;
      for (let i = 0; i < n; i++) y[i * dims + c]! -= m;
    }
  }
  return Array.from({ length: n }, (_, i) => Array.from(y.subarray(i * dims, (i + 1) * dims)));
}
