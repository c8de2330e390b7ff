import { cpSync, readFileSync, writeFileSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { CLI, cli, cliAsync, collectOutput, PLUGIN, ROOT, tempDir } from './helpers.js';

interface JsonStage { id: string; variant: string; type: string; key: string; cached: boolean; status: string; seconds: number; outputs: Record<string, string>; metrics: Record<string, unknown>; error?: string; blocked_by?: string }
interface JsonRun { run: string; pipeline: string; status: string; variants: { id: string; params: Record<string, unknown> }[]; stages: JsonStage[] }

const FIXTURES = join(ROOT, 'test', 'fixtures', 'pipelines');

function workspace(): { dir: string; store: string } {
  const dir = tempDir();
  cpSync(FIXTURES, dir, { recursive: true });
  return { dir, store: join(dir, 'store') };
}

function runJson(dir: string, store: string, file: string, extra: string[] = []): { status: number | null; run: JsonRun; stderr: string } {
  const r = cli(['run', file, '--store', store, '--json', ...extra], { cwd: dir });
  let run: JsonRun;
  try {
    run = JSON.parse(r.stdout) as JsonRun;
  } catch {
    throw new Error(`stdout is not one JSON document:\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
  return { status: r.status, run, stderr: r.stderr };
}

describe('the specflow bin', () => {
  it('runs by itself, as `npx specflow` runs it after `npm ci` (executable, with its shebang)', () => {
    const r = spawnSync(CLI, ['--version'], { encoding: 'utf8' });
    expect(r.error).toBeUndefined();
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version);
  });
});

describe('specflow run', () => {
  it('runs a 10-stage pipeline, then re-runs it without computing anything', () => {
    const { dir, store } = workspace();
    const first = runJson(dir, store, 'chain10.yaml');
    expect(first.status).toBe(0);
    expect(first.run.stages).toHaveLength(10);
    expect(first.run.stages.every((s) => s.status === 'done')).toBe(true);
    // independent check of the data flow: `both` adds up the two column sums
    const byId = new Map(first.run.stages.map((s) => [s.id, s]));
    expect(byId.get('both')!.metrics.sum).toBeCloseTo((byId.get('sa')!.metrics.sum as number) + (byId.get('sb')!.metrics.sum as number), 9);
    for (const s of first.run.stages) for (const p of Object.values(s.outputs)) expect(existsSync(p)).toBe(true);

    const second = runJson(dir, store, 'chain10.yaml');
    expect(second.status).toBe(0);
    expect(second.run.stages.every((s) => s.cached)).toBe(true);
    expect(second.run.stages.map((s) => s.key)).toEqual(first.run.stages.map((s) => s.key));
    expect(second.run.stages.map((s) => s.metrics)).toEqual(first.run.stages.map((s) => s.metrics));
  });

  it('computes a stage shared by sweep variants once, with the same key in each', () => {
    const { dir, store } = workspace();
    const { status, run } = runJson(dir, store, 'sweep.yaml');
    expect(status).toBe(0);
    expect(run.variants.map((v) => v.id)).toEqual(['scale=1', 'scale=2', 'scale=4']);
    expect(run.stages).toHaveLength(12);
    const sources = run.stages.filter((s) => s.id === 'source');
    expect(new Set(sources.map((s) => s.key)).size).toBe(1);
    const scaled = run.stages.filter((s) => s.id === 'scaled');
    expect(new Set(scaled.map((s) => s.key)).size).toBe(3);
    // scale=1 `scaled` is the very same computation as `source`: shared too
    expect(scaled[0]!.key).toBe(sources[0]!.key);
    // the shared stage appears in each variant, one computation: identical outputs and seconds
    expect(new Set(sources.map((s) => s.outputs.table)).size).toBe(1);
    const sums = run.stages.filter((s) => s.id === 'combined').map((s) => s.metrics.sum as number);
    const base = sums[0]! / 2; // total + scaled(=source) for scale 1
    expect(sums[1]).toBeCloseTo(base + 2 * base, 9);
    expect(sums[2]).toBeCloseTo(base + 4 * base, 9);
  });

  it('applies --set and --sweep', () => {
    const { dir, store } = workspace();
    const { run } = runJson(dir, store, 'sweep.yaml', ['--set', 'n=7', '--sweep', 'scale=1,10']);
    expect(run.variants.map((v) => v.params)).toEqual([{ n: 7, scale: 1, seed: 5 }, { n: 7, scale: 10, seed: 5 }]);
    expect(run.stages.find((s) => s.id === 'source')!.metrics.n).toBe(7);
  });

  it('a failing stage stops its dependents only, and the run exits 1 naming it', () => {
    const { dir, store } = workspace();
    const r = cli(['run', 'failing.yaml', '--store', store], { cwd: dir });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('stage "broken" (test.fail) failed:');
    expect(r.stderr).toContain('row 3 of the input has 2 values, expected 5');
    expect(r.stderr).not.toMatch(/\n\s+at .*:\d+:\d+/); // a user error: no stack trace
    const { run } = runJson(dir, store, 'failing.yaml');
    const st = Object.fromEntries(run.stages.map((s) => [s.id, s]));
    expect(st.broken!.status).toBe('failed');
    expect(st.after!.status).toBe('skipped');
    expect(st.after!.blocked_by).toBe('broken');
    expect(st.independent!.status).toBe('cached');
    expect(run.status).toBe('failed');
  });

  it('--force recomputes the named stage and what depends on it, nothing else', () => {
    const { dir, store } = workspace();
    runJson(dir, store, 'chain10.yaml');
    const { run } = runJson(dir, store, 'chain10.yaml', ['--force', 'sa']);
    const computed = run.stages.filter((s) => !s.cached).map((s) => s.id);
    expect(computed).toEqual(['sa', 'both', 'all', 'again', 'final']);
  });

  it('--dry-run runs nothing', () => {
    const { dir, store } = workspace();
    const r = cli(['run', 'chain10.yaml', '--store', store, '--dry-run'], { cwd: dir });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('10 of 10 distinct stages would run');
    expect(existsSync(join(store, 'objects'))).toBe(false);
  });

  it('resolves relative paths against the pipeline folder and keys files by content', () => {
    const { dir, store } = workspace();
    const elsewhere = tempDir();
    const a = runJson(elsewhere, store, join(dir, 'readfile.yaml'));
    expect(a.status).toBe(0);
    expect(a.run.stages.find((s) => s.id === 'total')!.metrics.sum).toBe(6);
    writeFileSync(join(dir, 'numbers.txt'), '1\n2\n3\n4\n');
    const st = cli(['status', join(dir, 'readfile.yaml'), '--store', store, '--explain'], { cwd: elsewhere });
    expect(st.stdout).toContain('input file of parameter "path" changed: numbers.txt\n');
    const b = runJson(elsewhere, store, join(dir, 'readfile.yaml'));
    expect(b.run.stages.find((s) => s.id === 'total')!.metrics.sum).toBe(10);
    expect(b.run.stages.every((s) => !s.cached)).toBe(true);
  });
});

describe('status --explain', () => {
  it('names the changed parameter and the stages it drags along', () => {
    const { dir, store } = workspace();
    runJson(dir, store, 'chain10.yaml');
    const r = cli(['status', 'chain10.yaml', '--store', store, '--explain', '--set', 'n=60'], { cwd: dir });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/would run\s+a\s/);
    expect(r.stdout).toContain('parameter "n" changed: 50 → 60');
    expect(r.stdout).toContain('input "table" changed: a (which would re-run)');
    // a many-input port names only the inputs that changed (b and sb kept their keys)
    expect(r.stdout).toContain('input "tables" changed: sa (which would re-run)\n');
    expect(r.stdout).toContain('input "tables" changed: a (which would re-run), both (which would re-run)\n');
    expect(r.stdout).not.toContain('its output changed');
    expect(r.stdout).toMatch(/= cached\s+b\s/);
    expect(r.stdout).toMatch(/= cached\s+sb\s/);
    const upToDate = cli(['status', 'chain10.yaml', '--store', store], { cwd: dir });
    expect(upToDate.stdout).toContain('up to date');
  });
});

describe('implementation fingerprints', () => {
  it('editing a module that defines every stage changes every key', () => {
    const { dir, store } = workspace();
    // a private copy of the plugin, inside the repo so it resolves apache-arrow
    const pluginDir = join(ROOT, 'test', '.tmp', `plugin-${process.pid}-${Date.now()}`);
    cpSync(join(ROOT, 'test', 'fixtures', 'stages'), pluginDir, { recursive: true });
    const plugin = join(pluginDir, 'test-stages.mjs');
    try {
      const keys = (): Map<string, string> => {
        const r = cli(['run', 'chain10.yaml', '--store', store, '--json', '--dry-run'], { cwd: dir, plugins: plugin });
        const tasks = (JSON.parse(r.stdout) as { tasks: { label: string; key: string }[] }).tasks;
        return new Map(tasks.map((t) => [t.label, t.key]));
      };
      const before = keys();
      // edit test.model's run function (a stage used once, with one dependent chain)
      const src = readFileSync(plugin, 'utf8');
      const edited = src.replace("JSON.stringify({ width: ctx.params.width })", "JSON.stringify({ width: ctx.params.width, v: 2 })");
      expect(edited).not.toBe(src);
      // this plugin file defines every test stage, so every key must change
      writeFileSync(plugin, edited);
      const after = keys();
      const changed = [...before.keys()].filter((k) => before.get(k) !== after.get(k)).sort();
      expect(changed).toEqual([...before.keys()].sort());
    } finally {
      rmSync(pluginDir, { recursive: true, force: true });
    }
  });

  it('with one stage per module, only the edited stage and its dependents change', () => {
    const { dir, store } = workspace();
    const pluginDir = join(ROOT, 'test', '.tmp', `split-${process.pid}-${Date.now()}`);
    cpSync(join(ROOT, 'test', 'fixtures', 'stages'), pluginDir, { recursive: true });
    // model.mjs re-exports nothing but test.model, implemented in its own file
    const all = readFileSync(join(pluginDir, 'test-stages.mjs'), 'utf8');
    writeFileSync(join(pluginDir, 'model-impl.mjs'), "export function config(width) { return JSON.stringify({ width }); }\n");
    const withoutModel = all.replace(/export const model = \{[\s\S]*?\n\};\n/, '');
    writeFileSync(join(pluginDir, 'others.mjs'), withoutModel);
    writeFileSync(join(pluginDir, 'model.mjs'), `import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { config } from './model-impl.mjs';
export const model = {
  type: 'test.model', description: 'a fake model directory',
  inputs: { table: { kind: 'table', optional: true } }, outputs: { model: { kind: 'model/test' } },
  params: { type: 'object', properties: { width: { type: 'integer', minimum: 1, default: 3 } } },
  module: import.meta.url,
  async run(ctx) { writeFileSync(join(ctx.output('model'), 'config.json'), config(ctx.params.width)); },
};
`);
    const plugins = [join(pluginDir, 'others.mjs'), join(pluginDir, 'model.mjs')].join(':');
    try {
      const keys = (): Map<string, string> => {
        const r = cli(['run', 'chain10.yaml', '--store', store, '--json', '--dry-run'], { cwd: dir, plugins });
        expect(r.status, r.stderr).toBe(0);
        return new Map((JSON.parse(r.stdout) as { tasks: { label: string; key: string }[] }).tasks.map((t) => [t.label, t.key]));
      };
      const before = keys();
      // edit a module imported by the stage, not the stage file itself
      writeFileSync(join(pluginDir, 'model-impl.mjs'), "export function config(width) { return JSON.stringify({ width, version: 2 }); }\n");
      const after = keys();
      const changed = [...before.keys()].filter((k) => before.get(k) !== after.get(k)).sort();
      expect(changed).toEqual(['final', 'fit', 'use']);
    } finally {
      rmSync(pluginDir, { recursive: true, force: true });
    }
  });
});

describe('crash safety and concurrency', () => {
  it('a run killed with SIGKILL mid-stage leaves nothing a later run trusts', async () => {
    const { dir, store } = workspace();
    const child = cliAsync(['run', 'slow.yaml', '--store', store, '--jobs', '1'], { cwd: dir });
    const out = collectOutput(child);
    // wait until the slow stage has written its first half
    await new Promise<void>((res, rej) => {
      const t = setTimeout(() => rej(new Error('slow stage never started')), 30_000);
      child.stderr!.on('data', (d) => { if (String(d).includes('first half written')) { clearTimeout(t); res(); } });
    });
    child.kill('SIGKILL');
    await out;
    const tmp = readdirSync(join(store, 'tmp'));
    expect(tmp.length).toBeGreaterThan(0); // the half-written entry is there, but only as a temp dir
    const verify1 = cli(['cache', 'verify', '--store', store]);
    expect(verify1.status).toBe(0);
    const { status, run } = runJson(dir, store, 'slow.yaml');
    expect(status).toBe(0);
    const slow = run.stages.find((s) => s.id === 'slow')!;
    expect(slow.cached).toBe(false);
    expect(readdirSync(slow.outputs.blob!).sort()).toEqual(['part1.bin', 'part2.bin']);
    expect(readdirSync(join(store, 'tmp'))).toEqual([]); // stale temp dirs were cleaned
    expect(readdirSync(join(store, 'locks'))).toEqual([]);
    const verify2 = cli(['cache', 'verify', '--store', store]);
    expect(verify2.status).toBe(0);
    expect(verify2.stdout).toContain('0 corrupt');
  });

  it('two runs on one store at once both succeed with identical keys and outputs', async () => {
    const { dir, store } = workspace();
    const a = collectOutput(cliAsync(['run', 'slow.yaml', '--store', store, '--json'], { cwd: dir }));
    const b = collectOutput(cliAsync(['run', 'slow.yaml', '--store', store, '--json'], { cwd: dir }));
    const [ra, rb] = await Promise.all([a, b]);
    expect(ra.status, ra.stderr).toBe(0);
    expect(rb.status, rb.stderr).toBe(0);
    const ja = JSON.parse(ra.stdout) as JsonRun;
    const jb = JSON.parse(rb.stdout) as JsonRun;
    expect(ja.stages.map((s) => s.key)).toEqual(jb.stages.map((s) => s.key));
    expect(ja.stages.map((s) => s.outputs)).toEqual(jb.stages.map((s) => s.outputs));
    // the slow stage was computed by one of them and reused by the other
    const computed = [ja, jb].filter((j) => !j.stages.find((s) => s.id === 'slow')!.cached);
    expect(computed).toHaveLength(1);
    expect(cli(['cache', 'verify', '--store', store]).status).toBe(0);
  });
});

describe('cache maintenance', () => {
  it('verify finds a corrupted file and --remove deletes the entry and what was computed from it; the next run recomputes them', () => {
    const { dir, store } = workspace();
    const { run } = runJson(dir, store, 'chain10.yaml');
    const victim = run.stages.find((s) => s.id === 'sa')!;
    writeFileSync(victim.outputs.total!, 'garbage');
    const v = cli(['cache', 'verify', '--store', store]);
    expect(v.status).toBe(1);
    expect(v.stdout).toContain(`corrupt ${victim.key.slice(0, 12)}`);
    expect(v.stdout).toContain('1 corrupt');
    expect(cli(['cache', 'verify', '--store', store, '--remove']).status).toBe(0);
    expect(cli(['cache', 'verify', '--store', store]).status).toBe(0);
    const again = runJson(dir, store, 'chain10.yaml');
    // sa, and both, all, again, final downstream of it
    expect(again.run.stages.filter((s) => !s.cached).map((s) => s.id)).toEqual(['sa', 'both', 'all', 'again', 'final']);
  });

  it('gc keeps the entries of the newest runs and drops the rest', () => {
    const { dir, store } = workspace();
    const older = runJson(dir, store, 'chain10.yaml', ['--set', 'n=5']).run;
    const latest = runJson(dir, store, 'chain10.yaml', ['--set', 'n=6']).run;
    const ls = JSON.parse(cli(['cache', 'ls', '--store', store, '--json']).stdout) as unknown[];
    expect(ls.length).toBe(new Set([...older.stages, ...latest.stages].map((s) => s.key)).size);
    const r = cli(['cache', 'gc', '--store', store, '--keep-runs', '1']);
    expect(r.status).toBe(0);
    const left = (JSON.parse(cli(['cache', 'ls', '--store', store, '--json']).stdout) as { key: string }[]).map((e) => e.key).sort();
    expect(left).toEqual([...new Set(latest.stages.map((s) => s.key))].sort());
    const again = runJson(dir, store, 'chain10.yaml', ['--set', 'n=6']);
    expect(again.run.stages.every((s) => s.cached)).toBe(true);
  });

  it('gc --max-size evicts least recently used entries but never the latest run\'s', () => {
    const { dir, store } = workspace();
    runJson(dir, store, 'sweep.yaml', ['--set', 'n=1000']);
    const latest = runJson(dir, store, 'chain10.yaml').run;
    const r = cli(['cache', 'gc', '--store', store, '--max-size', '1']);
    expect(r.status).toBe(0);
    const left = (JSON.parse(cli(['cache', 'ls', '--store', store, '--json']).stdout) as { key: string }[]).map((e) => e.key).sort();
    expect(left).toEqual([...new Set(latest.stages.map((s) => s.key))].sort());
  });
});

describe('inspection commands', () => {
  it('dag prints text, mermaid and dot', () => {
    const text = cli(['dag', 'test/fixtures/pipelines/sweep.yaml']);
    expect(text.status).toBe(0);
    expect(text.stdout).toContain('combined  [test.concat]');
    expect(text.stdout).toContain('scale=4');
    const mermaid = cli(['dag', 'test/fixtures/pipelines/chain10.yaml', '--format', 'mermaid']);
    expect(mermaid.stdout.split('\n')[0]).toBe('flowchart LR');
    expect(mermaid.stdout).toContain('fit -->|"model → model"| use');
    const dot = cli(['dag', 'test/fixtures/pipelines/chain10.yaml', '--format', 'dot']);
    expect(dot.stdout).toMatch(/^digraph "chain10" \{/);
    expect(dot.stdout).toContain('"fit" -> "use"');
  });

  it('dag draws a gathering stage once, outside the variants, with an edge from each of the 3 variants', () => {
    const mermaid = cli(['dag', 'test/fixtures/pipelines/gather.yaml', '--format', 'mermaid']).stdout.split('\n');
    expect(mermaid.filter((l) => l.includes('<i>test.gather'))).toEqual(['  all_compare["compare<br/><i>test.gather, all 3 variants</i>"]']);
    expect(mermaid.filter((l) => l.endsWith('| all_compare'))).toEqual([0, 1, 2].map((i) => `  v${i}_total -->|"total → tables"| all_compare`));
    const dot = cli(['dag', 'test/fixtures/pipelines/gather.yaml', '--format', 'dot']).stdout;
    expect(dot.match(/\[label="compare\\n/g)).toHaveLength(1);
    // the edges into it lie outside every cluster (Graphviz would pull the node into a cluster naming it)
    const clusters = dot.match(/subgraph "cluster_\d" \{[^}]*\}/g)!;
    expect(clusters).toHaveLength(3);
    for (const c of clusters) expect(c).not.toContain('all/compare');
    expect(dot.match(/^ {2}"v\d\/total" -> "all\/compare"/gm)).toHaveLength(3);
  });

  it('stages lists the registered types with ports and parameters', () => {
    const r = cli(['stages']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('test.rows');
    expect(r.stdout).toMatch(/n: integer \[1, 1000000\] = 10\s+— number of rows/);
    // a constant is its value, and a list of alternatives is bracketed as one
    expect(r.stdout).toContain('    k: integer [1, ∞) | "auto" = "auto"  — Number of clusters');
    expect(r.stdout).toContain('    steps: (object | string)[] (required)  — Steps in order');
    // the direction of each metric, which comparison reports rank variants by
    expect(r.stdout).toMatch(/cluster\n.*\n.*\n.*\n  metrics \(↓ lower, ↑ higher is better\): silhouette ↑, ari ↑, nmi ↑/);
    const json = JSON.parse(cli(['stages', '--json']).stdout) as { type: string; metrics: Record<string, { better?: string }> }[];
    expect(json.map((d) => d.type)).toContain('test.apply');
    expect(json.find((d) => d.type === 'train.autoencoder')!.metrics.val_loss!.better).toBe('lower');
  });

  it('show prints the schema and rows of an artifact by key', () => {
    const { dir, store } = workspace();
    const { run } = runJson(dir, store, 'chain10.yaml');
    const a = run.stages.find((s) => s.id === 'a')!;
    const r = cli(['show', a.key.slice(0, 10), '--store', store, '--head', '2']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('50 rows × 1 columns');
    expect(r.stdout).toContain('x: Float64');
    expect(r.stdout).toContain('note: test');
    expect(r.stdout.match(/^ {2}x=/gm)).toHaveLength(2);
    const direct = cli(['show', a.outputs.table!]);
    expect(direct.stdout).toContain('50 rows × 1 columns');
    expect(cli(['show', 'ffffffff', '--store', store]).status).toBe(1);
  });

  it('writes a run record with the pipeline text, params, keys and versions, and a latest pointer', () => {
    const { dir, store } = workspace();
    const { run } = runJson(dir, store, 'sweep.yaml');
    const latest = readFileSync(join(store, 'latest'), 'utf8').trim();
    expect(latest).toBe(run.run);
    const record = JSON.parse(readFileSync(join(store, 'runs', `${latest}.json`), 'utf8')) as Record<string, unknown>;
    expect(record.text).toBe(readFileSync(join(dir, 'sweep.yaml'), 'utf8'));
    expect((record.packages as Record<string, string>)['apache-arrow']).toMatch(/^\d+\.\d+\.\d+/);
    expect((record.variants as unknown[]).length).toBe(3);
    expect((record.stages as unknown[]).length).toBe(12);
    expect(record.node).toBe(process.version);
  });
});

describe('plugins', () => {
  it('a missing plugin module is a clear error', () => {
    const r = cli(['stages'], { plugins: '/nonexistent/plugin.mjs' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('SPECFLOW_PLUGINS: cannot load /nonexistent/plugin.mjs');
  });

  it('the plugin fixture is the one the CLI loads', () => {
    expect(existsSync(PLUGIN)).toBe(true);
  });
});

describe('Ctrl-C', () => {
  it('SIGINT stops the run with status 130 and leaves the store consistent', async () => {
    const { dir, store } = workspace();
    const child = cliAsync(['run', 'slow.yaml', '--store', store], { cwd: dir });
    const out = collectOutput(child);
    await new Promise<void>((res, rej) => {
      const t = setTimeout(() => rej(new Error('slow stage never started')), 30_000);
      child.stderr!.on('data', (d) => { if (String(d).includes('first half written')) { clearTimeout(t); res(); } });
    });
    child.kill('SIGINT');
    const r = await out;
    expect(r.status).toBe(130);
    expect(r.stderr).toContain('interrupted');
    // what waited on the interrupted stage is not blamed on a failure: it is interrupted too
    expect(r.stderr).toMatch(/! tail\s+interrupted/);
    expect(r.stderr).not.toMatch(/failed|skipped/);
    expect(readdirSync(join(store, 'tmp'))).toEqual([]);
    expect(readdirSync(join(store, 'locks'))).toEqual([]);
    expect(cli(['cache', 'verify', '--store', store]).status).toBe(0);
    const record = JSON.parse(readFileSync(join(store, 'runs', `${readFileSync(join(store, 'latest'), 'utf8').trim()}.json`), 'utf8')) as { status: string };
    expect(record.status).toBe('interrupted');
    const again = runJson(dir, store, 'slow.yaml');
    expect(again.status).toBe(0);
    expect(again.run.stages.find((s) => s.id === 'data')!.cached).toBe(true);
    expect(again.run.stages.find((s) => s.id === 'slow')!.cached).toBe(false);
  });
});

describe('parsed-pipeline cache', () => {
  it('an edited pipeline is parsed and validated again', () => {
    const { dir, store } = workspace();
    expect(runJson(dir, store, 'chain10.yaml').status).toBe(0);
    const text = readFileSync(join(dir, 'chain10.yaml'), 'utf8');
    writeFileSync(join(dir, 'chain10.yaml'), text.replace('with: { n: 40, scale: 3 }', 'with: { n: 40, scael: 3 }'));
    const r = cli(['run', 'chain10.yaml', '--store', store], { cwd: dir });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('unknown parameter "scael" (did you mean "scale"?)');
  });
});

describe('gathering stages', () => {
  it('run once for a whole sweep and see every variant with its values and metrics', () => {
    const { dir, store } = workspace();
    const { status, run } = runJson(dir, store, 'gather.yaml');
    expect(status).toBe(0);
    const compares = run.stages.filter((s) => s.id === 'compare');
    expect(compares).toHaveLength(3);
    expect(new Set(compares.map((s) => s.key)).size).toBe(1);
    const seen = compares[0]!.metrics.seen as { variant: string; axes: { scale: number }; sum: number }[];
    expect(seen.map((x) => x.variant)).toEqual(['scale=1', 'scale=2', 'scale=3']);
    const totals = run.stages.filter((s) => s.id === 'total').map((s) => s.metrics.sum);
    expect(seen.map((x) => x.sum)).toEqual(totals);
    expect(seen[1]!.sum).toBeCloseTo(2 * seen[0]!.sum, 9);
  });
});

describe('gathering stages and shared artifacts', () => {
  it('get an output shared by several variants once, with the list of every variant that read it; the list is part of the key', () => {
    const { dir, store } = workspace();
    const { status, run } = runJson(dir, store, 'gather-shared.yaml');
    expect(status).toBe(0);
    // `tag` changes nothing upstream: rows and total run once per scale
    expect(new Set(run.stages.filter((s) => s.id === 'total').map((s) => s.key)).size).toBe(2);
    const seen = run.stages.find((s) => s.id === 'compare')!.metrics.seen as { variant: string; usedBy: string[] }[];
    expect(seen.map((x) => x.usedBy)).toEqual([['scale=1,tag=a', 'scale=1,tag=b'], ['scale=2,tag=a', 'scale=2,tag=b']]);
    expect(seen.map((x) => x.variant)).toEqual(['scale=1,tag=a', 'scale=2,tag=a']);
    // another set of variants reading the same outputs is another report: it re-runs, nothing upstream does
    const explained = cli(['status', 'gather-shared.yaml', '--store', store, '--explain', '--sweep', 'tag=a,b,c'], { cwd: dir });
    expect(explained.stdout).toContain('the sweep\'s variants changed: the same outputs of input "tables" are read by other variants');
    const again = runJson(dir, store, 'gather-shared.yaml', ['--sweep', 'tag=a,b,c']).run;
    expect(again.stages.filter((s) => s.id !== 'compare' && s.id !== 'note').every((s) => s.cached)).toBe(true);
    const compare = again.stages.find((s) => s.id === 'compare')!;
    expect(compare.cached).toBe(false);
    expect((compare.metrics.seen as { usedBy: string[] }[])[0]!.usedBy).toEqual(['scale=1,tag=a', 'scale=1,tag=b', 'scale=1,tag=c']);
  });
});

describe('specflow compare', () => {
  it('prints one CSV row per variant with parameter and metric columns', () => {
    const { dir, store } = workspace();
    const { run } = runJson(dir, store, 'sweep.yaml');
    const r = cli(['compare', '--store', store, '--format', 'csv', '--sort', '-combined.sum']);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    const header = lines[0]!.split(',');
    expect(header.slice(0, 4)).toEqual(['variant', 'n', 'scale', 'seed']);
    expect(header).toContain('combined.sum');
    expect(lines).toHaveLength(1 + run.variants.length);
    const col = header.indexOf('combined.sum');
    const sums = lines.slice(1).map((l) => Number(l.split(',')[col]));
    expect(sums).toEqual([...sums].sort((a, b) => b - a)); // sorted descending
    const fromJson = run.stages.filter((s) => s.id === 'combined').map((s) => s.metrics.sum as number).sort((a, b) => b - a);
    expect(sums).toEqual(fromJson);
  });

  it('--format html is a self-contained overview page', () => {
    const { dir, store } = workspace();
    runJson(dir, store, 'sweep.yaml');
    const html = cli(['compare', '--store', store, '--format', 'html']);
    expect(html.status, html.stderr).toBe(0);
    expect(html.stdout).toMatch(/^<!doctype html>/);
    expect(html.stdout).toContain('Every metric that differs between variants');
    expect(html.stdout).not.toMatch(/<script/i);
  });

  it('--format html over two runs of a sweep lists each variant\'s metrics once, as its latest run has them', () => {
    const { dir, store } = workspace();
    const first = runJson(dir, store, 'sweep.yaml').run;
    runJson(dir, store, 'sweep.yaml');
    const html = cli(['compare', '--store', store, '--pipeline', join(dir, 'sweep.yaml'), '--format', 'html']);
    expect(html.status, html.stderr).toBe(0);
    const rows = [...html.stdout.matchAll(/<tr data-stage="([^"]*)" data-variant="([^"]*)" data-metric="([^"]*)">/g)].map((m) => `${m[1]}|${m[2]}|${m[3]}`);
    const once = first.stages.flatMap((st) => Object.keys(st.metrics).map((m) => `${st.id}|${st.variant}|${m}`));
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.sort()).toEqual(once.sort());
    // a page printed to stdout has no metrics.json beside it
    expect(html.stdout).not.toContain('beside this file');
  });

  it('--format html says which variants failed, as the table\'s status column does', () => {
    const { dir, store } = workspace();
    expect(runJson(dir, store, 'failing.yaml').status).toBe(1);
    const html = cli(['compare', '--store', store, '--format', 'html']);
    expect(html.status, html.stderr).toBe(0);
    expect(html.stdout).toContain('default: broken failed: row 3 of the input has 2 values, expected 5 — what depends on it is missing here.');
  });

  it('a variant whose own stages all ran is ok, though the sweep\'s gathering stage was skipped for another\'s failure', () => {
    const { dir, store } = workspace();
    writeFileSync(join(dir, 'one-fails.yaml'), 'name: one-fails\nsweep: { t: [test.sum, test.fail] }\nstages:\n  data: { type: test.rows }\n  x: { type: "${t}", in: data }\n  all: { type: test.gather, in: [x] }\n');
    expect(runJson(dir, store, 'one-fails.yaml').status).toBe(1);
    const rows = JSON.parse(cli(['compare', '--store', store, '--format', 'json']).stdout) as { variant: string; status: string }[];
    expect(rows.map((r) => `${r.variant} ${r.status}`)).toEqual(['t=test.sum ok', 't=test.fail failed: x']);
  });

  it('compares several runs of one pipeline', () => {
    const { dir, store } = workspace();
    runJson(dir, store, 'chain10.yaml');
    runJson(dir, store, 'chain10.yaml', ['--set', 'n=7']);
    const rows = JSON.parse(cli(['compare', '--store', store, '--pipeline', join(dir, 'chain10.yaml'), '--format', 'json']).stdout) as { n: number }[];
    expect(rows.map((r) => r.n)).toEqual([50, 7]);
  });
});

describe('gc and the parsed-pipeline cache', () => {
  it('gc drops cached parsed pipelines; the next run rebuilds them and stays cached', () => {
    const { dir, store } = workspace();
    runJson(dir, store, 'chain10.yaml');
    expect(readdirSync(join(store, 'cache', 'pipelines')).length).toBe(1);
    expect(cli(['cache', 'gc', '--store', store]).status).toBe(0);
    // the folder stays (a run may be writing into it), emptied of parsed pipelines
    expect(readdirSync(join(store, 'cache', 'pipelines'))).toEqual([]);
    const again = runJson(dir, store, 'chain10.yaml');
    expect(again.run.stages.every((s) => s.cached)).toBe(true);
    expect(readdirSync(join(store, 'cache', 'pipelines')).length).toBe(1);
  });
});
