/**
 * Loaders: CSV (wide or long), Arrow/Feather, JCAMP-DX → a spectra table.
 * Parameter names are fixed (scripts outside the repo use them). Small inputs are
 * parsed and checked whole before the output is written; large ones are written
 * batch by batch as they are read, and a bad row found late removes the partial
 * output (the runner discards the stage's temp entry as well).
 */
import type { StageContext, StageDef } from '../core/stage-api.js';
import { KIND } from './kinds.js';

const onNan = {
  type: 'string',
  enum: ['error', 'drop', 'interpolate'],
  default: 'error',
  description: 'What to do with NaN, Inf or empty cells inside a spectrum: stop with an error naming the cell, drop that spectrum, or interpolate linearly along the axis from the neighbouring channels.',
};
const idParam = { type: 'string', description: 'Column with the sample id (unique). Default: a column named "id" if there is one, else the row number.' };
const labelParam = { type: 'string', description: 'Column with the class label. Default: a column named "label" if there is one. Naming a column that does not exist is an error.' };
const keepParam = {
  type: 'array', items: { type: 'string' },
  description: 'Extra metadata columns to carry along (e.g. [octane]). Wide layout default: every non-channel column when channel columns are named by their axis position; long layout default: none.',
};
const unitParam = { type: 'string', description: 'Unit of the spectral axis, e.g. nm, cm-1, eV, m/z (stored with the table; CSV cannot say it).' };
const axisNameParam = { type: 'string', description: 'Name of the spectral axis, e.g. wavelength. Default: inferred from the unit (nm → wavelength, cm-1 → wavenumber, eV → energy, m/z → mass-to-charge).' };
const layoutParam = {
  type: 'string', enum: ['wide', 'long'], default: 'wide',
  description: 'wide: one spectrum a row, channel positions in the header (numeric column names; otherwise every remaining column is a feature). long: one point a row (id, x, y), as MALDI/mass-spec exports come; spectra on different x grids stay on their own grids until a resample step.',
};
const xParam = { type: 'string', default: 'x', description: 'Long layout: the column with the axis position of each point.' };
const yParam = { type: 'string', default: 'y', description: 'Long layout: the column with the intensity of each point.' };

function resolvePath(ctx: StageContext, p: string): Promise<string> {
  return import('node:path').then(({ resolve }) => resolve(ctx.pipelineDir, p));
}

/** A parameter naming files: one file, a glob or a list of them, keyed by the files' contents (see filesNamed). */
export function filesParam(description: string): Record<string, unknown> {
  return {
    description,
    'x-path': true,
    'x-glob': true,
    anyOf: [
      { type: 'string' },
      { type: 'array', minItems: 1, items: { type: 'string' } },
    ],
  };
}

/**
 * The files a path parameter names — a file, a glob or a list of them: an
 * existing file wins over glob syntax in its name, a glob matches files under
 * the pipeline folder (its own name taken literally), and every file must be a
 * regular file. Sorted per glob, duplicates dropped.
 */
export async function filesNamed(ctx: StageContext, value: unknown): Promise<string[]> {
  const { existsSync } = await import('node:fs');
  const { isAbsolute, relative } = await import('node:path');
  const { StageError } = await import('../core/stage-api.js');
  const fg = (await import('fast-glob')).default;
  const patterns = Array.isArray(value) ? (value as string[]) : [value as string];
  const paths: string[] = [];
  for (const p of patterns) {
    const abs = await resolvePath(ctx, p);
    if (fg.isDynamicPattern(p) && !existsSync(abs)) {
      const rel = relative(ctx.pipelineDir, abs);
      const pattern = !isAbsolute(rel) && !rel.startsWith('..') ? `${fg.convertPathToPattern(ctx.pipelineDir)}/${rel.replace(/\\/g, '/')}` : isAbsolute(p) ? p : `${fg.convertPathToPattern(ctx.pipelineDir)}/${p}`;
      const found = (await fg(pattern, { absolute: true, onlyFiles: true })).sort();
      if (found.length === 0) throw new StageError(`no file matches the glob "${p}"`, p);
      paths.push(...found);
    } else {
      if (!existsSync(abs)) throw new StageError('file not found', p);
      paths.push(abs);
    }
  }
  const unique = [...new Set(paths)];
  const { assertRegularFile } = await import('../data/load/regular-file.js');
  for (const f of unique) await assertRegularFile(f);
  return unique;
}

