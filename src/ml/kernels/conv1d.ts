/**
 * Conv2D for wasm when it is a Conv-1D (height 1, as tf.conv1d makes it):
 * one GEMM per batch, with no im2col. In NWC layout the window of output
 * position t is the contiguous run x[t·s − left .. t·s − left + fw)·Cin, so the
 * (padded) input read with a row distance of s·Cin *is* the im2col matrix,
 * rows overlapping; y[n] = X̃[n] (outW × fw·Cin) · W (fw·Cin × Cout). Forward
 * convolutions, and the input and filter gradients that specflow's Conv-1D
 * layers compute as forward convolutions (src/ml/nn.ts), all land here;
 * XNNPACK's convolution measured 1.5–2× slower on these shapes. Stride-1
 * ones with enough channels and taps go through the fast FIR of
 * ./conv1d-fir2.ts instead (three such GEMMs of a quarter the size). Dilated
 * or 2-D convolutions keep tfjs's kernel.
 */
import type { KernelArgs, TensorInfo } from './common.js';
import type { BackendWasm } from './common.js';
import { dispose, run, wasmModule } from './common.js';
import { conv1dFir, firLevels, type Fir2Dims } from './conv1d-fir2.js';
import { gemm, gemmArgs, simdKernels } from './simd.js';
import { conv2DInfo } from './conv-info.js';

interface ConvAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | number[][];
  dataFormat: 'NHWC' | 'NCHW';
  dilations: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

export function conv2D(args: KernelArgs<ConvAttrs>): TensorInfo {
  const { backend, attrs } = args;
  const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
  return conv1dGemm(backend, x, filter, attrs) ?? run('Conv2D', backend, { x, filter }, attrs as never);
}

interface FusedConvAttrs extends ConvAttrs {
  activation?: string;
  leakyreluAlpha?: number;
}

/**
 * FusedConv2D (tf.fused.conv2d: convolution + bias + activation) when it is a
 * Conv-1D with a per-channel bias and no activation: the bias is added in the
 * GEMM's store (the same single rounding as a separate Add, one pass over
 * the output fewer). Anything else runs tfjs's own kernel.
 */
export function fusedConv2D(args: KernelArgs<FusedConvAttrs>): TensorInfo {
  const { backend, attrs } = args;
  const { x, filter, bias, preluActivationWeights } = args.inputs as {
    x: TensorInfo; filter: TensorInfo; bias?: TensorInfo; preluActivationWeights?: TensorInfo;
  };
  const cout = filter.shape[3];
  const columnBias = bias === undefined || (bias.dtype === 'float32' && bias.shape.length === 1 && bias.shape[0] === cout);
  const linear = (attrs.activation ?? 'linear') === 'linear';
  const out = columnBias && linear ? conv1dGemm(backend, x, filter, attrs, bias) : undefined;
  if (out) return out;
  const inputs: Record<string, TensorInfo> = { x, filter };
  if (bias) inputs.bias = bias;
  if (preluActivationWeights) inputs.preluActivationWeights = preluActivationWeights;
  return run('FusedConv2D', backend, inputs, attrs as never);
}

/** A Conv-1D (height 1, no dilation, NHWC float32) as one GEMM per sample (+ bias), or undefined for anything else. */
function conv1dGemm(backend: BackendWasm, x: TensorInfo, filter: TensorInfo, attrs: ConvAttrs, bias?: TensorInfo): TensorInfo | undefined {
  if (x.dtype !== 'float32' || filter.dtype !== 'float32' || attrs.dataFormat === 'NCHW') return undefined;
  if (x.shape.length !== 4 || x.shape[1] !== 1 || filter.shape[0] !== 1) return undefined;
  const info = conv2DInfo(
    x.shape as [number, number, number, number], filter.shape as [number, number, number, number],
    attrs.strides, attrs.dilations, attrs.pad, attrs.dimRoundingMode,
  );
  if (info.dilationWidth !== 1 || info.padInfo.top !== 0 || info.padInfo.bottom !== 0 || info.outHeight !== 1) return undefined;
  const [n, , w, cin] = x.shape as [number, number, number, number];
  const [, fw, , cout] = filter.shape as [number, number, number, number];
  const { left, right } = info.padInfo;
  const s = info.strideWidth;
  const ow = info.outWidth;
  const wp = w + left + right;
  // the last window must lie inside the padded row (true of tfjs's padding rules)
  if ((ow - 1) * s + fw > wp) return undefined;
  const fir: Fir2Dims = { n, w, cin, cout, fw, left, ow };
  const levels = s === 1 ? firLevels(fir) : 0;
  if (levels > 0) return conv1dFir(backend, x, filter, bias, fir, levels);
  const xp = left > 0 || right > 0 ? padWidth(backend, x, n, w, cin, left, right) : x;
  let out: TensorInfo;
  if (cout === 1) {
    out = oneOutputChannel(backend, xp, filter, bias, { n, ow, step: s * cin, kk: fw * cin, sampleStride: wp * cin });
  } else {
    const g = gemmArgs(xp, filter, ow, cout, fw * cin, false, false, n, wp * cin, 0, [n, 1, ow, cout]);
    g.lda = s * cin;
    g.bias = bias;
    out = gemm(backend, g);
  }
  if (xp !== x) dispose(backend, xp);
  return out;
}

/**
 * A Conv-1D to one output channel (the autoencoder's last layer) as dot
 * products of each window with the filter: the GEMM's tiles are 8 channels
 * wide, so it would compute 8× the products needed.
 */
function oneOutputChannel(
  backend: BackendWasm, xp: TensorInfo, filter: TensorInfo, bias: TensorInfo | undefined,
  d: { n: number; ow: number; step: number; kk: number; sampleStride: number },
): TensorInfo {
  const out = backend.makeOutput([d.n, 1, d.ow, 1], 'float32');
  const simd = simdKernels(backend);
  simd.exports.conv1dOneOut(simd.ptr(xp), simd.ptr(filter), bias ? simd.ptr(bias) : 0, simd.ptr(out), d.n, d.ow, d.step, d.kk, d.sampleStride);
  return out;
}

/** x [n, 1, w, c] zero-padded along w: one block copy per sample (tfjs's PadV2 took ~3 ms for 64×512×16). */
function padWidth(backend: BackendWasm, x: TensorInfo, n: number, w: number, c: number, left: number, right: number): TensorInfo {
  const wp = w + left + right;
  const out = backend.makeOutput([n, 1, wp, c], 'float32');
  const heap = wasmModule(backend).HEAPF32;
  const src = backend.dataIdMap.get(x.dataId).memoryOffset / 4;
  const dst = backend.dataIdMap.get(out.dataId).memoryOffset / 4;
  for (let i = 0; i < n; i++) {
    const d = dst + i * wp * c;
    heap.fill(0, d, d + left * c);
    heap.copyWithin(d + left * c, src + i * w * c, src + (i + 1) * w * c);
    heap.fill(0, d + (left + w) * c, d + wp * c);
  }
  return out;
}
