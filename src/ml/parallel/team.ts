/**
 * Data-parallel training steps: the training thread and threads−1 worker
 * threads (./worker.ts), each with its own tfjs on the same engine and a copy
 * of the weights. Each mini-batch is cut into `threads` contiguous shards; the
 * training thread computes shard 0 while the workers compute the others; the
 * shards' gradients are summed in shard order, Adam is applied once here, and
 * the new weights are published to the workers through shared memory. So the
 * trained weights are bitwise reproducible for a given seed and thread count.
 *
 * Batch norm normalises each shard with its own moments (as PyTorch's DDP does
 * without SyncBatchNorm); the running averages are updated with the moments
 * of the whole batch pooled from the shards'.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Optimizer } from '@tensorflow/tfjs';
import type { Autoencoder } from '../autoencoder.js';
import { backendLabel, wasmFixesInstalled, type BackendName } from '../backend.js';
import type { TF } from '../engine.js';
import { activeBuild } from '../kernels/simd.js';
import { updateBatchNorm, type Pass } from '../nn.js';
import { copyOut, tensorOf } from './copy.js';
import { CMD, CTRL, dataBytes, dataViews, type WorkerReport, type WorkerSetup } from './protocol.js';
import { paramLayout, poolMoments, shardGradient, shardRanges, writeShard, type ParamLayout } from './shard.js';

/** The compiled worker: next to this file in dist/, or dist/ seen from src/ (tests run the sources). */
function workerFile(): string {
  const candidates = [new URL('./worker.js', import.meta.url), new URL('../../../dist/ml/parallel/worker.js', import.meta.url)].map((u) => fileURLToPath(u));
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`training threads: the worker is missing (looked in ${candidates.join(', ')}); run \`npm run build\``);
  return found;
}

/** A training thread could not start or failed during a step (its own error, or it died: out of memory). */
export class TrainingThreadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TrainingThreadError';
  }
}

export function isTrainingThreadError(e: unknown): e is TrainingThreadError {
  return e instanceof TrainingThreadError || (e as Error | undefined)?.name === 'TrainingThreadError';
}

/** Atomics.waitAsync (Node ≥ 16), which the project's TypeScript libs do not declare yet. */
const waitAsync = (Atomics as unknown as {
  waitAsync(a: Int32Array, index: number, value: number): { async: false; value: string } | { async: true; value: Promise<string> };
}).waitAsync;

/** acc += g elementwise (a small monomorphic loop V8 optimises: inlined in step() it ran ~10× slower). */
function addInto(acc: Float32Array, g: Float32Array): void {
  for (let j = 0; j < acc.length; j++) acc[j] = acc[j]! + g[j]!;
}

interface Member {
  worker: Worker;
  control: Int32Array;
  scalars: Float64Array;
  views: ReturnType<typeof dataViews>;
  /** Rejects when the worker fails or exits unasked. */
  failed: Promise<never>;
  lastError?: string;
}

export interface TeamOptions {
  tf: TF;
  backend: BackendName;
  model: Autoencoder;
  optimizer: Optimizer;
  threads: number;
  /** The largest mini-batch a step will get. */
  maxBatch: number;
}

export class TrainingTeam {
  private readonly layout: ParamLayout;
  private readonly weights: Float32Array;
  private readonly grads: Float32Array;
  private readonly moments: Float32Array;
  private seq = 0;
  private closed = false;

  private constructor(private readonly options: TeamOptions, private readonly members: Member[], layout: ParamLayout, weights: Float32Array) {
    this.layout = layout;
    this.weights = weights;
    this.grads = new Float32Array(layout.paramFloats);
    this.moments = new Float32Array(layout.normFloats);
  }

  /** Starts threads−1 workers on the training thread's engine and waits until each has its tfjs ready. */
  static async start(options: TeamOptions): Promise<TrainingTeam> {
    const { model, threads, backend } = options;
    if (threads < 2) throw new Error('a training team needs at least 2 threads');
    if (backend === 'node') throw new TrainingThreadError(`threads: ${threads} needs the wasm or cpu backend (tfjs-node runs its own thread pool); use threads: 1`);
    const layout = paramLayout(model);
    const maxRows = Math.ceil(options.maxBatch / threads);
    const d = model.inputDim;
    const weights = new Float32Array(new SharedArrayBuffer(4 * layout.paramFloats));
    const file = workerFile();
    const wasmFixes = backend === 'wasm' ? await wasmFixesInstalled() : true;
    // the same kernel build as this thread (SPECFLOW_WASM_FMA is read by each thread's kernels)
    const env = { ...process.env, SPECFLOW_BACKEND: backend, ...(backend === 'wasm' ? { SPECFLOW_WASM_FMA: activeBuild() === 'simd-fma' ? '1' : '0' } : {}) };
    const members: Member[] = [];
    const ready: Promise<void>[] = [];
    const label = backendLabel(backend);
    for (let i = 1; i < threads; i++) {
      const buffers = {
        control: new SharedArrayBuffer(4 * CTRL.LENGTH),
        scalars: new SharedArrayBuffer(16),
        data: new SharedArrayBuffer(dataBytes(maxRows, d, layout)),
        weights: weights.buffer as SharedArrayBuffer,
      };
      const setup: WorkerSetup = { config: model.config, backend, wasmFixes, maxRows, layout, buffers };
      const worker = new Worker(file, { workerData: setup, env });
      const member = { worker, control: new Int32Array(buffers.control), scalars: new Float64Array(buffers.scalars), views: dataViews(buffers.data, maxRows, d, layout) } as Member;
      let signalReady!: () => void;
      let fail!: (e: Error) => void;
      ready.push(new Promise<void>((res) => { signalReady = res; }));
      member.failed = new Promise<never>((_, rej) => { fail = rej; });
      member.failed.catch(() => undefined);
      worker.on('message', (r: WorkerReport) => {
        if (r.type === 'ready') {
          if (r.backend !== label) fail(new TrainingThreadError(`training thread ${i} started on ${r.backend}, not on ${label} like the training`));
          else signalReady();
        } else {
          member.lastError = `training thread ${i}: ${r.message}`;
          fail(new TrainingThreadError(`training thread ${i}: ${r.message}`));
        }
      });
      worker.on('error', (e) => fail(new TrainingThreadError(`training thread ${i}: ${e.message}`)));
      worker.on('exit', (code) => fail(new TrainingThreadError(`training thread ${i} stopped (exit code ${code}${code === 1 ? ', e.g. out of memory' : ''})`)));
      members.push(member);
    }
    const team = new TrainingTeam(options, members, layout, weights);
    try {
      await Promise.race([Promise.all(ready), ...members.map((m) => m.failed)]);
    } catch (e) {
      await team.close();
      throw e;
    }
    return team;
  }