async function finish(ctx: StageContext, loaded: { table: import('../data/arrow-io.js').SpectraTable; notes: string[] }, file: string): Promise<void> {
  const { writeSpectra, describeSpectra } = await import('../data/arrow-io.js');
  const { checkMetadataNames } = await import('../data/load/assemble.js');
  checkMetadataNames(loaded.table, file);
  for (const note of loaded.notes) ctx.log(note);
  await writeSpectra(ctx.output('spectra'), loaded.table);
  ctx.log(`loaded ${describeSpectra(loaded.table)}`);
  ctx.metric('spectra', loaded.table.n);
  ctx.metric('channels', loaded.table.d);
}

/** What a streamed load logs and records (the rows are already in the output). */
function finishStreamed(ctx: StageContext, loaded: { n: number; d: number; notes?: string[] }): void {
  for (const note of loaded.notes ?? []) ctx.log(note);
  ctx.log(`loaded ${loaded.n} spectra × ${loaded.d} channels (streamed)`);
  ctx.metric('spectra', loaded.n);
  ctx.metric('channels', loaded.d);
}

function loadOptions(p: Record<string, unknown>) {
  return {
    id: p.id as string | undefined,
    label: p.label as string | undefined,
    keep: p.keep as string[] | undefined,
    x: p.x as string | undefined,
    y: p.y as string | undefined,
    unit: p.unit as string | undefined,
    axisName: p.axis_name as string | undefined,
    onNan: p.on_nan as 'error' | 'drop' | 'interpolate',
  };
}

export const loadCsv: StageDef = {
  type: 'load.csv',
  description: 'Read spectra from a CSV file: wide (one spectrum a row) or long (id, x, y rows). Handles BOM, CRLF, quoted fields and # comment lines. A large wide file is read a piece at a time and written batch by batch.',
  inputs: {},
  outputs: { spectra: { kind: KIND.spectra, description: 'The spectra, with id, label and kept metadata columns.' } },
  params: {
    type: 'object',
    additionalProperties: false,
    required: ['path'],
    properties: {
      path: { type: 'string', 'x-path': true, description: 'CSV file, relative to the pipeline file.' },
      layout: layoutParam,
      id: idParam,
      label: labelParam,
      keep: keepParam,
      x: xParam,
      y: yParam,
      delimiter: { type: 'string', default: 'auto', description: 'Field separator: "auto" (tab, semicolon or comma, whichever the header uses), or the character itself ("\\t" for tab).' },
      unit: unitParam,
      axis_name: axisNameParam,
      on_nan: onNan,
    },
  },
  seedless: true,
  packages: ['apache-arrow'],
  module: import.meta.url,
  async run(ctx) {
    const { readFile } = await import('node:fs/promises');
    const { basename } = await import('node:path');
    const { StageError } = await import('../core/stage-api.js');
    const { parseCsv } = await import('../data/load/csv-parse.js');
    const { rawFromCsv } = await import('../data/load/raw-table.js');
    const { assembleWide, assembleLong } = await import('../data/load/assemble.js');
    const path = await resolvePath(ctx, ctx.params.path as string);
    const file = basename(path);
    const { assertRegularFile } = await import('../data/load/regular-file.js');
    await assertRegularFile(path);
    const opts = loadOptions(ctx.params);
    const { stat } = await import('node:fs/promises');
    const size = (await stat(path)).size;
    const { shouldStreamBytes } = await import('../data/arrow-batches.js');
    // Read whole, a CSV takes about 7× its size in memory (the text, then a string per cell:
    // 1.2 GB for 164 MB of text, measured), so it is judged as 8× its size. The long layout
    // gathers each spectrum's points from anywhere in the file, so it is always read whole.
    if (ctx.params.layout !== 'long' && shouldStreamBytes(size * 8)) {
      const { loadCsvStreamed } = await import('../data/load/csv-stream.js');
      const { RateMeter } = await import('../util/progress.js');
      const rate = new RateMeter();
      const loaded = await loadCsvStreamed(path, file, ctx.params.delimiter as string, opts, ctx.output('spectra'), (read, rows) => {
        // the number of rows is known only at the end: estimated from the bytes read so far
        const label = `${(read / 2 ** 20).toFixed(0)}/${(size / 2 ** 20).toFixed(0)} MB of text`;
        ctx.progress({ fraction: size > 0 ? read / size : 1, message: rate.message(label, rows, read > 0 ? Math.round((rows * size) / read) : rows) });
      });
      finishStreamed(ctx, loaded);
      return;
    }
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      throw new StageError(`cannot read file: ${(e as Error).message}`, file);
    }
    const csv = parseCsv(text, file, ctx.params.delimiter as string);
    const raw = rawFromCsv(file, csv.header, csv.rows, csv.lines, csv.headerLine);
    await finish(ctx, ctx.params.layout === 'long' ? assembleLong(raw, opts) : assembleWide(raw, opts), file);
  },
};

