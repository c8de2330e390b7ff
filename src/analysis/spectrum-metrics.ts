/**
 * Shape measures of single spectra, used to compare pseudospectra with mean
 * spectra and decoders with each other (smooth vs sparse, peaky).
 */

/** Pearson correlation coefficient; NaN when either vector is constant. */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  if (n !== b.length) throw new RangeError(`lengths differ: ${n} vs ${b.length}`);
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i]!;
    mb += b[i]!;
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const x = a[i]! - ma;
    const y = b[i]! - mb;
    sab += x * y;
    saa += x * x;
    sbb += y * y;
  }
  return sab / Math.sqrt(saa * sbb);
}

/**
 * Roughness: the mean squared second difference divided by the variance of
 * the spectrum, R = mean_i (x[i−1] − 2x[i] + x[i+1])² / mean_i (x[i] − x̄)².
 * Dimensionless and scale-invariant: 0 for a straight line, about
 * 16·sin⁴(ω/2) for a sampled sinusoid of angular frequency ω per channel,
 * 16 for a ±1 alternation. NaN for a constant spectrum or fewer than 3 channels.
 */
export function roughness(x: ArrayLike<number>): number {
  const n = x.length;
  if (n < 3) return NaN;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += x[i]!;
  mean /= n;
  let variance = 0;
  for (let i = 0; i < n; i++) variance += (x[i]! - mean) ** 2;
  variance /= n;
  let s = 0;
  for (let i = 1; i < n - 1; i++) s += (x[i - 1]! - 2 * x[i]! + x[i + 1]!) ** 2;
  return s / (n - 2) / variance;
}

/**
 * Gini coefficient of |x| (sorted ascending, 1-based rank i):
 * G = Σ (2i − n − 1)·|x|_(i) / (n·Σ|x|). 0 when all channels are equal,
 * (n − 1)/n when all intensity is in one channel. NaN for an all-zero spectrum.
 */
export function gini(x: ArrayLike<number>): number {
  const n = x.length;
  const a = Float64Array.from(x, Math.abs).sort();
  let num = 0;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    num += (2 * (i + 1) - n - 1) * a[i]!;
    sum += a[i]!;
  }
  return num / (n * sum);
}

/** Share of the energy Σx² held by the top `fraction` (default 5 %) of channels, ⌈fraction·n⌉ channels. */
export function topEnergyShare(x: ArrayLike<number>, fraction = 0.05): number {
  const n = x.length;
  const e = Float64Array.from(x, (v) => v * v).sort().reverse();
  const m = Math.max(1, Math.ceil(fraction * n - 1e-9));
  let top = 0;
  let total = 0;
  for (let i = 0; i < n; i++) {
    total += e[i]!;
    if (i < m) top += e[i]!;
  }
  return top / total;
}

export interface Peak {
  /** Channel index of the local maximum. */
  index: number;
  /** Axis value at the maximum (the channel index when no axis is given). */
  position: number;
  height: number;
  /** Topographic prominence: height above the higher of the two lowest points separating it from higher ground. */
  prominence: number;
}

/**
 * Local maxima whose topographic prominence is at least `minProminence`
 * × (max − min) of the spectrum (default 0.05), tallest first. A flat top
 * counts once, at its middle. Prominence as scipy.signal.peak_prominences:
 * walk left and right until a higher sample or the border, take the minimum
 * on each side, and subtract the larger of the two minima from the height.
 */
export function findPeaks(y: ArrayLike<number>, options: { axis?: ArrayLike<number>; minProminence?: number; maxPeaks?: number } = {}): Peak[] {
  const n = y.length;
  if (n < 3) return [];
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    lo = Math.min(lo, y[i]!);
    hi = Math.max(hi, y[i]!);
  }
  const range = hi - lo;
  if (!(range > 0)) return [];
  const minProm = (options.minProminence ?? 0.05) * range;
  const peaks: Peak[] = [];
  let i = 1;
  while (i < n - 1) {
    if (y[i]! > y[i - 1]!) {
      // find the end of a possible plateau
      let j = i;
      while (j + 1 < n && y[j + 1] === y[i]) j++;
      if (j + 1 < n && y[j + 1]! < y[i]!) {
        const index = Math.floor((i + j) / 2);
        const h = y[i]!;
        let leftMin = h;
        for (let a = i - 1; a >= 0 && y[a]! <= h; a--) leftMin = Math.min(leftMin, y[a]!);
        let rightMin = h;
        for (let b = j + 1; b < n && y[b]! <= h; b++) rightMin = Math.min(rightMin, y[b]!);
        // a higher sample on a side ends that walk; reaching the border uses the border's minimum
        const prominence = h - Math.max(leftMin, rightMin);
        if (prominence >= minProm) {
          peaks.push({ index, position: options.axis ? options.axis[index]! : index, height: h, prominence });
        }
      }
      i = j + 1;
    } else {
      i++;
    }
  }
  peaks.sort((a, b) => b.height - a.height);
  return options.maxPeaks !== undefined ? peaks.slice(0, options.maxPeaks) : peaks;
}
