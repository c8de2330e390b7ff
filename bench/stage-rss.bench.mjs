// Peak RSS of single stages on a large table (issue 15), streamed and in memory.
//
//   npm run bench -- stage-rss                       200,000 × 1024 spectra
//   SPECFLOW_BENCH_RSS_N=20000 npm run bench -- stage-rss   another size
//   SPECFLOW_BENCH_RSS_STAGES=recon,flags ...         only these stages (default recon,flags,pseudo,parts;
//                                                    also embedding, pca, map)
//   SPECFLOW_BENCH_STORE=/tmp/x ...                   keep the store (the 200,000-row table takes minutes to make)
//
// The inputs are Arrow files written here batch by batch (Raman-like bands per class plus
// a deterministic pseudo-random ripple: generating 200,000 spectra with synthetic.raman
// takes tens of minutes on a shared 2-core machine), loaded by load.arrow (streamed copy);
// one pipeline trains a small dense AE on the 2,000-spectrum file and makes codes and
// clusters of the large one once; then each measured stage
// is computed alone (`--force STAGE`, one stage at a time) in a fresh process under
// bench/peak-rss.mjs, first with SPECFLOW_STREAM=never (the in-memory path, which is
// what every table took before these stages streamed) and then with the default
// automatic switch. Peak RSS is of the whole CLI process, worker threads included;
// seconds are printed but mean little on a shared machine.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'cli.js');
const preload = join(root, 'bench', 'peak-rss.mjs');
const n = Number(process.env.SPECFLOW_BENCH_RSS_N) || 200_000;
const dir = process.env.SPECFLOW_BENCH_STORE || mkdtempSync(join(tmpdir(), 'specflow-stage-rss-'));
mkdirSync(dir, { recursive: true });

const measured = {
  recon: `  recon:
    type: reconstruct
    in: { model: ae, spectra: big }`,
  flags: `  flags:
    type: anomaly
    in: { model: ae, normal: small, spectra: big }`,
  pseudo: `  pseudo:
    type: pseudospectrum
    in: { model: ae, codes: codes, groups: clusters, spectra: big }`,
  parts: `  parts:
    type: split
    in: big`,
  embedding: `  embedding:
    type: embed
    in: codes
    with: { method: umap, sample_size: 2000, epochs: 50 }`,
  pca: `  pca:
    type: train.pca
    in: big
    with: { latent_dim: 8 }`,
  map: `  map:
    type: synthetic.eels
    with: { phases: 3, channels: 1024, map: { width: 500, height: ${Math.max(1, Math.round(n / 500))} } }`,
};
// embed, train.pca and the eels map are left out unless named: their in-memory runs at this size take hours here
const wanted = (process.env.SPECFLOW_BENCH_RSS_STAGES ?? 'recon,flags,pseudo,parts').split(',').filter((s) => s in measured);

/** n spectra × 1024 channels, 4 classes, written record batch by record batch (never all in memory). */
async function writeInput(path, rows, seed) {
  const { SpectraWriter, spectraHeader } = await import(join(root, 'dist', 'data', 'arrow-io.js'));
  const { batchRows } = await import(join(root, 'dist', 'data', 'arrow-batches.js'));
  const d = 1024;
  const axis = Float64Array.from({ length: d }, (_, j) => 400 + (1400 * j) / (d - 1));
  const centres = [735, 1125, 855, 640];
  let writer;
  let state = seed >>> 0;
  const rand = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  for (let from = 0; from < rows; from += batchRows(d)) {
    const m = Math.min(batchRows(d), rows - from);
    const spectra = new Float32Array(m * d);
    const ids = [];
    const labels = [];
    for (let i = 0; i < m; i++) {
      const c = (from + i) % 4;
      ids.push(`s${from + i}`);
      labels.push(`class${c}`);
      const h = 0.5 + rand();
      for (let j = 0; j < d; j++) spectra[i * d + j] = 1 + h / (1 + ((axis[j] - centres[c]) / 12) ** 2) + 0.05 * (rand() - 0.5);
    }
    const t = { n: m, d, ids, labels, spectra, axis, axisUnit: 'cm-1', axisName: 'Raman shift', columns: {}, metadata: {} };
    writer ??= new SpectraWriter(path, spectraHeader(t));
    writer.write(t);
  }
  writer.close();
}

const bigFile = join(dir, `big-${n}.arrow`);
const smallFile = join(dir, 'small.arrow');
if (!existsSync(bigFile)) await writeInput(bigFile, n, 1);
if (!existsSync(smallFile)) await writeInput(smallFile, 2000, 2);

const yaml = `name: stage-rss-${n}
seed: 5
stages:
  big:
    type: load.arrow
    with: { path: ${bigFile} }
  small:
    type: load.arrow
    with: { path: ${smallFile} }
  ae:
    type: train.autoencoder
    in: small
    with: { arch: dense, hidden: [64], latent_dim: 4, epochs: 1, batch_size: 256 }
  codes:
    type: encode
    in: { model: ae, spectra: big }
  clusters:
    type: cluster
    in: codes
    with: { k: 4 }
`;
const base = join(dir, 'base.yaml');
writeFileSync(base, yaml);
const pipe = join(dir, 'pipe.yaml');
writeFileSync(pipe, `${yaml}${wanted.map((s) => measured[s]).join('\n')}\n`);
const store = join(dir, 'store');

function run(args, env = {}, file = pipe) {
  const rssFile = join(dir, 'peak-rss');
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['--import', preload, cli, '--store', store, 'run', file, '-j', '1', ...args], {
    encoding: 'utf8', env: { ...process.env, ...env, SPECFLOW_PEAK_RSS_FILE: rssFile, FORCE_COLOR: '0' }, maxBuffer: 1 << 28,
  });
  if (r.status !== 0) {
    console.log(r.stdout.slice(-2000), r.stderr.slice(-3000));
    throw new Error(`specflow run ${args.join(' ')} exited with ${r.status}`);
  }
  return { mb: Number(readFileSync(rssFile, 'utf8')) / 1024, seconds: (performance.now() - t0) / 1000 };
}

console.log(`${n.toLocaleString('en')} × 1024 spectra; store ${store}`);
const setup = run([], {}, base);
console.log(`inputs (cached after the first time): peak RSS ${setup.mb.toFixed(0)} MB, ${setup.seconds.toFixed(0)} s`);
console.log('stage       in memory (SPECFLOW_STREAM=never)   streamed (default)');
for (const s of wanted) {
  const before = run(['--force', s], { SPECFLOW_STREAM: 'never' });
  const after = run(['--force', s]);
  console.log(`${s.padEnd(10)}  ${before.mb.toFixed(0).padStart(6)} MB (${before.seconds.toFixed(0)} s)          ${after.mb.toFixed(0).padStart(6)} MB (${after.seconds.toFixed(0)} s)`);
}
