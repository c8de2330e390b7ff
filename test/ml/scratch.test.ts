import { it } from 'vitest';
import { trainAutoencoder } from '../../src/ml/train.js';
import { Rng } from '../../src/util/random.js';

it('scratch', async () => {
  const rng = new Rng(1);
  const n = 400, d = 256;
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) { const a = rng.uniform(); for (let j = 0; j < d; j++) x[i * d + j] = 50 * (1 + a * Math.sin(j / 10)) + rng.normal(); }
  for (const arch of ['dense', 'conv1d', 'transformer'] as const) {
    const t0 = performance.now();
    const r = await trainAutoencoder({ n, d, x }, { arch, latentDim: 4, epochs: 3, batchSize: 64, seed: 1, onEpoch: (e) => console.log(arch, e) });
    console.log(arch, r.backend, ((performance.now() - t0) / 1000 / 3).toFixed(3), 's/epoch');
    r.model.dispose();
  }
});
