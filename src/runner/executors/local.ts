/** The local executor: stages run in this process, CPU-heavy ones in worker threads. */
import { computeEntry, localIdentity } from '../compute-entry.js';
import { CoreSlots } from '../core-slots.js';
import { StagePool } from '../stage-pool.js';
import { stageCores } from '../stage-job.js';
import type { Store } from '../store.js';
import type { Executor } from './executor.js';

export function localExecutor(store: Store, threads: number): Executor {
  const pool = new StagePool(Math.max(1, threads));
  // a stage running on several cores (StageDef.cores) takes as many of the --jobs slots
  const slots = new CoreSlots(Math.max(1, threads));
  return {
    name: 'local',
    concurrency: (jobs) => jobs,
    async compute(def, job, hooks) {
      let release: () => void;
      try {
        release = await slots.acquire(stageCores(def, job.params), hooks.signal);
      } catch {
        return { ...localIdentity(), status: 'interrupted', seconds: 0, metrics: {}, error: 'interrupted' };
      }
      try {
        return await computeEntry(store, def, job, {
          signal: hooks.signal, runStage: pool.runner(), hold: false, onStart: () => hooks.onStart(), onMessage: hooks.onMessage, onWaiting: hooks.onWaiting,
        });
      } finally {
        release();
      }
    },
    close: () => pool.destroy(),
  };
}
