/**
 * Renishaw WiRE .wdf: a sequence of blocks, each with a 16-byte header
 * (4-char name, uint32 uid, uint64 size including the header), all little
 * endian. WDF1 (the 512-byte file header) gives points per spectrum, spectrum
 * count, measurement type; XLST the spectral axis (data type, unit, float32 ×
 * points); DATA the spectra (float32, spectrum after spectrum); ORGN the
 * per-spectrum origins (stage X/Y/Z, time: float64 or uint64 × count); WMAP the
 * map geometry (flags, offset/scale/size for X, Y, Z). Layout as documented by
 * the open readers (Gwyddion's wdf module, py-wdf-reader, rosettasciio).
 */
import { ByteReader, decodeNumbers } from './bytes.js';
import { gridCoords, type InstrumentSpectra, type MetaValue, type NavigationAxis } from './types.js';

interface Block { name: string; uid: number; at: number; size: number }

/** WiRE's unit codes (the UnitType enum of the open readers) → unit text. */
const UNITS: Record<number, string> = {
  0: '', 1: 'cm-1', 2: 'nm', 3: 'nm', 4: 'eV', 5: 'µm', 6: 'counts', 7: 'electrons', 8: 'mm', 9: 'm', 10: 'K', 11: 'Pa',
  12: 's', 13: 'ms', 14: 'h', 15: 'd', 16: 'px', 17: '', 18: '', 19: '°', 20: 'rad', 21: '°C', 22: '°F', 23: 'K/min', 24: 'ns', 25: 'µs',
};
const AXIS_NAMES: Record<number, string> = { 1: 'Raman shift', 2: 'wavenumber', 3: 'wavelength', 4: 'energy' };
const MEASUREMENT = ['Unspecified', 'Single', 'Series', 'Mapping'];
const SCAN = ['Unspecified', 'Static', 'Continuous', 'StepRepeat', 'FilterScan', 'FilterImage', 'StreamLine', 'StreamLineHR', 'PointDetector'];
/** ORGN data types that are positions (X = 3, Y = 4, Z = 5) or time (11, uint64 ticks). */
const ORGN_X = 3, ORGN_Y = 4, ORGN_Z = 5, ORGN_TIME = 11;
/** WMAP flags: spectra stored column after column (y fastest; StreamLine writes this), and a line between two points. */
const WMAP_COLUMN_MAJOR = 2, WMAP_XYLINE = 128;
/** Origins that can be a series' axis, in order of preference (14: focus-track Z). */
const SERIES_ORIGINS: [number, string][] = [[ORGN_Z, 'z'], [ORGN_X, 'x'], [ORGN_Y, 'y'], [14, 'focus_z'], [ORGN_TIME, 'time']];

function blocks(r: ByteReader): Map<string, Block> {
  const out = new Map<string, Block>();
  let at = 0;
  while (at < r.length) {
    r.seek(at, 'block');
    const name = r.ascii(4, 'block name');
    if (!/^[A-Z0-9 ]{4}$/i.test(name)) r.fail(`block name "${name.replace(/[^\x20-\x7e]/g, '?')}" is not text (corrupt block chain)`, at);
    const uid = r.u32('block uid');
    const size = r.u64('block size');
    if (size < 16) r.fail(`block ${name} has size ${size}, less than its own header`, at);
    if (at + size > r.length) r.fail(`file is truncated: block ${name.trim()} needs ${size} bytes, ${r.length - at} left`, at);
    out.set(`${name.trim()}_${uid}`, { name: name.trim(), uid, at, size });
    at += size;
  }
  return out;
}

