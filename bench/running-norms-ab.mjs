// The training team's per-step update of the batch-norm running averages (the training thread, after
// the workers have started the next step): the composed tfjs ops (a tensor per pooled moment, then
// updateBatchNorm's Mul, Mul, Add and assign per average) against updateRunningNorms (one float32
// pass per array, in place), alternating in one process, process CPU. Default Conv-1D at 512 channels.
// Not part of `npm run bench`:
//
//   node bench/running-norms-ab.mjs [ROUNDS=15] [STEPS=50]    (after `npm run build`)
const [roundsArg = '15', stepsArg = '50'] = process.argv.slice(2);
const dist = new URL('../dist', import.meta.url).href;
const { getTf } = await import(`${dist}/ml/engine.js`);
const { Autoencoder, withArchDefaults } = await import(`${dist}/ml/autoencoder.js`);
const { updateBatchNorm } = await import(`${dist}/ml/nn.js`);
const { paramLayout, updateRunningNorms } = await import(`${dist}/ml/parallel/shard.js`);
const { tf } = await getTf();
const d = 512;
const config = withArchDefaults({ format: 'specflow-model', version: 1, arch: 'conv1d', inputDim: d, latentDim: 8, loss: 'mse', scaling: { center: new Array(d).fill(0), scale: 1 } });
const model = new Autoencoder(tf, config, 1);
const layout = paramLayout(model);
const pooled = Float32Array.from({ length: layout.normFloats }, (_, i) => 1 + (i % 7) / 7);
const composed = () => {
  const pass = { training: true, bnStats: new Map() };
  for (const n of layout.norms) {
    pass.bnStats.set(n.name, {
      mean: tf.tensor1d(pooled.subarray(n.offset, n.offset + n.channels)),
      variance: tf.tensor1d(pooled.subarray(n.offset + n.channels, n.offset + 2 * n.channels)),
    });
  }
  updateBatchNorm(tf, model.store, pass);
};
const inPlace = () => updateRunningNorms(tf, model, layout, pooled);
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e3; };
const times = { composed: [], inPlace: [] };
const steps = Number(stepsArg);
for (let r = 0; r < Number(roundsArg) + 2; r++) {
  for (const [name, f] of r % 2 ? [['composed', composed], ['inPlace', inPlace]] : [['inPlace', inPlace], ['composed', composed]]) {
    const t = cpu();
    for (let s = 0; s < steps; s++) f();
    if (r >= 2) times[name].push((cpu() - t) / steps);
  }
}
const median = (v) => [...v].sort((p, q) => p - q)[Math.floor(v.length / 2)];
console.log(`conv1d defaults, ${layout.norms.length} batch-norm layers (${layout.normFloats / 2} channels): ms of process CPU per step, median of ${roundsArg} rounds of ${steps}`);
console.log(`  ${median(times.composed).toFixed(3)}  tensors + updateBatchNorm (before)`);
console.log(`  ${median(times.inPlace).toFixed(3)}  updateRunningNorms (after)`);
