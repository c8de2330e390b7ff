/**
 * Horiba Jobin Yvon LabSpec XML export. Every node is `<LSX ID="0x…">`; the ids
 * that matter: 0x7A74D9D6/0x7B697861 holds the axes (0x0 intensity, 0x1 the
 * spectral axis, 0x2 X, 0x3 Y; in each, 0x7D6CD4DB the values, 0x7C696E75 the
 * unit, 0x6D707974 the name); 0x6C62D4D9 the acquisition parameters (pairs of
 * 0x6D6D616E name and 0x7D6C61DB value, 0x8736F70 a numeric value); the spectra
 * are the `<LSX_Row>`s of `<LSX_Matrix>`, x fastest. As rosettasciio reads it.
 */
import { FormatError } from './bytes.js';
import { gridCoords, type InstrumentSpectra, type MetaValue, type NavigationAxis } from './types.js';

type Node = Record<string, unknown> & { ':@'?: Record<string, string> };

const ID = {
  data: '0x7A74D9D6', axes: '0x7B697861', values: '0x7D6CD4DB', unit: '0x7C696E75', name: '0x6D707974',
  params: '0x6C62D4D9', key: '0x6D6D616E', value: '0x7D6C61DB', number: '0x8736F70', title: '0x6C7469D9',
} as const;

function tag(n: Node): string {
  return Object.keys(n).find((k) => k !== ':@')!;
}
function kids(n: Node): Node[] {
  const v = n[tag(n)];
  return Array.isArray(v) ? (v as Node[]) : [];
}
function text(n: Node | undefined): string {
  if (!n) return '';
  return kids(n).filter((k) => tag(k) === '#text').map((k) => String(k['#text'])).join(' ').trim();
}
function byId(n: Node | undefined, id: string): Node | undefined {
  return n ? kids(n).find((k) => k[':@']?.ID === id) : undefined;
}

export async function readJobinYvon(bytes: Uint8Array, file: string): Promise<InstrumentSpectra> {
  const { XMLParser, XMLValidator } = await import('fast-xml-parser');
  const xml = new TextDecoder('utf-8').decode(bytes);
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    // The validator reports elements left open at the end as a list at line 1: the file stops early.
    const open = /^Invalid '\[(.*)\]' found/s.exec(valid.err.msg);
    if (open) {
      const names = JSON.parse(`[${open[1]}]`) as string[];
      throw new FormatError(file, `file is truncated: it ends inside <${names.join('> <')}>`, bytes.length);
    }
    throw new FormatError(file, `not well-formed XML (${valid.err.msg}, line ${valid.err.line})`, byteOffset(xml, valid.err.line, valid.err.col));
  }
  let doc: Node[];
  try {
    doc = new XMLParser({ preserveOrder: true, ignoreAttributes: false, attributeNamePrefix: '', parseTagValue: false, trimValues: true })
      .parse(xml) as Node[];
  } catch (e) {
    // The parser is stricter than the validator in places (an unclosed quote in the <?xml?> prolog) and names no position.
    const message = (e as Error).message;
    const at = /^Pi Tag/.test(message) ? xml.indexOf('<?') : Number(/position (\d+)/.exec(message)?.[1] ?? 0);
    throw new FormatError(file, `not well-formed XML (${message.replace(/\.$/, '')})`, Buffer.byteLength(xml.slice(0, Math.max(0, at)), 'utf8'));
  }
  const root = doc.find((n) => tag(n) === 'LSX_Data');
  if (!root) throw new FormatError(file, 'not a LabSpec XML export: no <LSX_Data> element', 0);
  const tree = kids(root).find((n) => tag(n) === 'LSX_Tree');
  const matrix = kids(root).find((n) => tag(n) === 'LSX_Matrix');
  // Messages give byte offsets; the text's indices are characters (a µ before them is two bytes).
  const bytesTo = (char: number) => Buffer.byteLength(xml.slice(0, Math.max(0, char)), 'utf8');
  const where = (name: string) => bytesTo(xml.indexOf(`<${name}`));
  if (!tree) throw new FormatError(file, 'no <LSX_Tree> (the axes and parameters)', 0);
  if (!matrix) throw new FormatError(file, 'no <LSX_Matrix> (the spectra)', xml.length);
  const axes = byId(byId(tree, ID.data), ID.axes);
  if (!axes) throw new FormatError(file, 'no axes node (LSX ID 0x7B697861) in <LSX_Tree>', where('LSX_Tree'));

  const intensity = byId(axes, '0x0');
  const signal = byId(axes, '0x1');
  if (!signal) throw new FormatError(file, 'no spectral axis (LSX ID 0x1) among the axes', where('LSX_Tree'));
  const axisAt = bytesTo(xml.indexOf(`ID="${ID.values}"`));
  let axis = numbers(text(byId(signal, ID.values)), file, 'spectral axis values', () => axisAt);
  const d = axis.length;
  if (d === 0) throw new FormatError(file, 'the spectral axis has no values', axisAt);
  const reversed = d > 1 && axis[0]! > axis[1]!;
  if (reversed) axis = axis.slice().reverse();

  const navigation: NavigationAxis[] = [];
  for (const [id, name] of [['0x2', 'x'], ['0x3', 'y']] as const) {
    const nav = byId(axes, id);
    const values = nav ? numbers(text(byId(nav, ID.values)), file, `${name} axis values`, () => where('LSX_Tree')) : new Float64Array(0);
    // A 1-point axis is no axis (rosettasciio's rule too).
    if (values.length >= 2) {
      navigation.push({ name, unit: text(byId(nav, ID.unit)), size: values.length, offset: values[0]!, scale: values[1]! - values[0]! });
    }
  }
  const rows = kids(matrix).filter((n) => tag(n) === 'LSX_Row');
  const n = navigation.reduce((p, a) => p * a.size, 1);
  const matrixAt = where('LSX_Matrix');
  if (rows.length !== n) throw new FormatError(file, `<LSX_Matrix> has ${rows.length} rows, the axes say ${n} spectra`, matrixAt);
  const spectra = new Float32Array(n * d);
  const seen = new Uint8Array(n);
  // Byte offset of the i-th <LSX_Row (rows appear only in the matrix), for messages about one row.
  const rowAt = (i: number): number => {
    let at = xml.indexOf('<LSX_Matrix');
    for (let k = 0; k <= i && at >= 0; k++) at = xml.indexOf('<LSX_Row', at + 1);
    return bytesTo(at);
  };
  rows.forEach((row, i) => {
    const index = Number(row[':@']?.Index ?? i);
    if (!Number.isInteger(index) || index < 0 || index >= n) throw new FormatError(file, `<LSX_Row Index="${row[':@']?.Index}"> is out of range`, rowAt(i));
    // With as many rows as spectra, a repeated Index means another spectrum has no row (it would stay zeros).
    if (seen[index]++) throw new FormatError(file, `two <LSX_Row>s have Index="${index}"`, rowAt(i));
    const v = numbers(text(row), file, `row ${index}`, () => rowAt(i));
    if (v.length !== d) throw new FormatError(file, `row ${index} has ${v.length} values, the axis has ${d}`, rowAt(i));
    for (let k = 0; k < d; k++) spectra[index * d + k] = v[reversed ? d - 1 - k : k]!;
  });

  const unit = text(byId(signal, ID.unit));
  const metadata: Record<string, MetaValue> = {};
  const title = text(byId(tree, ID.title));
  if (title) metadata.title = title;
  const intensityUnit = text(byId(intensity, ID.unit));
  if (intensityUnit) metadata.intensity_unit = intensityUnit;
  collectParams(byId(tree, ID.params), metadata);
  return {
    format: 'jobinyvon',
    file,
    n,
    d,
    spectra,
    axis: { values: axis, ...axisUnit(unit), ...(d > 1 ? { offset: axis[0]!, scale: (axis[d - 1]! - axis[0]!) / (d - 1) } : {}) },
    navigation,
    coords: gridCoords(navigation),
    metadata,
    notes: [],
  };
}

