/**
 * One training step's loss and gradients for a spectral network, with an explicit
 * backward pass instead of tfjs autograd.
 *
 * Why: the networks here are small (tens to hundreds of inputs, 100-100-50), so on
 * the wasm backend a step is dominated by per-kernel overhead (~50–60 µs a kernel),
 * not by arithmetic. Autograd plus tfjs's Adam issue ~280 kernels a step (Adam alone
 * ~16 per variable); this pass issues ~40 (the matrix products, ReLU masks and
 * column sums), reads all gradients back in one transfer, and leaves the loss, its
 * output gradient, the first-layer penalty and the Adam update to plain JS on
 * Float32Arrays. test/spectral/gradients.test.ts checks it against tf.grads.
 */
import type { Tensor, Tensor2D } from '@tensorflow/tfjs';
import { forwardWith, type SpectralLoss, type TF } from './model.js';

export interface StepTarget {
  loss: SpectralLoss;
  /** m × K one-hot rows (cross_entropy) or m standardised targets (mae/mse). */
  values: Float32Array;
}

export interface StepPenalty { lambdaL2: number; phiL2: number }

/**
 * Mean data loss over the m rows plus the first-layer L2 penalty; writes
 * d(loss)/d(param) into `grads` (same order and sizes as `params`).
 */
export function lossAndGrads(
  tf: TF, params: Float32Array[], shapes: number[][], xb: Float32Array, m: number, d: number,
  target: StepTarget, penalty: StepPenalty, grads: Float32Array[],
): number {
  const layers = (params.length - 1) / 2;
  const K = shapes[shapes.length - 1]![0]!;
  let dataLoss = 0;
  const flat = tf.tidy(() => {
    const p = params.map((v, i) => tf.tensor(v, shapes[i]!, 'float32'));
    const x = tf.tensor2d(xb.subarray(0, m * d), [m, d]);
    const { inputs, out } = forwardWith(tf, p, x);
    const o = out.dataSync() as Float32Array;
    const dOut = new Float32Array(m * K);
    const t = target.values;
    if (target.loss === 'cross_entropy') {
      for (let i = 0; i < m; i++) {
        let max = -Infinity;
        for (let k = 0; k < K; k++) max = Math.max(max, o[i * K + k]!);
        let z = 0;
        for (let k = 0; k < K; k++) z += Math.exp(o[i * K + k]! - max);
        const logZ = Math.log(z) + max;
        for (let k = 0; k < K; k++) {
          const prob = Math.exp(o[i * K + k]! - logZ);
          const y = t[i * K + k]!;
          dataLoss -= y * (o[i * K + k]! - logZ);
          dOut[i * K + k] = (prob - y) / m;
        }
      }
    } else {
      for (let i = 0; i < m * K; i++) {
        const r = o[i]! - t[i]!;
        if (target.loss === 'mae') {
          dataLoss += Math.abs(r);
          dOut[i] = (r > 0 ? 1 : r < 0 ? -1 : 0) / m;
        } else {
          dataLoss += r * r;
          dOut[i] = (2 * r) / m;
        }
      }
      dataLoss /= K;
      for (let i = 0; i < m * K; i++) dOut[i] = dOut[i]! / K;
    }
    dataLoss /= m;

    // backward: layer l maps inputs[l] with W = p[1+2l], b = p[2+2l]
    const g: Tensor[] = new Array<Tensor>(params.length);
    let dz: Tensor2D = tf.tensor2d(dOut, [m, K]);
    for (let l = layers - 1; l >= 0; l--) {
      const a = inputs[l]!;
      const w = p[1 + 2 * l]! as Tensor2D;
      g[1 + 2 * l] = tf.matMul(a, dz, true, false);
      g[2 + 2 * l] = tf.sum(dz, 0);
      const da = tf.matMul(dz, w, false, true);
      if (l > 0) dz = tf.mul(da, tf.step(a)) as Tensor2D; // ReLU: a > 0 where it passed
      else g[0] = tf.sum(tf.mul(da, x), 0); // a0 = x ⊙ λ  ⇒  dλ_j = Σ_i da_ij x_ij
    }
    return tf.concat(g.map((t) => tf.reshape(t, [-1])));
  });
  const all = flat.dataSync() as Float32Array;
  flat.dispose();
  let at = 0;
  for (let i = 0; i < grads.length; i++) {
    grads[i]!.set(all.subarray(at, at + grads[i]!.length));
    at += grads[i]!.length;
  }
  // first-layer L2 penalty: lambda_l2·Σλ² + phi_l2·Σφ²
  let pen = 0;
  const lam = params[0]!;
  const phi = params[1]!;
  const gl = grads[0]!;
  const gp = grads[1]!;
  if (penalty.lambdaL2 > 0) {
    for (let j = 0; j < lam.length; j++) { pen += penalty.lambdaL2 * lam[j]! * lam[j]!; gl[j] = gl[j]! + 2 * penalty.lambdaL2 * lam[j]!; }
  }
  if (penalty.phiL2 > 0) {
    for (let j = 0; j < phi.length; j++) { pen += penalty.phiL2 * phi[j]! * phi[j]!; gp[j] = gp[j]! + 2 * penalty.phiL2 * phi[j]!; }
  }
  return dataLoss + pen;
}

/** Adam (Kingma & Ba; tfjs's defaults β1 = 0.9, β2 = 0.999, ε = 1e-7) on Float32Array parameters. */
export class JsAdam {
  private readonly m: Float32Array[];
  private readonly v: Float32Array[];
  private t = 0;

  constructor(sizes: number[], readonly learningRate: number, readonly beta1 = 0.9, readonly beta2 = 0.999, readonly epsilon = 1e-7) {
    this.m = sizes.map((s) => new Float32Array(s));
    this.v = sizes.map((s) => new Float32Array(s));
  }

  step(params: Float32Array[], grads: Float32Array[]): void {
    this.t++;
    const { beta1: b1, beta2: b2, epsilon: eps, learningRate: lr } = this;
    const c1 = 1 - Math.pow(b1, this.t);
    const c2 = 1 - Math.pow(b2, this.t);
    for (let i = 0; i < params.length; i++) {
      const p = params[i]!;
      const g = grads[i]!;
      const m = this.m[i]!;
      const v = this.v[i]!;
      for (let k = 0; k < p.length; k++) {
        const gk = g[k]!;
        const mk = b1 * m[k]! + (1 - b1) * gk;
        const vk = b2 * v[k]! + (1 - b2) * gk * gk;
        m[k] = mk;
        v[k] = vk;
        p[k] = p[k]! - (lr * (mk / c1)) / (Math.sqrt(vk / c2) + eps);
      }
    }
  }
}
