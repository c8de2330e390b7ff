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

export async function runPca(ctx: StageContext, latent: number, modelPort: string, variancePort?: string): Promise<void> {
  const { t, from } = await readTrainingSpectra(ctx);
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
    explained_variance: { better: 'higher', description: 'fraction of the variance the components explain' },
  },
  params: { type: 'object', properties: { latent_dim: latentDim } },
  cpu: true,
  seedless: true,
  packages: ['ml-pca', 'ml-matrix', 'apache-arrow'],
  module: import.meta.url,
  check: (p, inputs) => latentWithinChannels(p, inputs),
  async run(ctx) {
    await runPca(ctx, ctx.params.latent_dim as number, 'model', 'variance');
  },
};

/** PCA cannot have more components than channels (known at validation when the input's channel count is). */
export function latentWithinChannels(p: Record<string, unknown>, inputs: InputShapes): ParamProblem[] {
  const d = inputs.spectra?.channels;
  const k = p.latent_dim as number;
  return d !== undefined && k > d ? [{ path: ['latent_dim'], message: `latent_dim ${k} exceeds the ${d} channels of the input spectra` }] : [];
}
