// Preprocessing throughput (issue 15): specflow's Savitzky–Golay, area and snv, each step and
// the whole streamed stage, against numpy/scipy on the same spectra in the same run
// (see preprocess-vs-numpy.mjs for what is timed and how).
//
//   npm run bench -- preprocess                         20,000 synthetic Raman spectra × 1024
//   SPECFLOW_BENCH_PREP_N=100000 npm run bench -- preprocess
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareWithNumpy } from './preprocess-vs-numpy.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const n = Number(process.env.SPECFLOW_BENCH_PREP_N) || 20_000;
const dir = mkdtempSync(join(tmpdir(), 'specflow-prep-'));
try {
  writeFileSync(join(dir, 'gen.yaml'), `name: prep-bench
seed: 11
stages:
  spectra:
    type: synthetic.raman
    with: { classes: 4, per_class: ${Math.ceil(n / 4)}, channels: 1024 }
`);
  const r = spawnSync(process.execPath, [join(root, 'dist', 'cli.js'), '--store', join(dir, 'store'), 'run', join(dir, 'gen.yaml'), '--json'], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`generating the spectra failed: ${r.stderr.slice(-2000)}`);
  const out = JSON.parse(r.stdout).stages.find((s) => s.id === 'spectra').outputs.spectra;
  await compareWithNumpy({ root, path: typeof out === 'string' ? out : out.path, dir });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
