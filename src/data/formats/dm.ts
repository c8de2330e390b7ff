/**
 * Gatan DigitalMicrograph DM3/DM4: a tree of tagged groups and typed data.
 *
 * Layout (the community descriptions of the format, as HyperSpy reads it):
 * header = version (int32 BE, 3 or 4), file size (uint32 / DM4 uint64 BE),
 * byte order of the data (int32 BE, 1 = little endian); then the root group.
 * A group: is_sorted (u8), is_open (u8), tag count (uint32 / uint64). A tag:
 * kind (u8: 20 group, 21 data), name length (uint16 BE), name; DM4 adds the
 * tag's byte size (uint64 BE) here, for groups and data alike. A data tag: "%%%%", info length, info
 * (encoded type, then array/struct/string definitions; all BE), then values in
 * the header's byte order. The image is ImageList/<n>/ImageData: Data, DataType,
 * Dimensions (fastest first), Calibrations/Dimension (Origin, Scale, Units).
 */
import { ByteReader, decodeNumbers, FormatError, TYPE_BYTES, type NumericType } from './bytes.js';
import { gridCoords, linearAxis, type InstrumentSpectra, type MetaValue, type NavigationAxis } from './types.js';

type TagValue = number | string | TagValue[] | DataRef | TagGroup;
interface TagGroup { group: [string, TagValue][] }
/** The location of a large array (the image data), read only when needed. */
interface DataRef { at: number; count: number; type: number }

const SIMPLE: Record<number, { type: NumericType; bytes: number }> = {
  2: { type: 'int16', bytes: 2 }, 3: { type: 'int32', bytes: 4 }, 4: { type: 'uint16', bytes: 2 }, 5: { type: 'uint32', bytes: 4 },
  6: { type: 'float32', bytes: 4 }, 7: { type: 'float64', bytes: 8 }, 8: { type: 'bool', bytes: 1 }, 9: { type: 'int8', bytes: 1 },
  10: { type: 'uint8', bytes: 1 }, 11: { type: 'int64', bytes: 8 }, 12: { type: 'uint64', bytes: 8 },
};
const STRUCT = 15, STRING = 18, ARRAY = 20;
/** Arrays longer than this (other than strings) are kept as a reference, not decoded. */
const INLINE_ARRAY = 64;

/** ImageData.DataType codes → element type; the others are refused by name. */
const IMAGE_TYPES: Record<number, NumericType> = {
  1: 'int16', 2: 'float32', 6: 'uint8', 7: 'int32', 9: 'int8', 10: 'uint16', 11: 'uint32', 12: 'float64', 14: 'bool',
};
const REFUSED_TYPES: Record<number, string> = {
  3: 'complex (complex64)', 4: 'obsolete packed', 5: 'packed complex (FFT)', 8: 'RGB', 13: 'complex (complex128)', 23: 'RGBA',
  27: 'packed complex (FFT)', 28: 'packed complex (FFT)',
};

class TagParser {
  private version = 3;
  private little = true;
  constructor(private readonly r: ByteReader) {}

  parse(): { root: TagGroup; version: number; little: boolean } {
    const r = this.r;
    if (r.length < 16) r.fail(`file is truncated: ${r.length} bytes is shorter than a DM header`, 0);
    this.version = r.i32('DM version', false);
    if (this.version !== 3 && this.version !== 4) r.fail(`not a DigitalMicrograph file: version ${this.version}, expected 3 or 4`, 0);
    const sizeAt = r.pos;
    const declared = this.count('file size');
    // The size field counts the bytes after the header (16 in DM3, 24 in DM4) up to the closing zeros.
    const headerBytes = this.version === 4 ? 24 : 16;
    if (declared + headerBytes > r.length) r.fail(`file is truncated: the header says ${declared + headerBytes} bytes, the file has ${r.length}`, sizeAt);
    const orderAt = r.pos;
    const order = r.i32('byte order', false);
    if (order !== 0 && order !== 1) r.fail(`byte-order flag is ${order}, expected 0 or 1`, orderAt);
    this.little = order === 1;
    const root = this.group(0);
    return { root, version: this.version, little: this.little };
  }

  /** uint32 in DM3, uint64 in DM4, always big endian. */
  private count(what: string): number {
    return this.version === 4 ? this.r.u64(what, false) : this.r.u32(what, false);
  }

