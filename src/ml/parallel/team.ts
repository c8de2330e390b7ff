/**
 * Data-parallel training steps: the training thread and threads−1 worker
 * threads (./worker.ts), each with its own tfjs on the same engine and a copy
 * of the weights. Each mini-batch is cut into `threads` contiguous shards;
 * thread s computes shard s's gradient; each trainable tensor has an owner
 * thread that sums its gradient over the shards in shard order, steps Adam on
 * it and publishes the result in the shared weights, which the other threads
 * load (./protocol.ts). Every thread's copy of the weights so has the same
 * bits (checked against the shared weights after every epoch: checkReplicas),
 * and the trained weights are bitwise reproducible for a given seed and
 * thread count.
 *
 * Batch norm normalises each shard with its own moments (as PyTorch's DDP does
 * without SyncBatchNorm); the running averages (kept by the training thread
 * only) are updated with the moments of the whole batch pooled from the shards'.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Optimizer } from '@tensorflow/tfjs';
import type { Autoencoder } from '../autoencoder.js';
import { backendLabel, wasmFixesInstalled, type BackendName } from '../backend.js';
import { GradientSteps } from '../gradient-step.js';
import type { TF } from '../engine.js';
import { activeBuild } from '../kernels/simd.js';
import { addRowNoise } from '../metrics.js';
import {
  CMD, CTRL, dataBytes, dataViews, EVAL_ROWS, FLAGS, INPUT, STOPPED, type Batch, type NoiseSetup, type WorkerReport, type WorkerSetup,
} from './protocol.js';
import {
  applyShards, loadWeights, ownership, paramLayout, poolMoments, sameWeights, saveNorms, saveWeights, shardGradient, shardLoss, shardRanges,
  tensorsOf, updateRunningNorms, writeShard, type ParamLayout,
} from './shard.js';
import { Failure } from './failure.js';
import { spinWhile } from './spin.js';
import { tracer, traceBuffer, writeTrace, type Phase } from './trace.js';

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

interface Member {
  worker: Worker;
  control: Int32Array;
  scalars: Float64Array;
  views: ReturnType<typeof dataViews>;
  /** Rejects when the worker fails or exits unasked. */
  failed: Promise<never>;
  /** The same failure for the barrier waits of every step (./failure.ts). */
  failure: Failure;
  lastError?: string;
  /** The last command's number: DONE reaches it when the worker has finished it. */
  pending: number;
}

export interface TeamOptions {
  tf: TF;
  backend: BackendName;
  model: Autoencoder;
  optimizer: Optimizer;
  threads: number;
  /** The optimizer's learning rate (each worker steps its own Adam: createAdam with it). */
  learningRate: number;
  /** The largest mini-batch a step will get. */
  maxBatch: number;
  /** A denoising autoencoder's noise: needed for batches given with their rows' noise seeds. */
  noise?: NoiseSetup;
}

export class TrainingTeam {
  /** Thread 0's (this one's) gradient first, then each worker's. */
  private readonly grads: Float32Array[];
  private readonly flags: Int32Array;
  /** The tensors this thread owns, and the others (indices in the layout's order). */
  private readonly mine: number[];
  private readonly others: number[];
  private readonly moments: Float32Array;
  /** The batch of a step whose shards the workers already have (step's `following`). */
  private handedOver: Batch | undefined;
  /** This thread's shard's input when the team draws the noise (reused step after step). */
  private noisy: Float32Array | undefined;
  private seq = 0;
  private closed = false;
  private readonly mark: (step: number, phase: Phase) => void;
  /** This thread's shard gradients (replayed after two recorded steps of a shape, on wasm). */
  private readonly steps: GradientSteps;

  private constructor(
    private readonly options: TeamOptions, private readonly members: Member[], private readonly layout: ParamLayout,
    private readonly weights: Float32Array, grads: SharedArrayBuffer[], flags: SharedArrayBuffer, owners: number[],
    private readonly trace: SharedArrayBuffer | undefined,
  ) {
    this.mark = tracer(trace, 0);
    this.steps = new GradientSteps(options.tf, options.model);
    this.grads = grads.map((b) => new Float32Array(b));
    this.flags = new Int32Array(flags);
    this.mine = tensorsOf(owners, 0);
    this.others = tensorsOf(owners, 0, false);
    this.moments = new Float32Array(layout.normFloats);
  }

