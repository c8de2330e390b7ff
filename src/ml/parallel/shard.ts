/**
 * The arithmetic of data-parallel training that every thread shares: how a
 * mini-batch is cut into shards, one shard's share of the batch gradient, and
 * the layout of the weights, gradients and batch-norm moments in the shared
 * buffers. The stage's thread and the worker threads run exactly this code on
 * the same engine, so a shard's gradient has the same bits wherever it is
 * computed.
 */
import type { Optimizer } from '@tensorflow/tfjs';
import type { Autoencoder } from '../autoencoder.js';
import type { Tensor, TF } from '../engine.js';
import type { GradientSteps } from '../gradient-step.js';
import { emaFloat32 } from '../nn.js';
import { sumsGradients } from '../optimizer.js';
import { assignFrom, copyOut, tensorOf } from './copy.js';

/** Contiguous [start, count) row ranges of a b-row batch, sizes differing by at most one (larger first); empty shards are dropped. */
export function shardRanges(b: number, threads: number): { start: number; count: number }[] {
  const out: { start: number; count: number }[] = [];
  const base = Math.floor(b / threads);
  const extra = b % threads;
  let start = 0;
  for (let i = 0; i < threads; i++) {
    const count = base + (i < extra ? 1 : 0);
    if (count > 0) out.push({ start, count });
    start += count;
  }
  return out;
}

/** Where each trainable tensor and each batch-norm layer's moments sit in the flat shared arrays. */
export interface ParamLayout {
  /** Trainable tensors in the store's order (the order every thread defines them in). */
  params: { name: string; shape: number[]; offset: number; size: number }[];
  paramFloats: number;
  /** Batch-norm layers: mean at `offset`, variance at `offset + channels`. */
  norms: { name: string; channels: number; offset: number }[];
  normFloats: number;
}

export function paramLayout(model: Autoencoder): ParamLayout {
  const params: ParamLayout['params'] = [];
  const norms: ParamLayout['norms'] = [];
  let at = 0;
  let nAt = 0;
  for (const s of model.store.specs) {
    const size = s.shape.reduce((a, c) => a * c, 1);
    if (s.trainable) {
      params.push({ name: s.name, shape: s.shape, offset: at, size });
      at += size;
    } else if (s.name.endsWith('.mean')) {
      // a batch-norm layer's running mean (its running variance follows it)
      norms.push({ name: s.name.slice(0, -'.mean'.length), channels: size, offset: nAt });
      nAt += 2 * size;
    }
  }
  return { params, paramFloats: at, norms, normFloats: nAt };
}

/** Every trainable tensor's index in the layout's order. */
const everyTensor = (layout: ParamLayout): number[] => indicesWhere(layout.params.length, () => true);

/**
 * The indices below n that `keep` accepts, as an array built one way for every list of tensors:
 * lists from map and flatMap came with different V8 maps, and the loops over them (loadWeights,
 * saveWeights, writeShard) were deoptimised and compiled again when the other kind arrived.
 */
function indicesWhere(n: number, keep: (i: number) => boolean): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) if (keep(i)) out.push(i);
  return out;
}

export interface ShardResult {
  /** This shard's share of the batch loss: its mean loss × count / batch. */
  loss: number;
  /** Gradients of that share, in the layout's order (kept tensors: the caller disposes them). */
  grads: Tensor[];
  /** Batch-norm moments of this shard per layer (kept tensors: the caller disposes them). */
  moments: Map<string, { mean: Tensor; variance: Tensor }>;
}

/**
 * One shard's gradient of the batch loss. The batch loss is a mean over the
 * batch, so a shard of `count` of its `batch` rows contributes its own mean
 * loss scaled by count/batch, and the shards' gradients sum to the batch's
 * gradient (exactly, up to rounding, except that batch norm normalises each
 * shard with the shard's own moments).
 */
export function shardGradient(tf: TF, steps: GradientSteps, x: Float32Array, y: Float32Array, count: number, batch: number): ShardResult {
  const d = steps.model.inputDim;
  let moments!: ShardResult['moments'];
  const { loss, grads } = tf.tidy(() => {
    const xb = tensorOf(tf, x.subarray(0, count * d), [count, d]);
    const yb = y === x ? xb : tensorOf(tf, y.subarray(0, count * d), [count, d]);
    const step = steps.compute(xb, yb, count / batch);
    moments = step.moments; // kept tensors
    return { loss: step.loss, grads: step.grads };
  });
  const value = loss.dataSync()[0] as number;
  loss.dispose();
  return { loss: value, grads, moments };
}

/**
 * The inference loss (batch norm on its running statistics) of the first `count` rows of x against y,
 * a mean over their values: one chunk's share of a validation loss.
 */
export function shardLoss(tf: TF, model: Autoencoder, x: Float32Array, y: Float32Array, count: number): number {
  const d = model.inputDim;
  const l = tf.tidy(() => {
    const xb = tensorOf(tf, x.subarray(0, count * d), [count, d]);
    // an autoencoder's own input as target: one upload (lossT scales it once)
    const yb = y === x ? xb : tensorOf(tf, y.subarray(0, count * d), [count, d]);
    return model.lossT(xb, yb, { training: false });
  });
  const value = l.dataSync()[0] as number;
  l.dispose();
  return value;
}

