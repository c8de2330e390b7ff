// Seconds per epoch of Conv-1D and Transformer autoencoder training on
// 1000 spectra × 512 channels (default architectures, batch 64, Adam), on the
// backend initBackend picks (SPECFLOW_BACKEND forces one). `npm run bench`
// builds dist/ first; `node bench/run.mjs conv-transformer` runs only this one.
import { trainAutoencoder } from '../dist/ml/train.js';
import { Rng } from '../dist/util/random.js';

const N = 1000;
const D = 512;
const EPOCHS = Number(process.env.BENCH_EPOCHS ?? 3);

function spectra(n, d, seed) {
  const rng = new Rng(seed);
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const c1 = d * (0.2 + 0.1 * rng.uniform());
    const c2 = d * (0.6 + 0.1 * rng.uniform());
    const a1 = 50 * rng.uniform();
    const a2 = 30 * rng.uniform();
    for (let j = 0; j < d; j++) {
      const v = 10 + a1 * Math.exp(-(((j - c1) / 8) ** 2)) + a2 * Math.exp(-(((j - c2) / 15) ** 2));
      x[i * d + j] = rng.poisson(v);
    }
  }
  return x;
}

const x = spectra(N, D, 1);
const rows = [];
for (const [arch, label] of [['conv1d', 'Conv1D 16/32/64, k 15/11/7, BN, LeakyReLU'], ['transformer', 'Transformer p16 d64 h4 L2']]) {
  const times = [];
  let last = performance.now();
  const r = await trainAutoencoder({ n: N, d: D, x }, {
    arch, latentDim: 8, epochs: EPOCHS + 1, batchSize: 64, validation: 0, seed: 1,
    onEpoch: () => { const now = performance.now(); times.push((now - last) / 1000); last = now; },
  });
  r.model.dispose();
  const timed = times.slice(1); // the first epoch includes kernel set-up
  const mean = timed.reduce((a, b) => a + b, 0) / timed.length;
  rows.push({ arch, label, backend: r.backend, first: times[0], mean, loss: r.history.at(-1).loss });
  console.log(`${label.padEnd(44)} ${r.backend.padEnd(5)} ${mean.toFixed(2)} s/epoch (first epoch ${times[0].toFixed(2)} s; ${timed.length} timed; loss ${r.history.at(-1).loss.toFixed(4)})`);
}
console.log(`\n${N} spectra × ${D} channels, batch 64, latent 8`);
