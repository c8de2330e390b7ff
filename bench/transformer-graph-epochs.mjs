// Whole default-Transformer epochs with and without txfuse's graph changes,
// alternating epoch by epoch in ONE training in one process (two builds cannot
// share a process, and separate processes differ by more than these changes).
// Not part of `npm run bench` (no .bench.mjs suffix):
//
//   node bench/transformer-graph-epochs.mjs [EPOCHS=21]     (after `npm run build`)
//
// It copies dist/ to a temporary directory and rewrites two functions there so
// that a global switch restores 0ad29ce's graph: matMulBias through
// tf.customGrad (every input's gradient computed, the patch embedding's dx
// too) and the positional encoding added by a broadcast Add before the first
// block's layer norm (tfjs then adds the stream's two gradients with an Add),
// and the last block's join with the stream as an Add after fc2's product.
// Same kernels, same bits either way. Odd epochs run the old graph, even ones
// the new; the first is not counted. Printed: process CPU per epoch of each,
// total / median / fastest, and the ratio of the totals. Fails loudly if the
// code it rewrites has changed.
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { benchSpectra } from './training-data.mjs';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const epochs = Number(process.argv[2] ?? 21);
const dir = mkdtempSync(join(tmpdir(), 'specflow-graph-epochs-'));
try {
  cpSync(join(root, 'dist'), join(dir, 'dist'), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  writeFileSync(join(dir, 'package.json'), readFileSync(join(root, 'package.json')));
  const patch = (file, edits) => {
    const path = join(dir, 'dist/ml', file);
    let s = readFileSync(path, 'utf8');
    for (const [from, to] of edits) {
      if (!s.includes(from)) throw new Error(`${file}: "${from.slice(0, 60)}…" not found: the code this bench rewrites has changed`);
      s = s.replace(from, to);
    }
    writeFileSync(path, s);
  };
  patch('nn.js', [[
    '    registerMatMulBiasGradient(tf);\n',
    `    if (globalThis.__specflowOldGraph) {
        const f = tf.customGrad((xx, ww, bb, save) => {
            const [y] = runKernel(tf, '_FusedMatMul', { a: xx, b: ww, bias: bb }, { transposeA: false, transposeB: false, activation: 'linear' });
            save([xx, ww]);
            return { value: y, gradFunc: (dy, [sx, sw]) => [
                runKernel(tf, 'BatchMatMul', { a: dy, b: sw }, { transposeA: false, transposeB: true })[0],
                runKernel(tf, 'BatchMatMul', { a: sx, b: dy }, { transposeA: true, transposeB: false })[0],
                runKernel(tf, 'Sum', { x: dy }, { axis: [0], keepDims: false })[0]] };
        });
        return f(x, w, b);
    }
    registerMatMulBiasGradient(tf);\n`,
  ]]);
  patch('autoencoder.js', [
    ['import { activate, addLayerNorm,', 'import { layerNormOp, activate, addLayerNorm,'],
    [
      '        let { sum: x, y: h } = addLayerNorm(tf, store, `${prefix}.block0.ln1`, tokens, positions);',
      `        let x, h;
        if (globalThis.__specflowOldGraph) {
            x = addRepeated(tf, tokens, positions);
            h = layerNormOp(tf, x, store.get(\`\${prefix}.block0.ln1.gamma\`), store.get(\`\${prefix}.block0.ln1.beta\`));
        } else ({ sum: x, y: h } = addLayerNorm(tf, store, \`\${prefix}.block0.ln1\`, tokens, positions));`,
    ],
    [
      '                return matMulBias(tf, hidden, store.get(`${name}.fc2.w`), store.get(`${name}.fc2.b`), x1.sum);',
      `                return globalThis.__specflowOldGraph
                    ? tf.add(x1.sum, dense(tf, store, \`\${name}.fc2\`, hidden))
                    : matMulBias(tf, hidden, store.get(\`\${name}.fc2.w\`), store.get(\`\${name}.fc2.b\`), x1.sum);`,
    ],
  ]);
  const { trainAutoencoder } = await import(pathToFileURL(join(dir, 'dist/ml/train.js')).href);
  const cpu = { old: [], new: [] };
  const graphFor = (epoch) => (epoch % 2 === 1 ? 'old' : 'new');
  let graph = graphFor(0);
  globalThis.__specflowOldGraph = graph === 'old';
  let c = process.cpuUsage();
  await trainAutoencoder({ n: 1000, d: 512, x: benchSpectra(1000, 512) }, {
    arch: 'transformer', latentDim: 8, epochs, batchSize: 256, validation: 0, seed: 1, threads: 1,
    onEpoch: ({ epoch }) => {
      const dc = process.cpuUsage(c);
      if (epoch > 1) cpu[graph].push((dc.user + dc.system) / 1e3);
      graph = graphFor(epoch);
      globalThis.__specflowOldGraph = graph === 'old';
      c = process.cpuUsage();
    },
  });
  const total = (a) => a.reduce((p, q) => p + q, 0);
  const median = (a) => [...a].sort((p, q) => p - q)[a.length >> 1];
  for (const g of ['old', 'new']) {
    console.log(`${g} graph: ${cpu[g].length} epochs, CPU total ${total(cpu[g]).toFixed(0)} ms, median ${median(cpu[g]).toFixed(0)}, fastest ${Math.min(...cpu[g]).toFixed(0)}`);
  }
  console.log(`new / old, total CPU: ${(total(cpu.new) / total(cpu.old)).toFixed(3)}×`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
