/**
 * Which reader opens a file: its magic bytes first, then its extension;
 * `format` forces one. Readers are imported lazily (h5wasm is large).
 */
import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { StageError } from '../../core/stage-api.js';
import { withAscendingAxis } from './axis-order.js';
import { FormatError } from './bytes.js';
import { FORMATS, type FormatName, type InstrumentSpectra } from './types.js';

const EXTENSIONS: Record<string, FormatName> = {
  '.dm3': 'dm', '.dm4': 'dm', '.msa': 'msa', '.emsa': 'msa', '.ems': 'msa', '.wdf': 'wdf', '.xml': 'jobinyvon',
  '.hspy': 'hspy', '.hdf5': 'hspy', '.nxs': 'nexus', '.nx5': 'nexus', '.h5': 'nexus',
};

/** Format names users may write in `format:` (aliases included). */
export const FORMAT_ALIASES: Record<string, FormatName> = {
  dm: 'dm', dm3: 'dm', dm4: 'dm', msa: 'msa', emsa: 'msa', wdf: 'wdf', renishaw: 'wdf', jobinyvon: 'jobinyvon', labspec: 'jobinyvon',
  hspy: 'hspy', hyperspy: 'hspy', nexus: 'nexus', nxs: 'nexus',
};

/** File extensions the `load` stage recognises (for globs and `show`). */
export function isInstrumentFile(path: string): boolean {
  return extname(path).toLowerCase() in EXTENSIONS;
}

export function detectFormat(bytes: Uint8Array, file: string): FormatName | undefined {
  const head = new TextDecoder('latin1').decode(bytes.subarray(0, 512));
  if (head.startsWith('WDF1')) return 'wdf';
  if (bytes.length >= 4 && bytes[0] === 0 && bytes[1] === 0 && bytes[2] === 0 && (bytes[3] === 3 || bytes[3] === 4)) return 'dm';
  if (bytes.length >= 8 && bytes[0] === 0x89 && head.slice(1, 4) === 'HDF') {
    return head.includes('HyperSpy') || extname(file).toLowerCase() === '.hspy' ? 'hspy' : 'nexus';
  }
  if (/^\s*#FORMAT\s*:/i.test(head)) return 'msa';
  if (/^(\ufeff)?\s*<\?xml[^>]*>\s*<LSX_Data/.test(head)) return 'jobinyvon';
  return EXTENSIONS[extname(file).toLowerCase()];
}

export async function readInstrumentBytes(bytes: Uint8Array, file: string, format?: string): Promise<InstrumentSpectra> {
  let fmt: FormatName | undefined;
  if (format !== undefined && format !== 'auto') {
    fmt = FORMAT_ALIASES[format.toLowerCase()];
    if (!fmt) throw new StageError(`unknown format "${format}"; known: ${FORMATS.join(', ')}`, file);
  } else {
    fmt = detectFormat(bytes, file);
  }
  if (!fmt) throw new FormatError(file, `not a recognised instrument file (known: DM3/DM4, EMSA/MSA, Renishaw WDF, LabSpec XML, HyperSpy .hspy, NeXus); set format: to force one`, 0);
  if (bytes.length === 0) throw new FormatError(file, 'the file is empty', 0);
  return noteNonFinite(withAscendingAxis(await readAs(fmt, bytes, file)));
}

/**
 * NaN or ±Infinity among the values: a damaged data block reads as such (a flipped exponent bit), and
 * these formats carry no checksum to tell. Not refused (a file may mark missing pixels so), but said,
 * with the first one's place, so it is not passed on silently.
 */
function noteNonFinite(s: InstrumentSpectra): InstrumentSpectra {
  let count = 0;
  let first = -1;
  for (let i = 0; i < s.spectra.length; i++) {
    if (!Number.isFinite(s.spectra[i]!)) {
      count++;
      if (first < 0) first = i;
    }
  }
  if (count > 0) {
    const row = Math.floor(first / s.d);
    const channel = first % s.d;
    s.notes.push(`${s.file}: ${count} value${count === 1 ? ' is' : 's are'} NaN or ±Infinity (the first: spectrum ${row}, channel ${channel}, ${s.spectra[first]}); the file may be damaged`);
  }
  return s;
}

async function readAs(fmt: FormatName, bytes: Uint8Array, file: string): Promise<InstrumentSpectra> {
  switch (fmt) {
    case 'dm': return (await import('./dm.js')).readDm(bytes, file);
    case 'msa': return (await import('./msa.js')).readMsa(bytes, file);
    case 'wdf': return (await import('./wdf.js')).readWdf(bytes, file);
    case 'jobinyvon': return (await import('./jobinyvon.js')).readJobinYvon(bytes, file);
    case 'hspy':
    case 'nexus': return (await import('./hdf5-thread.js')).readHdf5Bounded(bytes, file, fmt);
  }
}

/** Read one instrument file from disk with the reader its content (or `format`) picks. */
export async function readInstrumentFile(path: string, format?: string): Promise<InstrumentSpectra> {
  const file = basename(path);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new StageError(`cannot read file: ${(e as Error).message}`, file);
  }
  return readInstrumentBytes(bytes, file, format);
}
