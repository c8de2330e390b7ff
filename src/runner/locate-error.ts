/**
 * A stage finds some bad parameter values only once it sees its data (a batch larger than the
 * table, Poisson noise on values that are not counts, a preprocessing step a spectrum cannot take).
 * It names the parameter as the prefix of its StageError (`with.learning_rate: …`,
 * `with.steps[1] (normalize), spectrum "s3": …`); here that prefix gets the parameter's place in
 * the pipeline file, as validation errors have, so the user goes straight to the line to change.
 * The prefix travels as text because errors cross worker threads, processes and hosts as strings.
 */
import { formatLocated, type SourcePos } from './errors.js';
import type { Pipeline } from './pipeline.js';
import { parseYamlWithPositions, type Path, type PositionIndex } from './yaml-source.js';

const PARAM_PREFIX = /^with((?:\.[A-Za-z_][A-Za-z0-9_-]*|\[\d+\])+)(?=[:,\s(])/;

/** `with.denoise.level` → ['denoise', 'level']; `with.steps[2]` → ['steps', 2]; else undefined. */
export function paramPathOf(error: string): Path | undefined {
  const m = PARAM_PREFIX.exec(error);
  if (!m) return undefined;
  return [...m[1]!.matchAll(/\.([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]/g)].map((s) => (s[1] !== undefined ? s[1] : Number(s[2])));
}

const positionsOf = new WeakMap<Pipeline, PositionIndex>();

/** Where `with.<path>` of stage `stageId` is written; for a parameter left at its default, the
 * `with:` key (or the stage's own key when it has no `with:`). */
export function paramPosition(pipeline: Pipeline, stageId: string, path: Path): SourcePos | undefined {
  let positions = positionsOf.get(pipeline);
  if (!positions) {
    positions = parseYamlWithPositions(pipeline.text, pipeline.file).positions;
    positionsOf.set(pipeline, positions);
  }
  const full: Path = ['stages', stageId, 'with', ...path];
  const exact = positions.exact(full);
  if (exact) return exact;
  for (let i = full.length - 1; i >= 2; i--) {
    const prefix = full.slice(0, i);
    if (positions.exact(prefix)) return positions.key(prefix);
  }
  return undefined;
}

/** The error with `file:line:col: ` in front when it starts by naming a parameter of the stage. */
export function locateStageError(pipeline: Pipeline, stageId: string, error: string): string {
  const path = paramPathOf(error);
  if (!path) return error;
  const pos = paramPosition(pipeline, stageId, path);
  if (!pos) return error;
  const [first, ...rest] = error.split('\n');
  return [formatLocated({ file: pipeline.file, pos, message: first! }), ...rest].join('\n');
}