export const loadArrow: StageDef = {
  type: 'load.arrow',
  description: 'Read spectra from an Arrow IPC / Feather v2 file written by pyarrow or pandas: a wide table of numeric columns, a long id/x/y table, or a list / fixed-size-list column.',
  inputs: {},
  outputs: { spectra: { kind: KIND.spectra, description: 'The spectra, with id, label and kept metadata columns.' } },
  params: {
    type: 'object',
    additionalProperties: false,
    required: ['path'],
    properties: {
      path: { type: 'string', 'x-path': true, description: 'Arrow/Feather file (uncompressed or LZ4-compressed, as pandas writes it), relative to the pipeline file.' },
      layout: layoutParam,
      column: { type: 'string', description: 'List or fixed-size-list column holding one spectrum a row. Default: "spectrum", else the first list column, when the table has one.' },
      id: idParam,
      label: labelParam,
      keep: { ...keepParam, description: 'Extra metadata columns to carry along. Default: every other scalar column (wide and list layouts), none (long layout).' },
      x: { type: 'string', description: 'Long layout: the column with the axis position (default "x"). List layout: a list column with each spectrum\'s own axis positions (default "x" when present).' },
      y: yParam,
      unit: unitParam,
      axis_name: axisNameParam,
      on_nan: onNan,
    },
  },
  seedless: true,
  packages: ['apache-arrow'],
  module: import.meta.url,
  async run(ctx) {
    const { loadArrowFile } = await import('../data/load/arrow-source.js');
    const path = await resolvePath(ctx, ctx.params.path as string);
    const { assertRegularFile } = await import('../data/load/regular-file.js');
    await assertRegularFile(path);
    const opts = {
      ...loadOptions(ctx.params),
      layout: ctx.params.layout as 'wide' | 'long',
      column: ctx.params.column as string | undefined,
    };
    if (opts.column === undefined) {
      // a large specflow spectra table is copied batch by batch (other layouts are assembled in memory)
      const { copySpectraStreamed } = await import('../data/load/arrow-source.js');
      const { RateMeter } = await import('../util/progress.js');
      const rate = new RateMeter();
      const copied = await copySpectraStreamed(path, ctx.output('spectra'), (done, total) => ctx.progress({ fraction: done / total, message: rate.message('copying', done, total) }), opts.onNan);
      if (copied) {
        finishStreamed(ctx, copied);
        return;
      }
    }
    // a large table of other tools' layouts (a list column on one grid, or a column per channel):
    // read and written record batch by record batch
    const { loadArrowListStreamed, loadArrowWideStreamed } = await import('../data/load/arrow-source.js');
    const rowsRead = (rows: number) => ctx.progress({ message: `${rows.toLocaleString('en')} rows read` });
    const streamed = (await loadArrowListStreamed(path, opts, ctx.output('spectra'), rowsRead))
      ?? (await loadArrowWideStreamed(path, opts, ctx.output('spectra'), rowsRead));
    if (streamed) {
      finishStreamed(ctx, streamed);
      return;
    }
    await finish(ctx, await loadArrowFile(path, opts), (await import('node:path')).basename(path));
  },
};

export const loadJcamp: StageDef = {
  type: 'load.jcamp',
  description: 'Read JCAMP-DX spectra (one file, a list of files or a glob), one spectrum per data block; the axis unit comes from ##XUNITS.',
  inputs: {},
  outputs: { spectra: { kind: KIND.spectra, description: 'One spectrum per file (or block), id = file name; on one grid when all files share it, else on their own grids until a resample step.' } },
  params: {
    type: 'object',
    additionalProperties: false,
    required: ['path'],
    properties: {
      path: filesParam('A JCAMP-DX file, a glob (e.g. spectra/*.jdx) or a list of files/globs, relative to the pipeline file.'),
      label: { type: 'string', description: 'JCAMP record giving the class label, e.g. TITLE or $CLASS (## and $ optional). Default: no label.' },
      unit: { type: 'string', description: 'Override the axis unit read from ##XUNITS (needed when files disagree).' },
      axis_name: axisNameParam,
      on_nan: onNan,
    },
  },
  seedless: true,
  packages: ['jcampconverter', 'fast-glob', 'apache-arrow'],
  module: import.meta.url,
  async run(ctx) {
    const { loadJcampFiles } = await import('../data/load/jcamp-source.js');
    const unique = await filesNamed(ctx, ctx.params.path);
    await finish(ctx, await loadJcampFiles(unique, { ...loadOptions(ctx.params), keep: undefined, x: undefined, y: undefined }), unique.length === 1 ? (await import('node:path')).basename(unique[0]!) : `${unique.length} JCAMP files`);
  },
};
