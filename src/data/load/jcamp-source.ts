/**
 * JCAMP-DX files (one spectrum per data block) through jcampconverter.
 * The x unit comes from the files' ##XUNITS; files that disagree are refused
 * rather than silently mixed.
 */
import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { StageError } from '../../core/stage-api.js';
import { checkJcampBlock, checkJcampText } from './jcamp-check.js';
import { fromGroups, type Group, type LoadOptions, type Loaded } from './assemble.js';

const UNIT_NAMES: Record<string, string> = {
  '1/CM': 'cm-1', 'CM-1': 'cm-1', 'CM^-1': 'cm-1', WAVENUMBERS: 'cm-1', 'RAMAN SHIFT': 'cm-1',
  NANOMETERS: 'nm', NM: 'nm', MICROMETERS: 'µm', UM: 'µm', MICRONS: 'µm',
  EV: 'eV', KEV: 'keV', 'M/Z': 'm/z', DALTON: 'Da', HZ: 'Hz', PPM: 'ppm', SECONDS: 's', MINUTES: 'min',
};

/** JCAMP spells units in capitals; map the common ones to their usual form. */
export function jcampUnit(xUnits: string): string {
  const u = xUnits.trim();
  return UNIT_NAMES[u.toUpperCase()] ?? u;
}

function normalizeKey(k: string): string {
  return k.replace(/^##/, '').replace(/^\$/, '').replace(/[\s_-]/g, '').toUpperCase();
}

interface JcampSpectrum {
  data?: { x: ArrayLike<number>; y: ArrayLike<number> };
  xUnits?: string;
}
interface JcampEntry {
  spectra: JcampSpectrum[];
  info: Record<string, unknown>;
  meta: Record<string, unknown>;
  title?: string;
}

export async function loadJcampFiles(paths: string[], opts: LoadOptions): Promise<Loaded> {
  const { convert } = await import('jcampconverter');
  const groups: Group[] = [];
  const units = new Map<string, string>();
  const seenIds = new Map<string, string>();
  for (const path of paths) {
    const file = basename(path);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      throw new StageError(`cannot read file: ${(e as Error).message}`, file);
    }
    if (text.trim() === '') throw new StageError('the file is empty', file);
    checkJcampText(text, file);
    let entries: JcampEntry[];
    try {
      entries = (convert(text, { keepRecordsRegExp: /.*/ }) as unknown as { flatten: JcampEntry[] }).flatten;
    } catch (e) {
      throw new StageError(`not a readable JCAMP-DX file (${(e as Error).message})`, file);
    }
    const blocks = entries.filter((e) => e.spectra?.some((s) => s.data && s.data.x.length > 0));
    if (blocks.length === 0) throw new StageError('no spectrum (##XYDATA or ##PEAK TABLE) found', file);
    blocks.forEach((entry, b) => {
      const spectrum = entry.spectra.find((s) => s.data && s.data.x.length > 0)!;
      const base = basename(path, extname(path));
      const id = blocks.length > 1 ? `${base}#${b + 1}` : base;
      const where = blocks.length > 1 ? `${file} block ${b + 1}` : file;
      const prev = seenIds.get(id);
      if (prev) throw new StageError(`duplicate id "${id}" (also from ${prev})`, where);
      seenIds.set(id, where);
      units.set(where, jcampUnit(spectrum.xUnits ?? String(entry.info.XUNITS ?? '')));
      let label: string | null = null;
      if (opts.label !== undefined) {
        const want = normalizeKey(opts.label);
        const all: Record<string, unknown> = { ...entry.info, ...entry.meta };
        const key = Object.keys(all).find((k) => normalizeKey(k) === want);
        if (key === undefined) {
          throw new StageError(`label record "##${opts.label}" does not exist; records are ${Object.keys(all).map((k) => `##${k}`).join(', ')}`, `${where}, record "##${opts.label}"`);
        }
        label = String(all[key]).trim() || null;
      }
      checkJcampBlock(entry.info, spectrum.data!.x, where);
      const x = Array.from(spectrum.data!.x);
      const y = Array.from(spectrum.data!.y);
      groups.push({ id, label, x, y, where: x.map((xv, i) => `${where} point ${i + 1} (x = ${xv}), column "y"`), meta: { file } });
    });
  }
  const distinct = [...new Set(units.values())];
  if (opts.unit === undefined && distinct.length > 1) {
    const [w1, u1] = [...units.entries()][0]!;
    const [w2, u2] = [...units.entries()].find(([, u]) => u !== u1)!;
    throw new StageError(`x units differ between files: "${u1}" in ${w1}, "${u2}" in ${w2}; set unit: to override`, w2);
  }
  const unit = opts.unit ?? distinct[0] ?? '';
  const loaded = fromGroups(groups, paths.length === 1 ? basename(paths[0]!) : `${paths.length} JCAMP files`, { ...opts, unit }, opts.label !== undefined);
  const byId = new Map(groups.map((g) => [g.id, g]));
  loaded.table.columns.file = loaded.table.ids.map((id) => byId.get(id)!.meta.file ?? null);
  return loaded;
}
