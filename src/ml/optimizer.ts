/**
 * The optimizer every specflow model trains with: Adam, as tf.train.adam
 * defines it. On the wasm backend with specflow's kernels each variable is
 * updated by one SpecflowAdam kernel (./kernels/adam.ts) instead of ~16
 * elementwise ops, which took a third of a dense autoencoder's training step.
 * Elsewhere (cpu, tfjs-node, stock wasm) it is tf.train.adam itself.
 *
 * The fused optimizer is a tf.Optimizer, so model.fit takes it too. It
 * overwrites a variable and its moments in place (not three new tensors a
 * variable a step) wherever the variable's memory is its own, and takes a
 * gradient as two parts it adds in the same pass (applySummedGradients: a
 * data-parallel owner thread's two shards, ./parallel/shard.ts) — the bits of
 * adding them first. Dense batch 256, process CPU per call alternated in one
 * process with the build before (`node bench/adam-shards-ab.mjs dense 40`):
 * Adam on every tensor 1.02 → 0.58 ms, a thread's share on two threads summed
 * and stepped 0.94 → 0.43 ms.
 */
import type { NamedTensorMap, Optimizer, Tensor, Variable } from '@tensorflow/tfjs';
import type { TF } from './engine.js';
import { ADAM_KERNEL, adamInPlace, type AdamAttrs } from './kernels/adam.js';
import type { BackendWasm } from './kernels/common.js';
import { ownedHeapView } from './kernels/in-place.js';

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

/**
 * A variable's gradient as one part, or as two added (in this order, in float32) by the update itself.
 * A part given as values (a data-parallel shard's, in shared memory) is copied into a tensor the
 * optimizer keeps for it, not into a new one each step.
 */
export interface SummedGradient {
  name: string;
  parts: [GradientPart] | [GradientPart, GradientPart];
}

export type GradientPart = Tensor | Float32Array;

/** An optimizer that also takes gradients as sums of two parts (the fused Adam). */
export interface SummingOptimizer extends Optimizer {
  applySummedGradients(gradients: SummedGradient[]): void;
}

export function sumsGradients(optimizer: Optimizer): optimizer is SummingOptimizer {
  return typeof (optimizer as Partial<SummingOptimizer>).applySummedGradients === 'function';
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
    /** Tensors the gradient parts given as values are copied into, by part and variable. */
    private readonly inbox = new Map<string, Tensor>();
    private step = 0;

    override applyGradients(variableGradients: NamedTensorMap | NamedTensor[]): void {
      const named = Array.isArray(variableGradients)
        ? variableGradients
        : Object.keys(variableGradients).map((name) => ({ name, tensor: variableGradients[name]! }));
      this.applySummedGradients(named.map(({ name, tensor }) => ({ name, parts: [tensor] })));
    }

    applySummedGradients(gradients: SummedGradient[]): void {
      this.step++;
      // Bias corrections folded into the step size and epsilon (tf.train.adam's
      // update, rearranged): x −= lr·√(1−β2ᵗ)/(1−β1ᵗ) · m / (√v + ε·√(1−β2ᵗ)).
      const c2 = Math.sqrt(1 - beta2 ** this.step);
      const attrs = { lrT: (learningRate * c2) / (1 - beta1 ** this.step), beta1, beta2, epsT: epsilon * c2 };
      for (const { name, parts } of gradients) this.update(name, parts, attrs);
      this.incrementIterations();
    }

    private update(name: string, parts: SummedGradient['parts'], attrs: AdamAttrs): void {
      const variable = tf.engine().registeredVariables[name] as Variable | undefined;
      if (!variable) throw new Error(`Adam: no variable named ${name}`);
      let slot = this.moments.get(name);
      if (!slot) {
        slot = { m: tf.keep(tf.zerosLike(variable)), v: tf.keep(tf.zerosLike(variable)) };
        this.moments.set(name, slot);
      }
      const backend = tf.backend() as unknown as BackendWasm;
      const wasm = tf.getBackend() === 'wasm';
      const temporary: Tensor[] = [];
      // by index, not parts.map and destructuring: part lists of one and two, of tensors and arrays,
      // gave the mapped arrays several V8 maps, and each new one threw this method's optimised code away
      const g0 = this.partTensor(name, 0, variable, parts[0], wasm ? backend : undefined, temporary);
      const g1 = parts.length === 2 ? this.partTensor(name, 1, variable, parts[1], wasm ? backend : undefined, temporary) : undefined;
      // In place where the variable's memory is its own (not shared with the tensor it was made from, a
      // clone…): no three new tensors a step, and each value rewritten where it was just read.
      if (wasm && ownedHeapView(backend, variable)) {
        adamInPlace(backend, variable, slot.m, slot.v, g0, g1, attrs);
        for (const t of temporary) t.dispose();
        return;
      }
      const grad = g1 ? tf.add(g0, g1) : g0;
      const [x, m, v] = tf.engine().runKernel(ADAM_KERNEL, { x: variable, g: grad, m: slot.m, v: slot.v }, { ...attrs }) as Tensor[];
      if (grad !== g0) grad.dispose();
      for (const t of temporary) t.dispose();
      variable.assign(x!);
      x!.dispose();
      slot.m.dispose();
      slot.v.dispose();
      this.moments.set(name, { m: tf.keep(m!), v: tf.keep(v!) });
    }

    /** A gradient part as a tensor: values go into the tensor kept for this variable's part k (wasm), or a temporary one. */
    private partTensor(name: string, k: number, variable: Variable, part: GradientPart, wasm: BackendWasm | undefined, temporary: Tensor[]): Tensor {
      if (!(part instanceof Float32Array)) return part;
      if (part.length !== variable.size) throw new Error(`Adam: a gradient of ${part.length} values for ${name} of ${variable.size}`);
      if (!wasm) {
        const t = tf.tensor(part.slice(), variable.shape, 'float32');
        temporary.push(t);
        return t;
      }
      const key = `${k}:${name}`;
      let t = this.inbox.get(key);
      if (!t) {
        t = tf.keep(tf.zerosLike(variable));
        this.inbox.set(key, t);
      }
      (wasm.typedArrayFromHeap(t) as Float32Array).set(part);
      return t;
    }

    override dispose(): void {
      super.dispose();
      for (const { m, v } of this.moments.values()) {
        m.dispose();
        v.dispose();
      }
      this.moments.clear();
      for (const t of this.inbox.values()) t.dispose();
      this.inbox.clear();
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
