/** The local executor: stages run in this process, CPU-heavy ones in worker threads. */
import { computeEntry } from '../compute-entry.js';
import { StagePool } from '../stage-pool.js';
import type { Store } from '../store.js';
import type { Executor } from './executor.js';

export function localExecutor(store: Store, threads: number): Executor {
  const pool = new StagePool(Math.max(1, threads));
  return {
    name: 'local',
    concurrency: (jobs) => jobs,
    compute: (def, job, hooks) => computeEntry(store, def, job, {
      signal: hooks.signal, runStage: pool.runner(), hold: false, onStart: () => hooks.onStart(), onMessage: hooks.onMessage, onWaiting: hooks.onWaiting,
    }),
    close: () => pool.destroy(),
  };
}
