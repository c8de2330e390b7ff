/**
 * The optimizer every specflow model trains with: Adam, as tf.train.adam
 * defines it. On the wasm backend with specflow's kernels each variable is
 * updated by one SpecflowAdam kernel (./kernels/adam.ts) instead of ~16
 * elementwise ops, which took a third of a dense autoencoder's training step.
 * Elsewhere (cpu, tfjs-node, stock wasm) it is tf.train.adam itself.
 *
 * The fused optimizer is a tf.Optimizer, so model.fit takes it too.
 */
import type { NamedTensorMap, Optimizer, Tensor, Variable } from '@tensorflow/tfjs';
import type { TF } from './engine.js';
import { ADAM_KERNEL } from './kernels/adam.js';

/** tfjs-core's NamedTensor, which @tensorflow/tfjs does not re-export. */
interface NamedTensor {
  name: string;
  tensor: Tensor;
}

export interface AdamOptions {
  beta1?: number;
  beta2?: number;
  /** Defaults to the backend's epsilon, as tf.train.adam. */
  epsilon?: number;
}

/** Whether the current backend runs Adam as one fused kernel per variable. */
export function fusedAdamAvailable(tf: TF): boolean {
  return tf.getKernel(ADAM_KERNEL, tf.getBackend()) !== undefined;
}

export function createAdam(tf: TF, learningRate: number, options: AdamOptions = {}): Optimizer {
  const beta1 = options.beta1 ?? 0.9;
  const beta2 = options.beta2 ?? 0.999;
  const epsilon = options.epsilon ?? tf.backend().epsilon();
  if (!fusedAdamAvailable(tf)) return tf.train.adam(learningRate, beta1, beta2, epsilon);

  class FusedAdam extends tf.Optimizer {
    static get className(): string {
      return 'SpecflowFusedAdam';
    }

    private readonly moments = new Map<string, { m: Tensor; v: Tensor }>();
    private step = 0;

    override applyGradients(variableGradients: NamedTensorMap | NamedTensor[]): void {
      const named = Array.isArray(variableGradients)
        ? variableGradients
        : Object.keys(variableGradients).map((name) => ({ name, tensor: variableGradients[name]! }));
      this.step++;
      // Bias corrections folded into the step size and epsilon (tf.train.adam's
      // update, rearranged): x −= lr·√(1−β2ᵗ)/(1−β1ᵗ) · m / (√v + ε·√(1−β2ᵗ)).
      const c2 = Math.sqrt(1 - beta2 ** this.step);
      const attrs = { lrT: (learningRate * c2) / (1 - beta1 ** this.step), beta1, beta2, epsT: epsilon * c2 };
      for (const { name, tensor: grad } of named) {
        const variable = tf.engine().registeredVariables[name] as Variable | undefined;
        if (!variable) throw new Error(`Adam: no variable named ${name}`);
        let slot = this.moments.get(name);
        if (!slot) {
          slot = { m: tf.keep(tf.zerosLike(variable)), v: tf.keep(tf.zerosLike(variable)) };
          this.moments.set(name, slot);
        }
        const [x, m, v] = tf.engine().runKernel(ADAM_KERNEL, { x: variable, g: grad, m: slot.m, v: slot.v }, { ...attrs }) as Tensor[];
        variable.assign(x!);
        x!.dispose();
        slot.m.dispose();
        slot.v.dispose();
        this.moments.set(name, { m: tf.keep(m!), v: tf.keep(v!) });
      }
      this.incrementIterations();
    }

    override dispose(): void {
      super.dispose();
      for (const { m, v } of this.moments.values()) {
        m.dispose();
        v.dispose();
      }
      this.moments.clear();
    }

    override async getWeights(): Promise<NamedTensor[]> {
      throw new Error('SpecflowFusedAdam: saving optimizer state is not supported');
    }

    override async setWeights(): Promise<void> {
      throw new Error('SpecflowFusedAdam: loading optimizer state is not supported');
    }

    override getConfig(): { learningRate: number; beta1: number; beta2: number; epsilon: number } {
      return { learningRate, beta1, beta2, epsilon };
    }
  }
  return new FusedAdam();
}
