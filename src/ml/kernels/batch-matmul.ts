/**
 * BatchMatMul for wasm that always lands on XNNPACK.
 *
 * tfjs-backend-wasm 4.22 sends a product to XNNPACK's fully-connected operator
 * only when neither operand is transposed and both batch sizes are 1; anything
 * else runs a scalar triple loop at 1–3 GFLOP/s. Every dense layer's backward
 * pass is transposed (dW = xᵀ·dy, dx = dy·Wᵀ) and attention is batched, so
 * stock training spends nearly all its time there. This kernel materialises
 * the transposes and splits batches into single products, so the original
 * kernel always takes its fast path.
 */
import type { BackendWasm, KernelArgs, TensorInfo } from './common.js';
import { dispose, reshape, run, sizeOf, wasmModule } from './common.js';

interface MatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
}

function transposeLast2(backend: BackendWasm, x: TensorInfo): TensorInfo {
  const r = x.shape.length;
  const perm = x.shape.map((_, i) => i);
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return run('Transpose', backend, { x }, { perm });
}

/**
 * A tensor that aliases part of another one's wasm memory (no copy). Must be
 * released with `releaseView`, never disposeData: that would free an interior
 * pointer of the parent's allocation.
 */
function view(backend: BackendWasm, base: TensorInfo, offsetElems: number, shape: number[]): TensorInfo {
  const mem = backend.dataIdMap.get(base.dataId).memoryOffset + offsetElems * 4;
  return backend.makeOutput(shape, 'float32', mem);
}

function releaseView(backend: BackendWasm, v: TensorInfo): void {
  const d = backend.dataIdMap.get(v.dataId);
  // Unregisters the id (and the XNNPACK operators cached on it) without freeing memory.
  wasmModule(backend).tfjs.disposeData(d.id);
  backend.dataIdMap.delete(v.dataId);
}

type WasmBmm = (
  aId: number, aShape: Uint8Array, aRank: number,
  bId: number, bShape: Uint8Array, bRank: number,
  transposeA: boolean, transposeB: boolean, outId: number,
) => void;

const bmmByModule = new WeakMap<object, WasmBmm>();

/** tfjs's exported C entry point, called directly so that we choose the output buffer (a slice of ours). */
function wasmBmm(backend: BackendWasm): WasmBmm {
  const mod = wasmModule(backend);
  let f = bmmByModule.get(mod);
  if (!f) {
    f = mod.cwrap('BatchMatMul', null, [
      'number', 'array', 'number', 'number', 'array', 'number', 'number', 'number', 'number',
    ]) as WasmBmm;
    bmmByModule.set(mod, f);
  }
  return f;
}

function shapeBytes(shape: number[]): Uint8Array {
  return new Uint8Array(new Int32Array(shape).buffer);
}

function idOf(backend: BackendWasm, t: TensorInfo): number {
  return backend.dataIdMap.get(t.dataId).id;
}

/** out[1,M,N] = a[1,M,K] · b[1,K,N] on XNNPACK; all three given as (possibly view) tensors. */
function xnnInto(backend: BackendWasm, a: TensorInfo, b: TensorInfo, out: TensorInfo, m: number, k: number, n: number): void {
  if (m * n === 0) return;
  if (k === 0) {
    // XNNPACK rejects zero input channels; an empty sum is zero.
    (backend.typedArrayFromHeap(out) as Float32Array).fill(0, 0, m * n);
    return;
  }
  wasmBmm(backend)(
    idOf(backend, a), shapeBytes([1, m, k]), 3,
    idOf(backend, b), shapeBytes([1, k, n]), 3,
    false, false, idOf(backend, out),
  );
}

/** [M,N] = a[M,K] · b[K,N] (any ranks with those sizes), on XNNPACK. */
export function matMulPlain(backend: BackendWasm, a: TensorInfo, b: TensorInfo, m: number, k: number, n: number): TensorInfo {
  const out = backend.makeOutput([m, n], 'float32');
  xnnInto(backend, a, b, out, m, k, n);
  return out;
}

/**
 * a3 [Ba,M,K] · b3 [Bb,K,N] without transposes, Ba and Bb equal or 1. Returns [B,M,N].
 */
