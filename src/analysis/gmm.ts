/**
 * Gaussian mixture model fitted by expectation–maximisation, with full or
 * diagonal covariances. Initialised from a seeded k-means (as scikit-learn's
 * `init_params='kmeans'`), best of several restarts by log-likelihood.
 * A small `regCovar` is added to every covariance diagonal (scikit-learn: 1e-6).
 */
import { deriveSeed } from '../util/random.js';
import type { Rows } from './clustering-metrics.js';
import { kmeans } from './kmeans.js';

export type CovarianceType = 'full' | 'diag';

export interface GmmOptions {
  seed: number;
  covariance?: CovarianceType;
  restarts?: number;
  maxIterations?: number;
  /** Stop when the mean log-likelihood per sample improves by less than this. Default 1e-6. */
  tolerance?: number;
  regCovar?: number;
}

export interface GmmResult {
  k: number;
  covariance: CovarianceType;
  weights: number[];
  means: number[][];
  /** Full: k × d × d matrices. Diag: k × 1 × d (the diagonal). */
  covariances: number[][][];
  /** n × k row-major posterior probabilities. */
  responsibilities: Float64Array;
  /** argmax of the responsibilities. */
  labels: Int32Array;
  /** Total log-likelihood Σ_i ln p(x_i). */
  logLikelihood: number;
  /** Number of free parameters (see `gmmParameterCount`). */
  nParameters: number;
  /** p·ln n − 2 ln L. */
  bic: number;
  iterations: number;
  converged: boolean;
}

/**
 * Free parameters of a k-component mixture in d dimensions:
 * (k − 1) weights + k·d means + covariances (full: k·d(d+1)/2; diag: k·d).
 */
export function gmmParameterCount(k: number, d: number, covariance: CovarianceType): number {
  const cov = covariance === 'full' ? (k * d * (d + 1)) / 2 : k * d;
  return k - 1 + k * d + cov;
}

/** Bayesian information criterion: p·ln n − 2·ln L. */
export function bic(logLikelihood: number, nParameters: number, n: number): number {
  return nParameters * Math.log(n) - 2 * logLikelihood;
}

/** Lower-triangular Cholesky factor of a symmetric positive-definite matrix, or undefined. */
export function cholesky(a: number[][]): number[][] | undefined {
  const d = a.length;
  const l = Array.from({ length: d }, () => new Array<number>(d).fill(0));
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i]![j]!;
      for (let m = 0; m < j; m++) s -= l[i]![m]! * l[j]![m]!;
      if (i === j) {
        if (!(s > 0)) return undefined;
        l[i]![i] = Math.sqrt(s);
      } else {
        l[i]![j] = s / l[j]![j]!;
      }
    }
  }
  return l;
}

interface Component {
  weight: number;
  mean: number[];
  cov: number[][]; // full d×d or [diag]
  /** Cholesky factor (full) or 1/σ (diag), and log-determinant of the covariance. */
  chol: number[][];
  logDet: number;
}

const LOG_2PI = Math.log(2 * Math.PI);

function prepare(c: Omit<Component, 'chol' | 'logDet'>, type: CovarianceType, reg: number): Component {
  if (type === 'diag') {
    const diag = c.cov[0]!;
    const logDet = diag.reduce((s, v) => s + Math.log(v), 0);
    return { ...c, chol: [diag.map((v) => 1 / Math.sqrt(v))], logDet };
  }
  let extra = 0;
  for (let attempt = 0; attempt < 12; attempt++) {
    const cov = extra === 0 ? c.cov : c.cov.map((row, i) => row.map((v, j) => (i === j ? v + extra : v)));
    const l = cholesky(cov);
    if (l) {
      const logDet = 2 * l.reduce((s, row, i) => s + Math.log(row[i]!), 0);
      return { ...c, cov, chol: l, logDet };
    }
    extra = extra === 0 ? Math.max(reg, 1e-10) * 10 : extra * 10;
  }
  throw new Error('covariance matrix is not positive definite even after regularisation');
}

function logDensity(x: ArrayLike<number>, c: Component, type: CovarianceType): number {
  const d = x.length;
  let q = 0;
  if (type === 'diag') {
    const inv = c.chol[0]!;
    for (let j = 0; j < d; j++) {
      const t = (x[j]! - c.mean[j]!) * inv[j]!;
      q += t * t;
    }
  } else {
    // solve L y = x − μ by forward substitution; q = |y|²
    const l = c.chol;
    const y = new Array<number>(d);
    for (let i = 0; i < d; i++) {
      let s = x[i]! - c.mean[i]!;
      for (let m = 0; m < i; m++) s -= l[i]![m]! * y[m]!;
      y[i] = s / l[i]![i]!;
      q += y[i]! * y[i]!;
    }
  }
  return -0.5 * (d * LOG_2PI + c.logDet + q);
}

