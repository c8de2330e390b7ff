/**
 * A stride-1 Conv-1D and its filter gradient as a 2-parallel fast FIR
 * (Karatsuba on the polyphase components; Parhi, "VLSI Digital Signal
 * Processing Systems", ch. 9): 0.75 of the products of the direct GEMM.
 *
 * With xp the padded input, y[t] = Σ_j xp[t+j]·w[j]. Split the input and the
 * filter into even and odd samples, xe[v] = xp[2v], xo[v] = xp[2v+1],
 * we[i] = w[2i], wo[i] = w[2i+1] (⋆ below is this correlation):
 *
 *   y[2u]   = (xe⋆we)[u] + (xo⋆wo)[u]
 *   y[2u+1] = (xo⋆we)[u] + (xe'⋆wo)[u],   xe'[v] = xe[v+1]
 *
 * and the odd phase's two products come from one product of sums:
 * (xo + xe')⋆(we + wo) − xo⋆wo − xe'⋆we, where xe'⋆we is xe⋆we one step on.
 * So P0 = xe⋆we, P1 = xo⋆wo, P2 = (xo + xe')⋆(we + wo), each a GEMM over
 * overlapping windows as in ./conv1d.ts with half the taps over half the
 * outputs, give y[2u] = P0[u] + P1[u] and y[2u+1] = P2[u] − P1[u] − P0[u+1]:
 * three quarter-size products instead of four (for an odd k, (3k+1)/(4k):
 * 0.77 for k = 11, 0.79 for k = 7). The filter gradient dW[j] = Σ_t xp[t+j]·dy[t]
 * is the same correlation with the roles of output and filter exchanged:
 * dW[2i] = A[i] + B[i], dW[2i+1] = C[i] − B[i] − A[i+1] with A = xe⋆dy0,
 * B = xo⋆dy1, C = (xo + xe')⋆(dy0 + dy1), dy0/dy1 the even/odd outputs' gradients.
 *
 * The results differ from the direct sums by rounding only (the cancellation
 * in the odd phase's difference costs a few ulps of the partial products);
 * the order of every operation is fixed, so they are the same bits every run.
 */
import type { BackendWasm, TensorInfo } from './common.js';
import { dispose, f32 } from './common.js';
import { simdKernels, type SimdKernels } from './simd.js';

/** A stride-1, undilated Conv-1D: x [n, w, cin] padded by `left` zeros, filter [fw, cin, cout], ow outputs. */
export interface Fir2Dims {
  n: number;
  w: number;
  cin: number;
  cout: number;
  fw: number;
  left: number;
  ow: number;
}

/**
 * Where the fast FIR pays: products deep and wide enough that a quarter of
 * them outweighs the extra passes over the input and output (measured on the
 * Conv-1D autoencoder's layers; one output channel has its own kernel).
 */
export function fir2Pays(d: Fir2Dims): boolean {
  return d.fw >= 3 && d.ow >= 2 && d.cout >= 8 && d.cin >= 4 && d.cin * d.fw >= 32;
}

/**
 * Samples go through in blocks whose phases and partial products take about
 * this many floats (512 KiB), so they stay in L2 between the passes that write
 * them and the GEMMs that read them: whole-batch buffers made the extra
 * passes cost most of what the saved products gave.
 */
const BLOCK_FLOATS = 128 * 1024;

function phases(d: Fir2Dims) {
  const kE = Math.ceil(d.fw / 2);
  const kO = Math.floor(d.fw / 2);
  const ue = Math.ceil(d.ow / 2);
  const uo = Math.floor(d.ow / 2);
  return { kE, kO, ue, uo };
}

function blockOf(n: number, floatsPerSample: number): number {
  return Math.max(1, Math.min(n, Math.floor(BLOCK_FLOATS / floatsPerSample)));
}

/** The gemm export on heap offsets (./simd.ts's gemm makes a tensor per product). */
function gemmAt(
  k: SimdKernels, a: number, b: number, c: number, m: number, n: number, depth: number, transA: boolean,
  batch: number, strideA: number, strideB: number, lda: number, accumulate: boolean,
): void {
  const scratch = k.scratch(k.exports.gemmScratchFloats(m, n, depth) * 4);
  k.exports.gemm(a, b, c, m, n, depth, transA ? 1 : 0, 0, 0, 0, scratch, batch, strideA, strideB, m * n, lda, accumulate ? 1 : 0);
}

