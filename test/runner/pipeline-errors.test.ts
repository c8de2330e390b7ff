import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPipeline } from '../../src/runner/pipeline.js';
import { PipelineError } from '../../src/runner/errors.js';
import { cli, tempDir, testRegistry } from './helpers.js';

const DIR = 'test/fixtures/broken';
const cases = readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort();

describe('broken pipeline corpus', () => {
  it('has at least 15 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(15);
  });

  for (const name of cases) {
    it(name, async () => {
      const file = join(DIR, name);
      const expected = /^# expect: (.*)$/m.exec(readFileSync(file, 'utf8'))?.[1];
      expect(expected, 'fixture must declare "# expect: LINE:COL: message"').toBeTruthy();
      const registry = await testRegistry();
      let error: unknown;
      try {
        loadPipeline(file, { registry });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(PipelineError);
      const first = (error as PipelineError).problems[0]!;
      expect(`${first.file}:${first.pos?.line}:${first.pos?.col}: ${first.message}`).toBe(`${file}:${expected}`);
    });
  }
});

describe('the CLI on broken pipelines', () => {
  it('prints FILE:LINE:COL, no stack trace, and exits 1', () => {
    const r = cli(['validate', 'test/fixtures/broken/unknown-param.yaml']);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe('test/fixtures/broken/unknown-param.yaml:6:19: stage "data": unknown parameter "scael" (did you mean "scale"?)');
    expect(r.stderr).not.toMatch(/\bat .*\.js:\d+/);
  });

  it('run refuses a broken pipeline the same way', () => {
    const r = cli(['run', 'test/fixtures/broken/cycle.yaml', '--store', '/nonexistent/never-created']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('test/fixtures/broken/cycle.yaml:6:9: cycle: a → b → a');
  });

  it('a parameter alias (synthetic.eels per_phase = per_class) gives the same stage; both at once is an error at the alias', () => {
    const keyOf = (file: string) => {
      const r = cli(['run', file, '--dry-run', '--store', tempDir()]);
      expect(r.status, r.stderr).toBe(0);
      return /spectra\s+\(synthetic\.eels\)\s+([0-9a-f]{12})/.exec(r.stdout)?.[1];
    };
    const key = keyOf('test/fixtures/aliases/per-phase.yaml');
    expect(key).toMatch(/^[0-9a-f]{12}$/);
    expect(keyOf('test/fixtures/aliases/per-class.yaml')).toBe(key);
    const both = cli(['validate', 'test/fixtures/aliases/both.yaml']);
    expect(both.status).toBe(1);
    expect(both.stderr.trim()).toBe('test/fixtures/aliases/both.yaml:7:53: stage "spectra": "per_phase" is another name for "per_class", which is also given: keep one');
  });

  it('reports every problem, not only the first', () => {
    const r = cli(['validate', 'test/fixtures/broken/wrong-kind.yaml']);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('run refuses a bad engine environment variable before running anything', () => {
    const store = mkdtempSync(join(tmpdir(), 'specflow-env-'));
    for (const [env, message] of [
      [{ SPECFLOW_WASM_FMA: 'yes' }, 'SPECFLOW_WASM_FMA=yes: use 0 (plain SIMD kernels) or 1 (fused multiply-adds, the default where Node.js supports them)'],
      [{ SPECFLOW_BACKEND: 'gpu' }, 'SPECFLOW_BACKEND=gpu: unknown backend; use one of node, wasm, cpu'],
    ] as const) {
      const r = cli(['run', 'test/fixtures/pipelines/chain10.yaml', '--store', store], { env });
      expect(r.status).toBe(1);
      expect(r.stderr.trim()).toBe(message);
      expect(existsSync(join(store, 'runs'))).toBe(false);
    }
    rmSync(store, { recursive: true, force: true });
  });
});