export function readWdf(bytes: Uint8Array, file: string): InstrumentSpectra {
  const r = new ByteReader(bytes, file);
  if (r.length < 4 || r.ascii(4, 'magic') !== 'WDF1') r.fail('not a Renishaw WDF file: it does not start with "WDF1"', 0);
  const all = blocks(r);
  const need = (key: string, what: string): Block => all.get(key) ?? r.fail(`no ${key.split('_')[0]} block (${what})`, r.length);

  const head = need('WDF1_1', 'the file header');
  if (head.size < 512) r.fail(`header block is ${head.size} bytes, expected 512`, head.at);
  r.seek(head.at + 16 + 8 + 16 + 12 + 4 + 4, 'header');
  const pointsAt = r.pos;
  const points = r.u32('points per spectrum');
  const capacity = r.u64('capacity');
  const count = r.u64('spectrum count');
  const accumulations = r.u32('accumulations');
  r.u32('YLST length');
  const xlstLength = r.u32('XLST length');
  r.u32('origin count');
  const appName = cString(r.take(24, 'application name'));
  const version = [r.u16('version'), r.u16('version'), r.u16('version'), r.u16('version')].join('.');
  const scanType = r.u32('scan type');
  const measurement = r.u32('measurement type');
  const start = r.u64big('start time');
  const end = r.u64big('end time');
  const quantityUnit = r.u32('intensity unit');
  const laserWavenumber = r.f32('laser wavenumber');
  r.skip(48, 'reserved');
  const user = cString(r.take(32, 'user name'));
  const title = cString(r.take(160, 'title'));
  if (points === 0 || points !== xlstLength) r.fail(`header gives ${points} points per spectrum but ${xlstLength} axis values`, pointsAt);
  if (count === 0) r.fail('the file holds no spectra (spectrum count 0)', pointsAt + 12);

  const xlst = need('XLST_0', 'the spectral axis');
  r.seek(xlst.at + 16, 'XLST');
  r.u32('axis data type');
  const unitCode = r.u32('axis unit');
  if (xlst.size < 24 + 4 * points) r.fail(`XLST block holds ${(xlst.size - 24) / 4} axis values, header says ${points}`, xlst.at);
  const axisRaw = decodeNumbers(r, r.pos, points, 'float32', true, 'XLST axis values');

  const dataBlock = need('DATA_0', 'the spectra');
  const dataValues = (dataBlock.size - 16) / 4;
  // An interrupted acquisition writes fewer spectra than planned; the header's count says how many are real.
  if (dataValues < points * count) r.fail(`DATA block holds ${dataValues} values, expected ${count} spectra × ${points} points`, dataBlock.at);
  let spectra = decodeNumbers(r, dataBlock.at + 16, points * count, 'float32', true, 'DATA values');

  // WiRE often stores the axis descending; flip axis and spectra so it ascends.
  let axis = Float64Array.from(axisRaw);
  if (points > 1 && axis[0]! > axis[1]!) {
    axis = axis.reverse();
    const flipped = new Float32Array(spectra.length);
    for (let s = 0; s < count; s++) for (let k = 0; k < points; k++) flipped[s * points + k] = spectra[s * points + points - 1 - k]!;
    spectra = flipped;
  }
  for (let k = 1; k < points; k++) {
    if (!(axis[k]! > axis[k - 1]!)) r.fail(`XLST axis is not monotonic at value ${k}`, xlst.at + 24 + 4 * k);
  }
  const fit = linearFit(axis);

  const origins = readOrigins(r, all.get('ORGN_0'), count);
  const notes: string[] = [];
  const metadata: Record<string, MetaValue> = {
    title, user, application: `${appName} ${version}`, measurement_type: MEASUREMENT[measurement] ?? String(measurement),
    scan_type: SCAN[scanType] ?? String(scanType), accumulations, intensity_unit: UNITS[quantityUnit] ?? '',
  };
  if (laserWavenumber > 0) metadata.laser_wavelength_nm = Number((1e7 / laserWavenumber).toPrecision(6));
  if (start > 0n) metadata.acquisition_start = fileTimeIso(start);
  if (end > 0n) metadata.acquisition_end = fileTimeIso(end);
  if (capacity !== count) notes.push(`${file}: acquisition was interrupted: ${count} of ${capacity} planned spectra were written`);

  let navigation: NavigationAxis[] = [];
  let coords: InstrumentSpectra['coords'];
  const posUnit = origins.get(ORGN_X)?.unit ?? origins.get(ORGN_Y)?.unit ?? 'µm';
  const wmap = all.get('WMAP_0');
  if (MEASUREMENT[measurement] === 'Mapping' && wmap) {
    r.seek(wmap.at + 16, 'WMAP');
    if (wmap.size < 16 + 48) r.fail(`WMAP block is ${wmap.size} bytes, expected at least 64`, wmap.at);
    const flags = r.u32('map flags');
    r.u32('map reserved');
    const offset = [r.f32('map offset'), r.f32('map offset'), r.f32('map offset')];
    const scale = [r.f32('map scale'), r.f32('map scale'), r.f32('map scale')];
    const sizeAt = r.pos;
    const size = [r.u32('map size'), r.u32('map size'), r.u32('map size')];
    if (flags & WMAP_XYLINE) {
      // A line between two points: the navigation axis is the distance along it.
      const step = Math.hypot(scale[0]!, scale[1]!);
      navigation = [{ name: 'distance', unit: posUnit, size: count, offset: 0, scale: step }];
    } else {
      const columnMajor = (flags & WMAP_COLUMN_MAJOR) !== 0;
      // An interrupted map ends with its last complete line: a row of x, or a column of y when stored column-major.
      let w = size[0]!, h = size[1]!;
      if (count !== w * h) {
        if (columnMajor) w = Math.floor(count / h);
        else h = Math.floor(count / w);
      }
      if (w * h !== count) r.fail(`map of ${size[0]} × ${size[1]} does not match ${count} spectra`, sizeAt);
      navigation = [
        { name: 'x', unit: posUnit, size: w, offset: offset[0]!, scale: scale[0]! },
        { name: 'y', unit: posUnit, size: h, offset: offset[1]!, scale: scale[1]! },
      ];
      if (columnMajor) {
        // Rows of the table are row-major (x fastest): row y·w + x is the file's spectrum x·h + y.
        const order = new Uint32Array(count);
        for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) order[y * w + x] = x * h + y;
        spectra = reorderRows(spectra, points, order);
        for (const o of origins.values()) o.values = Float64Array.from(order, (i) => o.values[i]!);
      }
      checkStagePositions(r, gridCoords(navigation)!, origins, navigation, flags, wmap.at);
    }
    coords = gridCoords(navigation);
  } else if (count > 1) {
    // A series (depth, time, focus track): the navigation axis is the origin that changes along it, else the acquisition order.
    const moving = SERIES_ORIGINS.map(([type, name]) => ({ name, o: origins.get(type) }))
      .find(({ o }) => o !== undefined && o.values.some((v) => v !== o.values[0]));
    if (moving) {
      const v = moving.o!.values;
      navigation = [{ name: moving.name, unit: moving.o!.unit, size: count, offset: v[0]!, scale: (v[count - 1]! - v[0]!) / (count - 1) }];
      coords = { x: Float64Array.from(v) };
    } else {
      navigation = [{ name: 'index', unit: '', size: count, offset: 0, scale: 1 }];
      coords = gridCoords(navigation);
    }
  }
  if (count > 1 && navigation.length === 0) notes.push(`${file}: ${count} spectra without map geometry`);
  const stage = [origins.get(ORGN_X), origins.get(ORGN_Y), origins.get(ORGN_Z)];
  if (count > 1 && stage[0] && stage[1]) {
    // The stage positions of every spectrum, beside the grid coordinates.
    metadata.stage_unit = stage[0].unit;
  }
  const time = origins.get(ORGN_TIME);
  return {
    format: 'wdf',
    file,
    n: count,
    d: points,
    spectra,
    axis: { values: axis, unit: UNITS[unitCode] ?? '', name: AXIS_NAMES[unitCode] ?? '', offset: fit.offset, scale: fit.scale },
    navigation,
    coords,
    metadata,
    notes,
    ...(count > 1 ? { columns: stageColumns(stage, time) } : {}),
  };
}

