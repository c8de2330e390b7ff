/**
 * Reading a pipeline file safely: only a regular file, of a sensible size, in
 * UTF-8. A device (/dev/zero) or a FIFO would block or never end; a huge file
 * would take minutes to parse; a UTF-16 or Latin-1 file would otherwise parse
 * into nonsense ("not a mapping") or U+FFFD characters.
 */
import { readdirSync, readFileSync, statSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { UserError } from './errors.js';
import { didYouMean } from './suggest.js';
import { describeFileType } from '../util/file-type.js';

/** Pipelines describe stages; data belongs in the files they read. */
export const MAX_PIPELINE_BYTES = 1024 * 1024;

export function readPipelineText(file: string): string {
  let st: Stats;
  try {
    st = statSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UserError(`${file}: no such pipeline file${nearby(file)}`);
    throw new UserError(`${file}: cannot read pipeline file (${code ?? String(e)})`);
  }
  if (!st.isFile()) throw new UserError(`${file}: not a pipeline file: it is ${describeFileType(st)}`);
  if (st.size > MAX_PIPELINE_BYTES) {
    throw new UserError(`${file}: the pipeline file is ${(st.size / 1024 / 1024).toFixed(1)} MiB; the limit is ${MAX_PIPELINE_BYTES / 1024 / 1024} MiB (put data in files that stages read)`);
  }
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new UserError(`${file}: cannot read pipeline file (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  return decodeUtf8(bytes, file);
}

/** UTF-8 text (a BOM is dropped); other encodings are named, not guessed at. */
export function decodeUtf8(bytes: Uint8Array, file: string): string {
  const utf16 = utf16Kind(bytes);
  if (utf16) throw new UserError(`${file}: the file is encoded as ${utf16}; save it as UTF-8`);
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    const at = firstInvalidUtf8(bytes);
    const byte = bytes[at]!;
    const guess = byte >= 0x80 && byte <= 0x9f ? 'Windows-1252' : 'Latin-1 (ISO-8859-1) or Windows-1252';
    throw new UserError(`${file}: not UTF-8 at byte ${at} (0x${byte.toString(16).toUpperCase().padStart(2, '0')}); it looks like ${guess}: save it as UTF-8`);
  }
}

function utf16Kind(b: Uint8Array): string | undefined {
  if (b[0] === 0xff && b[1] === 0xfe) return 'UTF-16 LE';
  if (b[0] === 0xfe && b[1] === 0xff) return 'UTF-16 BE';
  // no BOM: ASCII text in UTF-16 has a NUL in every other byte
  if (b.length >= 4 && b[0] !== 0 && b[1] === 0 && b[3] === 0) return 'UTF-16 LE';
  if (b.length >= 4 && b[0] === 0 && b[1] !== 0 && b[2] === 0) return 'UTF-16 BE';
  return undefined;
}

function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    const len = c < 0x80 ? 1 : c >= 0xc2 && c < 0xe0 ? 2 : c >= 0xe0 && c < 0xf0 ? 3 : c >= 0xf0 && c < 0xf5 ? 4 : 0;
    if (len === 0) return i;
    for (let k = 1; k < len; k++) if (((b[i + k] ?? 0) & 0xc0) !== 0x80) return i;
    i += len;
  }
  return 0;
}

/** ` (did you mean pipelines/quickstart.yaml?)` for a mistyped name, from the YAML files of its folder. */
function nearby(file: string): string {
  let names: string[];
  try {
    names = readdirSync(dirname(file)).filter((n) => /\.ya?ml$/i.test(n));
  } catch {
    return ''; // the folder is missing too
  }
  const best = didYouMean(basename(file), names);
  return best ? ` (did you mean ${join(dirname(file), best)}?)` : '';
}