/** M-step: weights, means, covariances from responsibilities. */
function mStep(x: Rows, resp: Float64Array, k: number, type: CovarianceType, reg: number): Component[] {
  const n = x.length;
  const d = x[0]!.length;
  const out: Component[] = [];
  for (let c = 0; c < k; c++) {
    let nk = 0;
    const mean = new Array<number>(d).fill(0);
    for (let i = 0; i < n; i++) {
      const r = resp[i * k + c]!;
      nk += r;
      const row = x[i]!;
      for (let j = 0; j < d; j++) mean[j]! += r * row[j]!;
    }
    nk += 10 * Number.EPSILON; // as scikit-learn, keeps empty components finite
    for (let j = 0; j < d; j++) mean[j]! /= nk;
    let cov: number[][];
    if (type === 'diag') {
      const diag = new Array<number>(d).fill(0);
      for (let i = 0; i < n; i++) {
        const r = resp[i * k + c]!;
        const row = x[i]!;
        for (let j = 0; j < d; j++) {
          const t = row[j]! - mean[j]!;
          diag[j]! += r * t * t;
        }
      }
      cov = [diag.map((v) => v / nk + reg)];
    } else {
      cov = Array.from({ length: d }, () => new Array<number>(d).fill(0));
      const t = new Array<number>(d);
      for (let i = 0; i < n; i++) {
        const r = resp[i * k + c]!;
        if (r === 0) continue;
        const row = x[i]!;
        for (let j = 0; j < d; j++) t[j] = row[j]! - mean[j]!;
        for (let a = 0; a < d; a++) {
          const ra = r * t[a]!;
          const cr = cov[a]!;
          for (let b = 0; b <= a; b++) cr[b]! += ra * t[b]!;
        }
      }
      for (let a = 0; a < d; a++) {
        for (let b = 0; b <= a; b++) {
          const v = cov[a]![b]! / nk;
          cov[a]![b] = v;
          cov[b]![a] = v;
        }
        cov[a]![a]! += reg;
      }
    }
    out.push(prepare({ weight: nk / n, mean, cov }, type, reg));
  }
  return out;
}

/** E-step: fills `resp`, returns the total log-likelihood. */
function eStep(x: Rows, comps: Component[], type: CovarianceType, resp: Float64Array): number {
  const k = comps.length;
  const logW = comps.map((c) => Math.log(c.weight));
  const lp = new Float64Array(k);
  let total = 0;
  for (let i = 0; i < x.length; i++) {
    let max = -Infinity;
    for (let c = 0; c < k; c++) {
      lp[c] = logW[c]! + logDensity(x[i]!, comps[c]!, type);
      if (lp[c]! > max) max = lp[c]!;
    }
    let s = 0;
    for (let c = 0; c < k; c++) s += Math.exp(lp[c]! - max);
    const lse = max + Math.log(s);
    total += lse;
    for (let c = 0; c < k; c++) resp[i * k + c] = Math.exp(lp[c]! - lse);
  }
  return total;
}

/** Fit from given initial responsibilities (n × k, rows summing to 1). */
export function fitGmmFrom(x: Rows, initResp: Float64Array, k: number, options: Omit<GmmOptions, 'seed' | 'restarts'> = {}): GmmResult {
  const type = options.covariance ?? 'full';
  const reg = options.regCovar ?? 1e-6;
  const tol = options.tolerance ?? 1e-6;
  const maxIterations = options.maxIterations ?? 200;
  const n = x.length;
  const d = x[0]!.length;
  const resp = Float64Array.from(initResp);
  let comps = mStep(x, resp, k, type, reg);
  let ll = -Infinity;
  let iterations = 0;
  let converged = false;
  while (iterations < maxIterations) {
    iterations++;
    const next = eStep(x, comps, type, resp);
    const gain = (next - ll) / n;
    ll = next;
    comps = mStep(x, resp, k, type, reg);
    if (Math.abs(gain) < tol) {
      converged = true;
      break;
    }
  }
  // responsibilities and likelihood consistent with the final parameters
  ll = eStep(x, comps, type, resp);
  const labels = mostLikely(resp, n, k);
  const nParameters = gmmParameterCount(k, d, type);
  return {
    k,
    covariance: type,
    weights: comps.map((c) => c.weight),
    means: comps.map((c) => c.mean),
    covariances: comps.map((c) => c.cov),
    responsibilities: resp,
    labels,
    logLikelihood: ll,
    nParameters,
    bic: bic(ll, nParameters, n),
    iterations,
    converged,
  };
}

/** Row-wise argmax of n × k responsibilities (ties go to the lower component). */
function mostLikely(resp: Float64Array, n: number, k: number): Int32Array {
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < k; c++) if (resp[i * k + c]! > resp[i * k + best]!) best = c;
    labels[i] = best;
  }
  return labels;
}

/**
 * A fitted mixture applied to (other) points: their responsibilities, labels
 * and total log-likelihood under the fitted parameters — how a mixture fitted
 * on a sample is applied to every point.
 */
export function gmmPredict(x: Rows, fit: GmmResult): Pick<GmmResult, 'responsibilities' | 'labels' | 'logLikelihood'> {
  const comps = fit.weights.map((weight, c) => prepare({ weight, mean: fit.means[c]!, cov: fit.covariances[c]! }, fit.covariance, 0));
  const responsibilities = new Float64Array(x.length * fit.k);
  const logLikelihood = eStep(x, comps, fit.covariance, responsibilities);
  return { responsibilities, labels: mostLikely(responsibilities, x.length, fit.k), logLikelihood };
}

/** Fit a k-component mixture; `restarts` k-means initialisations, best log-likelihood kept. */
export function fitGmm(x: Rows, k: number, options: GmmOptions): GmmResult {
  const n = x.length;
  if (n === 0) throw new RangeError('no points');
  if (k < 1 || k > n) throw new RangeError(`k must be in 1..${n}, got ${k}`);
  const restarts = options.restarts ?? 3;
  let best: GmmResult | undefined;
  for (let r = 0; r < restarts; r++) {
    const km = kmeans(x, k, { seed: deriveSeed(options.seed, 'gmm-init', k, r), restarts: 1 });
    const resp = new Float64Array(n * k);
    for (let i = 0; i < n; i++) resp[i * k + km.labels[i]!] = 1;
    const result = fitGmmFrom(x, resp, k, options);
    if (!best || result.logLikelihood > best.logLikelihood) best = result;
  }
  return best!;
}