function stageColumns(stage: (Origin | undefined)[], time: Origin | undefined): Record<string, Float64Array> {
  const out: Record<string, Float64Array> = {};
  (['stage_x', 'stage_y', 'stage_z'] as const).forEach((k, i) => {
    if (stage[i]) out[k] = stage[i]!.values;
  });
  if (time) out.time_s = time.values;
  return out;
}

interface Origin { unit: string; values: Float64Array }

function reorderRows(spectra: Float32Array, points: number, order: Uint32Array): Float32Array {
  const out = new Float32Array(spectra.length);
  order.forEach((from, to) => out.set(spectra.subarray(from * points, (from + 1) * points), to * points));
  return out;
}

/**
 * Each spectrum's recorded stage position must lie within half a step of its place on the
 * map grid; a map stored in an order not read here (a snake scan, say) would otherwise
 * become a silently scrambled image.
 */
function checkStagePositions(r: ByteReader, coords: { x: Float64Array; y?: Float64Array }, origins: Map<number, Origin>,
  navigation: NavigationAxis[], flags: number, at: number): void {
  const checks = [[origins.get(ORGN_X), coords.x, navigation[0]], [origins.get(ORGN_Y), coords.y, navigation[1]]] as const;
  for (const [origin, grid, axis] of checks) {
    if (!origin || !grid || !axis || axis.scale === 0) continue;
    const i = grid.findIndex((g, s) => Math.abs(origin.values[s]! - g) > Math.abs(axis.scale) / 2);
    if (i >= 0) {
      const place = `x ${coords.x[i]}${coords.y ? `, y ${coords.y[i]}` : ''}`;
      r.fail(`spectrum ${i} was taken at stage ${axis.name} ${origin.values[i]} but falls at ${place} on the map grid: a map order this reader does not know (WMAP flags ${flags})`, at);
    }
  }
}