  private group(depth: number): TagGroup {
    const r = this.r;
    if (depth > 64) r.fail('tag groups nested more than 64 deep (corrupt tag tree)');
    r.u8('group is_sorted');
    r.u8('group is_open');
    const nAt = r.pos;
    const n = this.count('tag count');
    // Each tag takes at least 3 bytes, so a count beyond that is corruption, not a big file.
    if (n * 3 > r.length - r.pos) r.fail(`tag count ${n} cannot fit in the file`, nAt);
    const out: TagGroup = { group: [] };
    for (let i = 0; i < n; i++) {
      const kindAt = r.pos;
      const kind = r.u8('tag kind');
      const nameLength = r.u16('tag name length', false);
      const name = new TextDecoder('latin1').decode(r.take(nameLength, 'tag name'));
      // DM4 gives every tag's byte size after its name.
      if ((kind === 20 || kind === 21) && this.version === 4) this.count('tag size');
      if (kind === 20) {
        out.group.push([name, this.group(depth + 1)]);
      } else if (kind === 21) {
        out.group.push([name, this.data(name)]);
      } else {
        r.fail(`unknown tag kind ${kind} (expected 20 = group or 21 = data; corrupt tag tree)`, kindAt);
      }
    }
    return out;
  }

  private data(name: string): TagValue {
    const r = this.r;
    const delimAt = r.pos;
    if (r.ascii(4, 'data tag delimiter') !== '%%%%') r.fail(`data tag "${name}" lacks its %%%% delimiter (corrupt tag tree)`, delimAt);
    const infoAt = r.pos;
    const ninfo = this.count('tag info length');
    if (ninfo < 1 || ninfo > 1024) r.fail(`tag "${name}" has an impossible info length ${ninfo}`, infoAt);
    const info: number[] = [];
    for (let i = 0; i < ninfo; i++) info.push(this.count('tag info'));
    const type = info[0]!;
    if (SIMPLE[type]) {
      if (ninfo !== 1) r.fail(`tag "${name}": simple type with ${ninfo} info entries`, infoAt);
      return decodeNumbers(r, this.advance(SIMPLE[type].bytes, name), 1, SIMPLE[type].type, this.little, `tag "${name}"`)[0]!;
    }
    if (type === STRING) {
      const length = info[1] ?? r.fail(`tag "${name}": string without a length`, infoAt);
      return new TextDecoder('latin1').decode(r.take(length, `string tag "${name}"`));
    }
    if (type === STRUCT) {
      const fields = this.structFields(info, 1, name, infoAt);
      return fields.map((f) => decodeNumbers(r, this.advance(SIMPLE[f]!.bytes, name), 1, SIMPLE[f]!.type, this.little, `tag "${name}"`)[0]!);
    }
    if (type === ARRAY) {
      const elem = info[1];
      const count = info[info.length - 1]!;
      if (elem !== undefined && SIMPLE[elem] && ninfo === 3) {
        const bytes = SIMPLE[elem].bytes;
        r.need(count * bytes, `array tag "${name}" (${count} values)`);
        const at = r.pos;
        r.pos += count * bytes;
        // The image itself (a tag named Data) stays a reference, whatever its element type.
        if (name === 'Data') return { at, count, type: elem };
        if (elem === 4 && count <= 4096) {
          // DM stores text as arrays of UTF-16 code units.
          const chars = decodeNumbers(r, at, count, 'uint16', this.little, `text tag "${name}"`);
          return String.fromCharCode(...chars);
        }
        if (count <= INLINE_ARRAY) return Array.from(decodeNumbers(r, at, count, SIMPLE[elem].type, this.little, `array tag "${name}"`));
        return { at, count, type: elem };
      }
      if (elem === STRUCT) {
        const fields = this.structFields(info, 2, name, infoAt);
        const bytes = fields.reduce((s, f) => s + SIMPLE[f]!.bytes, 0);
        r.skip(count * bytes, `array of structs "${name}"`);
        return { at: r.pos - count * bytes, count, type: STRUCT };
      }
      r.fail(`tag "${name}": unsupported array encoding [${info.join(', ')}]`, infoAt);
    }
    return r.fail(`tag "${name}" has unknown encoded type ${type} (corrupt tag tree)`, infoAt);
  }

