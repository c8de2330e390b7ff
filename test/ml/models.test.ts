import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Matrix, SVD } from 'ml-matrix';
import { describe, expect, it } from 'vitest';
import { poissonNllT } from '../../src/ml/autoencoder.js';
import { getTf } from '../../src/ml/engine.js';
import { poissonNll, rowPoissonDeviance } from '../../src/ml/metrics.js';
import { loadModel, saveModel } from '../../src/ml/model-io.js';
import { trainPca } from '../../src/ml/pca.js';
import { trainAutoencoder, type TrainOptions } from '../../src/ml/train.js';
import { Rng } from '../../src/util/random.js';

/** Smooth random spectra: mixtures of 3 Gaussian bands plus noise, values ~ counts. */
function spectra(n: number, d: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const a = [rng.uniform(), rng.uniform(), rng.uniform()];
    for (let j = 0; j < d; j++) {
      const v = 5 + 20 * a[0]! * Math.exp(-(((j - d * 0.3) / 4) ** 2)) + 15 * a[1]! * Math.exp(-(((j - d * 0.6) / 6) ** 2))
        + 10 * a[2]! * Math.exp(-(((j - d * 0.8) / 3) ** 2));
      x[i * d + j] = v + rng.normal(0, 0.5);
    }
  }
  return x;
}

const N = 48;
const D = 40; // not divisible by 8 or 16: exercises padding/cropping
const X = spectra(N, D, 3);

const SMALL: Record<'dense' | 'conv1d' | 'transformer', Partial<TrainOptions>> = {
  dense: { dense: { hidden: [16, 8] } },
  conv1d: { conv1d: { filters: [4, 8, 8], kernels: [5, 5, 3] } },
  transformer: { transformer: { patch: 8, d_model: 8, heads: 2, layers: 1, mlp: 16 } },
};

function opts(arch: keyof typeof SMALL, seed: number, extra: Partial<TrainOptions> = {}): TrainOptions {
  return { arch, latentDim: 3, epochs: 2, batchSize: 16, validation: 0.25, seed, ...SMALL[arch], ...extra };
}

async function weightsOf(arch: keyof typeof SMALL, seed: number, extra: Partial<TrainOptions> = {}): Promise<Float32Array[]> {
  const r = await trainAutoencoder({ n: N, d: D, x: X }, opts(arch, seed, extra));
  const snap = r.model.store.snapshot();
  r.model.dispose();
  return [...snap.values()];
}

function same(a: Float32Array[], b: Float32Array[]): boolean {
  return a.length === b.length && a.every((w, i) => w.length === b[i]!.length && w.every((v, j) => Object.is(v, b[i]![j])));
}