function batchedPlain(backend: BackendWasm, a3: TensorInfo, b3: TensorInfo): TensorInfo {
  const [ba, m, k] = a3.shape as [number, number, number];
  const [bb, , n] = b3.shape as [number, number, number];
  const batch = Math.max(ba, bb);
  const out = backend.makeOutput([batch, m, n], 'float32');
  if (bb === 1) {
    // Shared right operand (also a dense layer applied to a sequence): one product over all rows.
    xnnInto(backend, a3, b3, out, ba * m, k, n);
    return out;
  }
  for (let i = 0; i < batch; i++) {
    const av = view(backend, a3, ba === 1 ? 0 : i * m * k, [1, m, k]);
    const bv = view(backend, b3, i * k * n, [1, k, n]);
    const ov = view(backend, out, i * m * n, [1, m, n]);
    xnnInto(backend, av, bv, ov, m, k, n);
    releaseView(backend, av);
    releaseView(backend, bv);
    releaseView(backend, ov);
  }
  return out;
}

/**
 * C = op(A)·Bᵀ computed as Cᵀ = B·op(A)ᵀ when that moves less memory, B being
 * [N,K]. XNNPACK packs its right operand on every call (weights change every
 * step, so its cache never hits), and packing or transposing a large matrix
 * costs about as much as the product. In a dense layer's dx = dy·Wᵀ the big
 * operand is W: this way W is read in place as the left operand and only the
 * small dy and the small result are transposed. Returns [M,N] (A's batches
 * folded into M) or undefined when the direct way is cheaper.
 */
function productOfTransposed(
  backend: BackendWasm,
  a: TensorInfo,
  b: TensorInfo,
  transposeA: boolean,
  m: number,
  k: number,
  n: number,
): TensorInfo | undefined {
  // Elements moved by transposes and XNNPACK's packing, each way.
  const direct = (transposeA ? m * k : 0) + 2 * n * k;
  const swapped = (transposeA ? 0 : m * k) + k * m + m * n;
  if (swapped >= direct) return undefined;
  // op(A)ᵀ as [K,M]: A itself when transposed, else an explicit transpose.
  const a2 = reshape(backend, a, transposeA ? [k, m] : [m, k]);
  const aT = transposeA ? a2 : run('Transpose', backend, { x: a2 }, { perm: [1, 0] });
  const ct = backend.makeOutput([n, m], 'float32');
  xnnInto(backend, b, aT, ct, n, k, m);
  const c = run('Transpose', backend, { x: ct }, { perm: [1, 0] });
  dispose(backend, a2, ct);
  if (aT !== a2) dispose(backend, aT);
  return c;
}

export function batchMatMul(args: KernelArgs<MatMulAttrs>): TensorInfo {
  const { backend } = args;
  const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
  const { transposeA, transposeB } = args.attrs;
  if (a.dtype !== 'float32' || b.dtype !== 'float32') {
    return run('BatchMatMul', backend, { a, b }, { transposeA, transposeB });
  }
  const ra = a.shape.length;
  const rb = b.shape.length;
  const batchA = sizeOf(a.shape.slice(0, -2));
  const batchB = sizeOf(b.shape.slice(0, -2));
  if (!transposeA && !transposeB && batchA === 1 && batchB === 1 && a.shape[ra - 1] !== 0) {
    // Already XNNPACK's case: no extra work at all (but XNNPACK rejects K = 0).
    return run('BatchMatMul', backend, { a, b }, { transposeA, transposeB });
  }
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) {
    // Broadcasting of several batch dims: rare; leave it to tfjs.
    return run('BatchMatMul', backend, { a, b }, { transposeA, transposeB });
  }
  const m = transposeA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
  const k = transposeA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
  const kb = transposeB ? b.shape[rb - 1]! : b.shape[rb - 2]!;
  const n = transposeB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
  if (k !== kb) {
    throw new Error(
      `Error in matMul: inner shapes (${k}) and (${kb}) of Tensors with shapes ${a.shape} and ${b.shape} ` +
        `and transposeA=${transposeA} and transposeB=${transposeB} must match.`,
    );
  }
  const outShape = [...(batchA >= batchB ? a.shape.slice(0, -2) : b.shape.slice(0, -2)), m, n];
  if (transposeB && batchB === 1 && (batchA === 1 || !transposeA)) {
    const swapped = productOfTransposed(backend, a, b, transposeA, batchA * m, k, n);
    if (swapped) {
      const out = reshape(backend, swapped, outShape);
      dispose(backend, swapped);
      return out;
    }
  }
  const a3 = reshape(backend, a, transposeA ? [batchA, k, m] : [batchA, m, k]);
  const b3 = reshape(backend, b, transposeB ? [batchB, n, k] : [batchB, k, n]);
  const at = transposeA ? transposeLast2(backend, a3) : a3;
  const bt = transposeB ? transposeLast2(backend, b3) : b3;
  const o = batchedPlain(backend, at, bt);
  dispose(backend, a3, b3);
  if (at !== a3) dispose(backend, at);
  if (bt !== b3) dispose(backend, bt);
  const out = reshape(backend, o, outShape);
  dispose(backend, o);
  return out;
}
