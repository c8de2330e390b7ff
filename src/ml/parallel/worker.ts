/**
 * A worker thread of data-parallel training: its own tfjs on the training
 * thread's engine, its own copy of the model and Adam's state for the tensors
 * it owns. Each step it computes its shard's gradient (./shard.ts), waits for
 * every other thread's, sums its own tensors' gradients in shard order, steps
 * Adam on them and publishes their values, then loads the other threads'
 * tensors once they are published (./protocol.ts); asked to, it evaluates its
 * rows of a validation chunk. It waits by watching the flag for a moment
 * (./spin.ts), then with Atomics.wait, which is fine in a thread that does
 * nothing else.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Autoencoder } from '../autoencoder.js';
import { backendLabel, initBackend, initStockWasm } from '../backend.js';
import type { Tensor } from '../engine.js';
import { GradientSteps } from '../gradient-step.js';
import { createAdam } from '../optimizer.js';
import { addRowNoise } from '../metrics.js';
import { CMD, CTRL, dataViews, FLAGS, INPUT, STOPPED, type WorkerReport, type WorkerSetup } from './protocol.js';
import {
  applyShards, loadNorms, loadWeights, paramLayout, sameWeights, saveWeights, shardGradient, shardLoss, shardRanges, tensorsOf, writeShard,
} from './shard.js';
import { spinWhile } from './spin.js';
import { tracer } from './trace.js';

const setup = workerData as WorkerSetup;
const post = (r: WorkerReport): void => parentPort!.postMessage(r);

class Stopped extends Error {}

async function main(): Promise<void> {
  const { tf, name } = setup.wasmFixes || setup.backend !== 'wasm' ? await initBackend(setup.backend) : await initStockWasm();
  const model = new Autoencoder(tf, setup.config, 0);
  const { layout, maxRows, index, threads, owners } = setup;
  if (JSON.stringify(paramLayout(model)) !== JSON.stringify(layout)) {
    throw new Error('its network has another parameter layout than the training thread\'s');
  }
  const optimizer = createAdam(tf, setup.learningRate);
  const steps = new GradientSteps(tf, model);
  const control = new Int32Array(setup.buffers.control);
  const scalars = new Float64Array(setup.buffers.scalars);
  const weights = new Float32Array(setup.buffers.weights);
  const grads = setup.buffers.grads.map((b) => new Float32Array(b));
  const flags = new Int32Array(setup.buffers.flags);
  const d = setup.config.inputDim;
  const views = dataViews(setup.buffers.data, maxRows, d, layout);
  const mine = tensorsOf(owners, index);
  const others = tensorsOf(owners, index, false);
  const mark = tracer(setup.buffers.trace, index);
  loadWeights(tf, model, layout, weights);
  post({ type: 'ready', backend: backendLabel(name) });

  /** Blocks until every thread's flag from `from` has reached step `seq`. */
  const awaitAll = (from: number, seq: number): void => {
    for (let j = from; j < from + threads; j++) {
      for (let v = Atomics.load(flags, j); v < seq; v = Atomics.load(flags, j)) {
        if (v === STOPPED) throw new Stopped();
        if (spinWhile(flags, j, v) === v) Atomics.wait(flags, j, v);
      }
    }
  };
  const signal = (flag: number, seq: number): void => {
    Atomics.store(flags, flag, seq);
    Atomics.notify(flags, flag);
  };

  let seq = 0;
  for (;;) {
    if (spinWhile(control, CTRL.SEQ, seq) === seq) Atomics.wait(control, CTRL.SEQ, seq);
    seq = Atomics.load(control, CTRL.SEQ);
    const cmd = Atomics.load(control, CTRL.CMD);
    if (cmd === CMD.STOP) break;
    try {
      if (cmd === CMD.CHECK) {
        if (!sameWeights(tf, model, layout, weights)) throw new Error('its copy of the weights differs from the shared weights (its engine computes differently)');
      } else if (cmd === CMD.EVAL) {
        const rows = Atomics.load(control, CTRL.ROWS);
        if (layout.normFloats) loadNorms(tf, model, layout, views.moments);
        scalars[1] = shardLoss(tf, model, views.x, Atomics.load(control, CTRL.INPUT) === INPUT.TARGET ? views.x : views.y, rows);
      } else {
        mark(seq, 'start');
        const rows = Atomics.load(control, CTRL.ROWS);
        const batch = scalars[0]!;
        let own: Map<number, Tensor> | undefined;
        if (rows > 0) {
          const input = Atomics.load(control, CTRL.INPUT);
          if (input === INPUT.NOISY_TARGET) {
            if (!setup.noise) throw new Error('a shard with noise seeds, but no noise model');
            addRowNoise(views.y, d, views.seeds.subarray(0, rows), setup.noise.spec, setup.noise.stats, views.x);
          }
          const result = shardGradient(tf, steps, views.x, input === INPUT.TARGET ? views.x : views.y, rows, batch);
          mark(seq, 'gradient');
          scalars[1] = result.loss;
          own = writeShard(tf, result, layout, grads[index]!, views.moments, others);
        }
        mark(seq, 'ready');
        signal(FLAGS.READY + index, seq);
        try {
          awaitAll(FLAGS.READY, seq);
          mark(seq, 'allReady');
        } catch (e) {
          for (const t of own?.values() ?? []) t.dispose();
          throw e;
        }
        applyShards(tf, optimizer, model, layout, grads, shardRanges(batch, threads).length, mine, own && { shard: index, grads: own });
        saveWeights(tf, model, layout, weights, mine);
        mark(seq, 'published');
        signal(FLAGS.PUBLISHED(threads) + index, seq);
        awaitAll(FLAGS.PUBLISHED(threads), seq);
        mark(seq, 'allPublished');
        loadWeights(tf, model, layout, weights, others);
        mark(seq, 'end');
      }
      Atomics.store(control, CTRL.STATUS, 0);
    } catch (e) {
      if (e instanceof Stopped) break;
      const err = e instanceof Error ? e : new Error(String(e));
      post({ type: 'error', message: err.message, name: err.name });
      Atomics.store(control, CTRL.STATUS, 1);
    }
    Atomics.store(control, CTRL.DONE, seq);
    Atomics.notify(control, CTRL.DONE);
  }
  steps.dispose();
  optimizer.dispose();
  model.dispose();
}

main().catch((e: unknown) => {
  const err = e instanceof Error ? e : new Error(String(e));
  post({ type: 'error', message: err.message, name: err.name });
  process.exit(1);
});
