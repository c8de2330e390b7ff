/**
 * Reconstruction errors, percentile thresholds and detection scores for
 * anomaly detection. Pure functions.
 */

/**
 * The p-th percentile (0..100) with linear interpolation between closest
 * ranks: numpy's default (`method='linear'`), position (n − 1)·p/100 in the
 * sorted values.
 */
export function percentile(values: ArrayLike<number>, p: number): number {
  if (values.length === 0) throw new RangeError('percentile of an empty set');
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be in [0, 100], got ${p}`);
  const sorted = Float64Array.from(values).sort();
  const pos = ((sorted.length - 1) * p) / 100;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (pos - lo) * (sorted[hi]! - sorted[lo]!);
}

/** Mean squared error of each row: x, y row-major n × d. */
export function rowMse(x: ArrayLike<number>, y: ArrayLike<number>, n: number, d: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) {
      const t = x[i * d + j]! - y[i * d + j]!;
      s += t * t;
    }
    out[i] = s / d;
  }
  return out;
}

/**
 * Mean Poisson deviance per channel of observed counts y given predicted
 * means mu: 2·(y·ln(y/mu) − (y − mu)), with y·ln(y/mu) = 0 at y = 0 and mu
 * clamped to at least `eps`. Negative observations are treated as 0.
 */
export function rowPoissonDeviance(y: ArrayLike<number>, mu: ArrayLike<number>, n: number, d: number, eps = 1e-8): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) {
      const yy = Math.max(0, y[i * d + j]!);
      const m = Math.max(eps, mu[i * d + j]!);
      s += 2 * ((yy > 0 ? yy * Math.log(yy / m) : 0) - (yy - m));
    }
    out[i] = s / d;
  }
  return out;
}

export interface DetectionScores {
  tp: number;
  fp: number;
  fn: number;
  tn: number;
  /** tp / (tp + fp); 0 when nothing is flagged (scikit-learn's zero_division=0). */
  precision: number;
  /** tp / (tp + fn); 0 when there are no positives. */
  recall: number;
  /** Harmonic mean of precision and recall; 0 when both are 0. */
  f1: number;
}

export function detectionScores(truth: ArrayLike<boolean>, flagged: ArrayLike<boolean>): DetectionScores {
  if (truth.length !== flagged.length) throw new RangeError('truth and flags differ in length');
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  for (let i = 0; i < truth.length; i++) {
    if (truth[i]) {
      if (flagged[i]) tp++;
      else fn++;
    } else if (flagged[i]) fp++;
    else tn++;
  }
  const precision = tp + fp > 0 ? tp / (tp + fp) : 0;
  const recall = tp + fn > 0 ? tp / (tp + fn) : 0;
  const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  return { tp, fp, fn, tn, precision, recall, f1 };
}
