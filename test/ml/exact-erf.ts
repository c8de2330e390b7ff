/** erf in double precision, the reference the float32 erf kernels are tested against. */

/** erf by its Taylor series (accurate to ~1e-15 for |x| ≤ 2.5). */
function erfSeries(x: number): number {
  let sum = 0;
  let term = x;
  for (let n = 0; n < 200 && Math.abs(term) > 1e-18; n++) {
    sum += term / (2 * n + 1);
    term *= (-x * x) / (n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

/** erfc by its continued fraction (x ≥ 2). */
function erfcFraction(x: number): number {
  let k = x;
  for (let n = 80; n >= 1; n--) k = x + n / 2 / k;
  return Math.exp(-x * x) / (Math.sqrt(Math.PI) * k);
}

/** erf(x): the series up to |x| = 2.5, 1 − erfc beyond. */
export function erfExact(x: number): number {
  return Math.abs(x) <= 2.5 ? erfSeries(x) : Math.sign(x) * (1 - erfcFraction(Math.abs(x)));
}
