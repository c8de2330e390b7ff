/**
 * GatherV2 for wasm as block copies. tfjs-wasm's C++ Gather walks the output
 * element by element with stride arithmetic: picking 64 rows of 1024 floats
 * (a shuffled mini-batch, which is how model.fit and most custom loops build
 * batches) took ~3–4 ms, a quarter of a dense AE's training step. Here every
 * gathered slice is one memmove; slices under MIN_SLICE elements (gathers
 * along an inner axis) keep tfjs's kernel.
 */
import type { KernelArgs, TensorInfo } from './common.js';
import { boundTf, run, sizeOf, wasmModule } from './common.js';

interface GatherAttrs {
  axis: number;
  batchDims: number;
}

const MIN_SLICE = 16;

export function gatherV2(args: KernelArgs<GatherAttrs>): TensorInfo {
  const { backend, attrs } = args;
  const { x, indices } = args.inputs as { x: TensorInfo; indices: TensorInfo };
  const tf = boundTf();
  const axis = tf.util.parseAxisParam(attrs.axis, x.shape)[0]!;
  const batchDims = attrs.batchDims ?? 0;
  const info = tf.backend_util.segment_util.collectGatherOpShapeInfo(
    x as unknown as import('@tensorflow/tfjs').Tensor, indices as unknown as import('@tensorflow/tfjs').Tensor, axis, batchDims,
  );
  if (info.sliceSize < MIN_SLICE || indices.dtype !== 'int32') {
    return run('GatherV2', backend, { x, indices }, { axis: attrs.axis, batchDims });
  }
  const idx = backend.typedArrayFromHeap(indices) as Int32Array;
  const dim = x.shape[axis]!;
  for (let i = 0; i < idx.length; i++) {
    const v = idx[i]!;
    // tfjs's own message for the same error
    if (!(v >= 0 && v <= dim - 1)) throw new Error(`GatherV2: the index value ${v} is not in [0, ${dim - 1}]`);
  }
  const perBatch = sizeOf(indices.shape) / info.batchSize;
  const indexCopy = Int32Array.from(idx); // the heap may move when the output is allocated
  const out = backend.makeOutput(info.outputShape, x.dtype);
  if (sizeOf(info.outputShape) === 0) return out;
  const bytes = tf.util.bytesPerElement(x.dtype);
  const slice = info.sliceSize * bytes;
  const heap = wasmModule(backend).HEAPU8;
  const xBase = backend.dataIdMap.get(x.dataId).memoryOffset;
  let dst = backend.dataIdMap.get(out.dataId).memoryOffset;
  for (let b = 0; b < info.batchSize; b++) {
    for (let o = 0; o < info.outerSize; o++) {
      const rowBase = xBase + ((b * info.outerSize + o) * info.dimSize) * slice;
      for (let i = 0; i < perBatch; i++) {
        const src = rowBase + indexCopy[b * perBatch + i]! * slice;
        heap.copyWithin(dst, src, src + slice);
        dst += slice;
      }
    }
  }
  return out;
}
