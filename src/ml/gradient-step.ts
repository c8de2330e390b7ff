/**
 * An autoencoder's training-step gradient — the loss, every trainable tensor's
 * gradient and the batch-norm layers' batch moments — the one computation the
 * one-thread loop (./train.ts) and a data-parallel shard (./parallel/shard.ts)
 * share. On wasm its kernel calls are replayed after two recorded steps of a
 * shape (./step-replay.ts), skipping tfjs's per-op engine JavaScript, with the
 * same bits; SPECFLOW_STEP_REPLAY=0 runs every step through the engine.
 */
import type { Scalar } from '@tensorflow/tfjs';
import type { Autoencoder } from './autoencoder.js';
import type { Tensor, TF } from './engine.js';
import type { Pass } from './nn.js';
import { StepReplay } from './step-replay.js';

export interface StepGradient {
  /** The (scaled) loss, a scalar. */
  loss: Tensor;
  /** Gradients in the order of model.store.trainable(). */
  grads: Tensor[];
  /** Batch moments per batch-norm layer (kept tensors: the caller disposes them). */
  moments: Map<string, { mean: Tensor; variance: Tensor }>;
}

export class GradientSteps {
  private readonly replay: StepReplay;
  /** The batch-norm layers' names in the order a step records their moments. */
  private normNames: string[] | undefined;

  constructor(private readonly tf: TF, readonly model: Autoencoder, replay?: StepReplay) {
    this.replay = replay ?? new StepReplay(tf);
  }

  /**
   * The gradient of the mean loss of xb against yb (yb may be xb), times `scale` when given (a
   * shard's share of a batch). The tensors are tracked in the caller's scope, as tf.variableGrads's.
   */
  compute(xb: Tensor, yb: Tensor, scale?: number): StepGradient {
    const { tf, model } = this;
    const vars = model.store.trainable();
    const key = `${xb.shape.join('x')}:${yb === xb ? 'self' : yb.shape.join('x')}:${scale ?? ''}`;
    let names: string[] | undefined;
    const out = this.replay.run(key, [xb, yb], () => {
      const pass: Pass = { training: true, bnStats: new Map() };
      const f = () => (scale === undefined ? model.lossT(xb, yb, pass) : tf.mul(model.lossT(xb, yb, pass), scale)) as Scalar;
      const { value, grads } = tf.variableGrads(f, vars);
      const tensors = [value, ...vars.map((v) => grads[v.name]!)];
      names = [...pass.bnStats!.keys()];
      for (const { mean, variance } of pass.bnStats!.values()) tensors.push(mean, variance);
      return tensors;
    });
    if (names) this.normNames = names;
    const moments = new Map<string, { mean: Tensor; variance: Tensor }>();
    const first = 1 + vars.length;
    this.normNames!.forEach((name, i) => {
      // kept, as batch norm keeps them (they outlive the caller's tidy)
      moments.set(name, { mean: tf.keep(out[first + 2 * i]!), variance: tf.keep(out[first + 2 * i + 1]!) });
    });
    return { loss: out[0]!, grads: out.slice(1, first), moments };
  }

  /** Steps replayed so far (tests, benches). */
  get replays(): number {
    return this.replay.replays;
  }

  dispose(): void {
    this.replay.dispose();
  }
}