  /** Field types of a struct definition starting at info[from] (name length, field count, then name length/type pairs). */
  private structFields(info: number[], from: number, name: string, at: number): number[] {
    const nfields = info[from + 1];
    if (nfields === undefined || info.length < from + 2 + 2 * nfields) this.r.fail(`tag "${name}": struct definition is cut short`, at);
    const fields: number[] = [];
    for (let i = 0; i < nfields; i++) {
      const f = info[from + 3 + 2 * i]!;
      if (!SIMPLE[f]) this.r.fail(`tag "${name}": struct field of type ${f} is not a number type`, at);
      fields.push(f);
    }
    return fields;
  }

  /** Reserve `bytes` at the cursor and return where they start. */
  private advance(bytes: number, name: string): number {
    this.r.need(bytes, `value of tag "${name}"`);
    const at = this.r.pos;
    this.r.pos += bytes;
    return at;
  }
}

function get(g: TagValue | undefined, path: string): TagValue | undefined {
  let node = g;
  for (const part of path.split('.')) {
    if (!node || typeof node !== 'object' || !('group' in node)) return undefined;
    node = node.group.find(([k]) => k === part)?.[1];
  }
  return node;
}

function entries(g: TagValue | undefined): TagValue[] {
  return g && typeof g === 'object' && 'group' in g ? g.group.map(([, v]) => v) : [];
}

function num(v: TagValue | undefined): number | undefined {
  return typeof v === 'number' ? v : undefined;
}

function noData(file: string): never {
  throw new FormatError(file, 'the image has no ImageData/Data array');
}

