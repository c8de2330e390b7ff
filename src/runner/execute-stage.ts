/**
 * Runs one stage function against a prepared temp directory. Used both in the
 * main thread and inside pool workers, so it only takes serialisable data.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { isTableKind, StageError, type InputArtifact, type MetricValue, type ProgressEvent, type StageDef } from './stage-api.js';

export interface StageTask {
  type: string;
  id: string;
  params: Record<string, unknown>;
  seed: number;
  inputs: Record<string, InputArtifact | InputArtifact[]>;
  /** Port → absolute path inside the temp entry and its kind. */
  outputs: Record<string, { path: string; kind: string }>;
  pipelineDir: string;
}

export type StageMessage =
  | { type: 'progress'; event: ProgressEvent }
  | { type: 'log'; message: string };

export type StageOutcome =
  | { ok: true; metrics: Record<string, MetricValue> }
  | { ok: false; error: { name: string; message: string; stack?: string; user: boolean; code?: string } };

export async function executeStage(def: StageDef, task: StageTask, send: (m: StageMessage) => void, signal: AbortSignal): Promise<StageOutcome> {
  const metrics: Record<string, MetricValue> = {};
  try {
    await def.run({
      id: task.id,
      params: task.params,
      seed: task.seed,
      inputs: task.inputs,
      output(port) {
        const out = task.outputs[port];
        if (!out) throw new Error(`stage type ${def.type} has no output port "${port}"`);
        if (!isTableKind(out.kind)) mkdirSync(out.path, { recursive: true });
        return out.path;
      },
      progress: (event) => send({ type: 'progress', event }),
      metric: (name, value) => { metrics[name] = value; },
      log: (message) => send({ type: 'log', message }),
      signal,
      pipelineDir: task.pipelineDir,
    });
    for (const [port, out] of Object.entries(task.outputs)) {
      if (!existsSync(out.path)) throw new Error(`stage type ${def.type} finished without writing its output "${port}"`);
    }
    return { ok: true, metrics: JSON.parse(JSON.stringify(metrics)) as Record<string, MetricValue> };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const code = typeof err?.code === 'string' ? err.code : undefined;
    return { ok: false, error: { name: err?.name ?? 'Error', message: err?.message ?? String(e), stack: err?.stack, user: err instanceof StageError || err?.name === 'StageError', ...(code ? { code } : {}) } };
  }
}
