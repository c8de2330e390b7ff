/**
 * A model applied to spectra on another axis computes nonsense with the right
 * channel count (PCA trained on EELS 690–740 eV applied to Raman 400–1800 cm⁻¹).
 * Stages where a model meets spectra compare the axis the model was trained on
 * with the spectra's, values and unit, and refuse a mismatch unless
 * `allow_axis_mismatch: true`.
 */
import { StageError, type JsonSchema, type StageContext } from '../core/stage-api.js';

export const allowAxisMismatchParam: JsonSchema = {
  type: 'boolean', default: false,
  description: 'Apply the model to spectra on another axis (values or unit) than it was trained on; normally an error. A warning is logged and the metric axis_mismatch set.',
};

interface Axis { values: ArrayLike<number>; unit: string; name?: string }

function describe(a: Axis): string {
  const n = a.values.length;
  const range = n ? `${Number(a.values[0]!.toPrecision(6))}–${Number(a.values[n - 1]!.toPrecision(6))}` : 'no values';
  return `${a.name ? `${a.name} ` : ''}${range}${a.unit ? ` ${a.unit}` : ''} (${n} channels)`;
}

/** Why the axes differ, or undefined when they agree (to half the model's channel spacing). */
export function axisMismatch(model: Axis, spectra: Axis): string | undefined {
  if (model.unit && spectra.unit && model.unit !== spectra.unit) return 'units differ';
  const n = model.values.length;
  if (n !== spectra.values.length) return 'channel counts differ';
  if (n === 0) return undefined;
  const spacing = n > 1 ? Math.abs(model.values[n - 1]! - model.values[0]!) / (n - 1) : Math.abs(model.values[0]!) || 1;
  for (let i = 0; i < n; i++) {
    if (!(Math.abs(model.values[i]! - spectra.values[i]!) <= spacing / 2)) return `channel ${i + 1} is at ${model.values[i]} for the model and ${spectra.values[i]} for the spectra`;
  }
  return undefined;
}

/** Throws (or, when allowed, warns) when the model at `modelDir` was trained on another axis. Models saved without an axis are not checked. */
export async function checkModelAxis(
  ctx: Pick<StageContext, 'params' | 'log' | 'metric'>, modelDir: string, modelFrom: string,
  table: { axis: ArrayLike<number>; axisUnit: string; axisName: string }, spectraFrom: string,
): Promise<void> {
  const spectra: Axis = { values: table.axis, unit: table.axisUnit, name: table.axisName };
  const { readModelConfig } = await import('../ml/model-io.js');
  const cfg = await readModelConfig(modelDir).catch(() => undefined);
  const axis = (cfg as { axis?: Axis } | undefined)?.axis;
  if (!axis) return;
  const why = axisMismatch(axis, spectra);
  if (!why) return;
  const message = `model ${modelFrom} was trained on ${describe(axis)}, but the spectra are on ${describe(spectra)} (${why})`;
  if (ctx.params.allow_axis_mismatch !== true) {
    throw new StageError(`${message}; preprocess them onto the model's axis (crop, resample), or set allow_axis_mismatch: true`, spectraFrom);
  }
  ctx.log(`warning: ${message}; applied anyway (allow_axis_mismatch: true)`);
  ctx.metric('axis_mismatch', true);
}
