/**
 * Data-parallel training (src/ml/parallel/): the shards' gradients against the
 * full batch's, pooled batch-norm moments against the closed form,
 * reproducibility for a thread count, closeness to one thread, clean-up of the
 * worker threads, and the stage's `threads:` in the key, the cores and the
 * errors. The worker threads run the compiled worker (dist/): `npm run build` first.
 */
import { readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { Autoencoder, withArchDefaults, type AutoencoderConfig } from '../../src/ml/autoencoder.js';
import { getTf } from '../../src/ml/engine.js';
import { GradientSteps } from '../../src/ml/gradient-step.js';
import { addRowNoise } from '../../src/ml/metrics.js';
import { createAdam } from '../../src/ml/optimizer.js';
import { ownership, paramLayout, poolMoments, shardGradient, shardLoss, shardRanges, tensorsOf } from '../../src/ml/parallel/shard.js';
import type { NoiseSetup } from '../../src/ml/parallel/protocol.js';
import { TrainingTeam } from '../../src/ml/parallel/team.js';
import { autoThreads, minRowsPerThread, resolveThreads } from '../../src/ml/parallel/threads.js';
import { trainAutoencoder, type TrainOptions } from '../../src/ml/train.js';
import { CoreSlots } from '../../src/runner/core-slots.js';
import { PipelineError } from '../../src/runner/errors.js';
import { parsePipeline } from '../../src/runner/pipeline.js';
import { planPipeline } from '../../src/runner/plan.js';
import { stageJob } from '../../src/runner/stage-job.js';
import { loadRegistry } from '../../src/runner/registry.js';

/** Smooth positive rows with a per-row phase, so batches differ. */
function rows(n: number, d: number): Float32Array {
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) x[i * d + j] = 1 + Math.sin(j * 0.2 + i * 0.7) + 0.3 * Math.cos(j * 0.05 * (1 + (i % 5)));
  return x;
}

function config(arch: 'dense' | 'conv1d', d: number): AutoencoderConfig {
  return withArchDefaults({
    format: 'specflow-model', version: 1, arch, inputDim: d, latentDim: 3, loss: 'mse',
    scaling: { center: new Array<number>(d).fill(1), scale: 1 },
    ...(arch === 'dense' ? { dense: { hidden: [12], activation: 'relu' } } : { conv1d: { filters: [4, 6], kernels: [5, 3], norm: 'batch', leak: 0.2, hidden: [] } }),
  });
}

const threadsNow = (): number => readdirSync('/proc/self/task').length;