/** Copies the batch-norm layers' running mean and variance into `out` (layout.norms: mean, then variance). */
export function saveNorms(tf: TF, model: Autoencoder, layout: ParamLayout, out: Float32Array): void {
  for (const n of layout.norms) {
    copyOut(tf, model.store.get(`${n.name}.mean`), out, n.offset);
    copyOut(tf, model.store.get(`${n.name}.var`), out, n.offset + n.channels);
  }
}

/** Sets the batch-norm layers' running mean and variance from `values` (as saveNorms wrote them). */
export function loadNorms(tf: TF, model: Autoencoder, layout: ParamLayout, values: Float32Array): void {
  for (const n of layout.norms) {
    for (const [suffix, at] of [['mean', n.offset], ['var', n.offset + n.channels]] as const) {
      const t = tensorOf(tf, values.subarray(at, at + n.channels), [n.channels]);
      model.store.get(`${n.name}.${suffix}`).assign(t);
      t.dispose();
    }
  }
}

/**
 * Steps the batch-norm layers' running mean and variance towards the batch's pooled moments (`pooled`,
 * as poolMoments gives them), as updateBatchNorm would with them as tensors and with the same bits, but
 * in one pass over each array (copied out of the variable and back, in place on wasm): ~90 small tfjs
 * kernel calls a Conv-1D step were ~0.9 ms on the training thread, after the workers had started the
 * next step.
 */
export function updateRunningNorms(tf: TF, model: Autoencoder, layout: ParamLayout, pooled: Float32Array): void {
  for (const n of layout.norms) {
    for (const [suffix, at] of [['mean', n.offset], ['var', n.offset + n.channels]] as const) {
      const variable = model.store.get(`${n.name}.${suffix}`);
      const running = new Float32Array(n.channels);
      copyOut(tf, variable, running, 0);
      emaFloat32(running, pooled.subarray(at, at + n.channels));
      assignFrom(tf, variable, running);
    }
  }
}

/**
 * Copies a shard's gradients of the tensors `shared` (indices in the layout's order: those other
 * threads own) and its moments into flat arrays of `layout`, and disposes those tensors; returns the
 * gradients of the other tensors (this thread's own, which it sums itself) as kept tensors, by index.
 * Keeping them in the engine spares copying them out and back in: a dense autoencoder's gradient is
 * 2.2 MB, and a thread owns about 1/threads of it.
 */
export function writeShard(
  tf: TF, result: ShardResult, layout: ParamLayout, grads: Float32Array, moments: Float32Array, shared = everyTensor(layout),
): Map<number, Tensor> {
  const kept = new Map<number, Tensor>(result.grads.map((g, i) => [i, g]));
  for (const i of shared) {
    copyOut(tf, result.grads[i]!, grads, layout.params[i]!.offset);
    result.grads[i]!.dispose();
    kept.delete(i);
  }
  for (const n of layout.norms) {
    const m = result.moments.get(n.name);
    if (!m) throw new Error(`batch-norm layer ${n.name} recorded no moments`);
    moments.set(m.mean.dataSync() as Float32Array, n.offset);
    moments.set(m.variance.dataSync() as Float32Array, n.offset + n.channels);
    m.mean.dispose();
    m.variance.dispose();
  }
  result.moments.clear();
  return kept;
}

/**
 * Moments of the whole batch from its shards' (count, mean, biased variance),
 * pooled in the order given:  μ = Σ nᵢμᵢ / N,  σ² = Σ nᵢ(σᵢ² + (μᵢ − μ)²) / N.
 * Each layer's per-channel moments sit at its layout offset in every shard's array.
 */
export function poolMoments(layout: ParamLayout, shards: { count: number; moments: Float32Array }[]): Float32Array {
  const out = new Float32Array(layout.normFloats);
  const total = shards.reduce((a, s) => a + s.count, 0);
  for (const n of layout.norms) {
    for (let c = 0; c < n.channels; c++) {
      let mean = 0;
      for (const s of shards) mean += s.count * s.moments[n.offset + c]!;
      mean /= total;
      let variance = 0;
      for (const s of shards) {
        const dm = s.moments[n.offset + c]! - mean;
        variance += s.count * (s.moments[n.offset + n.channels + c]! + dm * dm);
      }
      out[n.offset + c] = mean;
      out[n.offset + n.channels + c] = variance / total;
    }
  }
  return out;
}

/**
 * The batch gradient of trainable tensor `i`: the first `shards` shards' gradients (flat arrays of
 * `layout`; shard `ownShard`'s may be given as a tensor instead, `own`) added in shard order by the
 * engine's float32 Add — on every backend the bits of `acc = g₀; acc += gₛ` in float32 (one correctly
 * rounded add per element and shard), but on wasm as a vector loop on tfjs's heap instead of a
 * JavaScript loop over every float. A kept tensor.
 */
