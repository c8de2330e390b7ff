/**
 * specflow's kernel fixes for tfjs-backend-wasm 4.22, registered from user
 * code with tf.registerKernel. Each replaces (or adds) one kernel for the
 * 'wasm' backend; the originals are kept so they can be restored (stock wasm,
 * for benchmarks) and called by the replacements.
 */
import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs';
import { ADAM_KERNEL, specflowAdam } from './adam.js';
import { MSE_KERNEL, mse, SCALE_SHIFT_KERNEL, scaleShift } from './loss.js';
import { add, cast, erf, exp, multiply, realDiv, relu, squaredDifference, sub } from './arithmetic.js';
import { batchMatMul } from './batch-matmul.js';
import { BN_AFFINE, BN_GRAD_INPUT, BN_GRAD_SUMS, BN_MOMENTS, bnAffine, bnGradInput, bnGradSums, bnMoments } from './batch-norm.js';
import { COLUMN_SLICE_KERNEL, CONCAT_COLUMNS_KERNEL, columnSlice, concatColumns } from './concat-columns.js';
import { conv2D, fusedConv2D } from './conv1d.js';
import {
  BN_AFFINE_LEAKY, BN_LEAKY_GRAD_INPUT, BN_LEAKY_GRAD_SUMS, BN_MEAN_VARIANCE, bnAffineLeaky, bnLeakyGradInput, bnLeakyGradSums, bnMeanVariance,
  PAIR_DUP, PAIR_SUM, pairDup, pairSum,
} from './conv1d-passes.js';
import { CONV1D_FILTER_BIAS_GRAD, CONV1D_INPUT_GRAD, conv1dFilterBiasGrad, conv1dInputGrad } from './conv1d-grads.js';
import { conv2DBackpropFilter } from './conv2d-backprop-filter.js';
import { conv2DBackpropInput } from './conv2d-backprop-input.js';
import { fusedMatMul, MATMUL_BIAS_KERNEL, MATMUL_BIAS_RELU_KERNEL, matMulBias, matMulBiasRelu } from './fused-matmul.js';
import { gatherV2 } from './gather.js';
import { identity } from './identity.js';
import { greater, leakyRelu, RELU_GRAD_KERNEL, reluGrad, select } from './elementwise.js';
import { mean, sum } from './reduce.js';
import {
  maxPoolGrad,
  resizeBilinearGrad,
  resizeBilinearGradCpu,
  resizeNearestNeighborGrad,
  resizeNearestNeighborGradCpu,
} from './pool-resize-grads.js';
import { unsortedSegmentSum } from './unsorted-segment-sum.js';
import {
  ATTENTION_GRAD_KERNEL, ATTENTION_KERNEL, attention, attentionGrad, gelu, GELU_GRAD_KERNEL, GELU_KERNEL, geluGrad,
  LAYER_NORM_GRAD_KERNEL, LAYER_NORM_KERNEL, layerNorm, layerNormGrad, ADD_LAYER_NORM_KERNEL, addLayerNorm,
} from './transformer.js';
import { bindTf, original, rememberOriginal, type TF } from './common.js';

interface Fix {
  kernelName: string;
  kernelFunc: (args: never) => unknown;
}

