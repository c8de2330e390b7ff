/**
 * Whitaker–Hayes despiking (Whitaker & Hayes 2018, Chemometr. Intell. Lab. Syst. 179):
 * cosmic-ray spikes are outliers of the first difference; a modified z-score
 * (median/MAD, robust to the spikes themselves) above `threshold` flags a point,
 * which is replaced by the mean of the unflagged points within ±window.
 */
function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function modifiedZScores(values: number[]): number[] {
  const med = median(values);
  const mad = median(values.map((v) => Math.abs(v - med)));
  if (mad === 0) return values.map(() => 0);
  return values.map((v) => (0.6745 * (v - med)) / mad);
}

/** Returns the despiked copy and the number of points replaced. */
export function whitakerHayes(y: ArrayLike<number>, threshold: number, window: number): { y: Float64Array; spikes: number } {
  const n = y.length;
  const out = Float64Array.from(y);
  if (n < 3) return { y: out, spikes: 0 };
  const diff: number[] = [];
  for (let i = 1; i < n; i++) diff.push(y[i]! - y[i - 1]!);
  const z = modifiedZScores(diff);
  const spike = new Uint8Array(n);
  z.forEach((v, i) => {
    if (Math.abs(v) > threshold) spike[i + 1] = 1;
  });
  let count = 0;
  for (let i = 0; i < n; i++) {
    if (!spike[i]) continue;
    let s = 0;
    let c = 0;
    for (let j = Math.max(0, i - window); j <= Math.min(n - 1, i + window); j++) {
      if (!spike[j]) {
        s += y[j]!;
        c++;
      }
    }
    if (c > 0) {
      out[i] = s / c;
      count++;
    }
  }
  return { y: out, spikes: count };
}
