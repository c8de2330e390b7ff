/**
 * Worker threads for stage functions. CPU-heavy stages run here so independent
 * branches use several cores, and so that a queue worker's main thread stays free
 * to renew its job locks while a stage trains.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { executeStage, type StageMessage, type StageOutcome, type StageTask } from './execute-stage.js';
import type { StageDef } from './stage-api.js';

export type StageRunner = (def: StageDef, task: StageTask, onMessage: (m: StageMessage) => void, signal: AbortSignal) => Promise<StageOutcome>;

const INTERRUPTED: StageOutcome = { ok: false, error: { name: 'AbortError', message: 'interrupted', user: true } };

/** The thread pool, created on first use so runs without CPU-heavy stages never start threads. */
export class StagePool {
  private pool: import('piscina').Piscina | undefined;
  private readonly workerFile = join(fileURLToPath(new URL('.', import.meta.url)), 'worker.js');
  /** `idleMs`: a thread unused this long exits (a long-lived queue worker keeps its tfjs warm). */
  constructor(private readonly threads: number, private readonly idleMs = 1000) {}

  /** From TypeScript sources (tests) there is no compiled worker: run inline instead. */
  available(): boolean {
    return existsSync(this.workerFile);
  }

  async run(task: StageTask, onMessage: (m: StageMessage) => void, signal: AbortSignal): Promise<StageOutcome> {
    if (!this.pool) {
      const { Piscina } = await import('piscina');
      this.pool = new Piscina({ filename: this.workerFile, maxThreads: this.threads, minThreads: 0, idleTimeout: this.idleMs });
    }
    const { port1, port2 } = new MessageChannel();
    port1.on('message', onMessage);
    try {
      return (await this.pool.run({ task, port: port2 }, { transferList: [port2], signal })) as StageOutcome;
    } catch (e) {
      if (signal.aborted) return INTERRUPTED;
      const err = e as Error;
      return { ok: false, error: { name: err.name, message: err.message, stack: err.stack, user: false } };
    } finally {
      port1.close();
    }
  }

  /** Runs `cpu` stages (or, with `all`, every stage) in the pool when it is available, others inline. */
  runner(all = false): StageRunner {
    return (def, task, onMessage, signal) => ((all || def.cpu) && this.available()
      ? this.run(task, onMessage, signal)
      : untilAborted(executeStage(def, task, onMessage, signal), signal));
  }

  async destroy(): Promise<void> {
    await this.pool?.destroy();
    this.pool = undefined;
  }
}

/** Stop waiting for an in-thread stage on Ctrl-C; its temp entry is discarded and the process exits. */
function untilAborted(work: Promise<StageOutcome>, signal: AbortSignal): Promise<StageOutcome> {
  if (signal.aborted) return Promise.resolve(INTERRUPTED);
  return new Promise((res) => {
    const onAbort = (): void => res(INTERRUPTED);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then((o) => { signal.removeEventListener('abort', onAbort); res(o); }, (e: unknown) => {
      signal.removeEventListener('abort', onAbort);
      res({ ok: false, error: { name: 'Error', message: String(e), user: false } });
    });
  });
}