/** LabSpec writes "1/cm" for Raman shift, "1/cm abs" for absolute wavenumbers, "nm", "eV". */
function axisUnit(unit: string): { unit: string; name: string } {
  if (unit.includes('/') && unit.endsWith('abs')) return { unit: 'cm-1', name: 'wavenumber' };
  if (unit === '1/cm' || unit === 'cm-1') return { unit: 'cm-1', name: 'Raman shift' };
  if (unit.endsWith('eV')) return { unit, name: 'energy' };
  if (unit.endsWith('m')) return { unit, name: 'wavelength' };
  return { unit, name: '' };
}

/** Every (name, value) parameter pair under the parameters node, recursively. */
function collectParams(node: Node | undefined, out: Record<string, MetaValue>): void {
  if (!node) return;
  for (const k of kids(node)) {
    if (tag(k) !== 'LSX') continue;
    const key = text(byId(k, ID.key));
    if (key) {
      const precise = text(byId(k, ID.number));
      const value = text(byId(k, ID.value));
      const numeric = Number(value);
      const v: MetaValue = precise !== '' && Number.isFinite(Number(precise)) && key.includes('(') ? Number(precise)
        : value !== '' && Number.isFinite(numeric) ? numeric : value;
      if (v !== '') out[key] = v;
    } else {
      collectParams(k, out);
    }
  }
}

function numbers(s: string, file: string, what: string, at: () => number): Float64Array {
  const tokens = s.split(/\s+/).filter((t) => t !== '');
  const out = new Float64Array(tokens.length);
  tokens.forEach((t, i) => {
    // Number() would also take hexadecimal, binary and octal ("0x10" = 16), which LabSpec never writes
    const v = /^[+-]?0[xXbBoO]/.test(t) ? NaN : Number(t);
    if (!Number.isFinite(v)) throw new FormatError(file, `${what}: "${t}" is not a number`, at());
    out[i] = v;
  });
  return out;
}

function byteOffset(xml: string, line: number, col: number): number {
  let at = 0;
  for (let l = 1; l < line; l++) {
    const nl = xml.indexOf('\n', at);
    if (nl < 0) break;
    at = nl + 1;
  }
  return Buffer.byteLength(xml.slice(0, at + Math.max(0, col - 1)), 'utf8');
}