  /**
   * One Adam step on a b-row batch (rows of x and y, row-major; y may be x):
   * returns the batch loss, as the single-thread step's cost.
   */
  async step(x: Float32Array, y: Float32Array, b: number): Promise<number> {
    const { tf, model, optimizer } = this.options;
    const d = model.inputDim;
    const shards = shardRanges(b, this.members.length + 1);
    this.publishWeights();
    this.seq++;
    const busy: Member[] = [];
    for (let s = 1; s < shards.length; s++) {
      const { start, count } = shards[s]!;
      const m = this.members[s - 1]!;
      m.views.x.set(x.subarray(start * d, (start + count) * d));
      if (y !== x) m.views.y.set(y.subarray(start * d, (start + count) * d));
      m.scalars[0] = b;
      Atomics.store(m.control, CTRL.ROWS, count);
      Atomics.store(m.control, CTRL.SAME, y === x ? 1 : 0);
      Atomics.store(m.control, CTRL.CMD, CMD.STEP);
      Atomics.store(m.control, CTRL.SEQ, this.seq);
      Atomics.notify(m.control, CTRL.SEQ);
      busy.push(m);
    }
    const first = shards[0]!;
    const own = y === x ? x.subarray(0, first.count * d) : undefined;
    const mine = shardGradient(tf, model, own ?? x.subarray(0, first.count * d), own ?? y.subarray(0, first.count * d), first.count, b);
    let loss = mine.loss;
    writeShard(tf, mine, this.layout, this.grads, this.moments);
    for (const m of busy) await this.finished(m);
    // summed in shard order: the same bits every run
    const pooled: { count: number; moments: Float32Array }[] = [{ count: first.count, moments: this.moments }];
    busy.forEach((m, i) => {
      addInto(this.grads, m.views.grads);
      loss += m.scalars[1]!;
      if (this.layout.normFloats) pooled.push({ count: shards[i + 1]!.count, moments: m.views.moments });
    });
    const named: Record<string, import('@tensorflow/tfjs').Tensor> = {};
    const vars = model.store.trainable();
    this.layout.params.forEach((p, i) => { named[vars[i]!.name] = tensorOf(tf, this.grads.subarray(p.offset, p.offset + p.size), p.shape); });
    optimizer.applyGradients(named);
    for (const t of Object.values(named)) t.dispose();
    if (this.layout.normFloats) this.updateNorms(poolMoments(this.layout, pooled));
    return loss;
  }

  private updateNorms(pooled: Float32Array): void {
    const { tf, model } = this.options;
    const pass: Pass = { training: true, bnStats: new Map() };
    for (const n of this.layout.norms) {
      pass.bnStats!.set(n.name, {
        mean: tf.tensor1d(pooled.subarray(n.offset, n.offset + n.channels)),
        variance: tf.tensor1d(pooled.subarray(n.offset + n.channels, n.offset + 2 * n.channels)),
      });
    }
    updateBatchNorm(tf, model.store, pass);
  }

  /** The training thread's weights, where the workers read them at the start of a step. */
  private publishWeights(): void {
    const { tf, model } = this.options;
    const vars = model.store.trainable();
    this.layout.params.forEach((p, i) => copyOut(tf, vars[i]!, this.weights, p.offset));
  }

  private async finished(m: Member): Promise<void> {
    for (let seen = Atomics.load(m.control, CTRL.DONE); seen !== this.seq; seen = Atomics.load(m.control, CTRL.DONE)) {
      // resolves when the worker stores a new DONE (at once if it already has); failing or dying rejects
      const wait = waitAsync(m.control, CTRL.DONE, seen);
      if (wait.async) await Promise.race([wait.value, m.failed]);
    }
    if (Atomics.load(m.control, CTRL.STATUS) !== 0) {
      // the message travels by postMessage: let it arrive
      await Promise.race([m.failed, new Promise((r) => setTimeout(r, 1000))]).catch(() => undefined);
      throw new TrainingThreadError(m.lastError ?? 'a training thread failed');
    }
  }

  /** Stops and terminates every worker (also after errors and on abort). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const m of this.members) {
      m.worker.removeAllListeners('exit');
      Atomics.store(m.control, CTRL.CMD, CMD.STOP);
      Atomics.add(m.control, CTRL.SEQ, 1);
      Atomics.notify(m.control, CTRL.SEQ);
    }
    await Promise.all(this.members.map((m) => m.worker.terminate()));
  }
}
