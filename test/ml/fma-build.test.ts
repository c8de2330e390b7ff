/**
 * The two builds of specflow's kernels: fused multiply-adds (the default
 * where Node.js compiles relaxed SIMD; SPECFLOW_WASM_FMA=1 insists on it) and
 * plain SIMD (SPECFLOW_WASM_FMA=0). They agree to float rounding, the run
 * record names the arithmetic that ran, and each is bitwise repeatable
 * whichever of V8's two wasm compilers (Liftoff, TurboFan) runs the code —
 * V8 compiles a function with Liftoff first and swaps in TurboFan code while
 * the program runs, so a difference between them would make results depend
 * on timing.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { backendLabel, initBackend } from '../../src/ml/backend.js';
import { activeBuild, forgetKernelBuild, kernelArithmetic } from '../../src/ml/kernels/simd.js';

const dist = (name: string) => fileURLToPath(new URL(`../../dist/ml/kernels/${name}`, import.meta.url));

/** A GEMM on fixed pseudo-random data in a fresh process with `flags`; prints the output's SHA-256. */
function gemmHash(wasmFile: string, flags: string[]): string {
  const script = `
    import { readFileSync } from 'node:fs';
    import { createHash } from 'node:crypto';
    import v8 from 'node:v8';
    v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
    const memory = new WebAssembly.Memory({ initial: 64 });
    const ex = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(${JSON.stringify(wasmFile)})), { env: { memory } }).exports;
    const m = 37, n = 45, k = 300;
    const f = new Float32Array(memory.buffer);
    let s = 7;
    for (let i = 0; i < m * k + k * n; i++) { s = (Math.imul(s, 1103515245) + 12345) >>> 0; f[i] = s / 2 ** 31 - 1; }
    // also a single-column product and a narrow one (A read in place), the GEMM's other paths
    const a = 0, b = m * k * 4, c = b + k * n * 4, c1 = c + m * n * 4, c13 = c1 + m * 4, scratch = c13 + m * 13 * 4;
    const hashes = new Set();
    for (let rep = 0; rep < 400; rep++) {
      ex.gemm(a, b, c, m, n, k, rep % 2, 0, 0, 0, scratch, 1, 0, 0, m * n, 0);
      ex.gemm(a, b, c1, m, 1, k, rep % 2, 0, 0, 0, scratch, 1, 0, 0, m, 0);
      ex.gemm(a, b, c13, m, 13, k, rep % 2, 0, 0, 0, scratch, 1, 0, 0, m * 13, 0);
      if (rep === 0 || rep === 398) hashes.add(createHash('sha256').update(new Uint8Array(memory.buffer, c, m * (n + 14) * 4)).digest('hex'));
    }
    console.log([...hashes].join(','));`;
  const r = spawnSync(process.execPath, [...flags, '--input-type=module', '-e', script], { encoding: 'utf8' });
  expect(r.stderr.trim().split('\n').filter((l) => l && !/Warning|setFlagsFromString|--trace-warnings/.test(l))).toEqual([]);
  expect(r.status).toBe(0);
  return r.stdout.trim();
}

