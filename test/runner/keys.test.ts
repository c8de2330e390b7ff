// Complete content keys (issue 13): what a cached result depends on is in its key.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnSync } from 'node:child_process';
import { chmodSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, cliAsync, collectOutput, tempDir, testRegistry } from './helpers.js';
import { expandPath, implementationFingerprint, keyParams } from '../../src/runner/fingerprint.js';
import { createHash } from 'node:crypto';
import { parsePipeline } from '../../src/runner/pipeline.js';
import { planPipeline } from '../../src/runner/plan.js';
import { report } from '../../src/stages/report.js';
import { pathToFileURL } from 'node:url';
import type { StageDef } from '../../src/runner/stage-api.js';
import { engineIdentity } from '../../src/ml/engine-identity.js';
import { kernelFile, type KernelBuild } from '../../src/ml/kernels/simd.js';

interface JsonStage { id: string; key: string; cached: boolean; status: string; metrics: Record<string, unknown>; error?: string }
interface JsonRun { status: string; stages: JsonStage[] }

function run(dir: string, file: string, extra: string[] = [], env: Record<string, string> = {}): { status: number | null; run: JsonRun; stderr: string } {
  const r = cli(['run', file, '--store', join(dir, 'store'), '--json', ...extra], { cwd: dir, env });
  let parsed: JsonRun;
  try {
    parsed = JSON.parse(r.stdout) as JsonRun;
  } catch {
    throw new Error(`stdout is not one JSON document:\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
  return { status: r.status, run: parsed, stderr: r.stderr };
}

const computed = (r: JsonRun): string[] => r.stages.filter((s) => !s.cached).map((s) => s.id);

const NUMERIC = `name: numeric
stages:
  rows: { type: test.rows, with: { n: 5 } }
  net: { type: test.numeric, in: rows }
  total: { type: test.sum, in: net }
`;

describe('the numeric engine is in the key (issue 13.1)', () => {
  it('another backend or kernel build recomputes numeric stages and their dependents only; status --explain says why', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'p.yaml'), NUMERIC);
    const cpu = run(dir, 'p.yaml', [], { SPECFLOW_BACKEND: 'cpu' });
    expect(cpu.status).toBe(0);
    // the stage computed on the backend the key names
    expect(cpu.run.stages.find((s) => s.id === 'net')!.metrics.pinned).toBe('cpu/');

    const st = cli(['status', 'p.yaml', '--store', join(dir, 'store'), '--explain'], { cwd: dir, env: { SPECFLOW_BACKEND: 'wasm' } });
    expect(st.stdout).toMatch(/would run {2}net[^\n]*\n\s+backend changed: cpu → wasm/);
    expect(st.stdout).toMatch(/= cached +rows/);

    const wasm = run(dir, 'p.yaml', [], { SPECFLOW_BACKEND: 'wasm' });
    expect(computed(wasm.run)).toEqual(['net', 'total']);
    expect(wasm.run.stages.find((s) => s.id === 'net')!.metrics.pinned).toMatch(/^wasm\/[01]$/);

    const plain = run(dir, 'p.yaml', [], { SPECFLOW_BACKEND: 'wasm', SPECFLOW_WASM_FMA: '0' });
    expect(plain.run.stages.find((s) => s.id === 'net')!.metrics.pinned).toBe('wasm/0');
    const fused = wasm.run.stages.find((s) => s.id === 'net')!.metrics.pinned === 'wasm/1';
    // the fused and the plain build are different arithmetic: different keys (the build is in the key even where labels agree)
    expect(computed(plain.run)).toEqual(fused ? ['net', 'total'] : []);

    const again = run(dir, 'p.yaml', [], { SPECFLOW_BACKEND: 'cpu' });
    expect(computed(again.run)).toEqual([]);
  });

  it('the kernel .wasm files enter the identity by content', () => {
    const dir = tempDir();
    const copies = new Map<KernelBuild, string>();
    for (const b of ['simd', 'simd-fma'] as KernelBuild[]) {
      copies.set(b, join(dir, `${b}.wasm`));
      copyFileSync(kernelFile(b), copies.get(b)!);
    }
    const env = process.env.SPECFLOW_BACKEND;
    process.env.SPECFLOW_BACKEND = 'wasm';
    try {
      const before = engineIdentity((b) => copies.get(b)!);
      const bytes = readFileSync(copies.get('simd')!);
      bytes[bytes.length - 1] ^= 1;
      writeFileSync(copies.get('simd')!, bytes);
      const after = engineIdentity((b) => copies.get(b)!);
      expect(after.kernels!.files.simd).not.toBe(before.kernels!.files.simd);
      expect(after.kernels!.files['simd-fma']).toBe(before.kernels!.files['simd-fma']);
      expect(before.tfjs['@tensorflow/tfjs-core']).toMatch(/^\d+\.\d+\.\d+/);
    } finally {
      if (env === undefined) delete process.env.SPECFLOW_BACKEND;
      else process.env.SPECFLOW_BACKEND = env;
    }
  });

  it('--force STAGE recomputes that stage and everything downstream of it', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'p.yaml'), NUMERIC);
    run(dir, 'p.yaml');
    expect(computed(run(dir, 'p.yaml', ['--force', 'net']).run)).toEqual(['net', 'total']);
    expect(computed(run(dir, 'p.yaml', ['--force', 'total']).run)).toEqual(['total']);
    const dry = cli(['run', 'p.yaml', '--store', join(dir, 'store'), '--dry-run', '--force', 'rows'], { cwd: dir });
    expect(dry.stdout).toContain('3 of 3 distinct stages would run');
  });
});

describe('input files are keyed by what the stage read (issue 13.2)', () => {
  it('a file truncated between planning and reading publishes nothing under the old key', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'data.txt'), '1\n2\n3\n4\n');
    writeFileSync(join(dir, 'p.yaml'), 'name: snap\nstages:\n  lines: { type: test.slowread, with: { path: data.txt } }\n  total: { type: test.sum, in: lines }\n');
    const child = cliAsync(['run', 'p.yaml', '--store', join(dir, 'store'), '--json'], { cwd: dir });
    const done = collectOutput(child);
    while (!existsSync(join(dir, 'data.txt.started'))) await sleep(20);
    writeFileSync(join(dir, 'data.txt'), '1\n');
    writeFileSync(join(dir, 'data.txt.go'), '');
    writeFileSync(join(dir, 'data.txt.finish'), '');
    const r = await done;
    expect(r.status).toBe(1);
    const lines = (JSON.parse(r.stdout) as JsonRun).stages.find((s) => s.id === 'lines')!;
    expect(lines.status).toBe('failed');
    expect(lines.error).toBe("data.txt: changed while this run was using it (written after the stage's key was made, so the stage may have read other bytes); nothing was stored, run again");
    // the next run keys the short file and computes from it; nothing stale was cached
    const again = run(dir, 'p.yaml');
    expect(again.status).toBe(0);
    expect(computed(again.run)).toEqual(['lines', 'total']);
    expect(again.run.stages.find((s) => s.id === 'total')!.metrics.sum).toBe(1);
  });

  it('a file changed while the stage reads it and restored before it ends is caught too', async () => {
    const dir = tempDir();
    const data = join(dir, 'data.txt');
    writeFileSync(data, '1\n2\n3\n4\n');
    writeFileSync(join(dir, 'p.yaml'), 'name: snap\nstages:\n  lines: { type: test.slowread, with: { path: data.txt } }\n');
    const done = collectOutput(cliAsync(['run', 'p.yaml', '--store', join(dir, 'store'), '--json'], { cwd: dir }));
    while (!existsSync(`${data}.started`)) await sleep(20);
    writeFileSync(data, '1\n');
    writeFileSync(`${data}.go`, '');
    while (!existsSync(`${data}.read`)) await sleep(20);
    writeFileSync(data, '1\n2\n3\n4\n'); // the same bytes as when it was keyed
    writeFileSync(`${data}.finish`, '');
    const r = await done;
    expect(r.status).toBe(1);
    expect((JSON.parse(r.stdout) as JsonRun).stages[0]!.error).toMatch(/^data\.txt: changed while this run was using it/);
    expect(existsSync(join(dir, 'store', 'objects')) ? readdirSync(join(dir, 'store', 'objects')).length : 0).toBe(0);
  });
});

describe('stage ids are in the key of a stage whose output shows them (StageDef.named)', () => {
  const keysOf = async (text: string): Promise<Map<string, string>> => {
    const registry = await testRegistry();
    registry.set(report.type, report);
    const plan = await planPipeline(parsePipeline(text, join(tempDir(), 'p.yaml'), { registry }));
    return plan.keys.get('default')!;
  };

  it('renaming the report or a stage it reads changes the report\'s key, and only the report\'s', async () => {
    const before = await keysOf('name: a\nstages:\n  rows: { type: test.rows, with: { n: 3 } }\n  report: { type: report, in: [rows] }\n');
    const inputRenamed = await keysOf('name: a\nstages:\n  data: { type: test.rows, with: { n: 3 } }\n  report: { type: report, in: [data] }\n');
    const selfRenamed = await keysOf('name: b\nstages:\n  rows: { type: test.rows, with: { n: 3 } }\n  summary: { type: report, in: [rows] }\n');
    // the report's title says "specflow report: <its id>" and its tables name the stage each input came from
    expect(inputRenamed.get('report')).not.toBe(before.get('report'));
    expect(selfRenamed.get('summary')).not.toBe(before.get('report'));
    // a stage keyed by content alone keeps its key (and its cached result) under any name or pipeline name
    expect(inputRenamed.get('data')).toBe(before.get('rows'));
    expect(selfRenamed.get('rows')).toBe(before.get('rows'));
    // the pipeline's name is not shown, so it stays out
    const pipelineRenamed = await keysOf('name: zzz\nstages:\n  rows: { type: test.rows, with: { n: 3 } }\n  report: { type: report, in: [rows] }\n');
    expect(pipelineRenamed.get('report')).toBe(before.get('report'));
  });
});

describe('hashing input files leaves the event loop free', () => {
  it('a timer set before keying fires before the file is hashed: lease heartbeats keep running through a large input', async () => {
    const dir = tempDir();
    // three 4 MB reads; the hash is checked against node's own one-shot SHA-256 of the same bytes
    const bytes = Buffer.alloc(10 << 20, 7);
    writeFileSync(join(dir, 'big.txt'), bytes);
    const def = (await testRegistry()).get('test.readfile')!;
    const stage = { id: 'r', type: def.type, def, params: { path: join(dir, 'big.txt') }, pathParams: ['path'], inputs: {} };
    let beat = false;
    setImmediate(() => { beat = true; });
    const keyed = await keyParams(stage, dir);
    // a synchronous hash ran to the end first (an hour-long one would have let every lease of the process lapse)
    expect(beat).toBe(true);
    expect(keyed.path).toEqual({ files: { 'big.txt': createHash('sha256').update(bytes).digest('hex') } });
  });
});

describe('paths with glob characters (issue 13.3)', () => {
  it('a literal file named like a glob is keyed by its content: edits to it are seen', () => {
    const dir = tempDir();
    const folders = ['study{a,b}', 'g[1]'];
    for (const f of folders) {
      mkdirSync(join(dir, f));
      writeFileSync(join(dir, f, 'n.txt'), '1\n2\n');
    }
    writeFileSync(join(dir, 'p.yaml'), `name: g\nstages:\n${folders.map((f, i) => `  l${i}: { type: test.readfile, with: { path: "${f}/n.txt" } }\n  t${i}: { type: test.sum, in: l${i} }\n`).join('')}`);
    const a = run(dir, 'p.yaml');
    expect(a.status).toBe(0);
    expect(a.run.stages.filter((s) => s.id.startsWith('t')).map((s) => s.metrics.sum)).toEqual([3, 3]);
    for (const f of folders) writeFileSync(join(dir, f, 'n.txt'), '1\n2\n4\n');
    const st = cli(['status', 'p.yaml', '--store', join(dir, 'store'), '--explain'], { cwd: dir });
    expect(st.stdout.match(/input file of parameter "path" changed/g)).toHaveLength(2);
    const b = run(dir, 'p.yaml');
    expect(computed(b.run)).toEqual(['l0', 't0', 'l1', 't1']);
    expect(b.run.stages.filter((s) => s.id.startsWith('t')).map((s) => s.metrics.sum)).toEqual([7, 7]);
  });

  it('a missing literal path with glob characters is "file not found" where the stage does not glob', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'p.yaml'), 'name: g\nstages:\n  lines: { type: test.readfile, with: { path: "g[1]/*.txt" } }\n');
    const r = cli(['validate', 'p.yaml'], { cwd: dir });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe('p.yaml:3:47: stage "lines": file not found: g[1]/*.txt');
  });

  it('a globbing parameter expands under a pipeline folder whose own name has glob characters', async () => {
    const dir = join(tempDir(), 'runs[2]');
    mkdirSync(join(dir, 'spectra'), { recursive: true });
    for (const f of ['b.jdx', 'a.jdx']) writeFileSync(join(dir, 'spectra', f), f);
    const registry = await testRegistry();
    expect(registry.size).toBeGreaterThan(0);
    expect(await expandPath(join(dir, 'spectra', '*.jdx'), true, dir)).toEqual([join(dir, 'spectra', 'a.jdx'), join(dir, 'spectra', 'b.jdx')]);
    expect(await expandPath(join(dir, 'spectra', '*.jdx'), false, dir)).toEqual([join(dir, 'spectra', '*.jdx')]);
  });
});

describe('the run record asks git without running the repository\'s hooks (issue 13.16)', () => {
  it('an fsmonitor hook configured in the pipeline\'s repository is not run', () => {
    const dir = tempDir();
    const marker = join(dir, 'hook-ran');
    const git = (...args: string[]) => spawnSync('git', args, { cwd: dir, encoding: 'utf8', env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1' } });
    git('init', '-q');
    writeFileSync(join(dir, 'p.yaml'), 'name: g\nstages:\n  a: { type: test.rows, with: { n: 2 } }\n');
    git('add', 'p.yaml');
    git('-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-qm', 'p');
    const hook = join(dir, 'fsmonitor.sh');
    writeFileSync(hook, `#!/bin/sh\ntouch '${marker}'\n`);
    chmodSync(hook, 0o755);
    git('config', 'core.fsmonitor', hook);
    // the hook does run for a plain `git status`: the test can see it
    git('status', '--porcelain');
    expect(existsSync(marker)).toBe(true);
    rmSync(marker);
    const r = run(dir, 'p.yaml');
    expect(r.status).toBe(0);
    const latest = readFileSync(join(dir, 'store', 'latest'), 'utf8').trim();
    const record = JSON.parse(readFileSync(join(dir, 'store', 'runs', `${latest}.json`), 'utf8')) as { git: { commit: string; dirty: boolean } | null };
    expect(record.git?.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(existsSync(marker)).toBe(false);
  });
});

