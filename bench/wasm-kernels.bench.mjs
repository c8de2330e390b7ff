// Per-kernel timings, stock tfjs-backend-wasm against specflow's fixed kernels,
// for the shapes the Conv-1D and Transformer autoencoders train with (batch
// 64, 512 channels) and the reference dense AE's at batch 256. "missing" =
// the stock backend has no such kernel.
//
//   node bench/run.mjs wasm-kernels      (after `npm run build`)
//
// Each figure is the fastest of 15 runs, in process CPU milliseconds
// (robust to other load on a shared machine).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CASES = [
  // name, builder → { inputs: shapes, run(tf, ...tensors) }
  ['conv1d fwd   x[64,256,16] w[11,16,32] s2', 'conv', [256, 16, 11, 32, 2], 'fwd'],
  ['conv1d dW    (Conv2DBackpropFilter)', 'conv', [256, 16, 11, 32, 2], 'dW'],
  ['conv1d dx    (Conv2DBackpropInput)', 'conv', [256, 16, 11, 32, 2], 'dx'],
  ['conv1d dx    x[64,128,32] w[7,32,64] s2', 'conv', [128, 32, 7, 64, 2], 'dx'],
  ['attention q·kᵀ  [256,64,16] (4 heads × 64)', 'att', [256, 64, 16], 'qk'],
  ['attention a·v   [256,64,64]·[256,64,16]', 'att', [256, 64, 16], 'av'],
  ['attention grads softmax(q·kᵀ)·v', 'att', [256, 64, 16], 'grads'],
  ['dense dW = xᵀ·dy [64,1024]ᵀ·[64,256]', 'dense', [64, 1024, 256], 'dW'],
  ['dense dx = dy·Wᵀ [64,1024]·[256,1024]ᵀ', 'dense', [64, 256, 1024], 'dx'],
  ['maxPool1d grad [64,512,1,16] pool 2', 'pool', [64, 512, 16], 'grad'],
  ['upsample grad [64,256,1,16] → 512', 'up', [64, 256, 16], 'grad'],
  ['gather 64 rows of [4000,1024] (a mini-batch)', 'gather', [4000, 1024, 64], 'rows'],
  ['leakyRelu fwd + grad [64,512,16]', 'leaky', [64, 512, 16], 'grad'],
  ['sum over the batch [256,1024] (bias grad)', 'sum', [256, 1024], 'rows'],
  ['MSE loss + gradient [256,1024] (5 elementwise)', 'mse', [256, 1024], 'grad'],
  ['bias add + relu, fwd + grad [256,256]', 'biasrelu', [256, 256], 'grad'],
  ['exp [2048,128]', 'exp', [2048, 128], 'fwd'],
  ['erf [2048,128]', 'erf', [2048, 128], 'fwd'],
  ['GELU fwd + grad [2048,128] (erf, exp)', 'gelu', [2048, 128], 'grad'],
  ['Adam, 558k weights in 12 variables (one step)', 'adam', [], 'step'],
];

