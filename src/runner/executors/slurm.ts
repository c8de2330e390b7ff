import type { Store } from '../store.js';
import type { Executor } from './executor.js';

export async function slurmExecutor(_store: Store, _o: { warn: (m: string) => void }): Promise<Executor> {
  throw new Error('not yet');
}
