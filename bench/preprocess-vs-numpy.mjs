// Preprocessing throughput of specflow against numpy/scipy, measured in the same run on
// the same spectra (used by preprocess.bench.mjs and scale.bench.mjs):
//
// - per step (Savitzky–Golay, area, snv), compute only, in batches of 1024 spectra in float64:
//   specflow on one thread, by CPU time (process.cpuUsage) against numpy's CPU time
//   (time.process_time; numpy runs these on one thread); then specflow on two worker
//   threads (the chunk pool the stage uses, float32 in and out as in the stage), by wall time
//   and by the CPU time of all the process's threads (the steadier figure on a loaded machine);
// - the whole stage: specflow's streamed preprocess (Arrow read, the three steps on two
//   worker threads, Arrow write) against numpy doing the same work in 1024-row chunks from
//   raw float32 files (read, to float64, the three steps, to float32, write), spectrum and
//   clean columns both, by wall and CPU time.
//
// The machine may be loaded (other work on the same cores): wall-clock figures then vary
// from run to run; the CPU-time ratios are the steadier measure. Numpy is Debian's
// python3-numpy, Savitzky–Golay is scipy.signal.savgol_filter (python3-scipy).
import { spawnSync } from 'node:child_process';

// Debian's python3-numpy and python3-scipy, as the issue asks; NUMPY_PYTHON names another python.
const NUMPY_PYTHON = process.env.NUMPY_PYTHON ?? '/usr/bin/python3';
import { closeSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const STEPS = [
  { name: 'savgol', step: { smooth: { method: 'savgol', window: 9, polynomial: 2 } } },
  { name: 'area', step: { normalize: { method: 'area' } } },
  { name: 'snv', step: { normalize: { method: 'snv' } } },
];
const BATCH = 1024;
/** Per-step timings are the best of this many passes, on both sides (the machine is shared). */
const REPS = 3;

const PY = `
import numpy as np, sys, time, json
d = int(sys.argv[1]); kernel_rows = int(sys.argv[2]); has_clean = sys.argv[3] == '1'; folder = sys.argv[4]
ax = np.fromfile(folder + '/axis.f64', dtype=np.float64)
from scipy.signal import savgol_filter
trap = getattr(np, 'trapezoid', None) or np.trapz
span = ax[-1] - ax[0]
def savgol(a): return savgol_filter(a, 9, 2, axis=1)
def area(a):
    s = trap(a, ax, axis=1)
    if (s < 0).any(): raise SystemExit('negative area')
    return a / (s / span)[:, None]
def snv(a): return (a - a.mean(1, keepdims=True)) / a.std(1, keepdims=True)
steps = [('savgol', savgol), ('area', area), ('snv', snv)]
out = {}
x = np.fromfile(folder + '/spectrum.f32', dtype=np.float32, count=kernel_rows * d).reshape(-1, d).astype(np.float64)
chunks = [x[i:i + ${BATCH}] for i in range(0, len(x), ${BATCH})]
for name, f in steps:
    f(chunks[0])
    best = None
    for rep in range(${REPS}):
        c0 = time.process_time(); w0 = time.perf_counter()
        for c in chunks: f(c)
        t = {'cpu': time.process_time() - c0, 'wall': time.perf_counter() - w0, 'rows': len(x)}
        best = t if best is None else {'cpu': min(best['cpu'], t['cpu']), 'wall': min(best['wall'], t['wall']), 'rows': len(x)}
    out[name] = best
# whole stage: every column read in chunks, the three steps, written as float32
cols = ['spectrum'] + (['clean'] if has_clean else [])
c0 = time.process_time(); w0 = time.perf_counter()
rows = 0
for col in cols:
    src = open(folder + '/' + col + '.f32', 'rb'); dst = open(folder + '/' + col + '.out.f32', 'wb')
    while True:
        b = np.fromfile(src, dtype=np.float32, count=${BATCH} * d)
        if b.size == 0: break
        a = b.reshape(-1, d).astype(np.float64)
        for _, f in steps: a = f(a)
        a.astype(np.float32).tofile(dst)
        if col == 'spectrum': rows += len(a)
    src.close(); dst.close()
out['stage'] = {'cpu': time.process_time() - c0, 'wall': time.perf_counter() - w0, 'rows': rows}
print(json.dumps(out))
`;

/** Numpy's and specflow's figures on the spectra of the Arrow file `path`; `dir` for scratch files. */
export async function compareWithNumpy({ root, path, dir, kernelRows = 20_000 }) {
  const py = spawnSync(NUMPY_PYTHON, ['-c', 'import numpy, scipy.signal'], { encoding: 'utf8' });
  if (py.status !== 0) {
    console.log('\nnumpy comparison SKIPPED: python3 with numpy and scipy is not installed (apt-get install python3-numpy python3-scipy)');
    return undefined;
  }
  const dist = (p) => join(root, 'dist', ...p.split('/'));
  const io = await import(dist('data/arrow-io.js'));
  const { applyStep } = await import(dist('data/preprocess/steps.js'));
  const { runChunk } = await import(dist('data/preprocess/chunk.js'));
  const { ChunkPool, inOrder } = await import(dist('data/chunk-pool.js'));
  const { preprocessStreamed } = await import(dist('data/preprocess/stream.js'));
  const { rowKernelsStatus } = await import(dist('data/preprocess/row-kernels.js'));

  // raw float32 copies of every column for numpy; the first kernelRows rows kept for the kernel runs
  const files = { spectrum: openSync(join(dir, 'spectrum.f32'), 'w') };
  const batches = [];
  let axis;
  let total = 0;
  let kept = 0;
  let hasClean = false;
  for await (const { t } of io.readSpectraBatches(path)) {
    axis ??= t.axis;
    hasClean = t.clean !== undefined;
    if (hasClean) files.clean ??= openSync(join(dir, 'clean.f32'), 'w');
    writeSync(files.spectrum, new Uint8Array(t.spectra.buffer, t.spectra.byteOffset, t.spectra.byteLength));
    if (t.clean) writeSync(files.clean, new Uint8Array(t.clean.buffer, t.clean.byteOffset, t.clean.byteLength));
    for (let i = 0; i < t.n && kept < kernelRows; i += BATCH) {
      const take = Math.min(BATCH, t.n - i, kernelRows - kept);
      batches.push({ ids: t.ids.slice(i, i + take), spectra: t.spectra.slice(i * t.d, (i + take) * t.d) });
      kept += take;
    }
    total += t.n;
  }
  for (const fd of Object.values(files)) closeSync(fd);
  const d = axis.length;
  writeFileSync(join(dir, 'axis.f64'), new Uint8Array(axis.buffer, axis.byteOffset, axis.byteLength));

  // One thread for numpy/scipy, as the comparison says: savgol_filter solves for its coefficients
  // through LAPACK on every call, and an OpenBLAS thread pool left spinning afterwards bills
  // numpy's CPU time for a second core it did not use for the filter.
  const oneThread = { OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' };
  const r = spawnSync(NUMPY_PYTHON, ['-c', PY, String(d), String(kept), hasClean ? '1' : '0', dir], { encoding: 'utf8', maxBuffer: 1 << 24, env: { ...process.env, ...oneThread } });
  if (r.status !== 0) {
    console.log(`numpy comparison failed: ${r.stderr.slice(-800)}`);
    return undefined;
  }
  const np = JSON.parse(r.stdout.trim().split('\n').pop());

  const ours = { kernels: rowKernelsStatus() };
  const work = (b) => {
    const all = Float64Array.from(b.spectra);
    const ax = Float64Array.from(axis);
    return { ids: b.ids, axis: ax, xs: b.ids.map(() => ax), spectrum: b.ids.map((_, i) => all.subarray(i * d, (i + 1) * d)) };
  };
  const ctx = { where: 'bench', log: () => undefined };
  const pool = new ChunkPool(pathToFileURL(dist('data/preprocess/chunk-worker.js')), runChunk, 2);
  try {
    for (const { name, step } of STEPS) {
      // one thread, compute only: fresh float64 rows each time (steps overwrite rows in place)
      for (let k = 0; k < 3; k++) applyStep(step, work(batches[0]), undefined, ctx);
      let cpu = Infinity;
      for (let rep = 0; rep < REPS; rep++) {
        const inputs = batches.map(work);
        const c0 = process.cpuUsage();
        for (const w of inputs) applyStep(step, w, undefined, ctx);
        const c = process.cpuUsage(c0);
        cpu = Math.min(cpu, (c.user + c.system) / 1e6);
      }
      // two worker threads, as the stage runs a step: float32 batch in, float32 batch out, one batch more in flight than threads
      const jobs = async function* () { for (const b of batches) yield b; };
      const job = (b) => ({ steps: [step], from: 0, to: 1, ids: b.ids, axis, d, spectra: b.spectra.slice(), stats: [null], where: 'bench' });
      await inOrder(jobs(), pool.threads + 1, (b) => { const j = job(b); return pool.run(j, [j.spectra.buffer]); }, () => undefined); // warm-up
      let wall2 = Infinity;
      let cpu2 = Infinity;
      for (let rep = 0; rep < REPS; rep++) {
        const w0 = performance.now();
        const c0 = process.cpuUsage(); // every thread of this process: the stage's and both workers
        await inOrder(jobs(), pool.threads + 1, (b) => { const j = job(b); return pool.run(j, [j.spectra.buffer]); }, (res) => { if (!res.ok) throw new Error(res.message); });
        const c = process.cpuUsage(c0);
        wall2 = Math.min(wall2, (performance.now() - w0) / 1000);
        cpu2 = Math.min(cpu2, (c.user + c.system) / 1e6);
      }
      ours[name] = { cpu, wall2, cpu2, rows: kept };
    }
  } finally {
    await pool.destroy();
  }

  // the whole stage as it streams: Arrow read, steps on two worker threads, Arrow write
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  await preprocessStreamed({
    input: path, output: join(dir, 'out.arrow'), rows: total, steps: STEPS.map((s) => s.step), history: () => '[]',
    where: 'bench', log: () => undefined, progress: () => undefined, signal: new AbortController().signal,
  });
  const c = process.cpuUsage(c0);
  ours.stage = { cpu: (c.user + c.system) / 1e6, wall: (performance.now() - w0) / 1000, rows: total };
  for (const f of ['spectrum.f32', 'clean.f32', 'spectrum.out.f32', 'clean.out.f32', 'out.arrow']) rmSync(join(dir, f), { force: true });

  const rate = (rows, s) => `${Math.round(rows / s).toLocaleString('en').padStart(8)}/s`;
  const load = loadavg().map((l) => l.toFixed(1)).join(' ');
  console.log(`\npreprocessing, specflow vs numpy/scipy on the same spectra, measured in this run (load average ${load}: ${loadavg()[0] > 1.5 ? 'the machine is LOADED, wall-clock figures are pessimistic and noisy' : 'quiet'}):`);
  console.log(`  per step, ${kept.toLocaleString('en')} × ${d} in batches of ${BATCH}, float64, compute only, best of ${REPS} passes; spectra per CPU-second (one thread) and per wall-second`);
  console.log('  step     specflow 1 thread   numpy/scipy 1 thread   ratio  |  specflow 2 threads (wall)   numpy (wall)   ratio  |  specflow 2 threads per CPU-second (all threads)');
  for (const { name } of STEPS) {
    const o = ours[name];
    const n = np[name];
    console.log(`  ${name.padEnd(7)}  ${rate(o.rows, o.cpu)} CPU      ${rate(n.rows, n.cpu)} CPU        ${(n.cpu / o.cpu).toFixed(2).padStart(5)}  |  ${rate(o.rows, o.wall2)}                  ${rate(n.rows, n.wall)}   ${(n.wall / o.wall2).toFixed(2).padStart(5)}  |  ${rate(o.rows, o.cpu2)}`);
  }
  console.log(`  (kernels: ${ours.kernels})`);
  const s = ours.stage;
  const n = np.stage;
  console.log(`  whole stage, ${total.toLocaleString('en')} spectra${hasClean ? ' (+ their clean column)' : ''}, savgol → area → snv, read and write included (specflow: Arrow, two worker threads; numpy: raw float32 files, one thread):`);
  console.log(`    specflow ${rate(s.rows, s.wall)} wall, ${rate(s.rows, s.cpu)} per CPU-second   numpy ${rate(n.rows, n.wall)} wall, ${rate(n.rows, n.cpu)} per CPU-second   ratio wall ${(n.wall / s.wall).toFixed(2)}, CPU ${(n.cpu / s.cpu).toFixed(2)}`);
  return { ours, numpy: np, load };
}