describe('plugin helpers loaded by a computed import() are fingerprinted (issue 13.6)', () => {
  const PLUGIN = `const second = './helper-b.mjs';
export const s = {
  type: 'plug.s', description: 'a plugin stage', inputs: {}, outputs: { out: { kind: 'blob' } },
  params: { type: 'object', properties: {} }, seedless: true, module: import.meta.url, files: ['table.json'],
  async run(ctx) {
    const a = await import(new URL('./helper-a.mjs', import.meta.url).href);
    const b = await import(second);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(ctx.output('out') + '/sum.txt', String(a.value + b.value));
    ctx.metric('sum', a.value + b.value);
  },
};
`;

  function plugin(): string {
    const dir = tempDir();
    writeFileSync(join(dir, 'plugin.mjs'), PLUGIN);
    writeFileSync(join(dir, 'helper-a.mjs'), 'export const value = 1;\n');
    writeFileSync(join(dir, 'helper-b.mjs'), 'export const value = 10;\n');
    writeFileSync(join(dir, 'table.json'), '[1]');
    return dir;
  }
  const fingerprint = (dir: string) => implementationFingerprint({ module: pathToFileURL(join(dir, 'plugin.mjs')).href, files: ['table.json'] } as StageDef);

  it('new URL(literal, import.meta.url), a specifier kept in a constant, and StageDef.files', () => {
    const dir = plugin();
    const before = fingerprint(dir);
    expect(Object.keys(before.files).sort()).toEqual(['helper-a.mjs', 'helper-b.mjs', 'plugin.mjs', 'table.json']);
    for (const [file, text] of [['helper-a.mjs', 'export const value = 2;\n'], ['helper-b.mjs', 'export const value = 20;\n'], ['table.json', '[2]']]) {
      const prev = fingerprint(dir).hash;
      writeFileSync(join(dir, file!), text!);
      expect(fingerprint(dir).hash, file).not.toBe(prev);
    }
  });

  it('an edited helper re-runs the plugin stage, and status --explain names the file', () => {
    const dir = plugin();
    writeFileSync(join(dir, 'p.yaml'), 'name: plug\nstages:\n  s: { type: plug.s }\n');
    const plug = join(dir, 'plugin.mjs');
    const first = cli(['run', 'p.yaml', '--store', join(dir, 'store'), '--json'], { cwd: dir, plugins: plug });
    expect(first.status, first.stderr).toBe(0);
    writeFileSync(join(dir, 'helper-a.mjs'), 'export const value = 5;\n');
    const st = cli(['status', 'p.yaml', '--store', join(dir, 'store'), '--explain'], { cwd: dir, plugins: plug });
    expect(st.stdout).toContain('implementation changed: source helper-a.mjs');
  });
});

describe('the preprocessing kernels are in the preprocess stage\'s key', () => {
  it('its implementation fingerprint hashes the built specflow-preprocess.wasm', async () => {
    const { preprocess } = await import('../../src/stages/preprocess.js');
    const fp = implementationFingerprint(preprocess);
    const wasm = Object.entries(fp.files).filter(([file]) => file.endsWith('specflow-preprocess.wasm'));
    expect(wasm.length, Object.keys(fp.files).join(', ')).toBe(1);
    const built = join(process.cwd(), 'dist/data/preprocess/specflow-preprocess.wasm');
    expect(existsSync(built), 'run `npm run build` first').toBe(true);
    const { createHash } = await import('node:crypto');
    expect(wasm[0]![1]).toBe(createHash('sha256').update(readFileSync(built)).digest('hex'));
  });
});
