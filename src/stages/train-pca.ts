/**
 * `train.pca`: PCA with latent_dim components behind the same model interface
 * as the autoencoders. `train.autoencoder` with `arch: pca` runs exactly this.
 * Heavy modules (ml-pca, apache-arrow) are imported inside run().
 */
import { StageError, type InputShapes, type ParamProblem, type StageContext, type StageDef } from '../core/stage-api.js';
import { KIND } from './kinds.js';

const latentDim = { type: 'integer', minimum: 1, default: 8, description: 'Number of principal components k.' };

export async function readTrainingSpectra(ctx: StageContext) {
  const { readSpectra, requireCommonGrid } = await import('../data/arrow-io.js');
  const input = ctx.inputs.spectra;
  if (!input || Array.isArray(input)) throw new StageError('needs one spectra table on port "spectra"');
  const t = await readSpectra(input.path);
  requireCommonGrid(t, input.from);
  if (t.n < 2) throw new StageError(`needs at least 2 spectra to train, got ${t.n}`, input.from);
  for (const [name, values] of [['spectrum', t.spectra], ['clean', t.clean]] as const) {
    if (!values) continue;
    const bad = values.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new StageError(`non-finite value in column "${name}" (spectrum ${t.ids[Math.floor(bad / t.d)]}, channel ${bad % t.d})`, input.from);
  }
  return { t, from: input.from };
}

/** Spectra PCA is fitted on by default: ml-pca needs them all in memory (n × d float64, plus copies). */
export const PCA_FIT_SAMPLE = 20_000;

/**
 * The training spectra, or a seeded sample of `fitSample` of them when there are more
 * (read by file offset, so the table is never loaded whole); `of` is the table's row count.
 */
async function readPcaSpectra(ctx: StageContext, fitSample: number) {
  const input = ctx.inputs.spectra;
  if (!input || Array.isArray(input)) throw new StageError('needs one spectra table on port "spectra"');
  const { RowFile } = await import('../data/arrow-batches.js');
  const file = await RowFile.open(input.path, ['spectrum']).catch(() => undefined);
  if (!file || file.n <= fitSample) {
    file?.close();
    const { t, from } = await readTrainingSpectra(ctx);
    if (t.n <= fitSample) return { t, from, of: t.n };
    return { t: (await import('../data/split.js')).subsetSpectra(t, Array.from(await pcaSample(ctx, t.n, fitSample))), from, of: t.n };
  }
  try {
    const idx = await pcaSample(ctx, file.n, fitSample);
    const spectra = new Float32Array(idx.length * file.d);
    file.read(0, idx, spectra);
    const bad = spectra.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new StageError(`non-finite value in column "spectrum" (row ${idx[Math.floor(bad / file.d)]! + 1}, channel ${bad % file.d})`, input.from);
    const { readSpectraBatches } = await import('../data/arrow-io.js');
    // the axis is in the schema: the first batch carries it (then close the reader: a generator left open keeps its file)
    const batches = readSpectraBatches(input.path);
    const { value: head } = await batches.next();
    await batches.return(undefined);
    const t = { ...head!.t, n: idx.length, d: file.d, spectra };
    return { t, from: input.from, of: file.n };
  } finally {
    file.close();
  }
}

async function pcaSample(ctx: StageContext, n: number, size: number): Promise<Int32Array> {
  const { sampleIndices } = await import('../analysis/clustering-metrics.js');
  const { deriveSeed, Rng } = await import('../util/random.js');
  return sampleIndices(n, size, new Rng(deriveSeed(ctx.seed, 'pca-fit-sample')));
}

export async function runPca(ctx: StageContext, latent: number, modelPort: string, variancePort?: string, fitSample = PCA_FIT_SAMPLE): Promise<void> {
  const { t, from, of } = await readPcaSpectra(ctx, fitSample);
  if (t.n < of) ctx.log(`PCA fitted on a seeded sample of ${t.n} of ${of} spectra (fit_sample)`);
  ctx.metric('fit_sample', t.n);
  if (latent > Math.min(t.n, t.d)) {
    throw new StageError(`latent_dim ${latent} exceeds min(spectra, channels) = min(${t.n}, ${t.d})`, from);
  }
  const t0 = performance.now();
  const { trainPca } = await import('../ml/pca.js');
  const { saveModel } = await import('../ml/model-io.js');
  const model = await trainPca(t.spectra, t.n, t.d, {
    latentDim: latent,
    axis: { values: Array.from(t.axis), unit: t.axisUnit, name: t.axisName },
    seed: ctx.seed,
  });
  await saveModel(model, ctx.output(modelPort));
  const seconds = (performance.now() - t0) / 1000;
  const ev = model.config.explainedVariance;
  if (variancePort) {
    const { writeRecords, META } = await import('../data/arrow-io.js');
    let cum = 0;
    const rows = ev.map((r, i) => {
      cum += r;
      return { component: i + 1, eigenvalue: model.config.eigenvalues[i]!, explained_variance: r, cumulative: cum };
    });
    await writeRecords(ctx.output(variancePort), rows, { [META.kind]: 'variance' }, {
      columns: ['component', 'eigenvalue', 'explained_variance', 'cumulative'],
      types: { component: 'int32', eigenvalue: 'float64', explained_variance: 'float64', cumulative: 'float64' },
    });
  }
  ctx.metric('explained_variance', ev.reduce((a, b) => a + b, 0));
  ctx.metric('seconds', seconds);
  ctx.progress({ fraction: 1 });
  ctx.log(`PCA, ${latent} components on ${t.n} spectra × ${t.d} channels: ${(100 * ev.reduce((a, b) => a + b, 0)).toFixed(2)} % of the variance`);
}

export const trainPcaStage: StageDef = {
  type: 'train.pca',
  description: 'PCA with latent_dim components (the linear baseline), usable wherever an autoencoder is; also outputs the explained variance per component.',
  inputs: { spectra: { kind: KIND.spectra, description: 'Training spectra.' } },
  outputs: {
    model: { kind: KIND.pca, description: 'Model directory (config.json + weights.bin).' },
    variance: { kind: KIND.table, description: 'component, eigenvalue, explained_variance, cumulative (the scree plot data).' },
  },
  metrics: {
    explained_variance: { better: 'higher', description: 'fraction of the variance the components explain (of the fitted sample)' },
    fit_sample: { description: 'spectra PCA was fitted on' },
  },
  params: {
    type: 'object',
    properties: {
      latent_dim: latentDim,
      fit_sample: {
        type: 'integer', minimum: 2, default: PCA_FIT_SAMPLE,
        description: 'PCA is fitted on a seeded sample of this many spectra when there are more (read by file offset; ml-pca holds its input in memory); the size used is the metric fit_sample. The model then encodes every spectrum.',
      },
    },
  },
  cpu: true,
  packages: ['ml-pca', 'ml-matrix', 'apache-arrow'],
  module: import.meta.url,
  check: (p, inputs) => latentWithinChannels(p, inputs),
  async run(ctx) {
    await runPca(ctx, ctx.params.latent_dim as number, 'model', 'variance', ctx.params.fit_sample as number);
  },
};

/** PCA cannot have more components than channels (known at validation when the input's channel count is). */
export function latentWithinChannels(p: Record<string, unknown>, inputs: InputShapes): ParamProblem[] {
  const d = inputs.spectra?.channels;
  const k = p.latent_dim as number;
  return d !== undefined && k > d ? [{ path: ['latent_dim'], message: `latent_dim ${k} exceeds the ${d} channels of the input spectra` }] : [];
}
