/**
 * EMSA/MSA (ISO 22029) text spectra: `#KEYWORD-unit : value` header lines,
 * data after `#SPECTRUM`, up to `#ENDOFDATA`. DATATYPE Y holds only counts
 * (NCOLUMNS per line); XY holds x, y pairs (NCOLUMNS pairs per line). As in
 * HyperSpy, the axis is OFFSET + i × XPERCHAN and the x column of XY data is not
 * used for it; every data value is read, whatever NPOINTS says (a note says so).
 */
import { FormatError } from './bytes.js';
import { linearAxis, type InstrumentSpectra, type MetaValue } from './types.js';

const NUMERIC_KEYS: Record<string, string> = {
  BEAMKV: 'beam_energy_keV', CONVANGLE: 'convergence_angle_mrad', COLLANGLE: 'collection_angle_mrad', LIVETIME: 'live_time_s',
  REALTIME: 'real_time_s', DWELLTIME: 'dwell_time_ms', PROBECUR: 'probe_current_nA', THICKNESS: 'thickness_nm', EMISSION: 'emission_uA',
  MAGCAM: 'magnification', ELEVANGLE: 'elevation_angle_deg', AZIMANGLE: 'azimuth_angle_deg', TACTLYR: 'detector_active_layer_cm',
};

export function readMsa(bytes: Uint8Array, file: string): InstrumentSpectra {
  const text = new TextDecoder('latin1').decode(bytes);
  const params = new Map<string, string>();
  /** Where each keyword's line starts (line number, byte), for messages about its value. */
  const paramAt = new Map<string, [number, number]>();
  const metadata: Record<string, MetaValue> = {};
  const notes: string[] = [];
  const values: number[] = [];
  const pairs: number[][] = [];
  let inData = false;
  let ended = false;
  let offset = 0;
  let lineNo = 0;
  let sawFormat = false;
  for (const rawLine of text.split('\n')) {
    lineNo++;
    const lineAt = offset;
    offset += rawLine.length + 1;
    const line = rawLine.replace(/\r$/, '');
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const colon = line.indexOf(':');
      const rawKey = (colon < 0 ? line.slice(1) : line.slice(1, colon)).trim();
      const value = colon < 0 ? '' : line.slice(colon + 1).trim();
      const key = rawKey.split('-')[0]!.trim().toUpperCase();
      if (!inData) {
        if (lineNo === 1 || !sawFormat) {
          if (key !== 'FORMAT') throw new FormatError(file, `not an EMSA/MSA file: the first keyword is "#${rawKey}", expected #FORMAT`, lineAt);
          sawFormat = true;
        }
        if (key === 'SPECTRUM') {
          inData = true;
          continue;
        }
        // TITLE and COMMENT may span several lines (ISO 22029 §5.3): later lines continue them.
        if ((key === 'TITLE' || key === 'COMMENT') && params.has(key)) params.set(key, `${params.get(key)!} ${value}`.trim());
        else params.set(key, value);
        if (!paramAt.has(key)) paramAt.set(key, [lineNo, lineAt]);
        if (NUMERIC_KEYS[key] && value !== '') {
          const v = parseNumber(value.replace(/\s+(?=[eEdD])|(?<=[eEdD])\s+/g, '').split(/\s+/)[0]!);
          if (v === undefined) throw new FormatError(file, `line ${lineNo}: #${rawKey} is "${value}", not a number`, lineAt);
          // The keyword's own unit suffix (#BEAMKV -kV) is the standard one, which the metadata key names.
          metadata[NUMERIC_KEYS[key]] = v;
        }
      } else if (key === 'ENDOFDATA') {
        ended = true;
        break;
      }
      continue;
    }
    if (!sawFormat) throw new FormatError(file, `not an EMSA/MSA file: line ${lineNo} is not a #KEYWORD line, expected #FORMAT`, lineAt);
    if (!inData) throw new FormatError(file, `line ${lineNo}: text before #SPECTRUM that is not a #KEYWORD line`, lineAt);
    const tokens = line.replace(/,/g, ' ').trim().split(/\s+/).filter((t) => t !== '');
    const nums = tokens.map((t) => {
      const v = parseNumber(t);
      if (v === undefined) throw new FormatError(file, `line ${lineNo}: "${t}" is not a number`, lineAt + rawLine.indexOf(t));
      return v;
    });
    if (params.get('DATATYPE')?.toUpperCase() === 'XY') {
      if (nums.length % 2 !== 0) throw new FormatError(file, `line ${lineNo}: XY data line has ${nums.length} values, not x, y pairs`, lineAt);
      for (let i = 0; i < nums.length; i += 2) pairs.push([nums[i]!, nums[i + 1]!]);
    } else {
      values.push(...nums);
    }
  }
  if (!sawFormat) throw new FormatError(file, 'not an EMSA/MSA file: no #FORMAT keyword', 0);
  if (!inData) throw new FormatError(file, 'file is truncated: no #SPECTRUM line, so no data', bytes.length);
  if (!ended) throw new FormatError(file, 'file is truncated: no #ENDOFDATA line after the data', bytes.length);
  const datatype = (params.get('DATATYPE') ?? 'Y').toUpperCase();
  if (datatype !== 'Y' && datatype !== 'XY') {
    const [line, at] = paramAt.get('DATATYPE')!;
    throw new FormatError(file, `line ${line}: #DATATYPE is "${params.get('DATATYPE')}", expected Y or XY`, at);
  }
  const y = datatype === 'XY' ? pairs.map((p) => p[1]!) : values;
  if (y.length === 0) throw new FormatError(file, 'no data values between #SPECTRUM and #ENDOFDATA', bytes.length);
  const declared = Number(params.get('NPOINTS'));
  if (params.has('NPOINTS') && Number.isFinite(declared) && declared !== y.length) {
    notes.push(`${file}: #NPOINTS says ${declared} but the file has ${y.length} data values; reading all of them (as HyperSpy does)`);
  }
  const scale = numberParam(params, paramAt, 'XPERCHAN', file) ?? 1;
  const offsetX = numberParam(params, paramAt, 'OFFSET', file) ?? 0;
  const xunits = params.get('XUNITS') ?? '';
  // "Energy Loss (eV)" names the quantity and its unit; the unit is the part in brackets.
  const unit = /\(([^)]+)\)\s*$/.exec(xunits)?.[1] ?? xunits;
  for (const [k, key] of [['TITLE', 'title'], ['DATE', 'acquisition_date'], ['TIME', 'acquisition_time'], ['OWNER', 'owner'],
    ['SIGNALTYPE', 'signal_type'], ['YUNITS', 'intensity_unit'], ['OPERMODE', 'operating_mode'], ['ELSDET', 'eels_detector']] as const) {
    const v = params.get(k);
    if (v) metadata[key] = v;
  }
  return {
    format: 'msa',
    file,
    n: 1,
    d: y.length,
    spectra: Float32Array.from(y),
    axis: { values: linearAxis(offsetX, scale, y.length), unit, name: params.get('XLABEL') ?? '', offset: offsetX, scale },
    navigation: [],
    metadata,
    notes,
  };
}

/** A decimal number, with Fortran's D exponent accepted. */
function parseNumber(t: string): number | undefined {
  const s = t.replace(/[dD]/, 'e');
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) return undefined;
  return Number(s);
}

function numberParam(params: Map<string, string>, paramAt: Map<string, [number, number]>, key: string, file: string): number | undefined {
  const v = params.get(key);
  if (v === undefined || v === '') return undefined;
  const x = parseNumber(v.split(/\s+/)[0]!);
  if (x === undefined) {
    const [line, at] = paramAt.get(key)!;
    throw new FormatError(file, `line ${line}: #${key} is "${v}", not a number`, at);
  }
  return x;
}