describe('kernel builds', () => {
  /** Sets SPECFLOW_WASM_FMA (undefined: unset) and makes the kernels read it again, as a test must. */
  const useBuild = (flag: string | undefined) => {
    if (flag === undefined) delete process.env.SPECFLOW_WASM_FMA;
    else process.env.SPECFLOW_WASM_FMA = flag;
    forgetKernelBuild();
  };
  afterEach(() => useBuild(undefined));

  it('each build gives the same bits under Liftoff only and TurboFan only', () => {
    for (const file of ['specflow-kernels.wasm', 'specflow-kernels-fma.wasm']) {
      const liftoff = gemmHash(dist(file), ['--liftoff-only']);
      const turbofan = gemmHash(dist(file), ['--no-liftoff']);
      expect(liftoff).toMatch(/^[0-9a-f]{64}$/);
      expect(turbofan).toBe(liftoff);
    }
  });

  it('where the CPU has no FMA (V8 told to ignore FMA3), the fused build gives the plain build\'s bits and the probe says so', () => {
    const plain = gemmHash(dist('specflow-kernels.wasm'), []);
    expect(gemmHash(dist('specflow-kernels-fma.wasm'), ['--no-enable-fma3'])).toBe(plain);
    const probe = (flags: string[]) => {
      const r = spawnSync(process.execPath, [...flags, '--input-type=module', '-e',
        `const k = await import(${JSON.stringify(dist('simd.js'))}); console.log(k.kernelArithmetic());`], { encoding: 'utf8' });
      expect(r.status).toBe(0);
      return r.stdout.trim();
    };
    expect(probe(['--no-enable-fma3'])).toBe('plain');
    // with FMA3 allowed, the probe and the products agree with each other (either way)
    const fusedHere = gemmHash(dist('specflow-kernels-fma.wasm'), []) !== plain;
    expect(probe([])).toBe(fusedHere ? 'fma' : 'plain');
  });

  it('the default build fuses where the CPU can, SPECFLOW_WASM_FMA=0 never does; both agree to float rounding', async () => {
    const { tf } = await initBackend('wasm');
    const a = tf.randomNormal([70, 300], 0, 1, 'float32', 3);
    const b = tf.randomNormal([21, 300], 0, 1, 'float32', 4);
    useBuild('0');
    expect(kernelArithmetic()).toBe('plain');
    expect(backendLabel('wasm')).toBe('wasm');
    const plain = tf.matMul(a, b, false, true);
    useBuild(undefined);
    const byDefault = tf.matMul(a, b, false, true);
    useBuild('1');
    const forced = tf.matMul(a, b, false, true);
    const p = plain.dataSync();
    const q = byDefault.dataSync();
    expect(Array.from(forced.dataSync())).toEqual(Array.from(q));
    let worst = 0;
    let scale = 0;
    let differing = 0;
    for (let i = 0; i < p.length; i++) {
      worst = Math.max(worst, Math.abs(p[i]! - q[i]!));
      scale = Math.max(scale, Math.abs(p[i]!));
      if (p[i] !== q[i]) differing++;
    }
    expect(worst / scale).toBeLessThan(1e-5);
    // The probe behind the run record's label agrees with what the products did:
    // 300-term sums of random products round differently when fused, almost everywhere.
    useBuild(undefined);
    if (kernelArithmetic() === 'fma') {
      expect(differing).toBeGreaterThan(p.length / 2);
      expect(backendLabel('wasm')).toBe('wasm+fma');
    } else {
      expect(differing).toBe(0);
      expect(backendLabel('wasm')).toBe('wasm');
    }
    expect(backendLabel('cpu')).toBe('cpu');
    [a, b, plain, byDefault, forced].forEach((t) => t.dispose());
  });

  it('rejects an unknown SPECFLOW_WASM_FMA value with a clear message', async () => {
    const { tf } = await initBackend('wasm');
    useBuild('yes');
    const a = tf.ones([4, 4]);
    expect(() => tf.matMul(a, a)).toThrow(/SPECFLOW_WASM_FMA=yes: use 0 \(plain SIMD kernels\) or 1 \(fused multiply-adds/);
    a.dispose();
  });

  it('the build is read from SPECFLOW_WASM_FMA once, and again after forgetKernelBuild()', async () => {
    const { tf } = await initBackend('wasm');
    const a = tf.randomNormal([40, 300], 0, 1, 'float32', 5);
    useBuild('0');
    const plain = tf.matMul(a, a, false, true);
    expect(activeBuild()).toBe('simd');
    // changed without forgetting: the kernels keep the build they chose
    process.env.SPECFLOW_WASM_FMA = '1';
    const still = tf.matMul(a, a, false, true);
    expect(activeBuild()).toBe('simd');
    expect(Array.from(still.dataSync())).toEqual(Array.from(plain.dataSync()));
    forgetKernelBuild();
    const fused = tf.matMul(a, a, false, true);
    expect(activeBuild()).toBe('simd-fma');
    if (kernelArithmetic() === 'fma') expect(Array.from(fused.dataSync())).not.toEqual(Array.from(plain.dataSync()));
    // and an unknown value is refused at the next kernel call, not remembered
    useBuild('yes');
    expect(() => tf.matMul(a, a, false, true)).toThrow(/SPECFLOW_WASM_FMA=yes/);
    expect(() => tf.matMul(a, a, false, true)).toThrow(/SPECFLOW_WASM_FMA=yes/);
    useBuild('0');
    expect(Array.from(tf.matMul(a, a, false, true).dataSync())).toEqual(Array.from(plain.dataSync()));
    [a, plain, still, fused].forEach((t) => t.dispose());
  });
});