describe.each(['dense', 'conv1d', 'transformer'] as const)('%s autoencoder', (arch) => {
  it('is deterministic: same seed → bitwise-identical weights, other seed → different', async () => {
    const extra: Partial<TrainOptions> = { denoise: { noise: 'gaussian', level: 0.2 } };
    const a = await weightsOf(arch, 11, extra);
    const b = await weightsOf(arch, 11, extra);
    const c = await weightsOf(arch, 12, extra);
    expect(same(a, b)).toBe(true);
    expect(same(a, c)).toBe(false);
  });

  it('leaks no tensors and reloads from disk with identical encodings', async () => {
    const { tf } = await getTf();
    const before = tf.memory().numTensors;
    const r = await trainAutoencoder({ n: N, d: D, x: X }, opts(arch, 5, { loss: 'poisson', epochs: 3, patience: 1 }));
    expect(r.history.length).toBeGreaterThan(0);
    expect(r.history.every((h) => Number.isFinite(h.loss) && h.val_loss !== null)).toBe(true);
    const dir = join(mkdtempSync(join(tmpdir(), 'specflow-ml-')), 'model');
    await saveModel(r.model, dir);
    const z1 = await r.model.encode(X, N);
    const x1 = await r.model.decode(z1, N);
    r.model.dispose();
    expect(tf.memory().numTensors).toBe(before);

    const m = await loadModel(dir);
    expect([m.arch, m.inputDim, m.latentDim, m.loss]).toEqual([arch, D, 3, 'poisson']);
    const z2 = await m.encode(X, N);
    const x2 = await m.decode(z2, N);
    m.dispose();
    expect(Array.from(z2)).toEqual(Array.from(z1));
    expect(Array.from(x2)).toEqual(Array.from(x1));
    expect(x2.every((v) => v > 0)).toBe(true); // Poisson models output positive rates
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('training loop', () => {
  it('stops early with patience and restores the best validation weights', async () => {
    const r = await trainAutoencoder({ n: N, d: D, x: X }, opts('dense', 1, { epochs: 60, learningRate: 0.05, patience: 2 }));
    const vals = r.history.map((h) => h.val_loss!);
    const best = Math.min(...vals);
    expect(r.history[r.bestEpoch - 1]!.val_loss).toBe(best);
    if (r.epochsRun < 60) expect(r.epochsRun - r.bestEpoch).toBe(2);
    // the restored model's validation loss is the best one: re-evaluate through the public API
    r.model.dispose();
  });

  it('with validation 0 trains every epoch and reports no val_loss', async () => {
    const seen: number[] = [];
    const r = await trainAutoencoder({ n: N, d: D, x: X }, opts('dense', 1, { epochs: 3, validation: 0, onEpoch: (e) => seen.push(e.epoch) }));
    r.model.dispose();
    expect(seen).toEqual([1, 2, 3]);
    expect(r.history.every((h) => h.val_loss === null)).toBe(true);
  });

  it('refuses a dense activation it does not have, by name, before training', async () => {
    const bad = opts('dense', 1, { epochs: 1, dense: { hidden: [8], activation: 'elu' as 'relu' } });
    await expect(trainAutoencoder({ n: N, d: D, x: X }, bad)).rejects.toThrow('dense: unknown activation "elu"; use one of linear, relu, leaky_relu, tanh, gelu');
  });
});

describe('Poisson negative log-likelihood', () => {
  const rate = [0.5, 2, 3.5, 10, 0.1, 7];
  const y = [0, 3, 2, 12, 1, 7];
  // by hand: mean over i of λ − y·ln λ (the log y! term is constant in λ)
  const hand = (0.5 - 0) + (2 - 3 * Math.log(2)) + (3.5 - 2 * Math.log(3.5)) + (10 - 12 * Math.log(10))
    + (0.1 - Math.log(0.1)) + (7 - 7 * Math.log(7));

  it('the training loss matches a hand computation', async () => {
    const { tf } = await getTf();
    const l = tf.tidy(() => poissonNllT(tf, tf.tensor1d(rate), tf.tensor1d(y)));
    expect(l.dataSync()[0]).toBeCloseTo(hand / 6, 5);
    l.dispose();
    expect(poissonNll(rate, y)).toBeCloseTo(hand / 6, 6);
    // full NLL adds mean log y!: log 0! + log 3! + log 2! + log 12! + log 1! + log 7!
    const logFact = Math.log(6) + Math.log(2) + Math.log(479001600) + Math.log(5040);
    expect(poissonNll(rate, y, true)).toBeCloseTo((hand + logFact) / 6, 6);
  });

  it('the deviance is zero at the data and matches 2·(y ln(y/λ) − (y − λ))', () => {
    const yy = Float32Array.from(y);
    expect(rowPoissonDeviance(yy, Float32Array.from(y.map((v) => Math.max(v, 1e-12))), 1, 6)[0]).toBeCloseTo(0, 6);
    let s = 0;
    for (let i = 0; i < 6; i++) s += 2 * ((y[i]! > 0 ? y[i]! * Math.log(y[i]! / rate[i]!) : 0) - (y[i]! - rate[i]!));
    expect(rowPoissonDeviance(yy, Float32Array.from(rate), 1, 6)[0]).toBeCloseTo(s / 6, 5);
  });
});

describe('PCA', () => {
  it('encodes and decodes like an independent SVD of the centred matrix', async () => {
    const n = 12;
    const d = 6;
    const k = 3;
    const rng = new Rng(9);
    const x = Float32Array.from({ length: n * d }, () => rng.normal());
    const model = await trainPca(x, n, d, { latentDim: k });
    const z = await model.encode(x, n);
    const xr = await model.decode(z, n);

    const rows = Array.from({ length: n }, (_, i) => Array.from(x.subarray(i * d, (i + 1) * d)));
    const m = new Matrix(rows);
    const mean = m.mean('column');
    const c = m.clone().subRowVector(mean);
    const svd = new SVD(c, { computeLeftSingularVectors: true, computeRightSingularVectors: true, autoTranspose: false });
    const V = svd.rightSingularVectors; // d × d
    const s = svd.diagonal;
    for (let comp = 0; comp < k; comp++) {
      // explained variance: s² / (n − 1)
      expect(model.config.eigenvalues[comp]).toBeCloseTo(s[comp]! ** 2 / (n - 1), 8);
      // scores agree up to the sign of the component
      const ref = Array.from({ length: n }, (_, i) => svd.leftSingularVectors.get(i, comp) * s[comp]!);
      const sign = Math.sign(ref.reduce((acc, v, i) => acc + v * z[i * k + comp]!, 0));
      for (let i = 0; i < n; i++) expect(z[i * k + comp]!).toBeCloseTo(sign * ref[i]!, 4);
    }
    // reconstruction = mean + C·V_k·V_kᵀ
    const Vk = V.subMatrix(0, d - 1, 0, k - 1);
    const rec = c.mmul(Vk).mmul(Vk.transpose()).addRowVector(mean);
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) expect(xr[i * d + j]!).toBeCloseTo(rec.get(i, j), 4);
    const total = s.reduce((acc, v) => acc + v * v / (n - 1), 0);
    expect(model.config.explainedVariance[0]).toBeCloseTo(s[0]! ** 2 / (n - 1) / total, 8);

    const dir = join(mkdtempSync(join(tmpdir(), 'specflow-pca-')), 'model');
    await saveModel(model, dir);
    const loaded = await loadModel(dir);
    expect(loaded.arch).toBe('pca');
    expect(Array.from(await loaded.encode(x, n))).toEqual(Array.from(z));
  });
});
