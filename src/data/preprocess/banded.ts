/**
 * Penalised least squares with a difference penalty, the core of the Whittaker
 * smoother and of asymmetric-least-squares baselines (Eilers 2003; Eilers & Boelens 2005):
 *   (W + λ DᵀD) z = W y,  D the d-th order difference matrix.
 * The system is symmetric positive definite and banded (bandwidth d), so a banded
 * Cholesky solves it in O(n·d²).
 */

/** Rows of DᵀD as a symmetric band: band[k][i] = (DᵀD)[i][i+k], k = 0..order. */
function differencePenaltyBand(n: number, order: number): Float64Array[] {
  // Coefficients of the order-th difference: (-1)^(order-j) C(order, j).
  const c: number[] = [];
  for (let j = 0; j <= order; j++) c.push((order - j) % 2 === 0 ? binom(order, j) : -binom(order, j));
  const band = Array.from({ length: order + 1 }, () => new Float64Array(n));
  // D has n - order rows; row r touches columns r..r+order with coefficients c.
  for (let r = 0; r + order < n; r++) {
    for (let a = 0; a <= order; a++) {
      for (let b = a; b <= order; b++) band[b - a]![r + a]! += c[a]! * c[b]!;
    }
  }
  return band;
}

function binom(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}

/** Solve (diag(w) + λ DᵀD) z = w ∘ y. */
export function solvePenalized(y: ArrayLike<number>, w: ArrayLike<number>, lambda: number, order = 2): Float64Array {
  const n = y.length;
  if (n <= order) return Float64Array.from(y);
  const band = differencePenaltyBand(n, order);
  const m = order;
  // A in band storage: A[k][i] = A(i, i+k)
  const A = band.map((row) => row.map((v) => v * lambda));
  for (let i = 0; i < n; i++) A[0]![i]! += w[i]!;
  // Banded Cholesky A = L Lᵀ, L stored as L[k][i] = L(i+k, i)
  const L = Array.from({ length: m + 1 }, () => new Float64Array(n));
  for (let j = 0; j < n; j++) {
    let s = A[0]![j]!;
    for (let k = 1; k <= m && j - k >= 0; k++) s -= L[k]![j - k]! ** 2;
    if (!(s > 0)) throw new Error('penalised least squares: matrix is not positive definite (all weights zero?)');
    const ljj = Math.sqrt(s);
    L[0]![j] = ljj;
    for (let i = 1; i <= m && j + i < n; i++) {
      // L(j+i, j) = (A(j+i, j) - Σ_k L(j+i, j-k) L(j, j-k)) / L(j, j)
      let t = A[i]![j]!;
      for (let k = 1; k + i <= m && j - k >= 0; k++) t -= L[i + k]![j - k]! * L[k]![j - k]!;
      L[i]![j] = t / ljj;
    }
  }
  const z = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let t = w[i]! * y[i]!;
    for (let k = 1; k <= m && i - k >= 0; k++) t -= L[k]![i - k]! * z[i - k]!;
    z[i] = t / L[0]![i]!;
  }
  for (let i = n - 1; i >= 0; i--) {
    let t = z[i]!;
    for (let k = 1; k <= m && i + k < n; k++) t -= L[k]![i]! * z[i + k]!;
    z[i] = t / L[0]![i]!;
  }
  return z;
}
