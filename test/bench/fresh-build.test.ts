import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs module without type declarations
import { staleBuildProblem } from '../../bench/fresh-build.mjs';

const roots: string[] = [];
afterEach(() => { for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true }); });

/** A checkout with one source file and the three build outputs, sources at `srcTime`, outputs at `builtTime` (s). */
function checkout(srcTime: number, builtTime: number, outputs = ['dist/cli.js', 'dist/ml/kernels/specflow-kernels.wasm', 'dist/ml/kernels/specflow-kernels-fma.wasm']): string {
  const root = mkdtempSync(join(tmpdir(), 'fresh-build-'));
  roots.push(root);
  for (const [p, t] of [['src/a/b.ts', srcTime], ['wasm/kernels.ts', srcTime], ...outputs.map((o) => [o, builtTime] as const)] as const) {
    mkdirSync(join(root, p, '..'), { recursive: true });
    writeFileSync(join(root, p), '');
    utimesSync(join(root, p), t, t);
  }
  return root;
}

describe('the benchmarks refuse a stale build', () => {
  it('accepts a build newer than every source', () => {
    expect(staleBuildProblem(checkout(1000, 2000))).toBeUndefined();
  });
  it('names a source changed after the build, with how long after', () => {
    expect(staleBuildProblem(checkout(2000, 1000))).toMatch(/older than the sources .* 1000 s after/);
  });
  it('notices a wasm source changed after the build', () => {
    const root = checkout(1000, 2000);
    utimesSync(join(root, 'wasm/kernels.ts'), 3000, 3000);
    expect(staleBuildProblem(root)).toMatch(/older than the sources/);
  });
  it('says when a build output is missing', () => {
    expect(staleBuildProblem(checkout(1000, 2000, ['dist/cli.js']))).toMatch(/missing/);
  });
});
