// Real-size data (issue 15): a 100,000 × 1024 pipeline end to end, with the peak RSS
// of the whole run and the seconds of each stage; then preprocessing throughput of
// specflow against numpy/scipy on the same spectra, per step and the whole stage
// (preprocess-vs-numpy.mjs; `npm run bench -- preprocess` runs that part alone).
//
//   npm run bench -- scale                     100,000 spectra
//   SPECFLOW_BENCH_1M=1 npm run bench -- scale also 1,000,000 (long: ~4 GB of float32 per column)
//   SPECFLOW_BENCH_SCALE_N=20000 ...            another size instead of 100,000
//
//   SPECFLOW_BENCH_CHANNELS=64 ...             another channel count instead of 1024 (all of n's costs, little of d's)
//   SPECFLOW_BENCH_DIR=/big/disk ...            where the store goes (default: the OS temp dir)
//   SPECFLOW_BENCH_LOG=file ...                 keep the run's progress lines there
//
// Targets on the 2-core reference machine: peak RSS ≤ 1.5 GB at 10⁵, ≤ 2 GB at 10⁶;
// preprocessing throughput ≥ numpy's. Peak RSS is printed for the whole run (the
// kernel's maxRSS) and per stage (sampled, see peak-rss.mjs).
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareWithNumpy } from './preprocess-vs-numpy.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'cli.js');
const preload = join(root, 'bench', 'peak-rss.mjs');

const channels = Number(process.env.SPECFLOW_BENCH_CHANNELS) || 1024;
const sizes = [Number(process.env.SPECFLOW_BENCH_SCALE_N) || 100_000];
if (process.env.SPECFLOW_BENCH_1M === '1') sizes.push(1_000_000);
else console.log('(set SPECFLOW_BENCH_1M=1 to also run 1,000,000 spectra)');

function pipeline(n) {
  return `name: scale-${n}
seed: 11
stages:
  spectra:
    type: synthetic.raman
    with: { classes: 4, per_class: ${n / 4}, channels: ${channels} }
  clean:
    type: preprocess
    in: spectra
    with:
      steps:
        # area before snv: snv centres each spectrum, after which its area is about 0 and
        # area normalisation (rightly) refuses to divide by it
        - smooth: { method: savgol, window: 9, polynomial: 2 }
        - normalize: { method: area }
        - normalize: { method: snv }
  ae:
    type: train.autoencoder
    in: clean
    with: { arch: dense, latent_dim: 8, epochs: 2, batch_size: 256, validation: 0.05 }
  codes:
    type: encode
    in: { model: ae, spectra: clean }
  clusters:
    type: cluster
    in: codes
    with: { method: kmeans, k: auto }
  report:
    type: report
    in: [ae.history, clusters]
`;
}

for (const n of sizes) {
  const dir = mkdtempSync(join(process.env.SPECFLOW_BENCH_DIR ?? tmpdir(), 'specflow-scale-'));
  writeFileSync(join(dir, 'pipe.yaml'), pipeline(n));
  const rssFile = join(dir, 'peak-rss');
  const stageRssFile = join(dir, 'stage-rss.json');
  const logFile = process.env.SPECFLOW_BENCH_LOG ?? join(dir, 'run.log');
  console.log(`${n.toLocaleString('en')} × ${channels}: progress in ${logFile}`);
  const log = openSync(logFile, 'w');
  const t0 = performance.now();
  const cpu0 = childrenCpuSeconds();
  const r = spawnSync(process.execPath, ['--import', preload, cli, '--store', join(dir, 'store'), 'run', join(dir, 'pipe.yaml'), '--json'], {
    encoding: 'utf8', env: { ...process.env, SPECFLOW_PEAK_RSS_FILE: rssFile, SPECFLOW_STAGE_RSS_FILE: stageRssFile },
    stdio: ['ignore', 'pipe', log], maxBuffer: 1 << 28,
  });
  closeSync(log);
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0) {
    console.log(readFileSync(logFile, 'utf8').slice(-3000));
    throw new Error(`pipeline at n = ${n} exited with ${r.status}`);
  }
  const run = JSON.parse(r.stdout);
  const peakMb = Number(readFileSync(rssFile, 'utf8')) / 1024;
  const stageMb = existsSync(stageRssFile) ? JSON.parse(readFileSync(stageRssFile, 'utf8')) : {};
  const target = n >= 1_000_000 ? 2048 : 1536;
  const cpu = childrenCpuSeconds() - cpu0;
  console.log(`\n${n.toLocaleString('en')} × ${channels}: whole run ${wall.toFixed(1)} s wall, ${cpu.toFixed(0)} s CPU (load average at the end ${loadavg().map((l) => l.toFixed(1)).join(' ')}), peak RSS ${peakMb.toFixed(0)} MB (target ≤ ${target} MB: ${peakMb <= target ? 'met' : 'NOT met'})`);
  console.log('  stage        wall s   peak RSS (sampled)');
  for (const s of stagesOf(run)) console.log(`  ${s.id.padEnd(10)} ${String(s.seconds.toFixed(1)).padStart(8)}   ${String(stageMb[s.id] ?? '?').padStart(5)} MB  ${s.status}`);
  const spectraPath = findOutput(run, 'spectra', 'spectra');
  if (n === sizes[0] && spectraPath) await compareWithNumpy({ root, path: spectraPath, dir });
  rmSync(dir, { recursive: true, force: true });
}

/** CPU seconds (user + system) of this process's children waited for so far (Linux: cutime + cstime of /proc/self/stat). */
function childrenCpuSeconds() {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields 16 and 17 of the whole line are the 14th and 15th after the command name; clock ticks of 1/100 s
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

function stagesOf(run) {
  const stages = run.stages ?? run.variants?.[0]?.stages ?? [];
  return (Array.isArray(stages) ? stages : Object.entries(stages).map(([id, s]) => ({ id, ...s })))
    .map((s) => ({ id: s.id ?? s.stage, seconds: Number(s.seconds ?? 0), status: s.status, outputs: s.outputs ?? {} }));
}

function findOutput(run, stage, port) {
  const s = stagesOf(run).find((x) => x.id === stage);
  const out = s?.outputs?.[port];
  return typeof out === 'string' ? out : out?.path;
}
