/**
 * `preprocess`: an ordered list of steps in one stage, the vocabulary of RamanSPy
 * and chemotools. Each step is a one-key map (`- crop: {min: 690, max: 740}`) or a
 * bare name for steps without parameters (`- anscombe`). The numerical code is in
 * src/data/preprocess/.
 */
import type { JsonSchema, StageDef } from '../core/stage-api.js';
import { KIND } from './kinds.js';

const num = (description: string, extra: Record<string, unknown> = {}) => ({ type: 'number', description, ...extra });
const int = (description: string, extra: Record<string, unknown> = {}) => ({ type: 'integer', description, ...extra });
const obj = (properties: Record<string, unknown>, nullable = false): JsonSchema => ({
  type: nullable ? ['object', 'null'] : 'object', additionalProperties: false, properties,
});

/** One schema per step; unknown steps and unknown step parameters are errors. */
export const STEP_SCHEMAS: Record<string, JsonSchema> = {
  crop: {
    ...obj({ min: num('Lowest axis value kept (inclusive).'), max: num('Highest axis value kept (inclusive).') }),
    description: 'Keep the channels with min ≤ axis ≤ max.',
    anyOf: [{ required: ['min'] }, { required: ['max'] }],
  },
  resample: {
    ...obj({
      min: num('Start of the new grid (default: the largest first axis value of all spectra, so nothing is extrapolated).'),
      max: num('End of the new grid (default: the smallest last axis value of all spectra).'),
      step: num('Grid spacing in axis units.', { exclusiveMinimum: 0 }),
      n: int('Number of grid points (default: the median number of points of the spectra in the range).', { minimum: 2 }),
    }, true),
    description: 'Linear interpolation onto one evenly spaced grid; needed before other steps when spectra come on their own grids (long-layout CSV, JCAMP).',
  },
  despike: {
    ...obj({
      method: { type: 'string', enum: ['whitaker-hayes'], default: 'whitaker-hayes', description: 'Whitaker–Hayes: modified z-score of the first difference.' },
      threshold: num('Modified z-score above which a point is a spike (cosmic ray).', { exclusiveMinimum: 0, default: 8 }),
      window: int('Half-width of the neighbourhood whose unflagged points replace a spike.', { minimum: 1, default: 3 }),
    }, true),
    description: 'Remove cosmic-ray spikes.',
  },
  baseline: {
    ...obj({
      method: { type: 'string', enum: ['airpls', 'als', 'poly'], default: 'airpls', description: 'airpls: adaptive iteratively reweighted penalised least squares (ml-airpls); als: asymmetric least squares (Eilers & Boelens); poly: iterative modified polynomial fit.' },
      lambda: num('Smoothness of the baseline (airpls default 10, als default 1e5); larger is stiffer.', { exclusiveMinimum: 0 }),
      p: num('als: weight of points above the baseline (peaks), 0.001–0.1.', { exclusiveMinimum: 0, exclusiveMaximum: 1 }),
      degree: int('poly: polynomial degree (default 3).', { minimum: 0, maximum: 12 }),
      iterations: int('Maximum iterations (airpls 100, als 10, poly 100).', { minimum: 1 }),
      tolerance: num('Convergence tolerance (airpls 0.001, poly 0.001).', { exclusiveMinimum: 0 }),
    }, true),
    description: 'Estimate and subtract a smooth baseline (fluorescence, background).',
  },
  smooth: {
    ...obj({
      method: { type: 'string', enum: ['savgol', 'whittaker'], default: 'savgol', description: 'savgol: Savitzky–Golay local polynomial (ml-savitzky-golay-generalized); whittaker: penalised least squares with second differences.' },
      window: int('savgol: window length, odd, at least 5 (default 9).', { minimum: 5 }),
      polynomial: int('savgol: polynomial order, below the window, at most 8 (default 2).', { minimum: 0, maximum: 8 }),
      lambda: num('whittaker: smoothness (default 10).', { exclusiveMinimum: 0 }),
    }, true),
    description: 'Smooth each spectrum.',
  },
  derivative: {
    ...obj({
      order: int('Derivative order.', { minimum: 1, maximum: 4, default: 1 }),
      window: int('Savitzky–Golay window length, odd, at least 5.', { minimum: 5, default: 9 }),
      polynomial: int('Savitzky–Golay polynomial order, at most 8 (default: order + 1, at least 2).', { minimum: 1, maximum: 8 }),
    }, true),
    description: 'Savitzky–Golay derivative with respect to the axis (removes offsets and, for order 2, linear backgrounds).',
  },
  normalize: {
    ...obj({
      method: { type: 'string', enum: ['snv', 'msc', 'vector', 'minmax', 'max', 'area'], default: 'snv', description: 'snv: (y − mean)/sd per spectrum; msc: regress on the mean spectrum (of the fit set when given) and correct offset and slope; vector: unit L2 norm; minmax: to [0, 1]; max: divide by the maximum; area: divide by the mean level, i.e. the trapezoidal integral over the axis divided by the axis span, so every spectrum has the same area and a mean ≈ 1 (on an even grid, close to rows summing to the channel count).' },
    }, true),
    description: 'Per-spectrum normalisation (scatter, path length, intensity).',
  },
  anscombe: { ...obj({}, true), description: 'Anscombe transform 2√(y + 3/8): Poisson counts → roughly unit-variance Gaussian noise.' },
  log: {
    ...obj({
      base: { description: 'Logarithm base: e (default), 10 or 2.', anyOf: [{ type: 'string', enum: ['e'] }, { type: 'number', exclusiveMinimum: 0 }] },
      offset: num('Added before the logarithm (e.g. 1 for counts with zeros).', { default: 0 }),
    }, true),
    description: 'Logarithm of each value (absorbance-like scales, multiplicative noise).',
  },
  standardize: {
    ...obj({
      center: { type: 'boolean', default: true, description: 'Subtract the per-channel mean.' },
      scale: { type: 'boolean', default: true, description: 'Divide by the per-channel standard deviation.' },
    }, true),
    description: 'Per-channel z-score; mean and sd fitted on the `fit` input (the training split) when connected, else on these spectra.',
  },
};