describe('shards of a batch', () => {
  it('are contiguous, cover the batch once, differ in size by at most one, and drop empty ones', () => {
    expect(shardRanges(10, 3)).toEqual([{ start: 0, count: 4 }, { start: 4, count: 3 }, { start: 7, count: 3 }]);
    expect(shardRanges(256, 2)).toEqual([{ start: 0, count: 128 }, { start: 128, count: 128 }]);
    expect(shardRanges(2, 4)).toEqual([{ start: 0, count: 1 }, { start: 1, count: 1 }]);
  });

  it('have gradients summing to the full batch gradient (tfjs autodiff of the whole batch\'s loss)', async () => {
    const { tf } = await getTf();
    const d = 16;
    const b = 10;
    const model = new Autoencoder(tf, config('dense', d), 5);
    const x = rows(b, d);
    const y = rows(b + 3, d).subarray(3 * d); // a target other than the input
    const vars = model.store.trainable();
    const full = tf.variableGrads(() => model.lossT(tf.tensor2d(x, [b, d]), tf.tensor2d(y, [b, d]), { training: true }) as import('@tensorflow/tfjs').Scalar, vars);
    const fullLoss = full.value.dataSync()[0]!;
    const sums = vars.map((v) => new Float64Array(v.size));
    let loss = 0;
    const steps = new GradientSteps(tf, model);
    for (const { start, count } of shardRanges(b, 3)) {
      const r = shardGradient(tf, steps, x.subarray(start * d), y.subarray(start * d), count, b);
      loss += r.loss;
      r.grads.forEach((g, i) => { g.dataSync().forEach((v, j) => { sums[i]![j]! += v; }); g.dispose(); });
    }
    steps.dispose();
    expect(loss).toBeCloseTo(fullLoss, 5);
    let worst = 0;
    vars.forEach((v, i) => {
      const want = full.grads[v.name]!.dataSync();
      let scale = 0;
      want.forEach((w) => { scale = Math.max(scale, Math.abs(w)); });
      want.forEach((w, j) => { worst = Math.max(worst, Math.abs(sums[i]![j]! - w) / scale); });
    });
    expect(worst).toBeLessThan(1e-5);
    full.value.dispose();
    Object.values(full.grads).forEach((g) => g.dispose());
    model.dispose();
  });

  it('pool batch-norm moments to the whole batch\'s (mean and biased variance of the concatenation)', async () => {
    const { tf } = await getTf();
    const model = new Autoencoder(tf, config('conv1d', 16), 1);
    const layout = paramLayout(model);
    model.dispose();
    expect(layout.norms.map((n) => n.channels)).toEqual([4, 6, 4, 4]);
    // per shard and channel: values; shard sizes 3, 1, 2
    const shards = [[1, 2, 6], [10], [-4, 0.5]];
    const moments = shards.map((vals) => {
      const m = new Float32Array(layout.normFloats);
      const mean = vals.reduce((a, v) => a + v, 0) / vals.length;
      const variance = vals.reduce((a, v) => a + (v - mean) ** 2, 0) / vals.length;
      for (const n of layout.norms) for (let c = 0; c < n.channels; c++) { m[n.offset + c] = mean + c; m[n.offset + n.channels + c] = variance; }
      return { count: vals.length, moments: m };
    });
    const pooled = poolMoments(layout, moments);
    const all = shards.flat();
    const mean = all.reduce((a, v) => a + v, 0) / all.length; // 15.5 / 6
    const variance = all.reduce((a, v) => a + (v - mean) ** 2, 0) / all.length;
    for (const n of layout.norms) {
      for (let c = 0; c < n.channels; c++) {
        expect(pooled[n.offset + c]).toBeCloseTo(mean + c, 5);
        expect(pooled[n.offset + n.channels + c]).toBeCloseTo(variance, 4);
      }
    }
  });
});

describe('owners of the trainable tensors', () => {
  const layoutOf = (sizes: number[]) => ({
    params: sizes.map((size, i) => ({ name: `t${i}`, shape: [size], offset: 0, size })), paramFloats: 0, norms: [], normFloats: 0,
  });

  it('go largest first to the thread owning the fewest floats so far, lowest-numbered on ties', () => {
    // sizes 5, 1, 7, 3, 3 on 2 threads, largest first: 7 → 0 (loads 7, 0); 5 → 1 (7, 5); 3 (index 3) → 1 (7, 8);
    // 3 (index 4) → 0 (10, 8); 1 → 1 (10, 9)
    expect(ownership(layoutOf([5, 1, 7, 3, 3]), 2)).toEqual([1, 1, 0, 1, 0]);
    expect(tensorsOf([1, 1, 0, 1, 0], 0)).toEqual([2, 4]);
    expect(tensorsOf([1, 1, 0, 1, 0], 0, false)).toEqual([0, 1, 3]);
    // more threads than tensors: some own none
    expect(ownership(layoutOf([4, 2]), 3)).toEqual([0, 1]);
  });

  it('split the default dense network about evenly between two threads', async () => {
    const { tf } = await getTf();
    const model = new Autoencoder(tf, withArchDefaults({
      format: 'specflow-model', version: 1, arch: 'dense', inputDim: 1024, latentDim: 8, loss: 'mse', scaling: { center: new Array<number>(1024).fill(0), scale: 1 },
    }), 1);
    const layout = paramLayout(model);
    model.dispose();
    const owners = ownership(layout, 2);
    const floats = [0, 1].map((t) => tensorsOf(owners, t).reduce((a, i) => a + layout.params[i]!.size, 0));
    expect(floats[0]! + floats[1]!).toBe(559752);
    expect(Math.abs(floats[0]! - floats[1]!) / 559752).toBeLessThan(0.01);
  });
});

