/** Picks the executor a run asks for (`--executor`, SPECFLOW_EXECUTOR). */
import { UserError } from '../errors.js';
import type { Store } from '../store.js';
import { EXECUTORS, type Executor, type ExecutorName } from './executor.js';

export interface ExecutorChoice {
  executor?: string;
  redis?: string;
  jobs: number;
  warn: (message: string) => void;
}

export function executorName(given: string | undefined): ExecutorName {
  const name = given ?? (process.env.SPECFLOW_EXECUTOR || 'local');
  if (!(EXECUTORS as readonly string[]).includes(name)) {
    throw new UserError(`${given ? '--executor' : 'SPECFLOW_EXECUTOR'}: unknown executor "${name}" (choose ${EXECUTORS.join(', ')})`);
  }
  return name as ExecutorName;
}

export async function createExecutor(store: Store, choice: ExecutorChoice): Promise<Executor> {
  const name = executorName(choice.executor);
  if (name === 'queue') {
    const { redisUrl } = await import('./queue-common.js');
    const { queueExecutor } = await import('./queue.js');
    return queueExecutor(store, { redis: redisUrl(choice.redis), warn: choice.warn });
  }
  if (name === 'slurm') {
    const { slurmExecutor } = await import('./slurm.js');
    return slurmExecutor(store);
  }
  const { localExecutor } = await import('./local.js');
  return localExecutor(store, choice.jobs);
}
