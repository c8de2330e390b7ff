/**
 * A worker thread of data-parallel training: its own tfjs on the training
 * thread's engine, its own copy of the model. Each step it takes the current
 * weights and its shard from shared memory, computes the shard's gradient
 * (./shard.ts) and writes it back. It waits with Atomics.wait, which is fine in
 * a thread that does nothing else.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Autoencoder } from '../autoencoder.js';
import { backendLabel, initBackend, initStockWasm } from '../backend.js';
import { tensorOf } from './copy.js';
import { CMD, CTRL, dataViews, type WorkerReport, type WorkerSetup } from './protocol.js';
import { paramLayout, shardGradient, writeShard } from './shard.js';

const setup = workerData as WorkerSetup;
const post = (r: WorkerReport): void => parentPort!.postMessage(r);

async function main(): Promise<void> {
  const { tf, name } = setup.wasmFixes || setup.backend !== 'wasm' ? await initBackend(setup.backend) : await initStockWasm();
  const model = new Autoencoder(tf, setup.config, 0);
  const vars = model.store.trainable();
  const { layout, maxRows } = setup;
  if (JSON.stringify(paramLayout(model)) !== JSON.stringify(layout)) {
    throw new Error('its network has another parameter layout than the training thread\'s');
  }
  const d = setup.config.inputDim;
  const control = new Int32Array(setup.buffers.control);
  const scalars = new Float64Array(setup.buffers.scalars);
  const weights = new Float32Array(setup.buffers.weights);
  const views = dataViews(setup.buffers.data, maxRows, d, layout);
  post({ type: 'ready', backend: backendLabel(name) });
  let seq = 0;
  for (;;) {
    Atomics.wait(control, CTRL.SEQ, seq);
    seq = Atomics.load(control, CTRL.SEQ);
    if (Atomics.load(control, CTRL.CMD) === CMD.STOP) break;
    try {
      layout.params.forEach((p, i) => {
        const t = tensorOf(tf, weights.subarray(p.offset, p.offset + p.size), p.shape);
        vars[i]!.assign(t);
        t.dispose();
      });
      const rows = Atomics.load(control, CTRL.ROWS);
      const y = Atomics.load(control, CTRL.SAME) ? views.x : views.y;
      const result = shardGradient(tf, model, views.x, y, rows, scalars[0]!);
      scalars[1] = result.loss;
      writeShard(tf, result, layout, views.grads, views.moments);
      Atomics.store(control, CTRL.STATUS, 0);
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      post({ type: 'error', message: err.message, name: err.name });
      Atomics.store(control, CTRL.STATUS, 1);
    }
    Atomics.store(control, CTRL.DONE, seq);
    Atomics.notify(control, CTRL.DONE);
  }
  model.dispose();
}

main().catch((e: unknown) => {
  const err = e instanceof Error ? e : new Error(String(e));
  post({ type: 'error', message: err.message, name: err.name });
  process.exit(1);
});
