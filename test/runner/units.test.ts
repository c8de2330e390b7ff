import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalJson, contentKey, sha256 } from '../../src/runner/fingerprint.js';
import { didYouMean, editDistance } from '../../src/runner/suggest.js';
import { findCycle } from '../../src/runner/dag.js';
import { Store } from '../../src/runner/store.js';
import { currentOwner } from '../../src/runner/owner.js';
import { parseSize } from '../../src/commands/common.js';
import { tempDir } from './helpers.js';
import { validateParams } from '../../src/runner/params.js';
import { builtinStages } from '../../src/stages/registry.js';
import type { StageDef } from '../../src/runner/stage-api.js';

describe('canonical JSON and keys', () => {
  it('sorts keys at every level and keeps arrays in order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, 1], c: null } })).toBe('{"a":{"c":null,"d":[3,1]},"b":1}');
    expect(canonicalJson({ a: 1, b: 2 })).toBe(canonicalJson({ b: 2, a: 1 }));
    expect(canonicalJson({ a: undefined, b: 1 })).toBe('{"b":1}');
  });

  it('is the SHA-256 of the canonical form (checked against a known digest)', () => {
    // sha256("abc") is the FIPS 180-2 test vector
    expect(sha256('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    const m = { type: 't', impl: 'i', params: { x: 1 }, seed: 0, inputs: {} };
    expect(contentKey(m)).toBe(sha256('{"impl":"i","inputs":{},"params":{"x":1},"seed":0,"type":"t"}'));
    expect(contentKey({ ...m, params: { x: 2 } })).not.toBe(contentKey(m));
  });
});

describe('did you mean', () => {
  it('edit distance with transpositions', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('latnt_dim', 'latent_dim')).toBe(1);
    expect(editDistance('scael', 'scale')).toBe(1); // one transposition
    expect(editDistance('', 'abc')).toBe(3);
  });
  it('suggests only close names', () => {
    expect(didYouMean('latnt_dim', ['latent_dim', 'epochs'])).toBe('latent_dim');
    expect(didYouMean('xyz', ['latent_dim', 'epochs'])).toBeUndefined();
  });
});

describe('cycles', () => {
  it('finds the cycle path', () => {
    expect(findCycle([{ id: 'a', deps: ['c'] }, { id: 'b', deps: ['a'] }, { id: 'c', deps: ['b'] }])).toEqual(['a', 'c', 'b', 'a']);
    expect(findCycle([{ id: 'a', deps: [] }, { id: 'b', deps: ['a'] }])).toBeUndefined();
  });
});

describe('store', () => {
  it('publishes a complete entry with a manifest of hashes, atomically', async () => {
    const store = new Store(tempDir());
    const key = 'ab'.repeat(32);
    const ctl = new AbortController();
    expect(await store.acquire(key, ctl.signal)).toBe('acquired');
    const tmp = await store.createTemp(key);
    writeFileSync(join(tmp, 'out.arrow'), 'abc');
    mkdirSync(join(tmp, 'model'));
    writeFileSync(join(tmp, 'model', 'w.bin'), 'abc');
    expect(store.has(key)).toBe(false);
    const m = await store.publish(tmp, { key, type: 't', stage: 's', material: { type: 't', impl: '', params: {}, seed: 0, inputs: {} }, outputs: { out: { kind: 'table', path: 'out.arrow' } }, metrics: { x: 1 }, seconds: 0, created: '' });
    await store.release(key);
    expect(store.has(key)).toBe(true);
    expect(existsSync(tmp)).toBe(false);
    expect(m.files['out.arrow']!.sha256).toBe(sha256('abc'));
    expect(m.files[join('model', 'w.bin')]!.size).toBe(3);
    expect(await store.verifyEntry(key)).toEqual([]);
    expect(await store.acquire(key, ctl.signal)).toBe('exists');
    expect(readdirSync(join(store.root, 'locks'))).toEqual([]);
  });

  it('breaks at once the lock of a dead process of this kernel and pid namespace', async () => {
    const store = new Store(tempDir());
    await store.ensureLayout();
    const key = 'cd'.repeat(32);
    // pid 2^22+1 is above Linux's default pid_max, so it is never alive
    const owner = { ...currentOwner(), pid: 4194305 };
    writeFileSync(join(store.root, 'locks', `${key}.lock`), JSON.stringify({ token: 'x', owner, lease_ms: 3_600_000, created: '' }));
    expect(await store.acquire(key, new AbortController().signal)).toBe('acquired');
  });
});

describe('sizes', () => {
  it('parses human sizes', () => {
    expect(parseSize('1000')).toBe(1000);
    expect(parseSize('2K')).toBe(2048);
    expect(parseSize('1.5G')).toBe(1.5 * 1024 ** 3);
    expect(() => parseSize('lots')).toThrow(/invalid size/);
  });
});

describe('parameter errors for a name-or-index choice (anyOf of an enum and an integer)', () => {
  const def = {
    type: 'test.choice', description: '', inputs: {}, outputs: {}, module: import.meta.url, run: async () => {},
    params: {
      type: 'object',
      properties: { phase: { description: 'long text', anyOf: [{ type: 'string', enum: ['hematite', 'wustite'] }, { type: 'integer', minimum: 0, maximum: 1 }] } },
    },
  } as unknown as StageDef;

  it('a misspelt name gets the names, the nearest one and the index range', () => {
    const { errors } = validateParams(def, { phase: 'hematit' });
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toBe('parameter "phase" has an unknown value "hematit" (did you mean "hematite"?): must be one of "hematite", "wustite" or an index 0–1');
  });

  it('valid names and indices pass; a bad index falls back to the general message', () => {
    expect(validateParams(def, { phase: 'wustite' }).errors).toEqual([]);
    expect(validateParams(def, { phase: 1 }).errors).toEqual([]);
    const { errors } = validateParams(def, { phase: 5 });
    expect(errors[0]!.message).toMatch(/^parameter "phase" has an invalid value/);
  });
});

describe('parameter errors for a value no anyOf branch takes say what the branches take, once', () => {
  const stage = async (type: string): Promise<StageDef> => (await builtinStages()).find((d) => d.type === type)!;
  const messages = async (type: string, raw: Record<string, unknown>): Promise<string[]> => validateParams(await stage(type), raw).errors.map((e) => e.message);

  it('a number out of every branch names the range and the alternatives (not the parameter\'s whole description)', async () => {
    expect(await messages('synthetic.eels', { phases: 7 })).toEqual(['parameter "phases" has an invalid value 7: must be a whole number from 1 to 5 or a non-empty list of distinct "Fe2O3", "FeO", "Fe3O4", "amorphous", "Fe"']);
    expect(await messages('cluster', { k: 0 })).toEqual(['parameter "k" has an invalid value 0: must be "auto" or a whole number ≥ 1']);
    expect(await messages('preprocess', { steps: [{ log: { base: 0 } }] })).toEqual(['parameter "steps.0.log.base" has an invalid value 0: must be "e" or a number > 0']);
    expect(await messages('preprocess', { steps: [{ crop: {} }] })).toEqual(['parameter "steps.0.crop" has an invalid value {}: must be a mapping with "min" or a mapping with "max"']);
  });

  it('a wrong item inside a list is said once, at the item', async () => {
    expect(await messages('synthetic.eels', { phases: ['hematite'] })).toEqual(['parameter "phases.0" must be one of "Fe2O3", "FeO", "Fe3O4", "amorphous", "Fe"']);
  });
});