/** Kernels specflow registers for 'wasm', in registration order. */
export const FIXES: readonly Fix[] = [
  { kernelName: 'BatchMatMul', kernelFunc: batchMatMul },
  { kernelName: '_FusedMatMul', kernelFunc: fusedMatMul },
  { kernelName: 'Conv2D', kernelFunc: conv2D },
  { kernelName: 'FusedConv2D', kernelFunc: fusedConv2D },
  { kernelName: 'Conv2DBackpropFilter', kernelFunc: conv2DBackpropFilter },
  { kernelName: 'Conv2DBackpropInput', kernelFunc: conv2DBackpropInput },
  { kernelName: 'UnsortedSegmentSum', kernelFunc: unsortedSegmentSum },
  { kernelName: 'GatherV2', kernelFunc: gatherV2 },
  { kernelName: 'Sum', kernelFunc: sum },
  { kernelName: 'Mean', kernelFunc: mean },
  { kernelName: 'LeakyRelu', kernelFunc: leakyRelu },
  { kernelName: 'Greater', kernelFunc: greater },
  { kernelName: 'Select', kernelFunc: select },
  { kernelName: 'Identity', kernelFunc: identity },
  { kernelName: 'Add', kernelFunc: add },
  { kernelName: 'Sub', kernelFunc: sub },
  { kernelName: 'Multiply', kernelFunc: multiply },
  { kernelName: 'RealDiv', kernelFunc: realDiv },
  { kernelName: 'SquaredDifference', kernelFunc: squaredDifference },
  { kernelName: 'Relu', kernelFunc: relu },
  { kernelName: 'Cast', kernelFunc: cast },
  { kernelName: 'Exp', kernelFunc: exp },
  { kernelName: 'Erf', kernelFunc: erf },
  { kernelName: 'MaxPoolGrad', kernelFunc: maxPoolGrad },
  { kernelName: 'ResizeNearestNeighborGrad', kernelFunc: resizeNearestNeighborGrad },
  { kernelName: 'ResizeBilinearGrad', kernelFunc: resizeBilinearGrad },
  // not a tfjs kernel: the fused Adam update of ../optimizer.ts
  { kernelName: ADAM_KERNEL, kernelFunc: specflowAdam },
  // nor these: the autoencoder's input scaling and loss (../autoencoder.ts)
  { kernelName: SCALE_SHIFT_KERNEL, kernelFunc: scaleShift },
  { kernelName: MSE_KERNEL, kernelFunc: mse },
  // nor these: x·w + b with a per-input gradient, matrices side by side and their column slices, and the Transformer's fused ops and their gradients (../nn.ts)
  { kernelName: MATMUL_BIAS_KERNEL, kernelFunc: matMulBias },
  { kernelName: MATMUL_BIAS_RELU_KERNEL, kernelFunc: matMulBiasRelu },
  { kernelName: RELU_GRAD_KERNEL, kernelFunc: reluGrad },
  { kernelName: CONCAT_COLUMNS_KERNEL, kernelFunc: concatColumns },
  { kernelName: COLUMN_SLICE_KERNEL, kernelFunc: columnSlice },
  { kernelName: LAYER_NORM_KERNEL, kernelFunc: layerNorm },
  { kernelName: LAYER_NORM_GRAD_KERNEL, kernelFunc: layerNormGrad },
  { kernelName: ADD_LAYER_NORM_KERNEL, kernelFunc: addLayerNorm },
  { kernelName: GELU_KERNEL, kernelFunc: gelu },
  { kernelName: GELU_GRAD_KERNEL, kernelFunc: geluGrad },
  { kernelName: ATTENTION_KERNEL, kernelFunc: attention },
  { kernelName: ATTENTION_GRAD_KERNEL, kernelFunc: attentionGrad },
  // not tfjs kernels: batch normalisation's fused passes (../nn.ts batchNormTraining)
  { kernelName: BN_MOMENTS, kernelFunc: bnMoments },
  { kernelName: BN_AFFINE, kernelFunc: bnAffine },
  { kernelName: BN_GRAD_SUMS, kernelFunc: bnGradSums },
  { kernelName: BN_GRAD_INPUT, kernelFunc: bnGradInput },
  // nor these: the Conv-1D autoencoder's batch norm + LeakyReLU and pair pooling (../nn.ts)
  { kernelName: BN_MEAN_VARIANCE, kernelFunc: bnMeanVariance },
  { kernelName: BN_AFFINE_LEAKY, kernelFunc: bnAffineLeaky },
  { kernelName: BN_LEAKY_GRAD_SUMS, kernelFunc: bnLeakyGradSums },
  { kernelName: BN_LEAKY_GRAD_INPUT, kernelFunc: bnLeakyGradInput },
  { kernelName: PAIR_SUM, kernelFunc: pairSum },
  { kernelName: PAIR_DUP, kernelFunc: pairDup },
  // nor these: a 'same' Conv-1D's gradients (../nn.ts conv1dSame)
  { kernelName: CONV1D_INPUT_GRAD, kernelFunc: conv1dInputGrad },
  { kernelName: CONV1D_FILTER_BIAS_GRAD, kernelFunc: conv1dFilterBiasGrad },
];

export const FIXED_KERNELS: readonly string[] = FIXES.map((f) => f.kernelName);

let installed = false;

export function wasmFixesInstalled(): boolean {
  return installed;
}

export function installWasmFixes(tf: TF): void {
  if (installed) return;
  bindTf(tf);
  for (const fix of FIXES) {
    const orig = rememberOriginal(tf, fix.kernelName);
    if (orig) tf.unregisterKernel(fix.kernelName, 'wasm');
    const config: KernelConfig = {
      kernelName: fix.kernelName,
      backendName: 'wasm',
      kernelFunc: fix.kernelFunc as unknown as KernelFunc,
    };
    // Keeps the original's setupFunc: it binds the C entry points that both
    // the original kernel (which the replacement calls) and ours rely on.
    if (orig?.setupFunc) config.setupFunc = orig.setupFunc;
    tf.registerKernel(config);
  }
  installed = true;
}

export function removeWasmFixes(tf: TF): void {
  if (!installed) return;
  for (const fix of FIXES) {
    tf.unregisterKernel(fix.kernelName, 'wasm');
    const orig = original(fix.kernelName);
    if (orig) tf.registerKernel(orig);
  }
  installed = false;
}

/** Kernels specflow replaces for 'cpu' (wrong gradients there too). */
export const CPU_FIXES: readonly Fix[] = [
  { kernelName: 'ResizeNearestNeighborGrad', kernelFunc: resizeNearestNeighborGradCpu },
  { kernelName: 'ResizeBilinearGrad', kernelFunc: resizeBilinearGradCpu },
];

let cpuInstalled = false;

/** Replaces the cpu backend's wrong resize gradients. Idempotent; the cpu backend is always registered. */
export function installCpuFixes(tf: TF): void {
  if (cpuInstalled) return;
  for (const fix of CPU_FIXES) {
    if (tf.getKernel(fix.kernelName, 'cpu')) tf.unregisterKernel(fix.kernelName, 'cpu');
    tf.registerKernel({ kernelName: fix.kernelName, backendName: 'cpu', kernelFunc: fix.kernelFunc as unknown as KernelFunc });
  }
  cpuInstalled = true;
}
