/**
 * `load`: any instrument file the readers under src/data/formats/ know (DM3/DM4,
 * EMSA/MSA, Renishaw WDF, LabSpec XML, HyperSpy .hspy, NeXus), picked by magic
 * bytes, then extension, or forced with `format`. Every file is read and
 * checked before the output is written, so a bad file leaves nothing behind.
 */
import type { StageDef } from '../core/stage-api.js';
import { KIND } from './kinds.js';
import { filesNamed, filesParam } from './load.js';

export const load: StageDef = {
  type: 'load',
  description: 'Read spectra from the files instruments write: Gatan DM3/DM4, EMSA/MSA, Renishaw WDF, Horiba LabSpec XML, HyperSpy .hspy and NeXus (one file, a glob or a list). Spectrum images and line scans keep their geometry as x/y columns and map metadata.',
  inputs: {},
  outputs: { spectra: { kind: KIND.spectra, description: 'The spectra (one row per pixel of a map, x fastest), with x/y navigation coordinates, a source column for several files, and the acquisition metadata (instrument.*) in the schema metadata.' } },
  params: {
    type: 'object',
    additionalProperties: false,
    required: ['path'],
    properties: {
      path: filesParam('An instrument file, a glob (e.g. spectra/*.msa) or a list of files/globs, relative to the pipeline file. Several files stack into one table.'),
      format: {
        type: 'string',
        enum: ['auto', 'dm', 'dm3', 'dm4', 'msa', 'emsa', 'wdf', 'renishaw', 'jobinyvon', 'labspec', 'hspy', 'hyperspy', 'nexus', 'nxs'],
        default: 'auto',
        description: 'The file format; auto picks it from the magic bytes, then the extension.',
      },
    },
  },
  seedless: true,
  packages: ['h5wasm', 'fast-xml-parser', 'fast-glob', 'apache-arrow'],
  module: import.meta.url,
  async run(ctx) {
    const { readInstrumentFile } = await import('../data/formats/detect.js');
    const { toSpectraTable } = await import('../data/formats/to-table.js');
    const { writeSpectra, describeSpectra } = await import('../data/arrow-io.js');
    const paths = await filesNamed(ctx, ctx.params.path);
    const files = [];
    for (const p of paths) files.push(await readInstrumentFile(p, ctx.params.format as string));
    const { table, notes } = toSpectraTable(files);
    for (const note of notes) ctx.log(note);
    await writeSpectra(ctx.output('spectra'), table);
    ctx.log(`loaded ${describeSpectra(table)} from ${paths.length} file${paths.length > 1 ? 's' : ''}`);
    ctx.metric('spectra', table.n);
    ctx.metric('channels', table.d);
  },
};
