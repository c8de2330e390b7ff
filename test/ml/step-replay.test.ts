/**
 * Replayed training steps (src/ml/step-replay.ts, src/ml/gradient-step.ts): the same bits as the
 * engine's steps, no tensor or wasm data left behind, and the engine's path wherever a step is not a
 * function of its input shapes.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Tensor } from '@tensorflow/tfjs';
import { Autoencoder, withArchDefaults, type AeArch, type AutoencoderConfig } from '../../src/ml/autoencoder.js';
import { getTf } from '../../src/ml/engine.js';
import { GradientSteps } from '../../src/ml/gradient-step.js';
import { updateBatchNorm } from '../../src/ml/nn.js';
import { createAdam } from '../../src/ml/optimizer.js';
import { StepReplay } from '../../src/ml/step-replay.js';
import { trainAutoencoder, type TrainOptions } from '../../src/ml/train.js';

const SMALL: Record<'dense' | 'conv1d' | 'transformer', Partial<TrainOptions>> = {
  dense: { dense: { hidden: [16, 8] } },
  conv1d: { conv1d: { filters: [4, 8, 8], kernels: [5, 5, 3] } },
  transformer: { transformer: { patch: 8, d_model: 8, heads: 2, layers: 1, mlp: 16 } },
};

function rows(n: number, d: number, seed: number): Float32Array {
  const x = new Float32Array(n * d);
  let s = seed;
  for (let i = 0; i < x.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    x[i] = (4 * s) / 2 ** 32 + Math.sin(i % d);
  }
  return x;
}

function config(arch: AeArch, d: number): AutoencoderConfig {
  return withArchDefaults({
    format: 'specflow-model', version: 1, arch, inputDim: d, latentDim: 3, loss: 'mse',
    scaling: { center: new Array<number>(d).fill(2), scale: 2 }, ...(SMALL[arch as keyof typeof SMALL] as Partial<AutoencoderConfig>),
  });
}

/** Steps replayed on this thread while `f` runs. */
async function countingReplays<T>(f: () => Promise<T>): Promise<{ result: T; replayed: number }> {
  let replayed = 0;
  const run = StepReplay.prototype.run;
  const spy = vi.spyOn(StepReplay.prototype, 'run').mockImplementation(function (this: StepReplay, ...args) {
    const before = this.replays;
    const out = run.apply(this, args);
    replayed += this.replays - before;
    return out;
  });
  try {
    return { result: await f(), replayed };
  } finally {
    spy.mockRestore();
  }
}

const envBefore = process.env.SPECFLOW_STEP_REPLAY;
afterEach(() => {
  if (envBefore === undefined) delete process.env.SPECFLOW_STEP_REPLAY;
  else process.env.SPECFLOW_STEP_REPLAY = envBefore;
});

