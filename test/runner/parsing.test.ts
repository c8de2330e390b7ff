// Lossless parsing (issue 13.4, 13.5, 13.15, 13.17): what the YAML says is what runs, first time and from the parse cache.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parsePipeline, type Pipeline } from '../../src/runner/pipeline.js';
import { pipelineCacheKey, readCachedPipeline, sameJson, writeCachedPipeline } from '../../src/runner/pipeline-cache.js';
import { loadRegistry } from '../../src/runner/registry.js';
import { cli, ROOT, tempDir, testRegistry } from './helpers.js';

const stageParams = (p: Pipeline, id: string, variant = 0): Record<string, unknown> => p.variants[variant]!.stages.get(id)!.params;

describe('YAML anchors, aliases and merge keys (13.4)', () => {
  it('`with: *gen` is the anchored mapping, not null; `<<` merges with written keys winning', async () => {
    const registry = await testRegistry();
    const p = parsePipeline(`name: a
defaults: &gen { n: 7, scale: 2 }
stages:
  one: { type: test.rows, with: *gen }
  two: { type: test.rows, with: { <<: *gen, scale: 5 } }
  three: { type: test.rows, with: { <<: [ { mode: ones }, *gen ] } }
`.replace('defaults: &gen', 'params:\n  shared: &gen'), 'a.yaml', { registry });
    expect(stageParams(p, 'one')).toMatchObject({ n: 7, scale: 2, mode: 'uniform' });
    expect(stageParams(p, 'two')).toMatchObject({ n: 7, scale: 5 });
    expect(stageParams(p, 'three')).toMatchObject({ n: 7, scale: 2, mode: 'ones' });
  });

  it('an alias bomb is refused at the alias, quickly, and a self-containing alias too', async () => {
    const registry = await testRegistry();
    const bomb = readFileSync(join(ROOT, 'test/fixtures/broken/alias-bomb.yaml'), 'utf8');
    expect(() => parsePipeline(bomb, 'b.yaml', { registry })).toThrow(/b\.yaml:8:10: aliases expand this document beyond/);
    expect(() => parsePipeline('name: c\nparams:\n  a: &x [1, *x]\nstages: { s: { type: test.rows } }\n', 'c.yaml', { registry }))
      .toThrow(/c\.yaml:3:13: alias \*x refers to a value that contains it/);
  });
});

describe('__proto__ and constructor are ordinary names (13.15)', () => {
  it('a parameter named __proto__ or constructor keeps its value through ${refs} and sweeps', async () => {
    const registry = await testRegistry();
    const p = parsePipeline(`name: p
params: { __proto__: 4, constructor: 2.5 }
sweep: { toString: [ones, uniform] }
stages:
  s: { type: test.rows, with: { n: "\${__proto__}", scale: "\${constructor}", mode: "\${toString}" } }
`, 'p.yaml', { registry });
    expect(p.variants.map((v) => stageParams(p, 's', p.variants.indexOf(v)))).toEqual([
      expect.objectContaining({ n: 4, scale: 2.5, mode: 'ones' }),
      expect.objectContaining({ n: 4, scale: 2.5, mode: 'uniform' }),
    ]);
    expect(Object.hasOwn(p.params, '__proto__')).toBe(true);
  });
});

describe('the parsed-pipeline cache is lossless (13.5)', () => {
  it('every example and fixture pipeline reads back from the cache exactly as parsed', async () => {
    const sets: [string, Map<string, import('../../src/runner/stage-api.js').StageDef>][] = [
      [join(ROOT, 'pipelines'), await loadRegistry()],
      [join(ROOT, 'test/fixtures/pipelines'), new Map([...await loadRegistry(), ...await testRegistry()])],
    ];
    const dir = tempDir();
    let checked = 0;
    for (const [folder, registry] of sets) {
      for (const f of readdirSync(folder).filter((x) => x.endsWith('.yaml'))) {
        const file = join(folder, f);
        const text = readFileSync(file, 'utf8');
        // the examples on the shared data set (../shared/data) validate only where it sits beside the checkout
        if (/\.\.\/\.\.\/shared\/data\//.test(text) && !existsSync(join(folder, '../../shared/data'))) {
          console.warn(`!!! ../shared/data is absent: ${f} is not checked !!!`);
          continue;
        }
        const parsed = parsePipeline(text, file, { registry });
        const key = pipelineCacheKey(text, file, { registry });
        await writeCachedPipeline(dir, key, parsed);
        const back = readCachedPipeline(dir, key, registry);
        expect(back, `${f} was not cached`).toBeDefined();
        const plain = (p: Pipeline): unknown => ({ ...p, variants: p.variants.map((v) => ({ ...v, stages: [...v.stages.values()].map(({ def, ...s }) => ({ ...s, def: def.type })) })) });
        expect(sameJson(plain(back!), plain(parsed)), f).toBe(true);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(15);
  });

  it('sameJson tells apart what JSON would change', () => {
    expect(sameJson(JSON.parse(JSON.stringify({ a: -0 })), { a: -0 })).toBe(false);
    expect(sameJson(JSON.parse(JSON.stringify({ a: undefined })), { a: undefined })).toBe(false);
    expect(sameJson(JSON.parse(JSON.stringify({ a: [1, 'x', { b: null }] })), { a: [1, 'x', { b: null }] })).toBe(true);
  });

  it('`dose: .inf` is refused where it is written, on every run (was Infinity, then null from the cache)', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'inf.yaml'), 'name: inf\nstages:\n  s: { type: test.rows, with: { scale: .inf } }\n');
    for (let i = 0; i < 2; i++) {
      const r = cli(['run', 'inf.yaml', '--store', join(dir, 'store')], { cwd: dir });
      expect(r.status).toBe(1);
      expect(r.stderr.trim()).toBe('inf.yaml:3:40: .inf is not a finite number; write a finite value (infinities and NaN cannot be keyed or stored)');
    }
    const set = cli(['run', 'inf.yaml', '--store', join(dir, 'store'), '--set', 'x=-.inf'], { cwd: dir });
    expect(set.stderr.trim()).toContain('.inf is not a finite number'); // the file's own error comes first
    writeFileSync(join(dir, 'ok.yaml'), 'name: ok\nparams: { k: 1 }\nstages:\n  s: { type: test.rows, with: { scale: "${k}" } }\n');
    const r = cli(['run', 'ok.yaml', '--store', join(dir, 'store'), '--set', 'k=.nan'], { cwd: dir });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe('--set k: not a finite number (infinities and NaN cannot be keyed or stored)');
  });
});

describe('sweeps (13.17)', () => {
  it('a value given twice to --sweep is refused', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'ok.yaml'), 'name: ok\nparams: { k: 1 }\nstages:\n  s: { type: test.rows, with: { n: "${k}" } }\n');
    const r = cli(['run', 'ok.yaml', '--store', join(dir, 'store'), '--sweep', 'k=2,3,2.0'], { cwd: dir });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe('--sweep k=2,3,2.0: 2 is given twice; each variant must differ');
  });

  it('--sweep splits at the commas between values, not inside a list or a quoted string', async () => {
    const registry = await testRegistry();
    const text = 'name: p\nparams: { pair: [1, 2], tag: a }\nstages:\n  s: { type: test.rows }\n  t: { type: test.fail, in: s, with: { message: "${pair} ${tag}" } }\n';
    const p = parsePipeline(text, 'p.yaml', { registry, sweep: ['pair=[0,1],[3,8]', "tag='a,b',c"] });
    expect(p.sweep).toEqual({ pair: [[0, 1], [3, 8]], tag: ['a,b', 'c'] });
  });
});
