// The spectra the training benchmarks train on: a fixed pseudo-random table
// (a linear congruential generator, seed 7) plus a ramp along each row, so
// every benchmark and every build times the same numbers.
export function benchSpectra(n, d) {
  const x = new Float32Array(n * d);
  let seed = 7;
  for (let i = 0; i < x.length; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    x[i] = (10 * seed) / 2 ** 32 + (i % d) / d;
  }
  return x;
}
