/**
 * _FusedMatMul (matMul + bias + activation, what tf.fused.matMul and
 * tfjs-layers' Dense use) for wasm, on specflow's SIMD GEMM.
 *
 * The original is fast only for untransposed, unbatched operands; otherwise
 * it runs the scalar loop, which is not only slow but wrong with a bias: it
 * indexes the rank-1 bias by the flat position in the output matrix instead
 * of by column, so every row but the first gets bias[N−1] (tfjs-backend-wasm
 * 4.22; the cpu backend is right). Here a per-column bias and relu are fused
 * into the GEMM's store; other biases and activations run after it.
 */
import { planProduct } from './batch-matmul.js';
import type { BackendWasm, KernelArgs, TensorInfo } from './common.js';
import { dispose, run } from './common.js';
import { gemm } from './simd.js';

interface Attrs {
  transposeA: boolean;
  transposeB: boolean;
  activation: 'linear' | 'relu' | 'relu6' | 'prelu' | 'leakyrelu' | 'sigmoid' | 'elu';
  leakyreluAlpha?: number;
}

function activate(backend: BackendWasm, x: TensorInfo, attrs: Attrs, prelu?: TensorInfo): TensorInfo {
  switch (attrs.activation) {
    case 'relu':
      return run('Relu', backend, { x });
    case 'relu6':
      return run('Relu6', backend, { x });
    case 'sigmoid':
      return run('Sigmoid', backend, { x });
    case 'elu':
      return run('Elu', backend, { x });
    case 'leakyrelu':
      return run('LeakyRelu', backend, { x }, { alpha: attrs.leakyreluAlpha ?? 0.2 });
    case 'prelu':
      if (!prelu) throw new Error('_FusedMatMul: prelu activation without weights');
      return run('Prelu', backend, { x, alpha: prelu });
    default:
      throw new Error(`_FusedMatMul: activation ${String(attrs.activation)} not supported`);
  }
}

export function fusedMatMul(args: KernelArgs<Attrs>): TensorInfo {
  const { backend, attrs } = args;
  const { a, b, bias, preluActivationWeights: prelu } = args.inputs as {
    a: TensorInfo;
    b: TensorInfo;
    bias?: TensorInfo;
    preluActivationWeights?: TensorInfo;
  };
  const { transposeA, transposeB } = attrs;
  const plan = a.dtype === 'float32' && b.dtype === 'float32' ? planProduct(a, b, transposeA, transposeB) : undefined;
  if (!plan) {
    // Exotic batch broadcasting: tfjs's kernel (which also raises its shape errors).
    const inputs: Record<string, TensorInfo> = { a, b };
    if (bias) inputs.bias = bias;
    if (prelu) inputs.preluActivationWeights = prelu;
    return run('_FusedMatMul', backend, inputs, { ...attrs });
  }
  const activation = attrs.activation ?? 'linear';
  const columnBias = bias != null && bias.dtype === 'float32' && bias.shape.length === 1 && bias.shape[0] === plan.n;
  const fuseBias = bias == null || columnBias;
  const fuseAct = fuseBias && (activation === 'linear' || activation === 'relu');
  if (fuseBias && bias) plan.bias = bias;
  plan.relu = fuseAct && activation === 'relu';
  const prod = gemm(backend, plan);
  let h = prod;
  if (bias && !fuseBias) {
    h = run('Add', backend, { a: prod, b: bias });
    dispose(backend, prod);
  }
  if (fuseAct || activation === 'linear') return h;
  const out = activate(backend, h, attrs, prelu);
  dispose(backend, h);
  return out;
}

/**
 * Not a tfjs kernel: SpecflowMatMulBias {x [m, k], w [k, n], b [n][, residual
 * [m, n]]} → x·w + b (+ residual), _FusedMatMul's product (the same bits)
 * under a name of its own, so that ../nn.ts can register its gradient as one
 * lazy function per input: tfjs calls only those of inputs that depend on a
 * trained variable, so a layer fed with data (the Transformer's patch
 * embedding) never computes its input's gradient. (tf.customGrad computes
 * every input's gradient; _FusedMatMul's own gradient is tfjs's.) A residual
 * is added in the GEMM's store after the bias: the bits of adding it after.
 */
export const MATMUL_BIAS_KERNEL = 'SpecflowMatMulBias';

export function matMulBias(args: KernelArgs<Record<string, never>>): TensorInfo {
  const { backend } = args;
  const { x, w, b, residual } = args.inputs as { x: TensorInfo; w: TensorInfo; b: TensorInfo; residual?: TensorInfo };
  if (x.shape.length !== 2 || w.shape.length !== 2) throw new Error(`${MATMUL_BIAS_KERNEL}: x ${x.shape} and w ${w.shape} must be matrices`);
  if (!residual) return fusedMatMul({ backend, inputs: { a: x, b: w, bias: b }, attrs: { transposeA: false, transposeB: false, activation: 'linear' } });
  const plan = x.dtype === 'float32' && w.dtype === 'float32' ? planProduct(x, w, false, false) : undefined;
  if (!plan || b.dtype !== 'float32' || b.shape.length !== 1 || b.shape[0] !== plan.n) {
    throw new Error(`${MATMUL_BIAS_KERNEL}: x ${x.shape}, w ${w.shape} and b ${b.shape} (float32) do not make a product with a column bias`);
  }
  plan.bias = b;
  plan.residual = residual;
  return gemm(backend, plan);
}

/**
 * Not a tfjs kernel: SpecflowMatMulBiasRelu {x [m, k], w [k, n], b [n]} →
 * relu(x·w + b), _FusedMatMul's relu product (relu in the GEMM's store, the
 * same bits as tf.fused.matMul's) under a name of its own, so that ../nn.ts
 * can give it a gradient on the 2-D tensors (as SpecflowMatMulBias's) that
 * saves the output it needs: tf.fused.matMul's reshapes every operand to 3-D
 * and back and saves four tensors, some 25 tfjs ops a layer and step where
 * this and its gradient are 6.
 */
export const MATMUL_BIAS_RELU_KERNEL = 'SpecflowMatMulBiasRelu';

export function matMulBiasRelu(args: KernelArgs<Record<string, never>>): TensorInfo {
  const { backend } = args;
  const { x, w, b } = args.inputs as { x: TensorInfo; w: TensorInfo; b: TensorInfo };
  if (x.shape.length !== 2 || w.shape.length !== 2) throw new Error(`${MATMUL_BIAS_RELU_KERNEL}: x ${x.shape} and w ${w.shape} must be matrices`);
  return fusedMatMul({ backend, inputs: { a: x, b: w, bias: b }, attrs: { transposeA: false, transposeB: false, activation: 'relu' } });
}
