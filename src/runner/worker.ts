/**
 * Pool worker: runs CPU-heavy stages in their own thread (and, later, with their
 * own tfjs backend), so independent branches of a pipeline use several cores.
 */
import type { MessagePort } from 'node:worker_threads';
import { executeStage, type StageOutcome, type StageTask } from './execute-stage.js';
import { loadRegistry } from './registry.js';

export default async function runInWorker({ task, port }: { task: StageTask; port: MessagePort }): Promise<StageOutcome> {
  const registry = await loadRegistry();
  const def = registry.get(task.type);
  if (!def) return { ok: false, error: { name: 'Error', message: `unknown stage type ${task.type} in worker`, user: false } };
  const controller = new AbortController();
  try {
    return await executeStage(def, task, (m) => port.postMessage(m), controller.signal);
  } finally {
    port.close();
  }
}
