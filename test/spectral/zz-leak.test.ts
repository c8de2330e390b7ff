import { it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { trainSpectral } from '../../src/ml/spectral/index.js';
it('leak', async () => {
  await tf.setBackend('cpu');
  const x = new Float32Array(40 * 5).map((_, i) => Math.sin(i));
  const labels = Array.from({ length: 40 }, (_, i) => String(i % 2));
  const b0 = tf.memory().numTensors;
  const r = await trainSpectral(tf, { x, n: 40, d: 5, labels }, { task: 'classify', seed: 1, epochs: 1, batchSize: 40 });
  console.log('after train', tf.memory().numTensors - b0);
  r.net.dispose();
  console.log('after dispose', tf.memory().numTensors - b0);
});