describe('training on several threads', () => {
  const base = (arch: 'dense' | 'conv1d', threads: number): TrainOptions => ({
    arch, latentDim: 3, epochs: 3, batchSize: 40, seed: 11, threads, validation: 0.1,
    ...(arch === 'dense' ? { dense: { hidden: [12] } } : { conv1d: { filters: [4, 6], kernels: [5, 3] } }),
  });
  const train = async (arch: 'dense' | 'conv1d', threads: number, extra: Partial<TrainOptions> = {}) => {
    const n = 130;
    const d = 32;
    const r = await trainAutoencoder({ n, d, x: rows(n, d) }, { ...base(arch, threads), ...extra });
    const weights = r.model.store.snapshot();
    r.model.dispose();
    return { weights, history: r.history, config: r.model.config };
  };
  const same = (a: Map<string, Float32Array>, b: Map<string, Float32Array>): boolean =>
    [...a].every(([k, v]) => Buffer.from(v.buffer, v.byteOffset, v.byteLength).equals(Buffer.from(b.get(k)!.buffer, b.get(k)!.byteOffset, b.get(k)!.byteLength)));

  /** Steps a team of `threads` over a fresh dense model (`seed`) with `steps`, checks the replicas and closes it: the trained weights and the losses. */
  const onTeam = async (
    seed: number, team: { d: number; threads: number; maxBatch: number; noise?: NoiseSetup }, steps: (t: TrainingTeam) => Promise<number[]>,
  ): Promise<{ weights: Map<string, Float32Array>; losses: number[] }> => {
    const { tf, backend } = await getTf();
    const model = new Autoencoder(tf, config('dense', team.d), seed);
    const optimizer = createAdam(tf, 1e-2);
    const t = await TrainingTeam.start({
      tf, backend, model, optimizer, learningRate: 1e-2, threads: team.threads, maxBatch: team.maxBatch, ...(team.noise ? { noise: team.noise } : {}),
    });
    let losses: number[];
    try {
      losses = await steps(t);
      await t.checkReplicas();
    } finally {
      await t.close();
    }
    const weights = model.store.snapshot();
    optimizer.dispose();
    model.dispose();
    return { weights, losses };
  };

  it('gives bitwise identical weights for the same seed and thread count, close to but not the same as one thread (dense)', async () => {
    const one = await train('dense', 1);
    const a = await train('dense', 2);
    const b = await train('dense', 2);
    expect(same(a.weights, b.weights)).toBe(true);
    expect(a.history).toEqual(b.history);
    expect(same(a.weights, one.weights)).toBe(false);
    // without batch norm only the order of the sums differs: the losses agree to rounding
    const last = a.history.length - 1;
    expect(Math.abs(a.history[last]!.loss - one.history[last]!.loss) / one.history[last]!.loss).toBeLessThan(1e-3);
    expect(a.config.training?.threads).toBe(2);
    expect(one.config.training?.threads).toBeUndefined();
  });

  it('denoising: reproducible for a thread count, and trained on one thread\'s noise (the losses agree to rounding)', async () => {
    const denoise = { denoise: { noise: 'poisson' as const, level: 5 } };
    const one = await train('dense', 1, denoise);
    const a = await train('dense', 2, denoise);
    const b = await train('dense', 2, denoise);
    expect(same(a.weights, b.weights)).toBe(true);
    expect(a.history).toEqual(b.history);
    // another noise draw would move the first epoch's loss by far more than summing in another order
    const clean = await train('dense', 1);
    for (const e of [0, a.history.length - 1]) {
      expect(Math.abs(a.history[e]!.loss - one.history[e]!.loss) / one.history[e]!.loss).toBeLessThan(1e-3);
    }
    expect(Math.abs(clean.history[0]!.loss - one.history[0]!.loss) / one.history[0]!.loss).toBeGreaterThan(1e-2);
  });

  it('with batch norm and uneven shards: reproducible running moments, and close to one thread (conv1d, 3 threads)', async () => {
    const one = await train('conv1d', 1);
    const a = await train('conv1d', 3);
    const b = await train('conv1d', 3);
    expect(same(a.weights, b.weights)).toBe(true);
    expect(a.weights.get('enc.conv0.bn.mean')).toEqual(b.weights.get('enc.conv0.bn.mean'));
    expect(same(a.weights, one.weights)).toBe(false);
    // each shard normalises with its own moments (13–14 rows instead of 40): close, not equal
    const last = a.history.length - 1;
    expect(Math.abs(a.history[last]!.loss - one.history[last]!.loss) / one.history[last]!.loss).toBeLessThan(0.25);
    expect(a.history[last]!.loss).toBeLessThan(a.history[0]!.loss);
  });

  it('steps exactly as one thread summing every shard\'s gradient in shard order in float32 and stepping Adam on all tensors (3 threads, bitwise)', async () => {
    const { tf } = await getTf();
    const d = 32;
    const b = 10; // shards of 4, 3 and 3 rows
    const cfg = config('dense', d);
    const batches = [rows(b, d), rows(b + 4, d).subarray(4 * d), rows(b + 9, d).subarray(9 * d)];
    const { weights: trained, losses } = await onTeam(9, { d, threads: 3, maxBatch: b }, async (team) => {
      const out: number[] = [];
      for (const x of batches) out.push(await team.step({ x, y: x, b }));
      return out;
    });

    // the reference: this thread alone, every shard in turn, one Adam over every tensor
    const ref = new Autoencoder(tf, cfg, 9);
    const initial = ref.store.snapshot();
    const refAdam = createAdam(tf, 1e-2);
    const refSteps = new GradientSteps(tf, ref);
    const vars = ref.store.trainable();
    for (const [k, x] of batches.entries()) {
      const sums = vars.map((v) => new Float32Array(v.size)); // each += rounds to float32, shard after shard
      let loss = 0;
      for (const { start, count } of shardRanges(b, 3)) {
        const xs = x.subarray(start * d);
        const r = shardGradient(tf, refSteps, xs, xs, count, b);
        loss += r.loss;
        r.grads.forEach((g, i) => {
          const values = g.dataSync();
          const sum = sums[i]!;
          for (let j = 0; j < sum.length; j++) sum[j] = sum[j]! + values[j]!;
          g.dispose();
        });
      }
      expect(losses[k]).toBe(loss);
      const named = Object.fromEntries(vars.map((v, i) => [v.name, tf.tensor(sums[i]!, v.shape)]));
      refAdam.applyGradients(named);
      Object.values(named).forEach((t) => t.dispose());
    }
    const expected = ref.store.snapshot();
    refSteps.dispose();
    refAdam.dispose();
    ref.dispose();
    expect(same(trained, expected)).toBe(true);
    expect(same(trained, initial)).toBe(false);
  });

  it('hands the next batch to the workers at the end of a step: the same bits as stepping one batch after the other', async () => {
    const d = 32;
    const b = 9;
    const batches = [rows(b, d), rows(b + 3, d).subarray(3 * d), rows(b + 7, d).subarray(7 * d)].map((x) => ({ x, y: x, b }));
    const run = (handOver: boolean) => onTeam(2, { d, threads: 2, maxBatch: b }, async (team) => {
      const losses: number[] = [];
      for (const [k, batch] of batches.entries()) {
        losses.push(await team.step(batch, handOver ? () => batches[k + 1] : undefined));
        if (handOver && k === 0) {
          // the workers are on batch 1 already: nothing else may come first
          await expect(team.checkReplicas()).rejects.toThrow(/handed over/);
          await expect(team.lossSum(batch.x, batch.x, b)).rejects.toThrow(/handed over/);
          await expect(team.step(batches[2]!)).rejects.toThrow(/another batch/);
        }
      }
      return losses;
    });
    const inTurn = await run(false);
    const handed = await run(true);
    expect(handed.losses).toEqual(inTurn.losses);
    expect(same(handed.weights, inTurn.weights)).toBe(true);
  });

  it('evaluates a chunk\'s rows shard by shard in the threads, the workers with this thread\'s batch-norm running statistics (bitwise, 3 threads)', async () => {
    const { tf, backend } = await getTf();
    const d = 32;
    const model = new Autoencoder(tf, config('conv1d', d), 5);
    const layout = paramLayout(model);
    expect(layout.norms.length).toBeGreaterThan(0);
    const setNorms = (shift: number): void => {
      for (const n of layout.norms) {
        model.store.get(`${n.name}.mean`).assign(tf.tensor1d(Array.from({ length: n.channels }, (_, c) => shift + 0.05 * c)));
        model.store.get(`${n.name}.var`).assign(tf.tensor1d(Array.from({ length: n.channels }, (_, c) => 1 + shift + 0.1 * c)));
      }
    };
    const optimizer = createAdam(tf, 1e-2);
    const team = await TrainingTeam.start({ tf, backend, model, optimizer, learningRate: 1e-2, threads: 3, maxBatch: 10 });
    const b = 11; // shards of 4, 4 and 3 rows
    const y = rows(b, d);
    const x = y.map((v, i) => v + 0.01 * Math.sin(i));
    /** This thread alone: each shard's mean loss × its rows, added in shard order. */
    const reference = (input: Float32Array): number => shardRanges(b, 3).reduce((total, { start, count }) => {
      const xs = input.subarray(start * d, (start + count) * d);
      return total + shardLoss(tf, model, xs, input === y ? xs : y.subarray(start * d, (start + count) * d), count) * count;
    }, 0);
    try {
      await team.step({ x: y, y, b: 10 }); // the workers' weights move with the training's; their running statistics do not
      setNorms(0.3);
      const target = await team.lossSum(y, y, b);
      expect(target).toBe(reference(y));
      const noisy = await team.lossSum(x, y, b);
      expect(noisy).toBe(reference(x));
      expect(noisy).not.toBe(target);
      // the whole chunk at once on one thread: the same loss up to the rounding of the means
      const whole = tf.tidy(() => model.lossT(tf.tensor2d(x, [b, d]), tf.tensor2d(y, [b, d]), { training: false }).dataSync()[0]!) * b;
      expect(Math.abs(noisy - whole) / whole).toBeLessThan(1e-5);
      // the running statistics go with every chunk
      setNorms(-0.2);
      const moved = await team.lossSum(y, y, b);
      expect(moved).not.toBe(target);
      expect(moved).toBe(reference(y));
      await team.checkReplicas();
    } finally {
      await team.close();
      optimizer.dispose();
      model.dispose();
    }
  });

  it('draws a denoising batch\'s noise shard by shard in the threads, the draws one thread makes (bitwise, 3 threads)', async () => {
    const d = 32;
    const b = 10; // shards of 4, 3 and 3 rows
    const noise = { spec: { noise: 'poisson' as const, level: 20 }, stats: { sd: 0.5, mean: 1.2 } };
    const ys = [rows(b, d), rows(b + 4, d).subarray(4 * d)];
    const seeds = ys.map((_, k) => Uint32Array.from({ length: b }, (_, i) => 1000 * k + 17 * i + 3));
    const run = (given: 'seeds' | 'noisy') => onTeam(4, { d, threads: 3, maxBatch: b, noise }, async (team) => {
      const losses: number[] = [];
      for (const [k, y] of ys.entries()) {
        if (given === 'seeds') {
          losses.push(await team.step({ y, seeds: seeds[k]!, b }));
        } else {
          // the whole batch's noise drawn here, as one thread draws it
          const x = new Float32Array(b * d);
          addRowNoise(y, d, seeds[k]!, noise.spec, noise.stats, x);
          expect(x).not.toEqual(y);
          losses.push(await team.step({ x, y, b }));
        }
      }
      return losses;
    });
    const inThreads = await run('seeds');
    const here = await run('noisy');
    expect(inThreads.losses).toEqual(here.losses);
    expect(same(inThreads.weights, here.weights)).toBe(true);
  });

  describe('worker threads', () => {
    let before = 0;
    afterEach(async () => {
      // terminated threads leave /proc a moment after terminate() resolves
      for (let i = 0; i < 50 && threadsNow() > before; i++) await new Promise((r) => setTimeout(r, 20));
      expect(threadsNow()).toBe(before);
    });

    it('are gone after a run, after an aborted run and after a worker died mid-training', async () => {
      await train('dense', 2); // the first start creates the process's lasting helper threads
      before = threadsNow();
      await train('dense', 2);

      const controller = new AbortController();
      const n = 400;
      const aborted = trainAutoencoder({ n, d: 32, x: rows(n, 32) }, {
        ...base('dense', 2), epochs: 50, signal: controller.signal, onEpoch: (e) => { if (e.epoch === 1) controller.abort(new Error('stopped by the test')); },
      });
      await expect(aborted).rejects.toThrow(/stopped by the test/);

      const { tf, backend } = await getTf();
      const model = new Autoencoder(tf, config('dense', 32), 2);
      const optimizer = createAdam(tf, 1e-3);
      const x = rows(8, 32);
      // every copy of the weights is checked against the shared weights, the training thread's and each worker's
      const checked = await TrainingTeam.start({ tf, backend, model, optimizer, learningRate: 1e-3, threads: 2, maxBatch: 8 });
      expect(Number.isFinite(await checked.step({ x, y: x, b: 8 }))).toBe(true);
      await checked.checkReplicas();
      const w = model.store.get('dec.out.b');
      const kept = tf.keep(w.clone());
      w.assign(tf.add(w, 1e-7));
      await expect(checked.checkReplicas()).rejects.toThrow(/the training thread's copy of the weights differs from the shared weights/);
      w.assign(kept);
      kept.dispose();
      await checked.checkReplicas();
      (checked as unknown as { weights: Float32Array }).weights[0]! += 1e-3;
      await expect(checked.checkReplicas()).rejects.toThrow(/training thread 1: its copy of the weights differs from the shared weights/);
      await checked.close();

      const team = await TrainingTeam.start({ tf, backend, model, optimizer, learningRate: 1e-3, threads: 2, maxBatch: 8 });
      expect(Number.isFinite(await team.step({ x, y: x, b: 8 }))).toBe(true);
      await (team as unknown as { members: { worker: import('node:worker_threads').Worker }[] }).members[0]!.worker.terminate();
      await expect(team.step({ x, y: x, b: 8 })).rejects.toThrow(/training thread 1 stopped/);
      await team.close();
      optimizer.dispose();
      model.dispose();
    });

    it('that cannot start fail the training with the reason, and leave nothing behind', async () => {
      before = threadsNow();
      const { tf, backend } = await getTf();
      const model = new Autoencoder(tf, config('dense', 32), 2);
      const optimizer = createAdam(tf, 1e-3);
      // a worker building another network than this thread's is refused
      (model.config.dense as { hidden: number[] }).hidden = [13];
      await expect(TrainingTeam.start({ tf, backend, model, optimizer, learningRate: 1e-3, threads: 2, maxBatch: 8 })).rejects.toThrow(/training thread 1: .*layout/);
      optimizer.dispose();
      model.dispose();
    });
  });
});

describe('threads: of train.autoencoder', () => {
  const text = (threads: string, batch = 256) => `name: t
stages:
  data:
    type: synthetic.eels
    with: { phases: 2, per_phase: 10, channels: 64 }
  ae:
    type: train.autoencoder
    in: data
    with: { arch: dense, epochs: 1, batch_size: ${batch}, threads: ${threads} }
`;
  const plan = async (threads: string, batch = 256) => {
    const p = parsePipeline(text(threads, batch), 'p.yaml', { registry: await loadRegistry() });
    const planned = await planPipeline(p, { engine: () => ({ backend: 'test' }) });
    return { planned, task: planned.tasks.find((t) => t.stage.id === 'ae')! };
  };
  const saved = process.env.SPECFLOW_THREADS;
  afterEach(() => {
    if (saved === undefined) delete process.env.SPECFLOW_THREADS;
    else process.env.SPECFLOW_THREADS = saved;
  });

  it('enters the key as the count that will run; auto is settled when planning (SPECFLOW_THREADS, else the machine)', async () => {
    delete process.env.SPECFLOW_THREADS;
    const one = await plan('1');
    const two = await plan('2');
    expect(one.task.key).not.toBe(two.task.key);
    expect(two.task.material.params.threads).toBe(2);
    process.env.SPECFLOW_THREADS = '2';
    const auto = await plan('auto');
    expect(auto.task.material.params.threads).toBe(2);
    expect(auto.task.key).toBe(two.task.key);
    // what the stage receives is the settled count, and a batch job asks for that many CPUs
    const job = stageJob(auto.task, auto.planned, false, 'ae');
    expect(job.params.threads).toBe(2);
    expect(job.resources.cpus).toBe(2);
    expect(stageJob(one.task, one.planned, false, 'ae').resources.cpus).toBe(1);
    delete process.env.SPECFLOW_THREADS;
    expect((await plan('auto', 64)).task.material.params.threads).toBe(1); // 64 rows: too few to share
    expect((await plan('auto', 128)).task.material.params.threads).toBe(1); // dense: 64 rows a thread gain little
  });

  it('auto uses the cores when each gets enough rows, never tfjs-node', () => {
    expect(autoThreads(256, 2)).toBe(2);
    expect(autoThreads(100, 2)).toBe(1);
    expect(autoThreads(1024, 16)).toBe(4);
    // a dense network shares a batch only from 128 rows a thread, a Transformer from 64, a Conv-1D from 32
    expect(autoThreads(255, 2, minRowsPerThread('dense'))).toBe(1);
    expect(autoThreads(256, 2, minRowsPerThread('dense'))).toBe(2);
    expect(autoThreads(31, 2, minRowsPerThread('transformer'))).toBe(1);
    expect(autoThreads(32, 2, minRowsPerThread('transformer'))).toBe(2);
    expect(autoThreads(63, 2, minRowsPerThread('conv1d'))).toBe(1);
    expect(autoThreads(64, 2, minRowsPerThread('conv1d'))).toBe(2);
    expect(resolveThreads('auto', 128, { SPECFLOW_BACKEND: 'wasm' }, 2, minRowsPerThread('dense'))).toBe(1);
    expect(resolveThreads('auto', 256, { SPECFLOW_BACKEND: 'node' }, 2)).toBe(1);
    expect(resolveThreads(3, 256, { SPECFLOW_BACKEND: 'node' }, 2)).toBe(1);
    expect(resolveThreads(3, 8, { SPECFLOW_BACKEND: 'wasm' }, 2)).toBe(3);
    expect(resolveThreads('auto', 8, { SPECFLOW_BACKEND: 'wasm', SPECFLOW_THREADS: '3' }, 2)).toBe(3);
  });

  it('refuses 0, words and fractions at their place, and a bad SPECFLOW_THREADS in one line', async () => {
    const registry = await loadRegistry();
    for (const bad of ['0', 'many', '1.5', '-2', '1000']) {
      let error: unknown;
      try {
        parsePipeline(text(bad), 'p.yaml', { registry });
      } catch (e) {
        error = e;
      }
      expect(error, bad).toBeInstanceOf(PipelineError);
      const message = (error as Error).message;
      expect(message, bad).toMatch(/^p\.yaml:9:\d+: .*threads/);
      expect(message, bad).not.toContain('\n');
      if (bad !== 'many') expect(message).toContain(`has an invalid value ${bad}: must be "auto" or a whole number from 1 to 64`);
      else expect(message).toContain('has an unknown value "many": must be one of "auto"');
    }
    process.env.SPECFLOW_THREADS = 'lots';
    await expect(plan('auto')).rejects.toThrow(/^p\.yaml: stage "ae": SPECFLOW_THREADS=lots: use auto or a whole number of threads from 1 to 64$/);
  });
});

describe('core slots of the local executor', () => {
  it('charge a stage its cores, first come first served', async () => {
    const slots = new CoreSlots(2);
    const order: string[] = [];
    const wide = await slots.acquire(2);
    const narrow = slots.acquire(1).then((r) => { order.push('narrow'); return r; });
    const wide2 = slots.acquire(5).then((r) => { order.push('wide2'); return r; }); // wider than --jobs: takes all
    const narrow2 = slots.acquire(1).then((r) => { order.push('narrow2'); return r; });
    await new Promise((r) => setTimeout(r, 10));
    expect(order).toEqual([]);
    wide();
    const n1 = await narrow;
    await new Promise((r) => setTimeout(r, 10));
    expect(order).toEqual(['narrow']); // wide2 waits for both slots; narrow2 may not overtake it
    n1();
    (await wide2)();
    (await narrow2)();
    expect(order).toEqual(['narrow', 'wide2', 'narrow2']);
    const controller = new AbortController();
    const hold = await slots.acquire(2);
    const waiting = slots.acquire(1, controller.signal);
    controller.abort(new Error('ctrl-c'));
    await expect(waiting).rejects.toThrow('ctrl-c');
    hold();
    (await slots.acquire(2))();
  });
});
