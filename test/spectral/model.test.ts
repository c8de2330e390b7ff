/**
 * The spectral network itself: seeded determinism, the relevance formula,
 * save/load round trip, masking, and no tensor leaks.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { evaluate, classIndices, SpectralNet, trainSpectral, type TF } from '../../src/ml/spectral/index.js';
import { Rng } from '../../src/util/random.js';

let tf: TF;
beforeAll(async () => {
  tf = (await (await import('../../src/ml/backend.js')).initBackend()).tf;
});

/** Two classes separated along feature 0 only; features 1..d-1 are noise. */
function toy(n: number, d: number, seed: number) {
  const rng = new Rng(seed);
  const x = new Float32Array(n * d);
  const labels: string[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % 2;
    for (let j = 0; j < d; j++) x[i * d + j] = rng.normal(j === 0 ? (c ? 1.5 : -1.5) : 0, 0.5);
    labels.push(String(c));
  }
  return { x, n, d, labels };
}

describe('SpectralNet', () => {
  it('same seed gives bitwise-identical weights; another seed does not', async () => {
    const data = toy(120, 6, 1);
    const opts = { task: 'classify' as const, hidden: [16, 8], epochs: 3, batchSize: 16, seed: 42 };
    const a = await trainSpectral(tf, data, opts);
    const b = await trainSpectral(tf, data, opts);
    const c = await trainSpectral(tf, data, { ...opts, seed: 43 });
    const va = a.net.values();
    const vb = b.net.values();
    va.forEach((v, i) => expect(Buffer.from(v.buffer).equals(Buffer.from(vb[i]!.buffer))).toBe(true));
    expect(Buffer.from(va[1]!.buffer).equals(Buffer.from(c.net.values()[1]!.buffer))).toBe(false);
    expect(a.history).toEqual(b.history);
    [a, b, c].forEach((r) => r.net.dispose());
  });

  it('λ starts at 1, relevance = |λ_j|·‖φ_j‖, and the informative input ranks first', async () => {
    const data = toy(300, 5, 2);
    const untrained = SpectralNet.create(tf, {
      format: 'specflow.spectral', version: 1, task: 'classify', loss: 'cross_entropy', inputDim: 5, hidden: [10, 4], activation: 'relu',
      outputDim: 2, classes: ['0', '1'], lambdaL2: 0.01, phiL2: 1e-4, targetMean: 0, targetScale: 1, featureNames: ['a', 'b', 'c', 'd', 'e'], seed: 1,
    });
    expect(Array.from(untrained.lambda.dataSync())).toEqual([1, 1, 1, 1, 1]);
    untrained.dispose();
    const { net } = await trainSpectral(tf, data, { task: 'classify', hidden: [20, 10], epochs: 30, batchSize: 32, learningRate: 3e-3, seed: 3 });
    const rel = net.relevance();
    const lam = net.lambda.dataSync();
    const phi = net.phi.dataSync();
    for (const r of rel) {
      let s = 0;
      for (let i = 0; i < 20; i++) s += phi[r.feature * 20 + i]! ** 2;
      expect(r.score).toBeCloseTo(Math.abs(lam[r.feature]!) * Math.sqrt(s), 5);
    }
    expect(rel.find((r) => r.rank === 1)!.feature).toBe(0);
    expect(new Set(rel.map((r) => r.rank))).toEqual(new Set([1, 2, 3, 4, 5]));
    net.dispose();
  });

  it('saves and reloads to identical predictions, with standardisation and regression scaling', async () => {
    const data = toy(100, 4, 4);
    const y = Array.from({ length: 100 }, (_, i) => 50 + 3 * data.x[i * 4]! + (i % 3));
    const { net } = await trainSpectral(tf, { ...data, y }, { task: 'regress', hidden: [8, 4], epochs: 5, standardize: true, seed: 5, target: 'y' });
    const dir = join(mkdtempSync(join(tmpdir(), 'spectral-')), 'model');
    await net.save(dir);
    const back = await SpectralNet.load(tf, dir);
    expect(back.config.target).toBe('y');
    expect(back.config.inputMean).toHaveLength(4);
    expect(Array.from(back.predict(data.x, 100))).toEqual(Array.from(net.predict(data.x, 100)));
    // predictions are in target units (around 50), not standardised
    const mean = net.predict(data.x, 100).reduce((s, v) => s + v, 0) / 100;
    expect(mean).toBeGreaterThan(40);
    net.dispose();
    back.dispose();
  });

  it('masking every feature but the informative one keeps the accuracy; masking it loses it', async () => {
    const data = toy(400, 5, 6);
    const { net } = await trainSpectral(tf, data, { task: 'classify', hidden: [20, 10], epochs: 30, learningRate: 3e-3, seed: 7 });
    const truth = { task: 'classify' as const, index: classIndices(net.config.classes, data.labels) };
    expect(evaluate(net, data.x, data.n, truth).metric).toBeGreaterThan(0.95);
    expect(evaluate(net, data.x, data.n, truth, [true, false, false, false, false]).metric).toBeGreaterThan(0.9);
    expect(evaluate(net, data.x, data.n, truth, [false, true, true, true, true]).metric).toBeLessThan(0.75);
    net.dispose();
  });

  it('leaks no tensors through training, prediction, relevance, save/load and dispose', async () => {
    const data = toy(64, 5, 8);
    const before = tf.memory().numTensors;
    const { net } = await trainSpectral(tf, data, { task: 'classify', hidden: [8, 4], epochs: 2, batchSize: 10, seed: 9 });
    net.predict(data.x, data.n);
    net.relevance();
    const dir = join(mkdtempSync(join(tmpdir(), 'spectral-')), 'm');
    await net.save(dir);
    const back = await SpectralNet.load(tf, dir);
    back.predict(data.x, data.n, [true, false, true, false, true]);
    expect(tf.memory().numTensors - before).toBe(2 * net.vars.length);
    net.dispose();
    back.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
