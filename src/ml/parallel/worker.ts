/**
 * A worker thread of data-parallel training: its own tfjs on the training
 * thread's engine, its own copy of the model and of Adam's state. Each step it
 * computes its shard's gradient (./shard.ts), waits for every other thread's,
 * sums them in shard order and steps Adam, exactly as the training thread does
 * (./protocol.ts). It waits with Atomics.wait, which is fine in a thread that
 * does nothing else.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Autoencoder } from '../autoencoder.js';
import { backendLabel, initBackend, initStockWasm } from '../backend.js';
import { createAdam } from '../optimizer.js';
import { CMD, CTRL, dataViews, STOPPED, sumShards, type WorkerReport, type WorkerSetup } from './protocol.js';
import { applySummed, loadWeights, paramLayout, saveWeights, shardGradient, shardRanges, writeShard } from './shard.js';

const setup = workerData as WorkerSetup;
const post = (r: WorkerReport): void => parentPort!.postMessage(r);

class Stopped extends Error {}

async function main(): Promise<void> {
  const { tf, name } = setup.wasmFixes || setup.backend !== 'wasm' ? await initBackend(setup.backend) : await initStockWasm();
  const model = new Autoencoder(tf, setup.config, 0);
  const { layout, maxRows, index, threads } = setup;
  if (JSON.stringify(paramLayout(model)) !== JSON.stringify(layout)) {
    throw new Error('its network has another parameter layout than the training thread\'s');
  }
  const optimizer = createAdam(tf, setup.learningRate);
  const control = new Int32Array(setup.buffers.control);
  const scalars = new Float64Array(setup.buffers.scalars);
  const weights = new Float32Array(setup.buffers.weights);
  const grads = setup.buffers.grads.map((b) => new Float32Array(b));
  const ready = new Int32Array(setup.buffers.ready);
  const views = dataViews(setup.buffers.data, maxRows, setup.config.inputDim, layout);
  const acc = new Float32Array(layout.paramFloats);
  loadWeights(tf, model, layout, weights);
  post({ type: 'ready', backend: backendLabel(name) });

  /** Blocks until every thread has written this step's gradient. */
  const awaitOthers = (seq: number): void => {
    for (let j = 0; j < threads; j++) {
      for (let v = Atomics.load(ready, j); v !== seq; v = Atomics.load(ready, j)) {
        if (v === STOPPED) throw new Stopped();
        Atomics.wait(ready, j, v);
      }
    }
  };

  let seq = 0;
  for (;;) {
    Atomics.wait(control, CTRL.SEQ, seq);
    seq = Atomics.load(control, CTRL.SEQ);
    const cmd = Atomics.load(control, CTRL.CMD);
    if (cmd === CMD.STOP) break;
    try {
      if (cmd === CMD.CHECK) {
        saveWeights(tf, model, layout, weights);
      } else {
        const rows = Atomics.load(control, CTRL.ROWS);
        const batch = scalars[0]!;
        if (rows > 0) {
          const y = Atomics.load(control, CTRL.SAME) ? views.x : views.y;
          const result = shardGradient(tf, model, views.x, y, rows, batch);
          scalars[1] = result.loss;
          writeShard(tf, result, layout, grads[index]!, views.moments);
        }
        Atomics.store(ready, index, seq);
        Atomics.notify(ready, index);
        awaitOthers(seq);
        sumShards(acc, grads, shardRanges(batch, threads).length);
        applySummed(tf, optimizer, model, layout, acc);
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
  optimizer.dispose();
  model.dispose();
}

main().catch((e: unknown) => {
  const err = e instanceof Error ? e : new Error(String(e));
  post({ type: 'error', message: err.message, name: err.name });
  process.exit(1);
});
