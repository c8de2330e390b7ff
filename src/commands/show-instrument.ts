/** `specflow show FILE` for instrument files: what a `load` stage would read from it. */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

/** A description of `path` if it is an instrument file, undefined if it is not one (e.g. an Arrow table). */
export async function describeInstrumentFile(path: string, head: number): Promise<string | undefined> {
  const { detectFormat, readInstrumentBytes } = await import('../data/formats/detect.js');
  const bytes = readFileSync(path);
  if (new TextDecoder('latin1').decode(bytes.subarray(0, 6)) === 'ARROW1') return undefined;
  const format = detectFormat(bytes, basename(path));
  if (!format) return undefined;
  const s = await readInstrumentBytes(bytes, basename(path), format);
  const axis = s.axis.values;
  const out: string[] = [
    `${basename(path)}: ${FORMAT_NAMES[format]}`,
    `  ${s.n} spectr${s.n === 1 ? 'um' : 'a'} × ${s.d} channels`,
    `  navigation: ${s.navigation.length === 0 ? 'none (a single spectrum)' : s.navigation.map((a) => `${a.name} ${a.size} (offset ${fmt(a.offset)}, scale ${fmt(a.scale)}${a.unit ? ` ${a.unit}` : ''})`).join(' × ')}`,
    `  axis: ${s.axis.name || '(unnamed)'} in ${s.axis.unit || '(no unit)'}, ${fmt(axis[0]!)} … ${fmt(axis[axis.length - 1]!)}${s.axis.scale !== undefined ? ` (offset ${fmt(s.axis.offset!)}, scale ${fmt(s.axis.scale)})` : ''}`,
  ];
  if (s.columns && Object.keys(s.columns).length) out.push(`  per-spectrum columns: ${Object.keys(s.columns).join(', ')}`);
  const meta = Object.entries(s.metadata);
  if (meta.length) {
    out.push('metadata:');
    for (const [k, v] of meta) out.push(`  ${k}: ${String(v).length > 120 ? `${String(v).slice(0, 117)}…` : String(v)}`);
  }
  for (const note of s.notes) out.push(`note: ${note}`);
  const rows = Math.min(head, s.n);
  if (rows > 0) {
    out.push(`first ${rows} spectra:`);
    for (let i = 0; i < rows; i++) {
      const v = Array.from(s.spectra.subarray(i * s.d, i * s.d + Math.min(s.d, 6)), fmt);
      const at = s.coords ? `  x=${fmt(s.coords.x[i]!)}${s.coords.y ? ` y=${fmt(s.coords.y[i]!)}` : ''}` : '';
      out.push(`  ${i}${at}  [${v.join(', ')}${s.d > 6 ? `, … (${s.d})` : ''}]`);
    }
  }
  return `${out.join('\n')}\n`;
}

const FORMAT_NAMES: Record<string, string> = {
  dm: 'Gatan DigitalMicrograph (DM3/DM4)', msa: 'EMSA/MSA', wdf: 'Renishaw WiRE WDF', jobinyvon: 'Horiba Jobin Yvon LabSpec XML',
  hspy: 'HyperSpy HDF5', nexus: 'NeXus HDF5',
};

function fmt(v: number): string {
  return String(Number(v.toPrecision(6)));
}
