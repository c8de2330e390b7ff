/**
 * HDF5 files through h5wasm (the HDF5 C library compiled to WebAssembly):
 * HyperSpy `.hspy` (Experiments/<name>/data with axis-i groups whose attributes
 * are name, units, offset, scale, size, navigate) and NeXus NXdata groups (the
 * `signal` attribute names the dataset, `axes` names one axis dataset per
 * dimension, "." for none; `interpretation` says spectrum or image).
 *
 * h5wasm's ESM build reads from its in-memory file system, so the bytes are
 * copied in and removed after reading. Before HDF5 sees them, the superblock is
 * checked here, so a truncated file gets a byte offset rather than an HDF5
 * error stack.
 */
import { ByteReader, FormatError } from './bytes.js';
import { gridCoords, linearAxis, type InstrumentSpectra, type MetaValue, type NavigationAxis } from './types.js';

const SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

/** Byte offset of the HDF5 superblock (0, 512, 1024, … when a user block precedes it), or -1. */
export function hdf5SignatureAt(bytes: Uint8Array): number {
  for (let at = 0; at + 8 <= bytes.length; at = at === 0 ? 512 : at * 2) {
    if (SIGNATURE.every((b, i) => bytes[at + i] === b)) return at;
  }
  return -1;
}

/** Refuse a file whose superblock is missing, unknown or says the file is longer than it is. */
function checkSuperblock(bytes: Uint8Array, file: string): void {
  const base = hdf5SignatureAt(bytes);
  if (base < 0) throw new FormatError(file, 'not an HDF5 file: no HDF5 signature', 0);
  const r = new ByteReader(bytes, file);
  r.seek(base + 8, 'superblock');
  const version = r.u8('superblock version');
  let eofAt: number;
  let offsetSize: number;
  if (version === 0 || version === 1) {
    r.skip(4, 'superblock versions');
    offsetSize = r.u8('size of offsets');
    r.u8('size of lengths');
    r.skip(1 + 4 + 4 + (version === 1 ? 4 : 0), 'superblock B-tree parameters');
    eofAt = r.pos + 2 * offsetSize;
  } else if (version === 2 || version === 3) {
    offsetSize = r.u8('size of offsets');
    r.u8('size of lengths');
    r.u8('superblock flags');
    eofAt = r.pos + 2 * offsetSize;
  } else {
    return r.fail(`unknown HDF5 superblock version ${version}`, base + 8);
  }
  if (offsetSize !== 8 && offsetSize !== 4) r.fail(`HDF5 offsets of ${offsetSize} bytes are not supported`, base + 13);
  r.seek(eofAt, 'superblock end-of-file address');
  const eof = offsetSize === 8 ? r.u64('end-of-file address') : r.u32('end-of-file address');
  if (base + eof > bytes.length) r.fail(`file is truncated: the HDF5 superblock says ${base + eof} bytes, the file has ${bytes.length}`, eofAt);
}

type H5 = typeof import('h5wasm');
type H5File = InstanceType<H5['File']>;
type H5Group = InstanceType<H5['Group']>;
type H5Dataset = InstanceType<H5['Dataset']>;

let counter = 0;
let loaded: Promise<{ h5: H5; FS: { writeFile(p: string, d: Uint8Array): void; unlink(p: string): void } }> | undefined;

function h5wasm() {
  loaded ??= import('h5wasm').then(async (mod) => {
    const h5 = (mod.default ?? mod) as unknown as H5;
    const module = await h5.ready;
    // Errors become exceptions instead of an HDF5 error stack printed on stderr.
    (module as unknown as { activate_throwing_error_handler(): number }).activate_throwing_error_handler();
    return { h5, FS: module.FS as never };
  });
  return loaded;
}

interface Axis { name: string; unit: string; size: number; offset: number; scale: number; navigate: boolean; values?: Float64Array }

export async function readHdf5(bytes: Uint8Array, file: string, want?: 'hspy' | 'nexus'): Promise<InstrumentSpectra> {
  checkSuperblock(bytes, file);
  const { h5, FS } = await h5wasm();
  const path = `/specflow-${process.pid}-${counter++}.h5`;
  FS.writeFile(path, bytes);
  let f: H5File | undefined;
  try {
    try {
      f = new h5.File(path, 'r');
    } catch (e) {
      throw new FormatError(file, `the file is corrupt: HDF5 cannot open it (${firstLine(e)})`);
    }
    try {
      const isHspy = String(attr(f, 'file_format') ?? '').toLowerCase() === 'hyperspy';
      const kind = want ?? (isHspy ? 'hspy' : 'nexus');
      return kind === 'hspy' ? readHspy(f, file) : readNexus(f, file);
    } catch (e) {
      if (e instanceof FormatError) throw e;
      // HDF5 names the damaged structure but not its file offset.
      throw new FormatError(file, `the file is corrupt: HDF5 cannot read it (${firstLine(e)})`);
    }
  } finally {
    try {
      f?.close();
    } catch {
      // a file that failed to open has nothing to close
    }
    FS.unlink(path);
  }
}

