// Peak RSS of single stages on a large table (issue 15), streamed and in memory.
//
//   npm run bench -- stage-rss                       200,000 × 1024 spectra
//   SPECFLOW_BENCH_RSS_N=20000 npm run bench -- stage-rss   another size
//   SPECFLOW_BENCH_RSS_STAGES=recon,flags ...         only these stages (default recon,flags,pseudo,parts,csv;
//                                                    also embedding, pca, map)
//   SPECFLOW_BENCH_RSS_CSV_N=40000 ...                rows of the CSV for load.csv (default: the same n)
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
//
// `csv` is load.csv on a wide CSV of the same spectra (id, label, 1024 columns of 5-decimal
// text, ~7 KB a row: 1.4 GB at 200,000 rows), run alone in its own pipeline. Read whole
// (SPECFLOW_STREAM=never) a file over 512 MB cannot even be held as one JS string: that
// run fails, and the table says so.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, statSync, writeFileSync, writeSync } from 'node:fs';
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
  csv: `  csv:
    type: load.csv
    with: { path: CSV_FILE, unit: cm-1 }`,
  map: `  map:
    type: synthetic.eels
    with: { phases: 3, channels: 1024, map: { width: 500, height: ${Math.max(1, Math.round(n / 500))} } }`,
};
// embed, train.pca and the eels map are left out unless named: their in-memory runs at this size take hours here
const wanted = (process.env.SPECFLOW_BENCH_RSS_STAGES ?? 'recon,flags,pseudo,parts,csv').split(',').filter((s) => s in measured);

/** n spectra × 1024 channels, 4 classes, a record batch at a time (never all in memory), to `write`. */
async function* inputBatches(rows, seed) {
  const { batchRows } = await import(join(root, 'dist', 'data', 'arrow-batches.js'));
  const d = 1024;
  const axis = Float64Array.from({ length: d }, (_, j) => 400 + (1400 * j) / (d - 1));
  const centres = [735, 1125, 855, 640];
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
    yield { n: m, d, ids, labels, spectra, axis, axisUnit: 'cm-1', axisName: 'Raman shift', columns: {}, metadata: {} };
  }
}

async function writeInput(path, rows, seed) {
  const { SpectraWriter, spectraHeader } = await import(join(root, 'dist', 'data', 'arrow-io.js'));
  let writer;
  for await (const t of inputBatches(rows, seed)) {
    writer ??= new SpectraWriter(path, spectraHeader(t));
    writer.write(t);
  }
  writer.close();
}

/** The same spectra as a wide CSV: id, label, one column per channel (header: its position). */
async function writeCsv(path, rows, seed) {
  const fd = openSync(path, 'w');
  let first = true;
  for await (const t of inputBatches(rows, seed)) {
    if (first) writeSync(fd, `id,label,${Array.from(t.axis, (x) => x.toFixed(3)).join(',')}\n`);
    first = false;
    const lines = [];
    for (let i = 0; i < t.n; i++) {
      const cells = [t.ids[i], t.labels[i]];
      for (let j = 0; j < t.d; j++) cells.push(t.spectra[i * t.d + j].toFixed(5));
      lines.push(cells.join(','));
    }
    writeSync(fd, `${lines.join('\n')}\n`);
  }
  closeSync(fd);
}

const bigFile = join(dir, `big-${n}.arrow`);
const smallFile = join(dir, 'small.arrow');
const modelStages = wanted.filter((s) => s !== 'csv');
if (modelStages.length > 0 && !existsSync(bigFile)) await writeInput(bigFile, n, 1);
if (modelStages.length > 0 && !existsSync(smallFile)) await writeInput(smallFile, 2000, 2);
const csvRows = Number(process.env.SPECFLOW_BENCH_RSS_CSV_N) || n;
const csvFile = join(dir, `big-${csvRows}.csv`);
if (wanted.includes('csv') && !existsSync(csvFile)) await writeCsv(`${csvFile}.part`, csvRows, 1).then(() => renameSync(`${csvFile}.part`, csvFile));

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
writeFileSync(pipe, `${yaml}${modelStages.map((s) => measured[s]).join('\n')}\n`);
const csvPipe = join(dir, 'csv.yaml');
writeFileSync(csvPipe, `name: stage-rss-csv-${csvRows}\nstages:\n${measured.csv.replace('CSV_FILE', csvFile)}\n`);
const store = join(dir, 'store');

function run(args, env = {}, file = pipe, mayFail = false) {
  const rssFile = join(dir, 'peak-rss');
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['--import', preload, cli, '--store', store, 'run', file, '-j', '1', ...args], {
    encoding: 'utf8', env: { ...process.env, ...env, SPECFLOW_PEAK_RSS_FILE: rssFile, FORCE_COLOR: '0' }, maxBuffer: 1 << 28,
  });
  if (r.status !== 0 && mayFail) return { failed: r.stderr.trim().split('\n').filter((l) => l.trim() && !l.startsWith('run record')).at(-1)?.trim() ?? `exit ${r.status}` };
  if (r.status !== 0) {
    console.log(r.stdout.slice(-2000), r.stderr.slice(-3000));
    throw new Error(`specflow run ${args.join(' ')} exited with ${r.status}`);
  }
  return { mb: Number(readFileSync(rssFile, 'utf8')) / 1024, seconds: (performance.now() - t0) / 1000 };
}

console.log(`${n.toLocaleString('en')} × 1024 spectra; store ${store}`);
if (modelStages.length > 0) {
  const setup = run([], {}, base);
  console.log(`inputs (cached after the first time): peak RSS ${setup.mb.toFixed(0)} MB, ${setup.seconds.toFixed(0)} s`);
}
if (wanted.includes('csv')) console.log(`csv: ${csvRows.toLocaleString('en')} × 1024, ${(statSync(csvFile).size / 2 ** 20).toFixed(0)} MB of text`);
const show = (r) => (r.failed ? `failed: ${r.failed}` : `${r.mb.toFixed(0).padStart(6)} MB (${r.seconds.toFixed(0)} s)`);
console.log('stage       in memory (SPECFLOW_STREAM=never)   streamed (default)');
for (const s of wanted) {
  const file = s === 'csv' ? csvPipe : pipe;
  const before = run(['--force', s], { SPECFLOW_STREAM: 'never' }, file, s === 'csv');
  const after = run(['--force', s], {}, file);
  console.log(`${s.padEnd(10)}  ${show(before)}          ${show(after)}`);
}
