/**
 * Spectra that go through a model (`encode`, `reconstruct`, `anomaly`), read in
 * chunks when the table is large (see shouldStream). Each chunk starts at a
 * multiple of the model's inference batch and of the output's record batch, so a
 * chunked pass computes, row for row, what one whole-table call computes and
 * writes the same record batches.
 */
import { StageError, type InputArtifact, type StageContext } from '../core/stage-api.js';
import type { SpectraTable } from '../data/arrow-io.js';
import { checkModelAxis } from './model-axis.js';

export interface StreamedSpectra {
  n: number;
  d: number;
  /** Rows per chunk (the last may be shorter). */
  chunk: number;
  /** Chunks in row order; the first is checked against the model's axis before it is handed out. */
  chunks: AsyncGenerator<{ first: number; t: SpectraTable }>;
  /** Report `done` rows of n with rows/s and ETA. */
  progress(done: number): void;
}

export function singleInput(ctx: StageContext, port: string): InputArtifact {
  const a = ctx.inputs[port];
  if (!a || Array.isArray(a)) throw new StageError(`needs one artifact on port "${port}"`);
  return a;
}

function channelMismatch(d: number, inputDim: number, modelFrom: string, where: string): StageError {
  return new StageError(`spectra have ${d} channels but model ${modelFrom} was trained on ${inputDim}; preprocess them the same way`, where);
}

/** The whole table on `port`, checked against the model (in-memory path). */
export async function loadModelSpectra(ctx: StageContext, port: string, inputDim: number, modelFrom: string): Promise<SpectraTable> {
  const input = singleInput(ctx, port);
  const { readSpectra, requireCommonGrid } = await import('../data/arrow-io.js');
  const t = await readSpectra(input.path);
  requireCommonGrid(t, input.from);
  if (t.d !== inputDim) throw channelMismatch(t.d, inputDim, modelFrom, input.from);
  await checkModelAxis(ctx, singleInput(ctx, 'model').path, modelFrom, t, input.from);
  return t;
}

/**
 * The table on `port` as chunks when it is large enough to stream; undefined when it
 * should be loaded whole (small, or not addressable batch by batch). `label` names the
 * pass in log and progress (default: none); `span` is the share of the stage's progress
 * this pass covers (default: all of it).
 */
export async function streamModelSpectra(
  ctx: StageContext, port: string, inputDim: number, modelFrom: string, pass: { label?: string; span?: [number, number] } = {},
): Promise<StreamedSpectra | undefined> {
  const input = singleInput(ctx, port);
  const { RowFile, shouldStream, batchRows } = await import('../data/arrow-batches.js');
  const probe = await RowFile.open(input.path, ['spectrum']).catch(() => undefined);
  probe?.close();
  if (!probe || !shouldStream(probe.n, probe.d)) return undefined;
  if (probe.d !== inputDim) throw channelMismatch(probe.d, inputDim, modelFrom, input.from);
  const { readSpectraBatches } = await import('../data/arrow-io.js');
  const { rechunk } = await import('../data/rechunk.js');
  const { INFERENCE_BATCH } = await import('../ml/autoencoder.js');
  const { RateMeter } = await import('../util/progress.js');
  // a multiple of both the inference batch and the output file's record batch
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  const rows = batchRows(probe.d);
  const chunk = (INFERENCE_BATCH / gcd(INFERENCE_BATCH, rows)) * rows;
  const rate = new RateMeter();
  const label = pass.label ? `${ctx.id} ${pass.label}` : ctx.id;
  const [from, to] = pass.span ?? [0, 1];
  ctx.log(`${pass.label ? `${pass.label}: ` : ''}streaming ${probe.n} spectra × ${probe.d} channels in chunks of ${chunk}`);
  const modelPath = singleInput(ctx, 'model').path;
  async function* checked(): AsyncGenerator<{ first: number; t: SpectraTable }> {
    let first = true;
    for await (const c of rechunk(readSpectraBatches(input.path), chunk)) {
      if (ctx.signal.aborted) throw new Error('aborted');
      if (first) await checkModelAxis(ctx, modelPath, modelFrom, c.t, input.from);
      first = false;
      yield c;
    }
  }
  return {
    n: probe.n, d: probe.d, chunk,
    chunks: checked(),
    progress: (done: number) => ctx.progress({ fraction: from + (to - from) * (done / probe.n), message: rate.message(label, done, probe.n) }),
  };
}