/** y [n, 1, ow, cout] = conv(x, filter) (+ bias), filter [1, fw, cin, cout]. */
export function conv1dFir2(backend: BackendWasm, x: TensorInfo, filter: TensorInfo, bias: TensorInfo | undefined, d: Fir2Dims): TensorInfo {
  const { kE, kO, ue, uo } = phases(d);
  const { cin, cout } = d;
  const u0 = uo + 1; // P0 one row past the odd outputs
  const v = u0 + kE - 1;
  const tap = cin * cout;
  // the filter's phases we, wo and ws = we + wo (wo's missing last tap is 0 when fw is odd)
  const weights = backend.makeOutput([(2 * kE + kO) * tap], 'float32');
  const nb = blockOf(d.n, 3 * v * cin + (u0 + ue + uo) * cout);
  const block = backend.makeOutput([nb * (3 * v * cin + (u0 + ue + uo) * cout)], 'float32');
  const y = backend.makeOutput([d.n, 1, d.ow, cout], 'float32');
  const w = f32(backend, filter);
  const wv = f32(backend, weights);
  const [eOff, oOff, sOff] = [0, kE * tap, (kE + kO) * tap];
  for (let i = 0; i < kE; i++) {
    for (let j = 0; j < tap; j++) {
      const a = w[2 * i * tap + j]!;
      wv[eOff + i * tap + j] = a;
      if (i < kO) {
        const b = w[(2 * i + 1) * tap + j]!;
        wv[oOff + i * tap + j] = b;
        wv[sOff + i * tap + j] = a + b;
      } else wv[sOff + i * tap + j] = a;
    }
  }
  const k = simdKernels(backend);
  const wp = k.ptr(weights);
  // block layout: xe, xo, xs [nb, v, cin] each, then p0 [nb, u0, cout], p1 [nb, ue, cout], p2 [nb, uo, cout]
  const xe = k.ptr(block);
  const xo = xe + nb * v * cin * 4;
  const xs = xo + nb * v * cin * 4;
  const p0 = xs + nb * v * cin * 4;
  const p1 = p0 + nb * u0 * cout * 4;
  const p2 = p1 + nb * ue * cout * 4;
  const xPtr = k.ptr(x);
  const yPtr = k.ptr(y);
  const bPtr = bias ? k.ptr(bias) : 0;
  for (let q0 = 0; q0 < d.n; q0 += nb) {
    const q = Math.min(nb, d.n - q0);
    k.exports.fir2Split(xPtr + q0 * d.w * cin * 4, xe, xo, xs, q, d.w, cin, d.left, v);
    gemmAt(k, xe, wp + eOff * 4, p0, u0, cout, kE * cin, false, q, v * cin, 0, cin, false);
    gemmAt(k, xo, wp + oOff * 4, p1, ue, cout, kO * cin, false, q, v * cin, 0, cin, false);
    gemmAt(k, xs, wp + sOff * 4, p2, uo, cout, kE * cin, false, q, v * cin, 0, cin, false);
    k.exports.fir2Combine(p0, p1, p2, bPtr, yPtr + q0 * d.ow * cout * 4, q, cout, u0, ue, uo);
  }
  dispose(backend, weights, block);
  return y;
}

/**
 * dW [1, fw, cin, cout] = Σ_n Σ_t xp[n, t + j]·dy[n, t], dy [n, ow, cout];
 * with `db` [cout] also the bias gradient Σ_n Σ_t dy[n, t], summed while dy is split.
 */
export function filterGradFir2(backend: BackendWasm, x: TensorInfo, dy: TensorInfo, d: Fir2Dims, db?: TensorInfo): TensorInfo {
  const { kE, kO, ue } = phases(d);
  const { cin, cout } = d;
  const kA = Math.max(kE, kO + 1); // A[i + 1] for every odd tap
  const v = ue + kA - 1;
  const tap = cin * cout;
  // sums A, B, C over all blocks, then one block's products
  const sumFloats = (kA + kE + kO) * tap;
  const nb = blockOf(d.n, 3 * v * cin + 3 * ue * cout);
  const block = backend.makeOutput([2 * sumFloats + nb * (3 * v * cin + 3 * ue * cout)], 'float32');
  const dw = backend.makeOutput([1, d.fw, cin, cout], 'float32');
  const k = simdKernels(backend);
  const sums = k.ptr(block);
  const part = sums + sumFloats * 4;
  const xe = part + sumFloats * 4;
  const xo = xe + nb * v * cin * 4;
  const xs = xo + nb * v * cin * 4;
  const d0 = xs + nb * v * cin * 4;
  const d1 = d0 + nb * ue * cout * 4;
  const ds = d1 + nb * ue * cout * 4;
  const [aOff, bOff, cOff] = [0, kA * tap * 4, (kA + kE) * tap * 4];
  const xPtr = k.ptr(x);
  const dyPtr = k.ptr(dy);
  const dbPtr = db ? k.ptr(db) : 0;
  if (db) f32(backend, db).fill(0);
  for (let q0 = 0; q0 < d.n; q0 += nb) {
    const q = Math.min(nb, d.n - q0);
    const into = q0 === 0 ? sums : part;
    k.exports.fir2Split(xPtr + q0 * d.w * cin * 4, xe, xo, xs, q, d.w, cin, d.left, v);
    k.exports.fir2SplitGrad(dyPtr + q0 * d.ow * cout * 4, d0, d1, ds, dbPtr, q, d.ow, cout, ue);
    gemmAt(k, xe, d0, into + aOff, kA * cin, cout, ue, true, q, v * cin, ue * cout, cin, true);
    gemmAt(k, xo, d1, into + bOff, kE * cin, cout, ue, true, q, v * cin, ue * cout, cin, true);
    gemmAt(k, xs, ds, into + cOff, kO * cin, cout, ue, true, q, v * cin, ue * cout, cin, true);
    if (into === part) k.exports.fir2Accumulate(part, sums, sumFloats);
  }
  // dW[2i] = A[i] + B[i], dW[2i+1] = C[i] − B[i] − A[i+1]: the forward's combination, taps for positions
  k.exports.fir2Combine(sums + aOff, sums + bOff, sums + cOff, 0, k.ptr(dw), 1, tap, kA, kE, kO);
  dispose(backend, block);
  return dw;
}
