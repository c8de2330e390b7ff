/**
 * Runs one stage function against a prepared temp directory. Used both in the
 * main thread and inside pool workers, so it only takes serialisable data.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { isTableKind, StageError, type InputArtifact, type MetricValue, type MissingVariant, type ProgressEvent, type StageDef } from './stage-api.js';

export interface StageTask {
  type: string;
  id: string;
  params: Record<string, unknown>;
  seed: number;
  inputs: Record<string, InputArtifact | InputArtifact[]>;
  missing?: MissingVariant[];
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
      ...(task.missing ? { missing: task.missing } : {}),
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
    const bad = nonFiniteMetric(metrics);
    if (bad) throw new StageError(`metric "${bad.name}" came out ${bad.value}: the stage produced no usable number, so its result is not published`);
    return { ok: true, metrics: JSON.parse(JSON.stringify(metrics)) as Record<string, MetricValue> };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const code = typeof err?.code === 'string' ? err.code : undefined;
    return { ok: false, error: { name: err?.name ?? 'Error', message: err?.message ?? String(e), stack: err?.stack, user: err instanceof StageError || err?.name === 'StageError', ...(code ? { code } : {}) } };
  }
}

/** The first metric (or nested entry, e.g. `top_features[0].score`) that is NaN or ±Infinity. */
export function nonFiniteMetric(metrics: Record<string, MetricValue>): { name: string; value: number } | undefined {
  const walk = (v: MetricValue, name: string): { name: string; value: number } | undefined => {
    if (typeof v === 'number') return Number.isFinite(v) ? undefined : { name, value: v };
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const r = walk(v[i]!, `${name}[${i}]`);
        if (r) return r;
      }
    } else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        const r = walk(x, `${name}.${k}`);
        if (r) return r;
      }
    }
    return undefined;
  };
  for (const [k, v] of Object.entries(metrics)) {
    const r = walk(v, k);
    if (r) return r;
  }
  return undefined;
}
