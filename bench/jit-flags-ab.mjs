// What V8's optimizing compiler costs a training, and whether a V8 flag saves
// it: each child process trains a default autoencoder (seed 1, batch 256) with
// or without the flags given, and reports per epoch after the first (start-up)
// the process CPU, the training threads' CPU (the training thread and its
// workers) and the helper threads' CPU (V8's background compilation and GC:
// Node's 4 platform threads, shared by every isolate of the process). On two
// cores a second training thread leaves no core for the helpers, so their CPU
// is taken from the training. Children alternate, flags and not. Not part of
// `npm run bench`:
//
//   node bench/jit-flags-ab.mjs "--no-turbo-inlining" [PAIRS=2]     (after `npm run build`)
//
// Env: BENCH_ARCHS (dense,transformer), BENCH_THREADS (1,2), BENCH_EPOCHS (6).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { osThreads, threadsPerEpoch } from './os-threads.mjs';
import { benchSpectra } from './training-data.mjs';

const self = fileURLToPath(import.meta.url);
if (process.argv[2] === '--child') {
  const [arch, threads, epochs] = process.argv.slice(3);
  const { trainAutoencoder } = await import('../dist/ml/train.js');
  const [n, d] = arch === 'dense' ? [4000, 1024] : [1000, 512];
  const marks = [];
  await trainAutoencoder({ n, d, x: benchSpectra(n, d) }, {
    arch, latentDim: 8, epochs: Number(epochs), batchSize: 256, validation: 0, seed: 1, threads: Number(threads),
    onEpoch: () => marks.push({ cpu: process.cpuUsage(), os: osThreads() }),
  });
  const a = marks[0];
  const b = marks.at(-1);
  const e = marks.length - 1;
  const rows = threadsPerEpoch(a.os, b.os, e);
  const sum = (kinds) => rows.filter((r) => kinds.includes(r.kind)).reduce((s, r) => s + r.cpu, 0);
  console.log(JSON.stringify({ cpu: (b.cpu.user + b.cpu.system - a.cpu.user - a.cpu.system) / 1e3 / e, training: sum(['training thread', 'worker']), helpers: sum(['helpers']) }));
} else {
  const flags = (process.argv[2] ?? '--no-turbo-inlining').split(' ').filter(Boolean);
  const pairs = Number(process.argv[3] ?? 2);
  const list = (name, all) => (process.env[name] ? process.env[name].split(',') : all);
  const epochs = process.env.BENCH_EPOCHS ?? '6';
  const run = (withFlags, arch, threads) => {
    const r = spawnSync(process.execPath, [...(withFlags ? flags : []), self, '--child', arch, threads, epochs], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
    return JSON.parse(r.stdout.trim().split('\n').pop());
  };
  console.log(`ms per epoch after the first (${epochs} epochs, batch 256): process CPU / training threads' CPU / helper threads' CPU, without → with ${flags.join(' ')}`);
  for (const arch of list('BENCH_ARCHS', ['dense', 'transformer'])) {
    for (const threads of list('BENCH_THREADS', ['1', '2'])) {
      const cells = [];
      for (let p = 0; p < pairs; p++) {
        const [off, on] = p % 2 ? [undefined, run(true, arch, threads)] : [run(false, arch, threads), undefined];
        const o = off ?? run(false, arch, threads);
        const w = on ?? run(true, arch, threads);
        const f = (x) => `${x.cpu.toFixed(0)}/${x.training.toFixed(0)}/${x.helpers.toFixed(0)}`;
        cells.push(`${f(o)} → ${f(w)}`);
      }
      console.log(`  ${arch.padEnd(11)} ${threads} thread(s): ${cells.join('   ')}`);
    }
  }
}
