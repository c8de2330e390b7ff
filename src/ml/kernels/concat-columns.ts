/**
 * Matrices side by side, and a column block of one, for the wasm backend
 * (not tfjs kernels; ../nn.ts uses them to join the Transformer's Q/K/V
 * projection weights and biases each step, and to hand each its gradient):
 * - SpecflowConcatColumns {x0, x1, ...} → [m, Σ wᵢ]: inputs [m, wᵢ] (or 1-D
 *   [wᵢ], output 1-D) copied side by side, row by row
 * - SpecflowColumnSlice {x} attrs {begin, size} → [m, size] (or [size]):
 *   columns begin..begin+size of x
 * Both are plain copies (the bits of tf.concat and tf.slice). tfjs's Concat
 * checks shapes through tfjs-core helpers that V8 keeps deoptimising and
 * recompiling on its helper threads, and its gradient is a SplitV op; these
 * do one memory pass each with nothing but a row loop around them.
 */
import type { BackendWasm, KernelArgs, TensorInfo } from './common.js';
import { wasmModule } from './common.js';

export const CONCAT_COLUMNS_KERNEL = 'SpecflowConcatColumns';
export const COLUMN_SLICE_KERNEL = 'SpecflowColumnSlice';

/** Rows and columns of a float32 matrix or vector (a vector is one row). */
function rowsCols(kernel: string, t: TensorInfo): { rows: number; cols: number } {
  if (t.dtype !== 'float32' || (t.shape.length !== 1 && t.shape.length !== 2)) {
    throw new Error(`${kernel}: input of shape [${t.shape}] (${t.dtype}) is not a float32 matrix or vector`);
  }
  return t.shape.length === 1 ? { rows: 1, cols: t.shape[0]! } : { rows: t.shape[0]!, cols: t.shape[1]! };
}

/** Float offset of a tensor's data in the wasm heap. */
function offset(backend: BackendWasm, t: TensorInfo): number {
  return (backend.dataIdMap.get(t.dataId) as { memoryOffset: number }).memoryOffset >> 2;
}

export function concatColumns(args: KernelArgs<Record<string, never>>): TensorInfo {
  const { backend } = args;
  const parts = Object.values(args.inputs) as TensorInfo[];
  if (parts.length === 0) throw new Error(`${CONCAT_COLUMNS_KERNEL}: no inputs`);
  const rank = parts[0]!.shape.length;
  const { rows } = rowsCols(CONCAT_COLUMNS_KERNEL, parts[0]!);
  let width = 0;
  for (const p of parts) {
    const d = rowsCols(CONCAT_COLUMNS_KERNEL, p);
    if (p.shape.length !== rank || d.rows !== rows) {
      throw new Error(`${CONCAT_COLUMNS_KERNEL}: inputs [${parts.map((q) => `[${q.shape}]`).join(', ')}] differ in rank or rows`);
    }
    width += d.cols;
  }
  const out = backend.makeOutput(rank === 1 ? [width] : [rows, width], 'float32');
  const heap = wasmModule(backend).HEAPF32; // after the allocation, which may grow the heap
  const base = offset(backend, out);
  let col = 0;
  for (const p of parts) {
    const cols = p.shape.length === 1 ? p.shape[0]! : p.shape[1]!;
    const src = offset(backend, p);
    for (let r = 0; r < rows; r++) heap.copyWithin(base + r * width + col, src + r * cols, src + r * cols + cols);
    col += cols;
  }
  return out;
}

export function columnSlice(args: KernelArgs<{ begin: number; size: number }>): TensorInfo {
  const { backend, attrs } = args;
  const { x } = args.inputs as { x: TensorInfo };
  const { rows, cols } = rowsCols(COLUMN_SLICE_KERNEL, x);
  const { begin, size } = attrs;
  if (!(begin >= 0 && size >= 0 && begin + size <= cols)) {
    throw new Error(`${COLUMN_SLICE_KERNEL}: columns ${begin}..${begin + size} outside x's ${cols}`);
  }
  const out = backend.makeOutput(x.shape.length === 1 ? [size] : [rows, size], 'float32');
  const heap = wasmModule(backend).HEAPF32;
  const dst = offset(backend, out);
  const src = offset(backend, x) + begin;
  for (let r = 0; r < rows; r++) heap.copyWithin(dst + r * size, src + r * cols, src + r * cols + size);
  return out;
}
