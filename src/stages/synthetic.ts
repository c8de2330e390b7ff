/**
 * Synthetic data sets from the seed papers, deterministic from the pipeline seed
 * (same seed → identical bytes). Physics and statistics live in src/data/synthetic/.
 */
import type { StageContext, StageDef } from '../core/stage-api.js';
import { KIND } from './kinds.js';

const EELS_PHASE_NAMES = ['Fe2O3', 'FeO', 'Fe3O4', 'amorphous', 'Fe'];

async function write(ctx: StageContext, table: import('../data/arrow-io.js').SpectraTable): Promise<void> {
  const { writeSpectra, describeSpectra } = await import('../data/arrow-io.js');
  await writeSpectra(ctx.output('spectra'), table);
  ctx.log(`generated ${describeSpectra(table)}`);
  ctx.metric('spectra', table.n);
  ctx.metric('channels', table.d);
}

const perClass = (def: number) => ({ type: 'integer', minimum: 1, maximum: 10_000_000, default: def, description: 'Spectra (samples) generated per class.' });

export const syntheticEels: StageDef = {
  type: 'synthetic.eels',
  description: 'Fe L₂,₃ EELS near-edge spectra of iron-oxide phases (Fe₂O₃, FeO, Fe₃O₄, amorphous, metallic Fe) with Poisson counting noise; `spectrum` = counts, `clean` = expected counts, label = phase.',
  inputs: {},
  outputs: { spectra: { kind: KIND.spectra, description: 'Noisy counts in `spectrum`, noise-free expectation in `clean`, phase in `label`; `anomaly` column when an anomaly phase is set.' } },
  params: {
    type: 'object',
    additionalProperties: false,
    // DESIGN.md's example pipeline says per_phase
    'x-aliases': { per_phase: 'per_class' },
    properties: {
      phases: {
        description: `Phases to generate: a number n takes the first n of ${EELS_PHASE_NAMES.join(', ')}; or a list of their names. Fe₂O₃ (hematite, Fe³⁺): L₃ 709.8 eV with a t₂g pre-peak 1.6 eV below, L₃/L₂ ≈ 5.2. FeO (wüstite, Fe²⁺): L₃ 707.7 eV, high-energy shoulder, L₃/L₂ ≈ 4.3. Fe₃O₄ (magnetite, Fe²⁺/Fe³⁺): L₃ 709.2 eV, broad, Fe²⁺ shoulder 1.5 eV below, L₃/L₂ ≈ 4.7. amorphous/surface oxide: L₃ 708.3 eV, broad lines, L₃/L₂ ≈ 3.9. Fe metal: L₃ 707.0 eV, L₃/L₂ ≈ 3.2, weak white lines. L₂ lies ~13 eV above L₃ (spin-orbit splitting of Fe 2p).`,
        default: 4,
        anyOf: [
          { type: 'integer', minimum: 1, maximum: EELS_PHASE_NAMES.length },
          { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', enum: EELS_PHASE_NAMES } },
        ],
      },
      per_class: { ...perClass(100), description: 'Spectra generated per phase (also accepted as per_phase).' },
      channels: { type: 'integer', minimum: 8, maximum: 65536, default: 256, description: 'Detector channels across the energy window (spectrometer dispersion = (e_max − e_min)/(channels − 1) eV per channel).' },
      dose: { type: 'number', exclusiveMinimum: 0, default: 50, description: 'Electron dose: mean counts per channel of a spectrum. Counting noise is Poisson, so the signal-to-noise ratio per channel is ≈ √dose.' },
      e_min: { type: 'number', default: 690, description: 'Start of the energy-loss window (eV); the Fe L₃ edge is at ~708 eV.' },
      e_max: { type: 'number', default: 740, description: 'End of the energy-loss window (eV); the Fe L₂ edge is at ~721 eV.' },
      anomaly: {
        description: `A phase (name, or 0-based index into ${EELS_PHASE_NAMES.join(', ')}) held out for anomaly detection: its spectra get anomaly = true (all others false) in an \`anomaly\` column. If it is not among \`phases\` its spectra are added; with include_anomaly: false they are left out, giving a training set of normal phases only. Spectra are seeded one by one, so the normal spectra are identical with or without the anomaly.`,
        anyOf: [{ type: 'string', enum: EELS_PHASE_NAMES }, { type: 'integer', minimum: 0, maximum: EELS_PHASE_NAMES.length - 1 }],
      },
      anomaly_count: { type: 'integer', minimum: 1, description: 'Number of anomaly spectra (default: per_class).' },
      include_anomaly: { type: 'boolean', default: true, description: 'Generate the anomaly phase\'s spectra (false: only the normal phases).' },
      shift_jitter: { type: 'number', minimum: 0, default: 0.15, description: 'Standard deviation (eV) of a per-spectrum energy shift: drift of the spectrometer\'s energy calibration / local chemical shift.' },
      intensity_jitter: { type: 'number', minimum: 0, default: 0.1, description: 'Log-normal standard deviation of the per-spectrum total intensity: sample thickness and beam-current variation.' },
      background: { type: 'number', minimum: 0, default: 1, description: 'Height of the power-law pre-edge background at e_min relative to the L₂,₃ edge step (tail of lower-energy losses): 1 is a thin specimen (edge jump ratio ≈ 1); thicker samples have more, and their phase contrast drowns sooner in counting noise.' },
      exponent: { type: 'number', minimum: 0, default: 3, description: 'Exponent r of the pre-edge background A·E^−r (typically 2–5 for core-loss EELS).' },
      map: {
        type: 'object',
        additionalProperties: false,
        required: ['width', 'height'],
        description: 'Spectrum-image mode: one spectrum per pixel of a width × height map (per_class is then not used), the phases laid out in seeded Voronoi grains (an anomaly phase is one grain); writes the navigation coordinates `x`, `y` (nm) and the map geometry, so the report draws phase maps.',
        properties: {
          width: { type: 'integer', minimum: 1, maximum: 4096, description: 'Pixels across.' },
          height: { type: 'integer', minimum: 1, maximum: 4096, description: 'Pixels down.' },
          grains: { type: 'integer', minimum: 1, description: 'Number of grains (default 3 per phase); at least the number of phases.' },
          pixel_size: { type: 'number', exclusiveMinimum: 0, default: 1, description: 'Step between pixels (nm).' },
        },
      },
    },
  },
  packages: ['apache-arrow'],
  module: import.meta.url,
  channels: (p) => p.channels as number,
  check: (p) => ((p.e_min as number) < (p.e_max as number) ? [] : [{ path: ['e_max'], message: `e_max (${String(p.e_max)}) must be above e_min (${String(p.e_min)})` }]),
  async run(ctx) {
    const { generateEels } = await import('../data/synthetic/eels.js');
    const { StageError } = await import('../core/stage-api.js');
    const p = ctx.params;
    if ((p.e_max as number) <= (p.e_min as number)) throw new StageError('e_max must be above e_min', 'with.e_max');
    const map = p.map as { width: number; height: number; grains?: number; pixel_size?: number } | undefined;
    if (map && p.include_anomaly === false) throw new StageError('include_anomaly: false leaves holes in a map; a map always has every phase', 'with.include_anomaly');
    let table;
    try {
      const options = {
        phases: p.phases as number | string[],
        perClass: p.per_class as number,
        channels: p.channels as number,
        dose: p.dose as number,
        eMin: p.e_min as number,
        eMax: p.e_max as number,
        anomaly: p.anomaly as string | number | undefined,
        anomalyCount: p.anomaly_count as number | undefined,
        includeAnomaly: p.include_anomaly as boolean,
        shiftJitter: p.shift_jitter as number,
        intensityJitter: p.intensity_jitter as number,
        background: p.background as number,
        exponent: p.exponent as number,
        ...(map ? { map: { width: map.width, height: map.height, grains: map.grains, pixelSize: map.pixel_size ?? 1 } } : {}),
      };
      const { shouldStream } = await import('../data/arrow-batches.js');
      if (options.map && shouldStream(map!.width * map!.height, 2 * options.channels)) {
        const { eelsMapRows } = await import('../data/synthetic/eels.js');
        const { ChunkPool } = await import('../data/chunk-pool.js');
        const o = { ...options, map: options.map };
        eelsMapRows({ seed: ctx.seed, o, from: 0, to: 0 }); // option errors before any work
        const pool = new ChunkPool(new URL('../data/synthetic/eels-worker.js', import.meta.url), eelsMapRows);
        await writeRowsStreamed(ctx, 'synthetic.eels', map!.width * map!.height, options.channels, pool, (from, to) => ({ seed: ctx.seed, o, from, to }), (t) => t);
        return;
      }
      table = generateEels(ctx.seed, options);
    } catch (e) {
      if (map && e instanceof Error && e.message.startsWith('map.grains')) throw new StageError(e.message, 'with.map.grains');
      throw e;
    }
    await write(ctx, table);
  },
};

export const syntheticRaman: StageDef = {
  type: 'synthetic.raman',
  description: 'SERS-like spectra of metabolite classes (adenine, glucose, lactate, uric acid, glutathione, creatinine) on 400–1800 cm⁻¹ with fluorescence background, jitter and shot noise.',
  inputs: {},
  outputs: { spectra: { kind: KIND.spectra, description: 'Noisy spectra in `spectrum`, noise-free in `clean`, metabolite in `label`.' } },
  params: {
    type: 'object',
    additionalProperties: false,
    properties: {
      classes: { type: 'integer', minimum: 1, maximum: 6, default: 4, description: 'Number of metabolite classes, taken in order from adenine (735 cm⁻¹ ring breathing), glucose (1125, 520 cm⁻¹ C–O/C–C), lactate (855 cm⁻¹), uric acid (640 cm⁻¹), glutathione (670 cm⁻¹ C–S), creatinine (605, 840 cm⁻¹). All classes also share phenylalanine (1003), CH₂ (1450) and amide I (1655) bands.' },
      per_class: perClass(100),
      channels: { type: 'integer', minimum: 8, maximum: 65536, default: 512, description: 'Points across the Raman-shift window.' },
      noise: { type: 'number', exclusiveMinimum: 0, default: 0.05, description: 'Shot noise: relative standard deviation of a band of unit height (photon counts ~ Poisson(intensity / noise²)).' },
      x_min: { type: 'number', default: 400, description: 'Start of the Raman-shift window (cm⁻¹).' },
      x_max: { type: 'number', default: 1800, description: 'End of the Raman-shift window (cm⁻¹).' },
      shift_jitter: { type: 'number', minimum: 0, default: 2, description: 'Standard deviation (cm⁻¹) of a per-spectrum band shift: calibration drift and substrate–analyte interaction.' },
      intensity_jitter: { type: 'number', minimum: 0, default: 0.25, description: 'Log-normal standard deviation of the SERS enhancement of the analyte bands (hot-spot variability between spectra).' },
      fluorescence: { type: 'number', minimum: 0, default: 1, description: 'Mean level of the smooth fluorescence background, relative to the strongest class band.' },
    },
  },
  packages: ['spectrum-generator', 'apache-arrow'],
  module: import.meta.url,
  channels: (p) => p.channels as number,
  check: (p) => ((p.x_min as number) < (p.x_max as number) ? [] : [{ path: ['x_max'], message: `x_max (${String(p.x_max)}) must be above x_min (${String(p.x_min)})` }]),
  async run(ctx) {
    const { generateRaman } = await import('../data/synthetic/raman.js');
    const { StageError } = await import('../core/stage-api.js');
    const p = ctx.params;
    if ((p.x_max as number) <= (p.x_min as number)) throw new StageError('x_max must be above x_min', 'with.x_max');
    const options = {
      classes: p.classes as number,
      perClass: p.per_class as number,
      channels: p.channels as number,
      noise: p.noise as number,
      xMin: p.x_min as number,
      xMax: p.x_max as number,
      shiftJitter: p.shift_jitter as number,
      intensityJitter: p.intensity_jitter as number,
      fluorescence: p.fluorescence as number,
    };
    const n = Math.min(p.classes as number, 6) * options.perClass;
    const { shouldStream } = await import('../data/arrow-batches.js');
    if (shouldStream(n, 2 * options.channels)) await writeRamanStreamed(ctx, n, options);
    else await write(ctx, await generateRaman(ctx.seed, options));
  },
};

/** Large data sets: ranges of rows generated on the worker-thread pool and written batch by batch (same bytes). */
async function writeRamanStreamed(ctx: StageContext, n: number, o: import('../data/synthetic/raman.js').RamanOptions): Promise<void> {
  const { ramanRows, ramanTable } = await import('../data/synthetic/raman.js');
  const { ChunkPool } = await import('../data/chunk-pool.js');
  const pool = new ChunkPool(new URL('../data/synthetic/raman-worker.js', import.meta.url), ramanRows);
  await writeRowsStreamed(ctx, 'synthetic.raman', n, o.channels, pool, (from, to) => ({ seed: ctx.seed, o, from, to }), (rows, from, to) => ({ ...ramanTable(o, from, to), ...rows }));
}

/**
 * Rows [0, n) made range by range on `pool` (ranges of one record batch, a few in flight)
 * and written in order as they come back: the bytes of writing the whole table at once.
 */
async function writeRowsStreamed<J, R>(
  ctx: StageContext, label: string, n: number, channels: number, pool: import('../data/chunk-pool.js').ChunkPool<J, R>,
  job: (from: number, to: number) => J, table: (result: R, from: number, to: number) => import('../data/arrow-io.js').SpectraTable,
): Promise<void> {
  const { batchRows } = await import('../data/arrow-batches.js');
  const { SpectraWriter, spectraHeader } = await import('../data/arrow-io.js');
  const { inOrder } = await import('../data/chunk-pool.js');
  const { RateMeter } = await import('../util/progress.js');
  const step = batchRows(channels);
  async function* ranges() {
    for (let from = 0; from < n; from += step) yield { from, to: Math.min(n, from + step) };
  }
  let writer: InstanceType<typeof SpectraWriter> | undefined;
  const rate = new RateMeter();
  try {
    await inOrder(ranges(), pool.threads + 1, (r) => pool.run(job(r.from, r.to)), (rows, r) => {
      if (ctx.signal.aborted) throw new Error('aborted');
      const t = table(rows, r.from, r.to);
      writer ??= new SpectraWriter(ctx.output('spectra'), spectraHeader(t));
      writer.write(t);
      ctx.progress({ fraction: r.to / n, message: rate.message(label, r.to, n) });
    });
    writer!.close();
  } catch (e) {
    writer?.abort();
    throw e;
  } finally {
    await pool.destroy();
  }
  ctx.log(`generated ${n} spectra × ${channels} channels (streamed)`);
  ctx.metric('spectra', n);
  ctx.metric('channels', channels);
}

export const syntheticRelevance: StageDef = {
  type: 'synthetic.relevance',
  description: 'Independent-Gaussian benchmark of the spectral feature-relevance paper: 2 classes, features whose class means differ by a per-feature Δμ (Δμ = 0: irrelevant). The true Δμ is in the schema metadata `delta_mu`.',
  inputs: {},
  outputs: { spectra: { kind: KIND.spectra, description: 'One sample a row, features as channels (axis = feature index), label 0/1.' } },
  params: {
    type: 'object',
    additionalProperties: false,
    properties: {
      per_class: perClass(500),
      delta_mu: {
        type: 'array', minItems: 1, items: { type: 'number' },
        default: [2, 1.8, 1.6, 1.4, 1.2, 1, 0.8, 0.6, 0.4, 0.2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        description: 'Difference of the class means per feature (its length is the number of features); class 0 has mean −Δμ/2, class 1 +Δμ/2. Default: 20 features, ten informative with Δμ from 2 down to 0.2, ten irrelevant.',
      },
      sd: { type: 'number', exclusiveMinimum: 0, default: 1, description: 'Standard deviation of every feature within a class.' },
    },
  },
  packages: ['apache-arrow'],
  module: import.meta.url,
  channels: (p) => (p.delta_mu as number[]).length,
  async run(ctx) {
    const { generateRelevance } = await import('../data/synthetic/relevance.js');
    await write(ctx, generateRelevance(ctx.seed, ctx.params.per_class as number, ctx.params.delta_mu as number[], ctx.params.sd as number));
  },
};

export const syntheticCorrelated: StageDef = {
  type: 'synthetic.correlated',
  description: 'Correlated benchmark of the spectral feature-relevance paper: 10 features in 4 pairs (x₂ₙ, x₂ₙ₊₁) plus 2 noise features; no single feature separates the classes, pairs do. The pₙ are in the schema metadata `p`.',
  inputs: {},
  outputs: { spectra: { kind: KIND.spectra, description: 'One sample a row, 10 features as channels, label 0/1.' } },
  params: {
    type: 'object',
    additionalProperties: false,
    properties: {
      per_class: perClass(500),
      p: {
        type: 'array', minItems: 4, maxItems: 4, items: { type: 'number', minimum: 0, maximum: 1 },
        default: [1, 0.75, 0.5, 0.25],
        description: 'pₙ for the 4 pairs: x₂ₙ ~ N(0,1); class 0 has x₂ₙ₊₁ = x₂ₙ, class 1 has x₂ₙ₊₁ = −x₂ₙ with probability pₙ, else x₂ₙ. Larger pₙ makes pair n more informative; features 8 and 9 are pure N(0,1) noise.',
      },
    },
  },
  packages: ['apache-arrow'],
  module: import.meta.url,
  async run(ctx) {
    const { generateCorrelated } = await import('../data/synthetic/relevance.js');
    await write(ctx, generateCorrelated(ctx.seed, ctx.params.per_class as number, ctx.params.p as number[]));
  },
};