function readOrigins(r: ByteReader, block: Block | undefined, count: number): Map<number, Origin> {
  const out = new Map<number, Origin>();
  if (!block) return out;
  r.seek(block.at + 16, 'ORGN');
  const nAt = r.pos;
  const n = r.u32('origin count');
  if (4 + n * (24 + 8 * count) > block.size - 16) r.fail(`ORGN block of ${block.size} bytes cannot hold ${n} origins of ${count} spectra`, nAt);
  for (let i = 0; i < n; i++) {
    // The top bit flags the primary origins; the rest is the data type.
    const type = r.u32('origin type') & 0x7fffffff;
    const unit = UNITS[r.u32('origin unit')] ?? '';
    r.skip(16, 'origin annotation');
    const values = new Float64Array(count);
    for (let s = 0; s < count; s++) {
      if (type === ORGN_TIME) values[s] = Number(r.u64big('origin time') - 116444736000000000n) / 1e7;
      else values[s] = r.f64('origin value');
    }
    if (type === ORGN_TIME) {
      // FILETIME ticks (100 ns since 1601) → seconds since the first spectrum.
      const t0 = values[0]!;
      for (let s = 0; s < count; s++) values[s] = values[s]! - t0;
      out.set(type, { unit: 's', values });
    } else {
      out.set(type, { unit, values });
    }
  }
  return out;
}

/** Least-squares line through the axis values (what HyperSpy reports as offset/scale). */
function linearFit(v: Float64Array): { offset: number; scale: number } {
  const n = v.length;
  if (n < 2) return { offset: v[0] ?? 0, scale: 1 };
  let sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (let i = 0; i < n; i++) {
    sx += i; sy += v[i]!; sxx += i * i; sxy += i * v[i]!;
  }
  const scale = (n * sxy - sx * sy) / (n * sxx - sx * sx);
  return { offset: (sy - scale * sx) / n, scale };
}

function cString(b: Uint8Array): string {
  const end = b.indexOf(0);
  return new TextDecoder('utf-8').decode(end < 0 ? b : b.subarray(0, end)).trim();
}

/** Windows FILETIME (100 ns ticks since 1601-01-01 UTC) → ISO 8601. */
function fileTimeIso(ticks: bigint): string {
  const ms = Number(ticks / 10000n) - 11644473600000;
  const date = new Date(ms);
  return Number.isFinite(date.getTime()) ? date.toISOString().replace(/\.000Z$/, 'Z') : String(ticks);
}