export function summedGradient(
  tf: TF, layout: ParamLayout, grads: Float32Array[], shards: number, i: number, own?: { shard: number; grad: Tensor },
): Tensor {
  const p = layout.params[i]!;
  const slice = (s: number): Tensor => (own?.shard === s ? own.grad : tensorOf(tf, grads[s]!.subarray(p.offset, p.offset + p.size), p.shape));
  return tf.tidy(() => {
    let sum = slice(0);
    for (let s = 1; s < shards; s++) sum = tf.add(sum, slice(s));
    // a lone shard's own tensor is the sum itself: a copy, as the caller disposes both
    return sum === own?.grad ? tf.clone(sum) : sum;
  });
}

/**
 * The owner thread of each trainable tensor (in the layout's order): the largest tensors first, each to
 * the thread owning the fewest floats so far (the lowest-numbered on ties), so summing and stepping
 * Adam take about the same time on every thread. Depends on the layout and the count only.
 */
export function ownership(layout: ParamLayout, threads: number): number[] {
  const owners = new Array<number>(layout.params.length).fill(0);
  const load = new Array<number>(threads).fill(0);
  const bySize = layout.params.map((p, i) => ({ size: p.size, i })).sort((a, b) => b.size - a.size || a.i - b.i);
  for (const { size, i } of bySize) {
    let t = 0;
    for (let u = 1; u < threads; u++) if (load[u]! < load[t]!) t = u;
    owners[i] = t;
    load[t]! += size;
  }
  return owners;
}

/** The indices (in the layout's order) of the tensors `thread` owns, or does not own. */
export function tensorsOf(owners: number[], thread: number, own = true): number[] {
  return indicesWhere(owners.length, (i) => (owners[i] === thread) === own);
}

/**
 * One Adam step on the trainable tensors `which` (indices in the layout's order; the same list every
 * step, as the optimizer keeps its state by name) with their batch gradients summed from the first
 * `shards` shards' gradients; shard `ownShard`'s gradients of them may be given as tensors (`own`,
 * from writeShard: they are disposed here). An optimizer that sums gradients itself (the fused Adam)
 * is given the last shard's gradient apart, and adds it in its update's pass.
 */
export function applyShards(
  tf: TF, optimizer: Optimizer, model: Autoencoder, layout: ParamLayout, grads: Float32Array[], shards: number, which: number[],
  own?: { shard: number; grads: Map<number, Tensor> },
): void {
  const vars = model.store.trainable();
  const ownOf = (i: number) => {
    const grad = own?.grads.get(i);
    return grad && own ? { shard: own.shard, grad } : undefined;
  };
  const made: Tensor[] = [];
  if (sumsGradients(optimizer)) {
    // the fused Adam adds the last shard's gradient in its own pass: the bits of summing first
    // (a shard's values it copies into a tensor of its own: no new tensor a step)
    optimizer.applySummedGradients(which.map((i) => {
      const p = layout.params[i]!;
      const mine = ownOf(i);
      const shard = (s: number) => (mine?.shard === s ? mine.grad : grads[s]!.subarray(p.offset, p.offset + p.size));
      const last = shards - 1;
      if (shards <= 2) return { name: vars[i]!.name, parts: shards === 1 ? [shard(0)] : [shard(0), shard(1)] };
      return { name: vars[i]!.name, parts: [track(made, summedGradient(tf, layout, grads, last, i, mine)), shard(last)] };
    }));
  } else {
    const named: Record<string, Tensor> = {};
    for (const i of which) named[vars[i]!.name] = track(made, summedGradient(tf, layout, grads, shards, i, ownOf(i)));
    optimizer.applyGradients(named);
  }
  for (const t of made) t.dispose();
  for (const t of own?.grads.values() ?? []) t.dispose();
}

function track(made: Tensor[], t: Tensor): Tensor {
  made.push(t);
  return t;
}

/** Sets the model's trainable tensors `which` (all by default) from `weights` (in the layout's order). */
export function loadWeights(tf: TF, model: Autoencoder, layout: ParamLayout, weights: Float32Array, which = everyTensor(layout)): void {
  const vars = model.store.trainable();
  for (const i of which) {
    const p = layout.params[i]!;
    assignFrom(tf, vars[i]!, weights.subarray(p.offset, p.offset + p.size));
  }
}

/** Copies the model's trainable tensors `which` (all by default) into `weights` (in the layout's order). */
export function saveWeights(tf: TF, model: Autoencoder, layout: ParamLayout, weights: Float32Array, which = everyTensor(layout)): void {
  const vars = model.store.trainable();
  for (const i of which) copyOut(tf, vars[i]!, weights, layout.params[i]!.offset);
}

/** Whether the model's trainable tensors are bitwise `weights` (a thread's copy against the shared one). */
export function sameWeights(tf: TF, model: Autoencoder, layout: ParamLayout, weights: Float32Array): boolean {
  const mine = new Float32Array(layout.paramFloats);
  saveWeights(tf, model, layout, mine);
  return Buffer.from(mine.buffer).equals(Buffer.from(weights.buffer, weights.byteOffset, weights.byteLength));
}
