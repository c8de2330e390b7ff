// One training step of the default Transformer autoencoder (patch 16, d_model
// 64, 4 heads, 2 layers, MLP 128, 512 channels, Adam, MSE) on wasm with
// specflow's fused Transformer kernels (layer norm, GELU, attention:
// src/ml/kernels/transformer.ts) against the same model composed from tfjs
// ops (those kernels unregistered; every other specflow kernel stays), in one
// process, the two alternating round by round so both see the same machine.
//
//   node bench/run.mjs transformer-step      (after `npm run build`)
//
// Figures: CPU milliseconds of the training thread per step
// (/proc/thread-self/schedstat; process CPU time where that is missing),
// fastest and median round of BENCH_ROUNDS (default 7), each round 3 steps.
import { readFileSync } from 'node:fs';
import { initBackend } from '../dist/ml/backend.js';
import { Autoencoder, withArchDefaults } from '../dist/ml/autoencoder.js';
import { createAdam } from '../dist/ml/optimizer.js';
import * as names from '../dist/ml/kernels/transformer.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const STEPS = 3;
const D = 512;

function cpuMs() {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e6;
  } catch {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  }
}

const { tf } = await initBackend('wasm');
const fusedKernels = Object.entries(names).filter(([k]) => k.endsWith('_KERNEL')).map(([, v]) => tf.getKernel(v, 'wasm'));
const useFused = (on) => {
  for (const k of fusedKernels) {
    if (tf.getKernel(k.kernelName, 'wasm')) tf.unregisterKernel(k.kernelName, 'wasm');
    if (on) tf.registerKernel(k);
  }
};

for (const batch of [64, 256]) {
  const cfg = withArchDefaults({
    format: 'specflow-model', version: 1, arch: 'transformer', inputDim: D, latentDim: 8, loss: 'mse',
    scaling: { center: new Array(D).fill(0), scale: 1 },
  });
  const x = tf.randomNormal([batch, D], 0, 1, 'float32', 1);
  const variants = ['composed', 'fused'].map((name) => {
    const model = new Autoencoder(tf, cfg, 1);
    const optimizer = createAdam(tf, 1e-3);
    const vars = model.store.trainable();
    const step = () => {
      const cost = optimizer.minimize(() => model.lossT(x, x, { training: true, bnStats: new Map() }), true, vars);
      cost.dataSync();
      cost.dispose();
    };
    return { name, model, optimizer, step, times: [] };
  });
  for (let r = -1; r < ROUNDS; r++) {
    for (const v of variants) {
      useFused(v.name === 'fused');
      const t0 = cpuMs();
      for (let s = 0; s < STEPS; s++) v.step();
      if (r >= 0) v.times.push((cpuMs() - t0) / STEPS); // round -1 warms up
    }
  }
  useFused(true);
  const stat = (t) => {
    const s = [...t].sort((a, b) => a - b);
    return { min: s[0], median: s[Math.floor(s.length / 2)] };
  };
  const [c, f] = variants.map((v) => stat(v.times));
  console.log(`batch ${batch}: composed ${c.min.toFixed(0)} ms/step (median ${c.median.toFixed(0)}), fused ${f.min.toFixed(0)} ms/step (median ${f.median.toFixed(0)}): fused/composed ${(f.min / c.min).toFixed(2)} (medians ${(f.median / c.median).toFixed(2)})`);
  for (const v of variants) {
    v.model.dispose();
    v.optimizer.dispose();
  }
  x.dispose();
}
console.log(`\nTransformer AE defaults (170,840 parameters), ${D} channels; training-thread CPU time per step, ${ROUNDS} alternating rounds of ${STEPS} steps`);