async function child(variant) {
  const backend = await import('../dist/ml/backend.js');
  const { tf } = variant === 'stock' ? await backend.initStockWasm() : await backend.initBackend('wasm');
  const out = {};
  for (const [name, kind, p, what] of CASES) {
    let f;
    if (kind === 'conv') {
      const [W, cin, k, cout, s] = p;
      const x = tf.randomNormal([64, 1, W, cin]);
      const w = tf.randomNormal([1, k, cin, cout]);
      const ow = Math.ceil(W / s);
      const dy = tf.randomNormal([64, 1, ow, cout]);
      const attrs = { strides: [1, s], pad: 'same', dataFormat: 'NHWC' };
      f = what === 'fwd'
        ? () => tf.conv2d(x, w, [1, s], 'same')
        : what === 'dW'
          ? () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: w.shape })
          : () => tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { ...attrs, inputShape: x.shape });
    } else if (kind === 'att') {
      const [B, L, D] = p;
      const q = tf.randomNormal([B, L, D]);
      const kk = tf.randomNormal([B, L, D]);
      const a = tf.randomNormal([B, L, L]);
      f = what === 'qk'
        ? () => tf.matMul(q, kk, false, true)
        : what === 'av'
          ? () => tf.matMul(a, kk)
          : () => tf.grads((x, y) => tf.matMul(tf.softmax(tf.matMul(x, y, false, true)), y).sum())([q, kk]);
    } else if (kind === 'dense') {
      const [B, I, O] = p;
      const x = tf.randomNormal([B, I]);
      const dy = tf.randomNormal([B, O]);
      const W = tf.randomNormal([I, O]);
      f = what === 'dW' ? () => tf.matMul(x, tf.clone(dy), true, false) : () => tf.matMul(tf.clone(dy), tf.clone(W), false, true);
    } else if (kind === 'pool') {
      const [B, W, C] = p;
      const x = tf.randomNormal([B, W, 1, C]);
      f = () => tf.grads((a) => tf.maxPool(a, [2, 1], [2, 1], 'valid').sum())([x]);
    } else if (kind === 'gather') {
      const [N, D, B] = p;
      const x = tf.randomNormal([N, D]);
      const idx = tf.tensor1d(Int32Array.from({ length: B }, (_, i) => (i * 7919) % N), 'int32');
      f = () => tf.gather(x, idx);
    } else if (kind === 'leaky') {
      const x = tf.randomNormal(p);
      f = () => tf.grads((a) => tf.leakyRelu(a, 0.2).square().sum())([x]);
    } else if (kind === 'sum') {
      const x = tf.randomNormal(p);
      f = () => tf.sum(x, 0);
    } else if (kind === 'mse') {
      const y = tf.randomNormal(p);
      const yhat = tf.randomNormal(p);
      f = () => tf.grads((a) => tf.losses.meanSquaredError(y, a))([yhat]);
    } else if (kind === 'biasrelu') {
      const x = tf.randomNormal(p);
      const b = tf.randomNormal([p[1]]);
      const w = tf.randomNormal(p);
      f = () => tf.grads((a, c) => tf.relu(tf.add(a, c)).mul(w).sum())([x, b]);
    } else if (kind === 'exp' || kind === 'erf') {
      const x = tf.randomNormal(p, 0, 2);
      f = kind === 'exp' ? () => tf.exp(x) : () => tf.erf(x);
    } else if (kind === 'gelu') {
      const x = tf.randomNormal(p);
      const gelu = (a) => tf.mul(tf.mul(a, 0.5), tf.add(1, tf.erf(tf.mul(a, Math.SQRT1_2))));
      f = () => tf.grads((a) => gelu(a).sum())([x]);
    } else if (kind === 'adam') {
      // the reference dense AE's variables; the optimizer specflow trains with
      // (on stock wasm that is tf.train.adam), gradients held fixed
      const { createAdam } = await import('../dist/ml/optimizer.js');
      const shapes = [[1024, 256], [256], [256, 64], [64], [64, 8], [8], [8, 64], [64], [64, 256], [256], [256, 1024], [1024]];
      const vars = shapes.map((sh, i) => tf.variable(tf.randomNormal(sh), true, `bench_adam_${i}`));
      const grads = vars.map((v) => ({ name: v.name, tensor: tf.randomNormal(v.shape) }));
      const opt = createAdam(tf, 1e-3);
      f = () => { opt.applyGradients(grads); return vars[0]; };
    } else {
      const [B, W, C] = p;
      const x = tf.randomNormal([B, W, 1, C]);
      f = () => tf.grads((a) => tf.image.resizeNearestNeighbor(a, [2 * W, 1]).square().sum())([x]);
    }
    const once = () => tf.tidy(() => { const r = f(); for (const t of Array.isArray(r) ? r : [r]) t.dataSync(); });
    try {
      once();
      const times = [];
      for (let i = 0; i < 15; i++) {
        const c = process.cpuUsage();
        once();
        const d = process.cpuUsage(c);
        times.push((d.user + d.system) / 1000);
      }
      out[name] = Math.min(...times);
    } catch (e) {
      out[name] = /not registered/.test(String(e)) ? 'missing' : `error: ${String(e.message).slice(0, 60)}`;
    }
  }
  console.log(JSON.stringify(out));
}

function runChild(variant) {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', variant], { encoding: 'utf8' });
  const line = (r.stdout ?? '').trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (r.status !== 0 || !line) {
    process.stderr.write(r.stderr ?? '');
    throw new Error(`bench child ${variant} failed (exit ${r.status})`);
  }
  return JSON.parse(line);
}

if (process.argv[2] === '--child') {
  await child(process.argv[3]);
} else {
  const stock = runChild('stock');
  const fixed = runChild('fixed');
  const fmt = (v) => (typeof v === 'number' ? v.toFixed(2) : v).padStart(10);
  console.log('wasm kernels, ms of process CPU (fastest of 15)');
  console.log(`${'case'.padEnd(46)} ${'stock'.padStart(10)} ${'fixed'.padStart(10)}   speed-up`);
  for (const [name] of CASES) {
    const s = stock[name];
    const f = fixed[name];
    const ratio = typeof s === 'number' && typeof f === 'number' ? `${(s / f).toFixed(1)}×` : '';
    console.log(`${name.padEnd(46)} ${fmt(s)} ${fmt(f)}   ${ratio}`);
  }
  console.log('(stock maxPool/upsample gradients are also wrong; see test/ml/kernels.test.ts)');
}