function firstLine(e: unknown): string {
  const lines = String((e as Error).message ?? e).split('\n').map((l) => l.trim()).filter(Boolean);
  // HDF5's stack ends with the most specific cause.
  const last = lines.filter((l) => /^#\d+/.test(l)).pop() ?? lines[0] ?? 'unknown error';
  return last.replace(/^#\d+:\s*\S+ line \d+ in /, '');
}

function attr(o: { attrs: Record<string, { value: unknown }> }, name: string): unknown {
  return o.attrs?.[name]?.value;
}

function readHspy(f: H5File, file: string): InstrumentSpectra {
  const experiments = f.get('Experiments') as H5Group | null;
  const names = experiments?.keys?.() ?? [];
  if (!experiments || names.length === 0) throw new FormatError(file, 'a HyperSpy file without Experiments/<signal>');
  const exp = experiments.get(names[0]!) as H5Group | null;
  // a damaged link lists a name HDF5 then cannot open
  if (!exp?.get) throw new FormatError(file, `the file is corrupt: Experiments/${names[0]} is listed but HDF5 cannot open it`);
  const data = exp.get('data') as H5Dataset | null;
  if (!data?.shape) throw new FormatError(file, `Experiments/${names[0]} has no data dataset`);
  const shape = data.shape.map(Number);
  const axes: Axis[] = shape.map((size, i) => {
    const g = exp.get(`axis-${i}`) as H5Group | null;
    if (!g) return { name: '', unit: '', size, offset: 0, scale: 1, navigate: i < shape.length - 1 };
    const declared = Number(attr(g, 'size') ?? size);
    if (declared !== size) throw new FormatError(file, `axis-${i} says size ${declared} but data dimension ${i} is ${size}`);
    const values = g.keys().includes('axis') ? Float64Array.from((g.get('axis') as H5Dataset).value as ArrayLike<number>) : undefined;
    return {
      name: text(attr(g, 'name')), unit: text(attr(g, 'units')), size,
      offset: Number(attr(g, 'offset') ?? values?.[0] ?? 0), scale: Number(attr(g, 'scale') ?? 1),
      navigate: Number(attr(g, 'navigate') ?? 0) !== 0 && String(attr(g, 'navigate')) !== 'False', values,
    };
  });
  const metadata: Record<string, MetaValue> = {};
  const md = exp.get('metadata') as H5Group | null;
  if (md) {
    const g = (p: string) => md.get(p) as H5Group | null;
    const put = (k: string, v: unknown) => {
      if (v !== undefined && v !== null && v !== '') metadata[k] = typeof v === 'number' || typeof v === 'boolean' ? v : typeof v === 'bigint' ? Number(v) : String(v);
    };
    const general = g('General');
    if (general) {
      put('title', attr(general, 'title'));
      put('acquisition_date', attr(general, 'date'));
      put('acquisition_time', attr(general, 'time'));
    }
    const signal = g('Signal');
    if (signal) put('signal_type', attr(signal, 'signal_type'));
    for (const inst of ['TEM', 'SEM']) {
      const gi = g(`Acquisition_instrument/${inst}`);
      if (gi) {
        put('beam_energy_keV', attr(gi, 'beam_energy'));
        put('convergence_angle_mrad', attr(gi, 'convergence_angle'));
        put('microscope', attr(gi, 'microscope'));
      }
    }
    const eels = g('Acquisition_instrument/TEM/Detector/EELS');
    if (eels) {
      put('collection_angle_mrad', attr(eels, 'collection_angle'));
      put('exposure_s', attr(eels, 'exposure'));
    }
  }
  return assemble(file, 'hspy', data, axes, metadata);
}

function readNexus(f: H5File, file: string): InstrumentSpectra {
  const nxdata = findNxData(f);
  if (!nxdata) throw new FormatError(file, 'no NXdata group (NX_class="NXdata" with a signal) in the file');
  const { group, path } = nxdata;
  const signalName = text(attr(group, 'signal'));
  const data = group.get(signalName) as H5Dataset | null;
  if (!data?.shape) throw new FormatError(file, `${path}: the signal "${signalName}" is not a dataset`);
  const shape = data.shape.map(Number);
  const axesAttr = attr(group, 'axes');
  const axisNames = (Array.isArray(axesAttr) ? axesAttr.map(String) : text(axesAttr).split(/[,:\s]+/)).filter((s) => s !== '');
  const interpretation = text(attr(group, 'interpretation') ?? attr(data, 'interpretation'));
  const signalDims = interpretation === 'image' ? 2 : 1;
  const axes: Axis[] = shape.map((size, i) => {
    const name = axisNames[i];
    const ds = name && name !== '.' ? (group.get(name) as H5Dataset | null) : null;
    const values = ds?.value ? Float64Array.from(ds.value as ArrayLike<number>) : undefined;
    const ok = values && values.length === size;
    return {
      name: ok ? text(attr(ds!, 'long_name')) || name! : '', unit: ok ? text(attr(ds!, 'units')) : '', size,
      offset: ok && size > 0 ? values![0]! : 0, scale: ok && size > 1 ? values![1]! - values![0]! : 1,
      navigate: i < shape.length - signalDims, values: ok ? values : undefined,
    };
  });
  const metadata: Record<string, MetaValue> = { nexus_path: path };
  const title = f.get('entry1/title') ?? null;
  if (title && 'value' in title) metadata.title = text((title as H5Dataset).value);
  return assemble(file, 'nexus', data, axes, metadata);
}

function findNxData(f: H5File): { group: H5Group; path: string } | undefined {
  // Follow the NeXus `default` attributes first, then take the first NXdata group found.
  const defEntry = text(attr(f, 'default'));
  if (defEntry) {
    const entry = f.get(defEntry) as H5Group | null;
    const defData = entry ? text(attr(entry, 'default')) : '';
    const g = defData ? (entry!.get(defData) as H5Group | null) : null;
    if (g && attr(g, 'signal') !== undefined) return { group: g, path: `/${defEntry}/${defData}` };
  }
  const walk = (g: H5Group, path: string, depth: number): { group: H5Group; path: string } | undefined => {
    if (depth > 8) return undefined;
    for (const k of g.keys()) {
      const child = g.get(k) as H5Group | H5Dataset | null;
      if (!child || !('keys' in child)) continue;
      const p = `${path}/${k}`;
      if (text(attr(child, 'NX_class')) === 'NXdata' && attr(child, 'signal') !== undefined) return { group: child, path: p };
      const found = walk(child, p, depth + 1);
      if (found) return found;
    }
    return undefined;
  };
  return walk(f, '', 0);
}

function text(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (Array.isArray(v)) return v.map(String).join(',');
  return String(v);
}

/** Spectra from an N-D dataset whose signal axes are the non-navigation ones. */
function assemble(file: string, format: 'hspy' | 'nexus', data: H5Dataset, axes: Axis[], metadata: Record<string, MetaValue>): InstrumentSpectra {
  const signal = axes.map((a, i) => (a.navigate ? -1 : i)).filter((i) => i >= 0);
  const shape = axes.map((a) => a.size);
  if (signal.length === 2) {
    throw new FormatError(file, `is an image (${signal.map((i) => shape[i]).join(' × ')} signal), not spectra`);
  }
  if (signal.length !== 1) throw new FormatError(file, `has ${signal.length} signal axes; spectra have exactly 1`);
  const s = signal[0]!;
  const nav = axes.map((_, i) => i).filter((i) => i !== s);
  const bigNav = nav.filter((i) => shape[i]! > 1);
  if (bigNav.length > 2) throw new FormatError(file, `has ${bigNav.length} navigation axes; at most 2 (a spectrum image) are supported`);
  const raw = data.value as ArrayLike<number | bigint> | null;
  const total = shape.reduce((a, b) => a * b, 1);
  if (!raw || typeof raw !== 'object' || raw.length !== total) throw new FormatError(file, `data has ${raw?.length ?? 0} values, its shape says ${total}`);
  if (typeof raw[0] === 'object') throw new FormatError(file, 'data are not real numbers (compound or complex type)');
  const d = shape[s]!;
  const n = total / d;
  // Row-major strides; the output puts the signal axis last and the navigation in array order (last = fastest = x).
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  // Float32 data with the signal axis last are already the rows we want (h5wasm hands over a copy, not a view of its heap).
  const inPlace = s === shape.length - 1 && raw instanceof Float32Array;
  const spectra = inPlace ? raw : new Float32Array(total);
  const navShape = nav.map((i) => shape[i]!);
  const idx = new Array<number>(nav.length).fill(0);
  for (let p = 0; p < (inPlace ? 0 : n); p++) {
    let base = 0;
    for (let j = 0; j < nav.length; j++) base += idx[j]! * strides[nav[j]!]!;
    for (let k = 0; k < d; k++) spectra[p * d + k] = Number(raw[base + k * strides[s]!]);
    for (let j = nav.length - 1; j >= 0; j--) {
      if (++idx[j]! < navShape[j]!) break;
      idx[j] = 0;
    }
  }
  const sig = axes[s]!;
  const navigation: NavigationAxis[] = bigNav.reverse().map((i, j) => ({
    name: j === 0 ? 'x' : 'y', unit: axes[i]!.unit, size: axes[i]!.size, offset: axes[i]!.offset, scale: axes[i]!.scale,
  }));
  return {
    format,
    file,
    n,
    d,
    spectra,
    axis: { values: sig.values ?? linearAxis(sig.offset, sig.scale, d), unit: sig.unit, name: sig.name, offset: sig.offset, scale: sig.scale },
    navigation,
    coords: gridCoords(navigation),
    metadata,
    notes: [],
  };
}
