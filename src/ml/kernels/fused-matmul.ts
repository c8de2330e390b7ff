/**
 * _FusedMatMul (matMul + bias + activation, what tf.fused.matMul and
 * tfjs-layers' Dense use) for wasm.
 *
 * The original only reaches XNNPACK (bias and activation fused into the GEMM)
 * for untransposed, unbatched operands. Otherwise it runs the scalar loop,
 * which is not only slow but wrong with a bias: it indexes the rank-1 bias by
 * the flat position in the output matrix instead of by column, so every row
 * but the first gets bias[N−1] (tfjs-backend-wasm 4.22; the cpu backend is
 * right). Here transposes are materialised and batches folded or split so
 * that every product goes through XNNPACK, and a per-batch right operand is
 * handled unfused (product, then Add and the activation kernel).
 */
import { batchMatMul } from './batch-matmul.js';
import type { BackendWasm, KernelArgs, TensorInfo } from './common.js';
import { dispose, reshape, run, sizeOf } from './common.js';

interface Attrs {
  transposeA: boolean;
  transposeB: boolean;
  activation: 'linear' | 'relu' | 'relu6' | 'prelu' | 'leakyrelu' | 'sigmoid' | 'elu';
  leakyreluAlpha?: number;
}

function transposeLast2(backend: BackendWasm, x: TensorInfo): TensorInfo {
  const r = x.shape.length;
  const perm = x.shape.map((_, i) => i);
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return run('Transpose', backend, { x }, { perm });
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
  const ra = a.shape.length;
  const rb = b.shape.length;
  const batchA = sizeOf(a.shape.slice(0, -2));
  const batchB = sizeOf(b.shape.slice(0, -2));
  const m = transposeA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
  const k = transposeA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
  const n = transposeB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
  const biasOk = bias == null || bias.shape.length === 1;
  const preluOk = prelu == null || sizeOf(prelu.shape) === n || sizeOf(prelu.shape) === 1;
  const outShape = [...(batchA >= batchB ? a.shape.slice(0, -2) : b.shape.slice(0, -2)), m, n];

  if (batchB === 1 && k > 0 && biasOk && preluOk && a.dtype === 'float32' && b.dtype === 'float32') {
    // Fold A's batches into rows: one XNNPACK product with bias and activation fused.
    const a3 = reshape(backend, a, transposeA ? [batchA, k, m] : [batchA, m, k]);
    const at = transposeA ? transposeLast2(backend, a3) : a3;
    const af = reshape(backend, at, [1, batchA * m, k]);
    const b3 = reshape(backend, b, transposeB ? [1, n, k] : [1, k, n]);
    const bt = transposeB ? transposeLast2(backend, b3) : b3;
    const inputs: Record<string, TensorInfo> = { a: af, b: bt };
    if (bias) inputs.bias = bias;
    if (prelu) inputs.preluActivationWeights = prelu;
    const o = run('_FusedMatMul', backend, inputs, { ...attrs, transposeA: false, transposeB: false });
    dispose(backend, a3, af, b3);
    if (at !== a3) dispose(backend, at);
    if (bt !== b3) dispose(backend, bt);
    const out = reshape(backend, o, outShape);
    dispose(backend, o);
    return out;
  }

  // Per-batch right operands, K = 0 (which XNNPACK rejects) or unusual bias/prelu
  // shapes: unfused but correct.
  const prod = batchMatMul({ inputs: { a, b }, backend, attrs: { transposeA, transposeB } });
  let h = prod;
  if (bias) {
    h = run('Add', backend, { a: prod, b: bias });
    dispose(backend, prod);
  }
  if (attrs.activation === 'linear' || attrs.activation == null) return h;
  const out = activate(backend, h, attrs, prelu);
  dispose(backend, h);
  return out;
}
