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
 * P0, P1 and P2 are correlations of the same form (half the taps over half
 * the outputs), so the identity applies to each again: the 4-parallel fast
 * FIR, nine products of about a quarter of the taps over a quarter of the
 * outputs, 0.60–0.67 of the direct products for k = 11–5 at the autoencoder's
 * shapes. Below, the fast FIR
 * (forward convolutions) is a recursion over a tree of such correlations; its
 * two levels run with fused passes (fir4Split, fir4Combine), where fir4Pays.
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
 * Where the 4-parallel fast FIR (two levels, 9/16 of the products less the
 * odd taps' share; passes fused) beats the 2-parallel one in a forward
 * convolution: every forward and input-gradient convolution of the
 * autoencoder, 64–256 outputs a sample, 16–64 channels, 5–11 taps, measured
 * 0.84–0.98× the time of one level, every layer (bench/conv-fir-layers.mjs,
 * LEVELS=1,2; 64 output channels gain only with forwardFused's block GEMM:
 * 0.88–0.90× in a run of their own). Two taps at least in every phase
 * (fw ≥ 5), channels in whole vectors (the fused passes' f32x4 rows); shorter
 * rows than the autoencoder's were not measured.
 */
export function fir4Pays(d: Fir2Dims): boolean {
  return fir2Pays(d) && d.fw >= 5 && d.ow >= 64 && d.cin % 4 === 0 && d.cout % 4 === 0;
}

let levelsForMeasuring: number | undefined;

/** Makes firLevels return `levels` (undefined: its own choice again): for benches comparing the levels, never set in training. */
export function measureFirLevels(levels: number | undefined): void {
  // the passes are written and tested for two levels at most: a forced third read outside wasm memory
  if (levels !== undefined && ![0, 1, 2].includes(levels)) throw new RangeError(`fast FIR levels must be 0, 1 or 2, not ${levels}`);
  levelsForMeasuring = levels;
}

/** Levels of the fast FIR for a forward convolution: 0 (a direct GEMM), 1 (2-parallel) or 2 (4-parallel). */
export function firLevels(d: Fir2Dims): number {
  if (!fir2Pays(d)) return 0;
  if (levelsForMeasuring !== undefined) return levelsForMeasuring;
  return fir4Pays(d) ? 2 : 1;
}

/**
 * Samples go through in blocks whose phases and partial products take about
 * this many floats (512 KiB), so they stay in L2 between the passes that write
 * them and the GEMMs that read them: whole-batch buffers made the extra
 * passes cost most of what the saved products gave.
 */
const BLOCK_FLOATS = 128 * 1024;

function phases(taps: number, outputs: number) {
  const kE = Math.ceil(taps / 2);
  const kO = Math.floor(taps / 2);
  const ue = Math.ceil(outputs / 2);
  const uo = Math.floor(outputs / 2);
  return { kE, kO, ue, uo };
}

function blockOf(n: number, floatsPerSample: number): number {
  return Math.max(1, Math.min(n, Math.floor(BLOCK_FLOATS / floatsPerSample)));
}

/**
 * The gemm export on heap offsets (./simd.ts's gemm makes a tensor per
 * product): `batch` products of A's windows (rows lda floats apart, strideA
 * from one product to the next) with the same weights B, each into its own C.
 */
function gemmAt(
  k: SimdKernels, a: number, b: number, c: number, m: number, n: number, depth: number,
  batch: number, strideA: number, lda: number, strideC = m * n,
): void {
  const scratch = k.scratch(k.exports.gemmScratchFloats(m, n, depth) * 4);
  k.exports.gemm(a, b, c, m, n, depth, 0, 0, 0, 0, scratch, batch, strideA, 0, strideC, lda, 0);
}

/**
 * One correlation of the recursion, out[u] = Σ_j in[u + j]·w[j] (j < taps,
 * u < outputs): a GEMM over overlapping windows (a leaf), or, `levels` > 0,
 * the fast FIR's three half-size correlations of its phases, each split
 * again while levels remain (a second level is the 4-parallel fast FIR: 9
 * products of a sixteenth). `offset` places a leaf's weights in their
 * buffer, in floats.
 */
interface FirNode {
  taps: number;
  outputs: number;
  parts: [FirNode, FirNode, FirNode] | undefined;
  offset: number;
}

/**
 * The tree of a forward correlation: P0 = xe⋆we over ⌊u/2⌋ + 1 outputs (one
 * row past the odd ones), P1 = xo⋆wo over ⌈u/2⌉, P2 = xs⋆(we + wo) over ⌊u/2⌋.
 * A phase of one tap, or of one output, is a leaf.
 */
function forwardTree(taps: number, outputs: number, levels: number): FirNode {
  // leaves and split nodes as objects of one shape (V8 map): code reading nodes is optimised once
  if (levels === 0 || taps < 2 || outputs < 2) return { taps, outputs, parts: undefined, offset: 0 };
  const { kE, kO, ue, uo } = phases(taps, outputs);
  return { taps, outputs, parts: [forwardTree(kE, uo + 1, levels - 1), forwardTree(kO, ue, levels - 1), forwardTree(kE, uo, levels - 1)], offset: 0 };
}

/** The rows of a split node's phases of its input: every window of its three parts. */
function splitRows(node: FirNode): number {
  const [a, b, c] = node.parts!;
  return Math.max(a.outputs + a.taps, b.outputs + b.taps, c.outputs + c.taps) - 1;
}

/** Floats a sample needs below `node`: its phases of x, its three products, then its parts' (one at a time). */
function sampleFloats(node: FirNode, cin: number, cout: number): number {
  if (!node.parts) return 0;
  const rows = node.parts.reduce((s, p) => s + p.outputs, 0);
  const below = Math.max(...node.parts.map((p) => sampleFloats(p, cin, cout)));
  return 3 * splitRows(node) * cin + rows * cout + below;
}

/** The leaves left to right, in an array built one way for every tree (one V8 map for the loops over it). */
function leaves(node: FirNode, out: FirNode[] = []): FirNode[] {
  if (!node.parts) out.push(node);
  else for (const p of node.parts) leaves(p, out);
  return out;
}

/**
 * The leaves' weights [taps, cin, cout] from w [taps, tap] (tap = cin·cout
 * floats a tap), the phases we, wo and ws = we + wo (wo's missing last tap is
 * 0 when taps is odd) at each split, written at the leaves' offsets.
 */
function splitWeights(node: FirNode, w: Float32Array, tap: number, out: Float32Array): void {
  if (!node.parts) {
    out.set(w.subarray(0, node.taps * tap), node.offset);
    return;
  }
  const { kE, kO } = phases(node.taps, node.outputs);
  const we = new Float32Array(kE * tap);
  const wo = new Float32Array(kO * tap);
  const ws = new Float32Array(kE * tap);
  for (let i = 0; i < kE; i++) {
    for (let j = 0; j < tap; j++) {
      const a = w[2 * i * tap + j]!;
      we[i * tap + j] = a;
      if (i < kO) {
        const b = w[(2 * i + 1) * tap + j]!;
        wo[i * tap + j] = b;
        ws[i * tap + j] = a + b;
      } else ws[i * tap + j] = a;
    }
  }
  splitWeights(node.parts[0], we, tap, out);
  splitWeights(node.parts[1], wo, tap, out);
  splitWeights(node.parts[2], ws, tap, out);
}

/** A block of samples: nb of them in each phase and product array. */
interface Block {
  k: SimdKernels;
  nb: number;
  cin: number;
  cout: number;
}

/**
 * out [q, node.outputs, cout] = the correlation of `src` [q, rows, cin]
 * (zero-padded by `left` rows, zeros past its end) with the node's weights
 * at `wp` (+ bias, at the top). `scratch`: this node's and its parts' arrays.
 */
function forwardBlock(b: Block, node: FirNode, src: number, rows: number, left: number, q: number, wp: number, out: number, bias: number, scratch: number): void {
  const { k, nb, cin, cout } = b;
  if (!node.parts) {
    gemmAt(k, src, wp + node.offset * 4, out, node.outputs, cout, node.taps * cin, q, rows * cin, cin);
    return;
  }
  const [p0, p1, p2] = node.parts;
  const v = splitRows(node);
  const xe = scratch;
  const xo = xe + nb * v * cin * 4;
  const xs = xo + nb * v * cin * 4;
  const o0 = xs + nb * v * cin * 4;
  const o1 = o0 + nb * p0.outputs * cout * 4;
  const o2 = o1 + nb * p1.outputs * cout * 4;
  const below = o2 + nb * p2.outputs * cout * 4;
  k.exports.fir2Split(src, xe, xo, xs, q, rows, cin, left, v);
  forwardBlock(b, p0, xe, v, 0, q, wp, o0, 0, below);
  forwardBlock(b, p1, xo, v, 0, q, wp, o1, 0, below);
  forwardBlock(b, p2, xs, v, 0, q, wp, o2, 0, below);
  // y[2u] = P0[u] + P1[u], y[2u+1] = P2[u] − P1[u] − P0[u+1]
  k.exports.fir2Combine(o0, o1, o2, bias, out, q, cout, p0.outputs, p1.outputs, p2.outputs);
}

/**
 * A tree of two whole levels with channels in whole vectors runs its passes
 * fused (fir4Split, fir4Combine): every phase array and product with the
 * rows of the longest, so the nine are one layout.
 */
interface Fused {
  v1: number;
  v2: number;
  /** rows a sample of each product */
  rows: number;
  tall: boolean;
}

function fusedLayout(tree: FirNode, cin: number, cout: number): Fused | undefined {
  const parts = tree.parts;
  if (cin % 4 !== 0 || cout % 4 !== 0 || !parts || !parts.every((p) => p.parts)) return undefined;
  const v2 = Math.max(...parts.map(splitRows));
  // more than 32 columns: the GEMM packs A in tiles of 5 rows (see forwardFused)
  const tall = cout > 32;
  return { v1: splitRows(tree), v2, rows: tall ? v2 : Math.max(...leaves(tree).map((l) => l.outputs)), tall };
}

/** forwardBlock of a fused tree: one pass to the nine phases, nine GEMMs, one pass to y. */
function forwardFused(b: Block, tree: FirNode, f: Fused, src: number, rows: number, left: number, q: number, wp: number, out: number, bias: number, scratch: number): void {
  const { k, nb, cin, cout } = b;
  const arrayBytes = nb * f.v2 * cin * 4;
  const productBytes = nb * f.rows * cout * 4;
  const products = scratch + 9 * arrayBytes;
  k.exports.fir4Split(src, scratch, arrayBytes, q, rows, cin, left, f.v1, f.v2);
  // With `tall`, each product over the whole block as one GEMM: a sample's windows past its outputs straddle
  // into the next sample and are computed but never read (v2 − outputs rows a sample, 3–6 %), where a GEMM
  // per sample left a partial tile of 5 rows in each (17 or 33 outputs a sample: 0.86–0.90× the time with
  // 64 channels; with ≤ 32, whose tiles are 4 rows, no faster).
  leaves(tree).forEach((leaf, i) => {
    const [a, c] = [scratch + i * arrayBytes, products + i * productBytes];
    if (f.tall) gemmAt(k, a, wp + leaf.offset * 4, c, (q - 1) * f.v2 + leaf.outputs, cout, leaf.taps * cin, 1, 0, cin);
    else gemmAt(k, a, wp + leaf.offset * 4, c, leaf.outputs, cout, leaf.taps * cin, q, f.v2 * cin, cin, f.rows * cout);
  });
  k.exports.fir4Combine(products, productBytes, f.rows, bias, out, q, cout, tree.outputs);
}

/** Lays out the leaves' blocks of taps·size floats one after the other; returns the floats. */
function place(nodes: FirNode[], size: number): number {
  let at = 0;
  for (const n of nodes) {
    n.offset = at;
    at += n.taps * size;
  }
  return at;
}

/** y [n, 1, ow, cout] = conv(x, filter) (+ bias), filter [1, fw, cin, cout], as a fast FIR of `levels` (1: 2-parallel, 2: 4-parallel). */
export function conv1dFir(backend: BackendWasm, x: TensorInfo, filter: TensorInfo, bias: TensorInfo | undefined, d: Fir2Dims, levels = 1): TensorInfo {
  const { cin, cout } = d;
  const tap = cin * cout;
  const tree = forwardTree(d.fw, d.ow, levels);
  const weights = backend.makeOutput([Math.max(1, place(leaves(tree), tap))], 'float32');
  splitWeights(tree, f32(backend, filter), tap, f32(backend, weights));
  const fused = fusedLayout(tree, cin, cout);
  const per = fused ? 9 * (fused.v2 * cin + fused.rows * cout) : sampleFloats(tree, cin, cout);
  const nb = blockOf(d.n, per);
  const block = backend.makeOutput([nb * per], 'float32');
  const y = backend.makeOutput([d.n, 1, d.ow, cout], 'float32');
  const k = simdKernels(backend);
  const b: Block = { k, nb, cin, cout };
  const [xPtr, yPtr, wp, scratch] = [k.ptr(x), k.ptr(y), k.ptr(weights), k.ptr(block)];
  const bPtr = bias ? k.ptr(bias) : 0;
  for (let q0 = 0; q0 < d.n; q0 += nb) {
    const q = Math.min(nb, d.n - q0);
    const [src, out] = [xPtr + q0 * d.w * cin * 4, yPtr + q0 * d.ow * cout * 4];
    if (fused) forwardFused(b, tree, fused, src, d.w, d.left, q, wp, out, bPtr, scratch);
    else forwardBlock(b, tree, src, d.w, d.left, q, wp, out, bPtr, scratch);
  }
  dispose(backend, weights, block);
  return y;
}

/**
 * Floats between the filter gradient's panels of dy: a panel of q·ue rows of
 * 8 floats is often a multiple of 4 KiB (7·128·32 bytes), and the split's
 * 3·cout/8 write streams that far apart fall in the same L1 sets.
 */
const PANEL_GAP = 16;

/**
 * Levels of the fast FIR for a filter gradient: 2 (4-parallel) where every
 * first-level product has two taps at least (fw ≥ 5) and x's channels are
 * whole vectors (fir4Split), else 1. Two levels measured 0.91–0.96× the time
 * of one at every fast-FIR layer of the autoencoder (bench/conv-fir-layers.mjs,
 * this build against one with level 1): their 0.64–0.70 of the direct
 * products outweigh the larger passes once fir2GradGemm sums whole blocks in
 * registers (with the shared gemm's per-sample tiles, a quarter of the
 * positions a sample, they measured 0.97–1.08×).
 */
export function filterGradLevels(d: Fir2Dims): number {
  return d.fw >= 5 && d.cin % 4 === 0 ? 2 : 1;
}

/**
 * dW [1, fw, cin, cout] = Σ_n Σ_t xp[n, t + j]·dy[n, t], dy [n, ow, cout], as
 * the fast FIR of filterGradLevels (the 2-parallel one's three products A,
 * B, C, or at two levels each one's own three: nine); with `db` [cout] also
 * the bias gradient Σ_n Σ_t dy[n, t], summed while dy is split.
 *
 * Block by block of samples: x's phases (fir2Split, fir4Split), dy's phases
 * written as the GEMM's packed panels (fir2SplitGradPanels,
 * fir4SplitGradPanels), and each product summed over the block's samples and
 * positions in registers, added to the sums of the blocks before
 * (fir2GradGemm); then the combinations, taps for positions.
 */
export function filterGradFir(backend: BackendWasm, x: TensorInfo, dy: TensorInfo, d: Fir2Dims, db?: TensorInfo): TensorInfo {
  const levels = filterGradLevels(d);
  const { kE, kO, ue } = phases(d.fw, d.ow);
  const { cin, cout } = d;
  const kA = Math.max(kE, kO + 1); // A[i + 1] for every odd tap
  const first = [kA, kE, kO];
  // each product's taps (the first of them the most) and its positions a sample; typed arrays, whose
  // one map V8 sees whatever the level (arrays from flatMap and from a literal deoptimised this code)
  const taps = new Int32Array(levels === 1 ? 3 : 9);
  if (levels === 1) taps.set(first);
  else for (let a = 0; a < 3; a++) taps.set([Math.max(Math.ceil(first[a]! / 2), Math.floor(first[a]! / 2) + 1), Math.ceil(first[a]! / 2), Math.floor(first[a]! / 2)], 3 * a);
  const depth = levels === 1 ? ue : Math.ceil(ue / 2);
  const v1 = ue + kA - 1;
  const v = depth + taps[0]! - 1;
  const tap = cin * cout;
  const panels = Math.ceil(cout / 8);
  // byte offset of each product's sums: the taps before it
  const offsets = new Int32Array(taps.length);
  for (let f = 1; f < taps.length; f++) offsets[f] = offsets[f - 1]! + taps[f - 1]! * tap * 4;
  // the products' sums over all blocks (and at two levels the first level's), then one block's phases of x and of dy
  const sumFloats = taps.reduce((s, t) => s + t, 0) * tap;
  const firstFloats = levels === 1 ? 0 : (kA + kE + kO) * tap;
  const perSample = taps.length * (v * cin + depth * panels * 8);
  const nb = blockOf(d.n, perSample);
  // fir2GradGemm reads up to 3 floats past A's last row; dy's panels PANEL_GAP floats apart
  const block = backend.makeOutput([sumFloats + firstFloats + nb * perSample + taps.length * panels * PANEL_GAP + 4], 'float32');
  const dw = backend.makeOutput([1, d.fw, cin, cout], 'float32');
  const k = simdKernels(backend);
  const sums = k.ptr(block);
  const firstSums = sums + sumFloats * 4;
  const xp = firstSums + firstFloats * 4;
  const arrayBytes = nb * v * cin * 4;
  const dp = xp + taps.length * arrayBytes;
  const xPtr = k.ptr(x);
  const dyPtr = k.ptr(dy);
  const dbPtr = db ? k.ptr(db) : 0;
  if (db) f32(backend, db).fill(0);
  for (let q0 = 0; q0 < d.n; q0 += nb) {
    const q = Math.min(nb, d.n - q0);
    // a phase's panel: q·depth rows of 8 floats; the phases' panels one after the other
    const panelBytes = (q * depth * 8 + PANEL_GAP) * 4;
    const [xq, dyq] = [xPtr + q0 * d.w * cin * 4, dyPtr + q0 * d.ow * cout * 4];
    if (levels === 1) {
      k.exports.fir2Split(xq, xp, xp + arrayBytes, xp + 2 * arrayBytes, q, d.w, cin, d.left, v);
      k.exports.fir2SplitGradPanels(dyq, dp, panelBytes, dbPtr, q, d.ow, cout, depth);
    } else {
      k.exports.fir4Split(xq, xp, arrayBytes, q, d.w, cin, d.left, v1, v);
      k.exports.fir4SplitGradPanels(dyq, dp, panelBytes, dbPtr, q, d.ow, cout, depth);
    }
    for (let f = 0; f < taps.length; f++) {
      k.exports.fir2GradGemm(xp + f * arrayBytes, v * cin, cin, taps[f]! * cin, dp + f * panels * panelBytes, panelBytes, cout, depth, q, sums + offsets[f]!, q0 === 0 ? 1 : 0);
    }
  }
  // P[2i] = A[i] + B[i], P[2i+1] = C[i] − B[i] − A[i+1]: the forward's combination, taps for positions
  let top = sums;
  if (levels === 2) {
    for (let a = 0; a < 3; a++) {
      const at = (f: number) => sums + offsets[3 * a + f]!;
      k.exports.fir2Combine(at(0), at(1), at(2), 0, firstSums + first.slice(0, a).reduce((s, t) => s + t, 0) * tap * 4, 1, tap, taps[3 * a]!, taps[3 * a + 1]!, taps[3 * a + 2]!);
    }
    top = firstSums;
  }
  k.exports.fir2Combine(top, top + kA * tap * 4, top + (kA + kE) * tap * 4, 0, k.ptr(dw), 1, tap, kA, kE, kO);
  dispose(backend, block);
  return dw;
}

/** Rows of a panel of filterGradDirect's dy (24 KiB): whole samples of more rows, one at a time, were 1.2× slower. */
const PANEL_ROWS = 768;

/**
 * dW [1, fw, cin, cout] of a Conv-1D of any stride without the fast FIR (its
 * level 0: a one-input-channel layer, strides past 1) from xp, x padded
 * [n, wp, cin] (+ 3 floats fir2GradGemm may read past it), output position t's
 * window the fw·cin floats from row t·sw: dy packed block by block as
 * fir2GradGemm's panels (packPanels, which also sums the bias gradient into
 * `db` where given), then the one product over the block's samples.
 */
export function filterGradDirect(backend: BackendWasm, xp: TensorInfo, wp: number, dy: TensorInfo, d: Fir2Dims & { sw: number }, db?: TensorInfo): TensorInfo {
  const { cin, cout } = d;
  const panels = Math.ceil(cout / 8);
  // a panel (8 floats a row) stays in L1 while each of the product's row tiles passes it
  const nb = Math.max(1, Math.min(d.n, Math.floor(PANEL_ROWS / d.ow)));
  const block = backend.makeOutput([panels * (nb * d.ow * 8 + PANEL_GAP)], 'float32');
  const dw = backend.makeOutput([1, d.fw, cin, cout], 'float32');
  const k = simdKernels(backend);
  const [xPtr, dyPtr, bp, dwPtr] = [k.ptr(xp), k.ptr(dy), k.ptr(block), k.ptr(dw)];
  const dbPtr = db ? k.ptr(db) : 0;
  if (db) f32(backend, db).fill(0);
  for (let q0 = 0; q0 < d.n; q0 += nb) {
    const q = Math.min(nb, d.n - q0);
    const panelBytes = (q * d.ow * 8 + PANEL_GAP) * 4;
    k.exports.packPanels(dyPtr + q0 * d.ow * cout * 4, bp, panelBytes, dbPtr, q * d.ow, cout);
    k.exports.fir2GradGemm(xPtr + q0 * wp * cin * 4, wp * cin, d.sw * cin, d.fw * cin, bp, panelBytes, cout, d.ow, q, dwPtr, q0 === 0 ? 1 : 0);
  }
  dispose(backend, block);
  return dw;
}