function str(v: TagValue | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function readDm(bytes: Uint8Array, file: string): InstrumentSpectra {
  const r = new ByteReader(bytes, file);
  const { root, little } = new TagParser(r).parse();
  const thumbnails = new Set(entries(get(root, 'Thumbnails')).map((t) => num(get(t, 'ImageIndex'))));
  const images = entries(get(root, 'ImageList')).filter((_, i) => !thumbnails.has(i));
  if (images.length === 0) throw new FormatError(file, 'no image in the file\'s ImageList (only thumbnails)');
  // The first non-thumbnail image is the data; DM files from acquisition hold one.
  const image = images[0]!;
  const notes = images.length > 1 ? [`${file}: ${images.length} data objects in the file; reading the first`] : [];

  const dataNode = get(image, 'ImageData.Data');
  const dataRef: DataRef = dataNode && typeof dataNode === 'object' && 'at' in dataNode ? (dataNode as DataRef) : noData(file);
  const dtypeCode = num(get(image, 'ImageData.DataType')) ?? r.fail('ImageData has no DataType', dataRef.at);
  if (REFUSED_TYPES[dtypeCode]) r.fail(`the data are ${REFUSED_TYPES[dtypeCode]}, which are not spectra of real numbers`, dataRef.at);
  const elemType = IMAGE_TYPES[dtypeCode] ?? r.fail(`unknown image DataType ${dtypeCode}`, dataRef.at);
  const dims = entries(get(image, 'ImageData.Dimensions')).map((v) => num(v) ?? r.fail('a Dimensions entry is not a number', dataRef.at));
  const total = dims.reduce((a, b) => a * b, 1);
  const arrayBytes = SIMPLE[dataRef.type]?.bytes ?? 1;
  const elemBytes = TYPE_BYTES[elemType];
  if (dims.length === 0 || total * elemBytes !== dataRef.count * arrayBytes) {
    r.fail(`Dimensions [${dims.join(', ')}] of ${elemType} do not match the Data array of ${dataRef.count * arrayBytes} bytes`, dataRef.at);
  }
  const raw = decodeNumbers(r, dataRef.at, total, elemType, little, 'image data');

  const calib = entries(get(image, 'ImageData.Calibrations.Dimension'));
  const axes = dims.map((size, i) => {
    const c = calib[i];
    const scale = num(get(c, 'Scale')) ?? 1;
    const origin = num(get(c, 'Origin')) ?? 0;
    // HyperSpy's convention: the calibrated value of channel i is (i − origin) × scale.
    return { size, scale, offset: -origin * scale, unit: str(get(c, 'Units')) ?? '' };
  });

  const format = str(get(image, 'ImageTags.Meta Data.Format'));
  const isSpectral = format === 'Spectrum image' || format === 'Spectrum' || get(image, 'ImageTags.spim') !== undefined;
  // DM lists dimensions fastest first. Spectra lie along dimension 0 except in a 3-D spectrum image,
  // where energy is the slowest dimension (as HyperSpy's to_signal1D reads it).
  let signal: number;
  if (dims.length === 1) signal = 0;
  else if (dims.length === 2 && (isSpectral || dims[1] === 1)) signal = 0;
  else if (dims.length === 3 && isSpectral) signal = 2;
  else if (dims.filter((s) => s > 1).length <= 1) signal = Math.max(0, dims.findIndex((s) => s > 1)); // one real dimension: a spectrum
  else {
    const what = dims.length === 2 ? 'an image' : `a ${dims.length}-D image stack`;
    return r.fail(`is ${what} (${dims.join(' × ')}), not spectra`, dataRef.at);
  }
  const d = dims[signal]!;
  const navIdx = dims.map((_, i) => i).filter((i) => i !== signal && dims[i]! > 1);
  const n = total / d;
  let spectra = raw;
  if (signal !== 0) {
    // energy slowest: value (pixel p, channel k) sits at k × n + p
    spectra = new Float32Array(total);
    for (let p = 0; p < n; p++) for (let k = 0; k < d; k++) spectra[p * d + k] = raw[k * n + p]!;
  }
  const navigation: NavigationAxis[] = navIdx.map((i, j) => ({
    name: j === 0 ? 'x' : 'y', unit: axes[i]!.unit, size: axes[i]!.size, offset: axes[i]!.offset, scale: axes[i]!.scale,
  }));
  const sig = axes[signal]!;
  const signalType = str(get(image, 'ImageTags.Meta Data.Signal')) ?? '';
  const axisName = signalType === 'EELS' && sig.unit === 'eV' ? 'Energy loss'
    : (signalType === 'X-ray' || signalType === 'EDS') && sig.unit === 'keV' ? 'Energy' : sig.unit.endsWith('eV') ? 'energy' : '';
  return {
    format: 'dm',
    file,
    n,
    d,
    spectra,
    axis: { values: linearAxis(sig.offset, sig.scale, d), unit: sig.unit, name: axisName, offset: sig.offset, scale: sig.scale },
    navigation,
    coords: gridCoords(navigation),
    metadata: dmMetadata(image, signalType),
    notes,
  };
}

function dmMetadata(image: TagValue, signalType: string): Record<string, MetaValue> {
  const m: Record<string, MetaValue> = {};
  const put = (key: string, v: MetaValue | undefined) => {
    if (v !== undefined && v !== '') m[key] = v;
  };
  put('title', str(get(image, 'Name')));
  put('signal_type', signalType === 'X-ray' ? 'EDS' : signalType);
  const volts = num(get(image, 'ImageTags.Microscope Info.Voltage'));
  put('beam_energy_keV', volts === undefined ? undefined : volts / 1e3);
  put('convergence_angle_mrad', num(get(image, 'ImageTags.EELS.Experimental Conditions.Convergence semi-angle (mrad)')));
  put('collection_angle_mrad', num(get(image, 'ImageTags.EELS.Experimental Conditions.Collection semi-angle (mrad)')));
  const acq = get(image, 'ImageTags.EELS.Acquisition');
  const integration = num(get(acq, 'Integration time (s)'));
  const exposure = num(get(acq, 'Exposure (s)'));
  const frames = num(get(acq, 'Number of frames')) ?? 1;
  // HyperSpy's rule: the integration time when given, else exposure × frames.
  put('exposure_s', integration ?? (exposure === undefined ? undefined : exposure * frames));
  put('live_time_s', num(get(image, 'ImageTags.EDS.Live time')));
  put('real_time_s', num(get(image, 'ImageTags.EDS.Real time')));
  // The DataBar's, else the acquisition's own under SI, EELS, EDS or CL (where HyperSpy also looks), as written.
  const acquisitions = ['SI', 'EELS', 'EDS', 'CL'].map((k) => get(image, `ImageTags.${k}.Acquisition`));
  const first = (...values: (string | undefined)[]) => values.find((v) => v !== undefined && v !== '');
  put('acquisition_date', first(str(get(image, 'ImageTags.DataBar.Acquisition Date')), ...acquisitions.map((a) => str(get(a, 'Date')))));
  put('acquisition_time', first(str(get(image, 'ImageTags.DataBar.Acquisition Time')), ...acquisitions.map((a) => str(get(a, 'Start time')))));
  put('microscope', str(get(image, 'ImageTags.Session Info.Microscope')) ?? str(get(image, 'ImageTags.Microscope Info.Name')));
  put('intensity_unit', str(get(image, 'ImageData.Calibrations.Brightness.Units')));
  return m;
}