const PARAMLESS_OK = Object.keys(STEP_SCHEMAS).filter((k) => k !== 'crop');

const SAME_LENGTH_STEPS = new Set(['despike', 'baseline', 'smooth', 'derivative', 'normalize', 'anscombe', 'log', 'standardize']);

export const preprocess: StageDef = {
  type: 'preprocess',
  description: 'Ordered preprocessing steps: crop, resample, despike, baseline, smooth, derivative, normalize, anscombe, log, standardize. The clean column goes through the same steps.',
  inputs: {
    spectra: { kind: KIND.spectra, description: 'Spectra to process.' },
    fit: { kind: KIND.spectra, optional: true, description: 'Spectra to fit statistics on (MSC reference, standardize mean/sd), usually the training split; passed through the same earlier steps.' },
  },
  outputs: { spectra: { kind: KIND.spectra, description: 'Processed spectra; ids, labels and metadata columns unchanged.' } },
  params: {
    type: 'object',
    additionalProperties: false,
    required: ['steps'],
    properties: {
      steps: {
        type: 'array',
        minItems: 1,
        description: `Steps in order, each a one-key map (e.g. {crop: {min: 690, max: 740}}) or, for steps whose parameters all have defaults, a bare name. Steps: ${Object.entries(STEP_SCHEMAS).map(([k, s]) => `${k} {${Object.keys(s.properties as object).join(', ')}} — ${String(s.description)}`).join(' ')}`,
        // Object keywords apply to maps only and the if/then to bare names only, so each kind of
        // mistake gets one precise error (and unknown step names a did-you-mean hint).
        items: {
          type: ['object', 'string'],
          minProperties: 1,
          maxProperties: 1,
          additionalProperties: false,
          properties: STEP_SCHEMAS,
          if: { type: 'string' },
          then: { enum: PARAMLESS_OK },
        },
      },
    },
  },
  seedless: true,
  cpu: true,
  packages: ['ml-airpls', 'ml-savitzky-golay-generalized', 'ml-matrix', 'apache-arrow'],
  module: import.meta.url,
  // steps that keep one value per channel; crop and resample change the count
  channels: (p, inputs) => ((p.steps as unknown[]).every((st) => SAME_LENGTH_STEPS.has(typeof st === 'string' ? st : Object.keys(st as object)[0]!)) ? inputs.spectra?.channels : undefined),
  async run(ctx) {
    const { readSpectra, writeSpectra, describeSpectra } = await import('../data/arrow-io.js');
    const { applyStep, prepareSteps, stepName, stepWhere } = await import('../data/preprocess/steps.js');
    const { toWork, fromWork } = await import('../data/preprocess/work.js');
    const input = ctx.inputs.spectra as { path: string };
    const fitInput = ctx.inputs.fit as { path: string } | undefined;
    const steps = ctx.params.steps as (string | Record<string, unknown>)[];
    const history = (metadata: Record<string, string>): string => {
      let before: unknown[] = [];
      try {
        before = JSON.parse(metadata.preprocess ?? '[]') as unknown[];
      } catch {
        before = [];
      }
      return JSON.stringify([...before, ...steps]);
    };
    const fit = fitInput ? toWork(await readSpectra(fitInput.path)) : undefined;
    if (fit) delete fit.clean;

    // Large tables on a common grid stream batch by batch (same bits as below); the
    // default resample range depends on the fit set's own grid, so that pair stays in memory.
    const { RowFile, shouldStream } = await import('../data/arrow-batches.js');
    const shape = await RowFile.open(input.path, ['spectrum']).catch(() => undefined);
    shape?.close();
    if (shape && shouldStream(shape.n, shape.d) && !(fit && steps.some((s) => stepName(s as never) === 'resample'))) {
      const { preprocessStreamed } = await import('../data/preprocess/stream.js');
      ctx.log(`streaming ${shape.n} spectra × ${shape.d} channels in record batches`);
      const { n, d } = await preprocessStreamed({
        input: input.path, output: ctx.output('spectra'), rows: shape.n, steps: steps as never, ...(fit ? { fit } : {}), history,
        where: 'with.steps', log: (m) => ctx.log(m), progress: (fraction, message) => ctx.progress({ fraction, message }), signal: ctx.signal,
      });
      ctx.log(`preprocessed ${n} spectra × ${d} channels`);
      ctx.metric('channels', d);
      return;
    }

    const table = await readSpectra(input.path);
    const main = toWork(table);
    await prepareSteps(steps as never);
    steps.forEach((step, k) => {
      if (ctx.signal.aborted) throw new Error('aborted');
      const name = stepName(step as never);
      applyStep(step as never, main, fit, { where: stepWhere('with.steps', k, step as never), log: (m) => ctx.log(m), metric: (m, v) => ctx.metric(m, v) });
      ctx.progress({ fraction: (k + 1) / steps.length, message: name });
    });
    const out = fromWork(table, main, history(table.metadata));
    await writeSpectra(ctx.output('spectra'), out);
    ctx.log(`preprocessed ${describeSpectra(out)}`);
    ctx.metric('channels', out.d);
  },
};