  /** Starts threads−1 workers on the training thread's engine and waits until each has its tfjs ready. */
  static async start(options: TeamOptions): Promise<TrainingTeam> {
    const { model, threads, backend } = options;
    if (threads < 2) throw new Error('a training team needs at least 2 threads');
    if (backend === 'node') throw new TrainingThreadError(`threads: ${threads} needs the wasm or cpu backend (tfjs-node runs its own thread pool); use threads: 1`);
    const layout = paramLayout(model);
    // a worker's rows of a mini-batch or of an evaluation chunk
    const maxRows = Math.ceil(Math.max(options.maxBatch, EVAL_ROWS) / threads);
    const d = model.inputDim;
    const weights = new Float32Array(new SharedArrayBuffer(4 * layout.paramFloats));
    saveWeights(options.tf, model, layout, weights); // every copy starts from this thread's weights
    const grads = Array.from({ length: threads }, () => new SharedArrayBuffer(4 * layout.paramFloats));
    const flags = new SharedArrayBuffer(4 * FLAGS.length(threads));
    const trace = traceBuffer(threads);
    const owners = ownership(layout, threads);
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
        grads,
        flags,
        ...(trace ? { trace } : {}),
      };
      const setup: WorkerSetup = {
        config: model.config, backend, wasmFixes, learningRate: options.learningRate, ...(options.noise ? { noise: options.noise } : {}),
        index: i, threads, owners, maxRows, layout, buffers,
      };
      const worker = new Worker(file, { workerData: setup, env });
      const member = { worker, control: new Int32Array(buffers.control), scalars: new Float64Array(buffers.scalars), views: dataViews(buffers.data, maxRows, d, layout), pending: 0, failure: new Failure() } as Member;
      let signalReady!: () => void;
      let rejectFailed!: (e: Error) => void;
      ready.push(new Promise<void>((res) => { signalReady = res; }));
      member.failed = new Promise<never>((_, rej) => { rejectFailed = rej; });
      const fail = (e: Error): void => {
        rejectFailed(e);
        member.failure.fail(e);
      };
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
    const team = new TrainingTeam(options, members, layout, weights, grads, flags, owners, trace);
    try {
      await Promise.race([Promise.all(ready), ...members.map((m) => m.failed)]);
    } catch (e) {
      await team.close();
      throw e;
    }
    return team;
  }

  /**
   * One Adam step on a mini-batch: resolves to the batch loss, as the single-thread step's cost.
   * A batch given with its rows' noise seeds has its noise drawn shard by shard, each by the thread
   * that trains on it (the draws one thread makes: metrics.ts addRowNoise).
   *
   * Everything up to the wait for the workers' gradients runs synchronously
   * within the call: the workers get their shards at once (each read its last
   * shard before reporting that shard's gradient), and while the promise is
   * pending the caller may prepare the next batch. `following`, asked once every
   * thread has published this step, gives that next batch if the next call will
   * be a step on it: the workers then get its shards at once and start it while
   * this thread loads the others' weights and returns (the next call finds them
   * handed over). Not across anything but a step (a check or an evaluation
   * would wait for a worker that waits for this thread).
   */
  async step(batch: Batch, following?: () => Batch | undefined): Promise<number> {
    const { tf, model, optimizer } = this.options;
    const d = model.inputDim;
    const { y, b } = batch;
    const shards = shardRanges(b, this.members.length + 1);
    if (!this.handedOver) this.handOver(batch);
    else if (batch !== this.handedOver) throw new Error('training team: a step on another batch than the one handed over to the workers');
    this.handedOver = undefined;
    const step = this.seq;
    this.mark(step, 'start');
    const first = shards[0]!;
    let x = batch.x;
    if (!x) {
      this.noisy ??= new Float32Array(Math.ceil(this.options.maxBatch / (this.members.length + 1)) * d);
      x = this.noisy.subarray(0, first.count * d);
      addRowNoise(y, d, batch.seeds!.subarray(0, first.count), this.options.noise!.spec, this.options.noise!.stats, x);
    }
    const mine = shardGradient(tf, this.steps, x, y, first.count, b);
    this.mark(step, 'gradient');
    let loss = mine.loss;
    // every thread has read the last step's gradients: the last step ended when all had published
    const own = writeShard(tf, mine, this.layout, this.grads[0]!, this.moments, this.others);
    this.mark(step, 'ready');
    this.signal(FLAGS.READY, this.seq);
    try {
      await this.all(FLAGS.READY);
      this.mark(step, 'allReady');
    } catch (e) {
      for (const t of own.values()) t.dispose();
      throw e;
    }
    const pooled: { count: number; moments: Float32Array }[] = [{ count: first.count, moments: this.moments }];
    for (let s = 1; s < shards.length; s++) {
      const m = this.members[s - 1]!;
      loss += m.scalars[1]!;
      pooled.push({ count: shards[s]!.count, moments: m.views.moments });
    }
    // read before a worker may start the next step and write its next shard's moments
    const moments = this.layout.normFloats ? poolMoments(this.layout, pooled) : undefined;
    // this thread's tensors, summed in shard order as one thread would: the same bits run after run
    applyShards(tf, optimizer, model, this.layout, this.grads, shards.length, this.mine, { shard: 0, grads: own });
    saveWeights(tf, model, this.layout, this.weights, this.mine);
    this.mark(step, 'published');
    this.signal(FLAGS.PUBLISHED(this.members.length + 1), this.seq);
    await this.all(FLAGS.PUBLISHED(this.members.length + 1));
    this.mark(step, 'allPublished');
    const next = following?.();
    if (next) {
      this.handOver(next);
      this.handedOver = next;
    }
    this.mark(step, 'handedOver');
    loadWeights(tf, model, this.layout, this.weights, this.others);
    if (moments) updateRunningNorms(tf, model, this.layout, moments);
    this.mark(step, 'end');
    return loss;
  }

  /** Gives every worker its shard of a step on `batch` and wakes it (a new step number). */
  private handOver(batch: Batch): void {
    const d = this.options.model.inputDim;
    const { y, b } = batch;
    const shards = shardRanges(b, this.members.length + 1);
    const input = batch.seeds ? INPUT.NOISY_TARGET : batch.x === y ? INPUT.TARGET : INPUT.ROWS;
    if (input === INPUT.NOISY_TARGET && !this.options.noise) throw new Error('a batch with noise seeds, but the team has no noise model');
    this.seq++;
    this.members.forEach((m, i) => {
      const count = shards[i + 1]?.count ?? 0;
      if (count > 0) {
        const start = shards[i + 1]!.start;
        if (input === INPUT.ROWS) m.views.x.set(batch.x!.subarray(start * d, (start + count) * d));
        if (input === INPUT.NOISY_TARGET) m.views.seeds.set(batch.seeds!.subarray(start, start + count));
        (input === INPUT.TARGET ? m.views.x : m.views.y).set(y.subarray(start * d, (start + count) * d));
      }
      m.scalars[0] = b;
      Atomics.store(m.control, CTRL.ROWS, count);
      Atomics.store(m.control, CTRL.INPUT, input);
      this.command(m, CMD.STEP);
    });
  }

  /** A step handed over to the workers waits for this thread: nothing else may be asked of them before it. */
  private assertNoStepHandedOver(what: string): void {
    if (this.handedOver) throw new Error(`training team: ${what} while a step handed over to the workers has not been taken`);
  }

  /**
   * The inference loss of b rows (at most EVAL_ROWS) of x against y (row-major; y may be x) summed over
   * the rows: each thread evaluates its shard of the rows (as a step's shards), the workers with the
   * training thread's batch-norm running statistics, and the shards' mean losses × their rows are added
   * in shard order. The same bits for a given thread count; close to one thread's loss of the b rows.
   */
  async lossSum(x: Float32Array, y: Float32Array, b: number): Promise<number> {
    const { tf, model } = this.options;
    if (b > EVAL_ROWS) throw new Error(`an evaluation chunk of ${b} rows, more than ${EVAL_ROWS}`);
    this.assertNoStepHandedOver('an evaluation');
    const d = model.inputDim;
    const shards = shardRanges(b, this.members.length + 1);
    const busy: Member[] = [];
    this.seq++;
    this.members.forEach((m, i) => {
      const shard = shards[i + 1];
      if (!shard) return;
      const rows = (a: Float32Array) => a.subarray(shard.start * d, (shard.start + shard.count) * d);
      m.views.x.set(rows(x));
      if (y !== x) m.views.y.set(rows(y));
      if (this.layout.normFloats) saveNorms(tf, model, this.layout, m.views.moments);
      Atomics.store(m.control, CTRL.ROWS, shard.count);
      Atomics.store(m.control, CTRL.INPUT, y === x ? INPUT.TARGET : INPUT.ROWS);
      this.command(m, CMD.EVAL);
      busy.push(m);
    });
    const first = shards[0]!;
    let total = shardLoss(tf, model, x, y, first.count) * first.count;
    for (const [i, m] of busy.entries()) {
      await this.finished(m);
      total += m.scalars[1]! * shards[i + 1]!.count;
    }
    return total;
  }

  /**
   * Checks that every thread's copy of the weights is bitwise the shared weights (each tensor is
   * stepped by one thread and copied by the others; a difference would mean a copy went wrong).
   */
  async checkReplicas(): Promise<void> {
    const { tf, model } = this.options;
    this.assertNoStepHandedOver('a replica check');
    for (const m of this.members) await this.finished(m);
    this.seq++;
    for (const m of this.members) this.command(m, CMD.CHECK);
    // this thread's own copy while the workers compare theirs
    const mine = sameWeights(tf, model, this.layout, this.weights);
    for (const m of this.members) await this.finished(m);
    if (!mine) throw new TrainingThreadError('the training thread\'s copy of the weights differs from the shared weights');
  }

  private command(m: Member, cmd: number): void {
    m.pending = this.seq;
    Atomics.store(m.control, CTRL.CMD, cmd);
    Atomics.store(m.control, CTRL.SEQ, this.seq);
    Atomics.notify(m.control, CTRL.SEQ);
  }

  private signal(from: number, seq: number): void {
    Atomics.store(this.flags, from, seq);
    Atomics.notify(this.flags, from);
  }

  /** Every worker's flag from `from` has reached this step. */
  private async all(from: number): Promise<void> {
    for (const [i, m] of this.members.entries()) await this.reach(this.flags, from + i + 1, m, this.seq);
  }

  /** Waits until `flags[index]` reaches `value`; the member failing or dying rejects. */
  private async reach(flags: Int32Array, index: number, m: Member, value: number): Promise<void> {
    if (Atomics.load(flags, index) >= value) return;
    // first let the caller go on (train.ts prepares the next batch while the workers compute), then
    // watch the flag for a moment before sleeping until the event loop hears of it (./spin.ts)
    await undefined;
    for (let seen = Atomics.load(flags, index); seen < value; seen = Atomics.load(flags, index)) {
      if (spinWhile(flags, index, seen) !== seen) continue;
      // resolves when the worker stores a new value (at once if it already has)
      const wait = waitAsync(flags, index, seen);
      if (wait.async) await m.failure.race(wait.value);
    }
  }

  /** The member has finished its last command; its failure is thrown. */
  private async finished(m: Member): Promise<void> {
    await this.reach(m.control, CTRL.DONE, m, m.pending);
    if (this.failedLast(m)) await this.failure(m);
  }

  /** Whether the member's last finished command failed. */
  private failedLast(m: Member): boolean {
    return Atomics.load(m.control, CTRL.STATUS) !== 0;
  }

  /** Throws the member's failure. */
  private async failure(m: Member): Promise<never> {
    // the message travels by postMessage: let it arrive
    await Promise.race([m.failed, new Promise((r) => setTimeout(r, 1000))]).catch(() => undefined);
    throw new TrainingThreadError(m.lastError ?? 'a training thread failed');
  }

  /** Stops and terminates every worker (also after errors and on abort). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.steps.dispose();
    // workers waiting for the others' gradients give up
    for (let j = 0; j < this.flags.length; j++) {
      Atomics.store(this.flags, j, STOPPED);
      Atomics.notify(this.flags, j);
    }
    for (const m of this.members) {
      m.worker.removeAllListeners('exit');
      Atomics.store(m.control, CTRL.CMD, CMD.STOP);
      Atomics.add(m.control, CTRL.SEQ, 1);
      Atomics.notify(m.control, CTRL.SEQ);
    }
    await Promise.all(this.members.map((m) => m.worker.terminate()));
    writeTrace(this.trace, this.members.length + 1, this.seq);
  }
}
