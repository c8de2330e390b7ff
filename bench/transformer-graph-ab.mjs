// Two changes to the Transformer's training graph, before and after, in one
// process on the same tfjs-wasm (builds cannot share a process, but these are
// graph changes, not kernel changes: the "before" is rebuilt here from the
// same kernels), alternating round by round. Not part of `npm run bench` (no
// .bench.mjs suffix):
//
//   node bench/transformer-graph-ab.mjs [ROUNDS=60]     (after `npm run build`)
//
// - embed: the patch embedding x·w + b, x data [8192, 16] (batch 256 of the
//   default model), w [16, 64]; the gradient for w and b. Before: matMulBias
//   through tf.customGrad (0ad29ce's), which also computes dx = dy·wᵀ; after:
//   SpecflowMatMulBias's per-input gradient, which tfjs does not ask for dx.
// - positions: the tokens x [8192, 64] plus the positional encoding [32, 64],
//   normalised by the first block's layer norm and passed on as the stream:
//   the gradient of Σ s·r1 + Σ layerNorm(s)·r2, s = x + positions, for x, γ
//   and β. Before (0ad29ce): a broadcast Add, then layerNormOp, and tfjs
//   adding the two gradients of s with an Add; after: addLayerNormOp with the
//   positions as a residual repeated down x, the stream's gradient summed
//   inside LayerNormGrad's pass.
// Printed per case: process CPU of all rounds of each variant (its ratio
// after/before), the fastest single round of each, and the tfjs kernels one
// round runs.
import { initBackend } from '../dist/ml/backend.js';
import { addLayerNormOp, layerNormOp, matMulBias } from '../dist/ml/nn.js';

const rounds = Number(process.argv[2] ?? 60);
const { tf } = await initBackend('wasm');
const rows = 8192;
const rnd = (shape, seed) => tf.randomNormal(shape, 0, 1, 'float32', seed);

/** 0ad29ce's matMulBias: every input's gradient computed by tf.customGrad. */
function customGradMatMulBias(x, w, b) {
  const f = tf.customGrad((xx, ww, bb, save) => {
    const y = tf.engine().runKernel('_FusedMatMul', { a: xx, b: ww, bias: bb }, { transposeA: false, transposeB: false, activation: 'linear' });
    save([xx, ww]);
    return {
      value: y,
      gradFunc: (dy, [sx, sw]) => [
        tf.engine().runKernel('BatchMatMul', { a: dy, b: sw }, { transposeA: false, transposeB: true }),
        tf.engine().runKernel('BatchMatMul', { a: sx, b: dy }, { transposeA: true, transposeB: false }),
        tf.engine().runKernel('Sum', { x: dy }, { axis: [0], keepDims: false }),
      ],
    };
  });
  return f(x, w, b);
}

const embed = (() => {
  const x = rnd([rows, 16], 1);
  const r = rnd([rows, 64], 2);
  const w = tf.variable(rnd([16, 64], 3));
  const b = tf.variable(rnd([64], 4));
  const step = (op) => () => {
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(op(x, w, b), r)), [w, b]);
    value.dispose();
    Object.values(grads).forEach((g) => g.dispose());
  };
  return { before: step(customGradMatMulBias), after: step((xx, ww, bb) => matMulBias(tf, xx, ww, bb)) };
})();

const positions = (() => {
  const x0 = tf.variable(rnd([rows, 64], 5));
  const pos = rnd([32, 64], 10);
  const [r1, r2] = [rnd([rows, 64], 6), rnd([rows, 64], 7)];
  const gamma = tf.variable(rnd([64], 8));
  const beta = tf.variable(rnd([64], 9));
  const step = (norm) => () => {
    const { value, grads } = tf.variableGrads(() => {
      const x = tf.mul(x0, 1); // x as the embedded tokens: computed, not a variable
      const { sum, y } = norm(x);
      return tf.add(tf.sum(tf.mul(sum, r1)), tf.sum(tf.mul(y, r2)));
    }, [x0, gamma, beta]);
    value.dispose();
    Object.values(grads).forEach((g) => g.dispose());
  };
  return {
    before: step((x) => {
      const sum = tf.reshape(tf.add(tf.reshape(x, [rows / 32, 32, 64]), pos), [rows, 64]);
      return { sum, y: layerNormOp(tf, sum, gamma, beta) };
    }),
    after: step((x) => addLayerNormOp(tf, x, pos, gamma, beta)),
  };
})();

const cpuMs = (c) => (c.user + c.system) / 1e3;
for (const [name, variants] of Object.entries({ embed, positions })) {
  const kernels = {};
  for (const [v, f] of Object.entries(variants)) kernels[v] = (await tf.profile(f)).kernels.map((k) => k.name);
  const cpu = { before: 0, after: 0 };
  const fastest = { before: Infinity, after: Infinity };
  for (let i = -5; i < rounds; i++) {
    // alternate which goes first, so neither always runs on the other's caches
    for (const v of i % 2 ? ['after', 'before'] : ['before', 'after']) {
      const c = process.cpuUsage();
      const t = performance.now();
      variants[v]();
      const dt = performance.now() - t;
      if (i >= 0) {
        cpu[v] += cpuMs(process.cpuUsage(c));
        fastest[v] = Math.min(fastest[v], dt);
      }
    }
  }
  console.log(`${name}: CPU over ${rounds} rounds before ${cpu.before.toFixed(0)} ms, after ${cpu.after.toFixed(0)} ms (${(cpu.after / cpu.before).toFixed(2)}×); ` +
    `fastest round ${fastest.before.toFixed(3)} → ${fastest.after.toFixed(3)} ms`);
  for (const v of ['before', 'after']) console.log(`  ${v}: ${kernels[v].length} kernels: ${kernels[v].join(' ')}`);
}
