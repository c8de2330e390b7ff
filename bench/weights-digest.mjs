// A digest of the weights a short training ends with, to check that a change
// leaves them bit for bit as another build's (same seed and thread count):
//
//   node bench/weights-digest.mjs DIST [dense|conv1d|transformer] [THREADS=2] [gaussian|poisson]
//
// e.g. this build's dist/ against an older commit's (`git archive C | tar -x -C /tmp/c`, node_modules linked,
// `npm run build` there). Prints the architecture, threads, noise, the digest and the validation losses.
import { createHash } from 'node:crypto';
const dist = new URL(process.argv[2] ?? "dist", `file://${process.cwd()}/`).href.replace(/\/$/, "");
const { trainAutoencoder } = await import(`${dist}/ml/train.js`);
const arch = process.argv[3] ?? 'dense';
const threads = Number(process.argv[4] ?? 2);
const [n, d] = arch === 'dense' ? [600, 256] : [300, 128];
const x = new Float32Array(n * d);
let seed = 7;
for (let i = 0; i < x.length; i++) { seed = (seed * 1103515245 + 12345) >>> 0; x[i] = (10 * seed) / 2 ** 32 + (i % d) / d; }
const r = await trainAutoencoder({ n, d, x }, { arch, latentDim: 4, epochs: 3, batchSize: 128, validation: 0.1, seed: 3, threads, ...(process.argv[5] ? { denoise: { noise: process.argv[5] } } : {}) });
const h = createHash('sha256');
for (const [name, v] of r.model.store.vars) { h.update(name); h.update(Buffer.from(v.dataSync().buffer)); }
console.log(arch, threads, process.argv[5] ?? '', h.digest('hex').slice(0, 16), r.history.map((e) => e.val_loss).join(','));
