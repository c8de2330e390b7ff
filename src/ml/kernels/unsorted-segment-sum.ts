/**
 * UnsortedSegmentSum for wasm, which tfjs-backend-wasm 4.22 lacks. It is the
 * gradient of gather (embedding lookups, patch/position tables), so without
 * it nothing with a gather can be trained on wasm. A single pass over the
 * input, accumulating rows into the output directly in wasm memory.
 */
import type { KernelArgs, TensorInfo } from './common.js';
import { dispose, f32, run, sizeOf } from './common.js';

interface Attrs {
  numSegments: number;
}

export function unsortedSegmentSum(args: KernelArgs<Attrs>): TensorInfo {
  const { backend } = args;
  const { numSegments } = args.attrs;
  let x = args.inputs.x as TensorInfo;
  let ids = args.inputs.segmentIds as TensorInfo;
  const owned: TensorInfo[] = [];
  if (ids.dtype !== 'int32') {
    ids = run('Cast', backend, { x: ids }, { dtype: 'int32' });
    owned.push(ids);
  }
  const outDtype = x.dtype === 'int32' ? 'int32' : 'float32';
  if (x.dtype !== outDtype) {
    x = run('Cast', backend, { x }, { dtype: outDtype });
    owned.push(x);
  }
  const rowsShape = x.shape.slice(ids.shape.length);
  const inner = sizeOf(rowsShape);
  const nRows = sizeOf(ids.shape);
  const out = backend.makeOutput([numSegments, ...rowsShape], outDtype);
  // Views after the allocation (the heap may have grown).
  const o = backend.typedArrayFromHeap(out) as Float32Array | Int32Array;
  const v = outDtype === 'int32' ? (backend.typedArrayFromHeap(x) as Int32Array) : f32(backend, x);
  const seg = backend.typedArrayFromHeap(ids) as Int32Array;
  o.fill(0);
  for (let r = 0; r < nRows; r++) {
    const s = seg[r]!;
    // Out-of-range ids are dropped, as TensorFlow does.
    if (s < 0 || s >= numSegments) continue;
    const dst = s * inner;
    const src = r * inner;
    for (let j = 0; j < inner; j++) o[dst + j]! += v[src + j]!;
  }
  dispose(backend, ...owned);
  return out;
}
