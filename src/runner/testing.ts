/**
 * Run one stage outside any pipeline: for unit tests of stage implementations.
 * Parameters are validated and defaulted exactly as the runner does.
 */
import { mkdtempSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isTableKind, type InputArtifact, type MetricValue, type ProgressEvent, type StageDef } from './stage-api.js';
import { validateParams } from './params.js';

export interface StageTestRun {
  outputs: Record<string, string>;
  metrics: Record<string, MetricValue>;
  progress: ProgressEvent[];
  logs: string[];
  params: Record<string, unknown>;
}

export interface StageTestOptions {
  params?: Record<string, unknown>;
  /** Port → path of an existing artifact (an .arrow file or a model directory). */
  inputs?: Record<string, string | string[]>;
  seed?: number;
  /** Folder where outputs are written; a fresh temp folder by default. */
  dir?: string;
  pipelineDir?: string;
}

export async function runStageForTest(def: StageDef, options: StageTestOptions = {}): Promise<StageTestRun> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), `specflow-${def.type}-`));
  const { value: params, errors } = validateParams(def, options.params ?? {});
  if (errors.length > 0) throw new Error(`invalid parameters for ${def.type}: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`);
  const inputs: Record<string, InputArtifact | InputArtifact[]> = {};
  for (const [port, value] of Object.entries(options.inputs ?? {})) {
    const kind = def.inputs[port]?.kind ?? 'any';
    const toArtifact = (path: string): InputArtifact => ({ path, kind, from: `test:${port}`, key: 'test' });
    inputs[port] = Array.isArray(value) ? value.map(toArtifact) : toArtifact(value);
  }
  const outputs: Record<string, string> = {};
  const metrics: Record<string, MetricValue> = {};
  const progress: ProgressEvent[] = [];
  const logs: string[] = [];
  await def.run({
    id: def.type,
    params,
    seed: options.seed ?? 0,
    inputs,
    output(port) {
      const spec = def.outputs[port];
      if (!spec) throw new Error(`${def.type} has no output port "${port}"`);
      if (!outputs[port]) {
        outputs[port] = isTableKind(spec.kind) ? join(dir, `${port}.arrow`) : join(dir, port);
        if (!isTableKind(spec.kind)) mkdirSync(outputs[port]!, { recursive: true });
      }
      return outputs[port]!;
    },
    progress: (e) => progress.push(e),
    metric: (name, value) => { metrics[name] = value; },
    log: (m) => logs.push(m),
    signal: new AbortController().signal,
    pipelineDir: options.pipelineDir ?? process.cwd(),
  });
  return { outputs, metrics, progress, logs, params };
}
