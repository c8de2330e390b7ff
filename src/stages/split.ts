/** `split`: seeded train / validation / test partition of a spectra table. */
import type { StageDef } from '../core/stage-api.js';
import { KIND } from './kinds.js';

const fraction = (def: number, what: string) => ({ type: 'number', minimum: 0, maximum: 1, default: def, description: `Fraction of the spectra in the ${what} split.` });

export const split: StageDef = {
  type: 'split',
  description: 'Seeded train/validation/test split, stratified by label when there is one.',
  inputs: { spectra: { kind: KIND.spectra, description: 'Spectra to split.' } },
  outputs: {
    train: { kind: KIND.spectra, description: 'Training spectra.' },
    validation: { kind: KIND.spectra, description: 'Validation spectra (may be empty).' },
    test: { kind: KIND.spectra, description: 'Test spectra (may be empty).' },
  },
  params: {
    type: 'object',
    additionalProperties: false,
    properties: {
      train: fraction(0.7, 'training'),
      validation: fraction(0.15, 'validation'),
      test: fraction(0.15, 'test'),
      stratify: { type: 'boolean', default: true, description: 'Keep each label\'s proportion in every split (when the table has labels).' },
    },
  },
  packages: ['apache-arrow'],
  module: import.meta.url,
  channels: (_p, inputs) => inputs.spectra?.channels,
  check(p) {
    const sum = (p.train as number) + (p.validation as number) + (p.test as number);
    return Math.abs(sum - 1) > 1e-6 ? [{ path: ['test'], message: `train + validation + test must be 1 (got ${+sum.toFixed(6)})` }] : [];
  },
  async run(ctx) {
    const { StageError } = await import('../core/stage-api.js');
    const { readSpectra, writeSpectra } = await import('../data/arrow-io.js');
    const { splitIndices, splitKeys, subsetSpectra, SPLITS, writeSplitsStreamed } = await import('../data/split.js');
    const f = { train: ctx.params.train as number, validation: ctx.params.validation as number, test: ctx.params.test as number };
    const sum = f.train + f.validation + f.test;
    if (Math.abs(sum - 1) > 1e-6) throw new StageError(`train + validation + test must be 1 (got ${+sum.toFixed(6)})`, 'with.test');
    const input = ctx.inputs.spectra as { path: string; from: string };
    // a large table is read batch by batch: once for its labels, then once per split
    const { RowFile, shouldStream, batchRows } = await import('../data/arrow-batches.js');
    const shape = await RowFile.open(input.path, ['spectrum']).catch(() => undefined);
    shape?.close();
    const streamed = shape !== undefined && shouldStream(shape.n, shape.d);
    const t = streamed ? undefined : await readSpectra(input.path);
    const keys = t ?? await splitKeys(input.path, ctx.signal);
    const stratify = (ctx.params.stratify as boolean) && keys.labels !== undefined;
    if ((ctx.params.stratify as boolean) && !keys.labels) ctx.log('no label column: split without stratification');
    const parts = splitIndices(keys.n, keys.labels, f, stratify, ctx.seed);
    for (const s of SPLITS) {
      if (f[s] > 0 && parts[s].length === 0) {
        throw new StageError(`${f[s]} of ${keys.n} spectra rounds to none, so the ${s} set would be empty; give more spectra or set ${s}: 0`, `with.${s}`);
      }
    }
    if (t) {
      for (const s of SPLITS) await writeSpectra(ctx.output(s), { ...subsetSpectra(t, parts[s]), metadata: { ...t.metadata, split: s } });
    } else {
      const { RateMeter } = await import('../util/progress.js');
      ctx.log(`streaming ${keys.n} spectra × ${shape!.d} channels in record batches, one pass per split`);
      const rate = new RateMeter();
      let before = 0;
      const outputs = { train: ctx.output('train'), validation: ctx.output('validation'), test: ctx.output('test') };
      await writeSplitsStreamed(input.path, outputs, parts, batchRows(shape!.d), (s, done) => {
        if (done === parts[s].length) before += done;
        const total = before + (done === parts[s].length ? 0 : done);
        ctx.progress({ fraction: total / keys.n, message: rate.message(s, total, keys.n) });
      }, ctx.signal);
    }
    for (const s of SPLITS) ctx.metric(s, parts[s].length);
  },
};
