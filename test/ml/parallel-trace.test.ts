/**
 * The training team's barrier waits (src/ml/parallel/spin.ts) and its per-step
 * phase trace (src/ml/parallel/trace.ts, SPECFLOW_TEAM_TRACE): each thread's
 * phases in order, and no thread past a barrier before every thread reached it.
 * The worker threads run the compiled worker (dist/): `npm run build` first.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { Autoencoder, withArchDefaults } from '../../src/ml/autoencoder.js';
import { getTf } from '../../src/ml/engine.js';
import { createAdam } from '../../src/ml/optimizer.js';
import { spinMs, spinWhile } from '../../src/ml/parallel/spin.js';
import { TrainingTeam } from '../../src/ml/parallel/team.js';
import { PHASES, traceBuffer, tracer } from '../../src/ml/parallel/trace.js';

describe('spinning at a barrier', () => {
  it('returns the new value at once when the flag has moved, and the old one when it does not move', () => {
    const a = new Int32Array(new SharedArrayBuffer(8));
    a[0] = 3;
    expect(spinWhile(a, 0, 2)).toBe(3);
    expect(spinWhile(a, 0, 3)).toBe(3); // gives up after SPIN_MS: the caller sleeps
    expect(spinWhile(a, 0, 3, 0)).toBe(3);
  });

  it('lasts SPECFLOW_TEAM_SPIN_MS milliseconds (0 to 10), else 0.25', () => {
    expect(spinMs(undefined)).toBe(0.25);
    expect(spinMs('0')).toBe(0);
    expect(spinMs('1.5')).toBe(1.5);
    for (const bad of ['', 'x', '-1', '11', 'Infinity']) expect(spinMs(bad)).toBe(0.25);
  });

  it('sees another thread\'s store (spinning, then sleeping as the worker does)', async () => {
    const a = new Int32Array(new SharedArrayBuffer(8));
    const w = new Worker('const { workerData } = require("node:worker_threads"); const a = new Int32Array(workerData); '
      + 'setTimeout(() => { Atomics.store(a, 0, 7); Atomics.notify(a, 0); }, 20);', { eval: true, workerData: a.buffer });
    let v = 0;
    for (let rounds = 0; v === 0 && rounds < 1000; rounds++) {
      v = spinWhile(a, 0, 0);
      if (v === 0) Atomics.wait(a, 0, 0, 50);
      v = Atomics.load(a, 0);
    }
    expect(v).toBe(7);
    await w.terminate();
  });
});

describe('the per-step trace', () => {
  it('is off unless SPECFLOW_TEAM_TRACE names a file', () => {
    const saved = process.env.SPECFLOW_TEAM_TRACE;
    delete process.env.SPECFLOW_TEAM_TRACE;
    try {
      expect(traceBuffer(2)).toBeUndefined();
      expect(() => tracer(undefined, 0)(1, 'start')).not.toThrow();
    } finally {
      if (saved !== undefined) process.env.SPECFLOW_TEAM_TRACE = saved;
    }
  });

  it('records every thread\'s phases of every step in order, none past a barrier before all reached it (2 threads)', async () => {
    const { tf, backend } = await getTf();
    const d = 24;
    const b = 16;
    const dir = mkdtempSync(join(tmpdir(), 'specflow-trace-test-'));
    const file = join(dir, 'trace.json');
    const saved = process.env.SPECFLOW_TEAM_TRACE;
    process.env.SPECFLOW_TEAM_TRACE = file;
    const model = new Autoencoder(tf, withArchDefaults({
      format: 'specflow-model', version: 1, arch: 'dense', inputDim: d, latentDim: 3, loss: 'mse',
      scaling: { center: new Array<number>(d).fill(0), scale: 1 }, dense: { hidden: [12], activation: 'relu' },
    }), 3);
    const optimizer = createAdam(tf, 1e-2);
    try {
      const team = await TrainingTeam.start({ tf, backend, model, optimizer, learningRate: 1e-2, threads: 2, maxBatch: b });
      try {
        const x = Float32Array.from({ length: b * d }, (_, i) => Math.sin(i));
        const batches = [0, 1, 2].map(() => ({ x, y: x, b }));
        for (const [k, batch] of batches.entries()) await team.step(batch, () => batches[k + 1]);
        await team.checkReplicas(); // a command that is no step: it leaves no marks
      } finally {
        await team.close();
      }
      const trace = JSON.parse(readFileSync(file, 'utf8')) as { phases: string[]; threads: number[][][] };
      expect(trace.phases).toEqual([...PHASES]);
      const at = (thread: number, step: number, phase: string): number => trace.threads[thread]!.find((r) => r[0] === step)![1 + PHASES.indexOf(phase as never)]!;
      expect(trace.threads.map((rows) => rows.map((r) => r[0]))).toEqual([[1, 2, 3, 4], [1, 2, 3, 4]]);
      for (const t of [0, 1]) {
        expect(trace.threads[t]![3]!.slice(1).every((v) => v === 0)).toBe(true); // the check
        for (const step of [1, 2, 3]) {
          const order = PHASES.filter((p) => t === 0 || p !== 'handedOver').map((p) => at(t, step, p));
          expect(order.every((v) => v > 0)).toBe(true);
          expect(order).toEqual([...order].sort((p, q) => p - q));
          if (t === 1) expect(at(t, step, 'handedOver')).toBe(0);
        }
      }
      // each thread marks before it signals, on the clock every thread reads alike
      const skew = 0;
      for (const step of [1, 2, 3]) {
        for (const t of [0, 1]) {
          for (const u of [0, 1]) {
            expect(at(t, step, 'allReady')).toBeGreaterThanOrEqual(at(u, step, 'ready') - skew);
            expect(at(t, step, 'allPublished')).toBeGreaterThanOrEqual(at(u, step, 'published') - skew);
          }
        }
      }
    } finally {
      if (saved === undefined) delete process.env.SPECFLOW_TEAM_TRACE;
      else process.env.SPECFLOW_TEAM_TRACE = saved;
      optimizer.dispose();
      model.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
