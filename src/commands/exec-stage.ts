/**
 * `specflow exec-stage JOBFILE --result FILE`: compute one stage job into the
 * store, as a SLURM batch job does. Progress goes to stdout as `@specflow {json}`
 * lines (the job's log, which the coordinator reads); the outcome goes to FILE.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { computeEntry } from '../runner/compute-entry.js';
import { UserError } from '../runner/errors.js';
import { PROGRESS_MARK } from '../runner/executors/slurm.js';
import type { QueueProgress } from '../runner/executors/queue-common.js';
import { backendSelection } from '../runner/fingerprint.js';
import { loadRegistry } from '../runner/registry.js';
import { StagePool } from '../runner/stage-pool.js';
import { fingerprintMismatch, type JobOutcome, type StageJob } from '../runner/stage-job.js';
import { writeAtomic } from '../runner/store.js';
import { openStore, type GlobalOptions } from './common.js';

export interface ExecStageArgs extends GlobalOptions {
  result: string;
}

export async function execStageCommand(jobFile: string, args: ExecStageArgs): Promise<number> {
  let job: StageJob;
  try {
    job = JSON.parse(readFileSync(jobFile, 'utf8')) as StageJob;
  } catch (e) {
    throw new UserError(`${jobFile}: cannot read the stage job (${(e as Error).message})`);
  }
  const store = openStore(args);
  const who = `${hostname()}:${process.pid}${process.env.SLURM_JOB_ID ? ` (slurm job ${process.env.SLURM_JOB_ID})` : ''}`;
  const say = (p: QueueProgress): void => { process.stdout.write(`${PROGRESS_MARK}${JSON.stringify(p)}\n`); };
  const def = (await loadRegistry()).get(job.type);
  if (!def) throw new UserError(`${who} does not know stage type "${job.type}" (another specflow version, or a plugin missing from SPECFLOW_PLUGINS)`);
  const { engineIdentity, pinEngine } = await import('../ml/engine-identity.js');
  pinEngine();
  const refusal = fingerprintMismatch(def, job, who, engineIdentity(), backendSelection());
  let outcome: JobOutcome;
  if (refusal) {
    outcome = { host: hostname(), worker: who, status: 'failed', seconds: 0, metrics: {}, error: refusal, userError: true };
  } else {
    const controller = new AbortController();
    // scancel sends SIGTERM: stop the stage, leave no temp entry behind
    process.once('SIGTERM', () => controller.abort(new Error('cancelled')));
    const pool = new StagePool(1);
    say({ type: 'start', host: hostname(), worker: who });
    try {
      outcome = await computeEntry(store, def, job, {
        signal: controller.signal, runStage: pool.runner(), by: { host: hostname(), worker: who }, onMessage: say,
      });
    } finally {
      await pool.destroy();
      await store.close().catch(() => undefined);
    }
  }
  await writeAtomic(args.result, JSON.stringify(outcome));
  // an in-thread stage may still be running; its temp entry is gone and nothing waits for it
  if (outcome.status === 'interrupted') process.exit(130);
  return outcome.infrastructure || outcome.fatal ? 2 : 0;
}