describe('replayed training steps', () => {
  it.each(['dense', 'conv1d', 'transformer'] as const)(
    'train %s to the same bits as the engine, on 1 and 2 threads, with a partial last batch and denoising noise',
    async (arch) => {
      await getTf();
      const n = 150;
      const d = 32;
      const x = rows(n, d, 11);
      const weightsWith = async (replay: '0' | '1', threads: number) => {
        process.env.SPECFLOW_STEP_REPLAY = replay; // workers inherit it
        const { result, replayed } = await countingReplays(() => trainAutoencoder({ n, d, x }, {
          arch, latentDim: 3, epochs: 3, batchSize: 20, validation: 0.1, seed: 5, threads,
          denoise: { noise: 'gaussian', level: 0.1 }, ...SMALL[arch],
        }));
        const weights = [...result.model.store.vars].map(([name, v]) => [name, Array.from(v.dataSync())] as const);
        result.model.dispose();
        return { weights, replayed, history: result.history };
      };
      for (const threads of [1, 2]) {
        const engine = await weightsWith('0', threads);
        const replayed = await weightsWith('1', threads);
        expect(engine.replayed).toBe(0);
        // 135 training rows in batches of 20: 6 full batches and one of 15 an epoch, 3 epochs; each shape
        // is recorded twice, then replayed (on 2 threads this thread's shards: 10 rows, then 8)
        expect(replayed.replayed).toBe(threads === 1 ? 3 * 7 - 4 : 3 * 7 - 4);
        expect(replayed.history).toEqual(engine.history);
        expect(replayed.weights).toEqual(engine.weights);
      }
    },
    60_000,
  );

  it('leave no tensor, no wasm data and no extra reference to a variable behind, over a thousand steps', async () => {
    const { tf } = await getTf();
    if (tf.getBackend() !== 'wasm') return expect.fail('these tests need the wasm backend');
    const d = 16;
    const model = new Autoencoder(tf, withArchDefaults({ ...config('conv1d', d), conv1d: { ...config('conv1d', d).conv1d!, filters: [2, 3], kernels: [3, 3], hidden: [] } }), 3);
    const optimizer = createAdam(tf, 1e-3);
    const vars = model.store.trainable();
    const steps = new GradientSteps(tf, model);
    const x = rows(40, d, 3);
    const backend = tf.backend() as unknown as { numDataIds(): number; refCount(id: object): number };
    const counts = () => ({ tensors: tf.memory().numTensors, buffers: tf.memory().numDataBuffers, bytes: tf.memory().numBytes, ids: backend.numDataIds() });
    let after10: ReturnType<typeof counts> | undefined;
    for (let s = 0; s < 1000; s++) {
      const b = s % 5 === 4 ? 7 : 8; // two shapes
      const xb = tf.tensor2d(x.subarray((s % 4) * d, ((s % 4) + b) * d), [b, d]);
      const { loss, grads, moments } = steps.compute(xb, xb);
      optimizer.applyGradients(vars.map((v, i) => ({ name: v.name, tensor: grads[i]! })));
      tf.dispose(grads);
      updateBatchNorm(tf, model.store, { training: true, bnStats: moments });
      loss.dispose();
      xb.dispose();
      // the fused Adam and the batch-norm averages overwrite a variable in place only where it is its memory's sole owner
      for (const v of model.store.vars.values()) expect(backend.refCount(v.dataId)).toBe(1);
      if (s === 9) after10 = counts();
    }
    expect(steps.replays).toBe(1000 - 4);
    expect(counts()).toEqual(after10);
    const held = tf.memory().numTensors;
    steps.dispose(); // the recordings' constants
    expect(tf.memory().numTensors).toBeLessThan(held);
    optimizer.dispose();
    model.dispose();
  });

  it('give the engine\'s outputs bit for bit, reading variables as they are at each replay', async () => {
    const { tf } = await getTf();
    const replay = new StepReplay(tf, true);
    const w = tf.variable(tf.tensor2d(rows(4, 3, 1), [4, 3]));
    const step = (x: Tensor) => () => {
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(tf.sub(tf.matMul(x, w), 0.5))) as import('@tensorflow/tfjs').Scalar, [w]);
      return [value, grads[w.name]!];
    };
    for (let s = 0; s < 6; s++) {
      const x = tf.tensor2d(rows(5, 4, s), [5, 4]);
      const want = step(x)().map((t) => t.dataSync().slice());
      const got = replay.run('k', [x], step(x));
      expect(got.map((t) => t.dataSync().slice())).toEqual(want);
      tf.dispose([x, ...got]);
      w.assign(tf.add(w, 0.25)); // new memory for the variable
    }
    expect(replay.replays).toBe(4);
    replay.dispose();
    w.dispose();
  });

  it('never call the recorded kernels on an input of another shape given under the same key', async () => {
    const { tf } = await getTf();
    const replay = new StepReplay(tf, true);
    const w = tf.tensor2d(rows(4, 3, 2), [4, 3]);
    const step = (x: Tensor) => () => [tf.matMul(x, w)];
    const replayed = [0, 0, 1, 0]; // recorded twice, replayed, then another shape: the engine's
    [5, 5, 5, 6].forEach((n, s) => {
      const x = tf.tensor2d(rows(n, 4, n), [n, 4]);
      const before = replay.replays;
      const got = replay.run('k', [x], step(x));
      const want = step(x)();
      expect(got[0]!.shape).toEqual([n, 3]);
      expect(Array.from(got[0]!.dataSync())).toEqual(Array.from(want[0]!.dataSync()));
      expect(replay.replays - before).toBe(replayed[s]);
      tf.dispose([x, ...got, ...want]);
    });
    replay.dispose();
    w.dispose();
  });

  it.each([
    ['a kernel not known to be pure', /^kernel Cumsum/, (tf: Awaited<ReturnType<typeof getTf>>['tf'], x: Tensor) => [tf.cumsum(tf.mul(x, 2))]],
    ['a data read', /data read/, (tf: Awaited<ReturnType<typeof getTf>>['tf'], x: Tensor) => [tf.mul(x, tf.sum(x).dataSync()[0]!)]],
    ['random draws uploaded', /upload of other values/, (tf: Awaited<ReturnType<typeof getTf>>['tf'], x: Tensor) => [tf.add(x, tf.randomUniform(x.shape))]],
  ])('run through the engine when the step has %s', async (_what, why, f) => {
    const { tf } = await getTf();
    const replay = new StepReplay(tf, true);
    const x = tf.tensor2d(rows(3, 4, 9), [3, 4]);
    for (let s = 0; s < 4; s++) {
      const got = replay.run('k', [x], () => f(tf, x));
      expect(got).toHaveLength(1);
      expect(got[0]!.shape).toEqual([3, 4]);
      tf.dispose(got);
    }
    expect(replay.replays).toBe(0);
    expect(replay.refusals.get('k')).toMatch(why);
    // results still the engine's: a deterministic refused step gives what the step itself gives
    const direct = f(tf, x)[0]!;
    if (!/other values/.test(String(why))) {
      const viaReplay = replay.run('k', [x], () => f(tf, x))[0]!;
      expect(Array.from(viaReplay.dataSync())).toEqual(Array.from(direct.dataSync()));
      viaReplay.dispose();
    }
    direct.dispose();
    replay.dispose();
    x.dispose();
  });

  it('hand each kernel the engine\'s own argument objects, with tensors of the engine\'s shape (V8 map) as inputs', async () => {
    // Objects of other maps than the engine's threw away the kernels' optimised code whenever the
    // engine ran a step between replays (a new batch shape), and V8 compiled them again mid-training.
    const v8 = await import('node:v8');
    v8.setFlagsFromString('--allow-natives-syntax');
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    const sameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean;
    v8.setFlagsFromString('--no-allow-natives-syntax');
    const { tf } = await getTf();
    const kernel = (tf.getKernelsForBackend('wasm') as unknown as { kernelName: string; kernelFunc: (a: never) => unknown }[])
      .find((k) => k.kernelName === 'Multiply')!;
    const original = kernel.kernelFunc;
    type Args = { inputs: Record<string, object>; attrs: object };
    const seen: Args[] = [];
    kernel.kernelFunc = (args: never) => {
      seen.push(args);
      return original(args);
    };
    const x = tf.tensor2d(rows(3, 4, 5), [3, 4]);
    const w = tf.variable(tf.tensor2d(rows(4, 4, 6), [4, 4]));
    const replay = new StepReplay(tf, true);
    try {
      const step = () => [tf.mul(tf.mul(tf.matMul(x, w), w.sum(0)), x)];
      const results: number[][] = [];
      for (let s = 0; s < 4; s++) {
        const out = replay.run('k', [x], step);
        results.push(Array.from(out[0]!.dataSync()));
        tf.dispose(out);
      }
      expect(replay.replays).toBe(2);
      expect(results[3]).toEqual(results[0]);
      // two Multiply calls a step; steps 1–2 by the engine, 3–4 replayed
      expect(seen).toHaveLength(8);
      const engine = seen[2]!;
      for (const args of seen.slice(4, 6).concat(seen.slice(6, 8))) {
        const byEngine = seen[seen.indexOf(args) % 2 + 2]!;
        expect(sameMap(args, byEngine)).toBe(true);
        expect(sameMap(args.inputs, byEngine.inputs)).toBe(true);
        for (const name of ['a', 'b']) {
          expect(args.inputs[name]).toBeInstanceOf(tf.Tensor);
          expect(sameMap(args.inputs[name]!, engine.inputs.a!)).toBe(true);
        }
      }
    } finally {
      kernel.kernelFunc = original;
      replay.dispose();
      x.dispose();
      w.dispose();
    }
  });

  it('are off with SPECFLOW_STEP_REPLAY=0', async () => {
    const { tf } = await getTf();
    process.env.SPECFLOW_STEP_REPLAY = '0';
    const replay = new StepReplay(tf);
    const x = tf.tensor1d([1, 2, 3]);
    for (let s = 0; s < 4; s++) tf.dispose(replay.run('k', [x], () => [tf.mul(x, 2)]));
    expect(replay.replays).toBe(0);
    x.dispose();
  });
});
