/**
 * Checks of a JCAMP-DX file that jcampconverter does not make: it parses what it
 * can and fills gaps from the header, so a file cut off mid-data, an NPOINTS
 * that disagrees with the data, a FIRSTX/LASTX that does not match the X values
 * written on the data lines, or garbage such as `1x0` would load as a wrong
 * spectrum. Each problem is refused with the file and line.
 */
import { StageError } from '../../core/stage-api.js';

/** Characters a data line may hold: AFFN numbers, ASDF compression (SQZ @A-I a-i, DIF J-R j-r %, DUP S-Z s), separators. */
const DATA_CHARS = /^[0-9\s+\-.,;:?@A-Za-s%()]*$/;
const AFFN = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

interface Header {
  firstX?: number;
  lastX?: number;
  nPoints?: number;
  xFactor: number;
}

/** Whole-file checks: the end marker, characters in data lines, and the X values on plain (AFFN) XYDATA lines. */
export function checkJcampText(text: string, file: string): void {
  const lines = text.split(/\r?\n/);
  const last = lines.map((l) => l.replace(/\$\$.*$/, '').trim()).filter((l) => l !== '').pop() ?? '';
  if (!/^##END\s*=/i.test(last)) {
    throw new StageError('the file ends without ##END= (cut off?); the last data would be missing or wrong', `${file} line ${lines.length}`);
  }
  let header: Header = { xFactor: 1 };
  for (let i = 0; i < lines.length; i++) {
    const m = /^##\s*([^=]+?)\s*=\s*(.*)$/.exec(lines[i]!);
    if (!m) continue;
    const key = m[1]!.replace(/[\s_-]/g, '').toUpperCase();
    const value = m[2]!.replace(/\$\$.*$/, '').trim();
    if (key === 'TITLE') header = { xFactor: 1 };
    else if (key === 'FIRSTX') header.firstX = Number(value);
    else if (key === 'LASTX') header.lastX = Number(value);
    else if (key === 'NPOINTS') header.nPoints = Number(value);
    else if (key === 'XFACTOR') header.xFactor = Number(value) || 1;
    else if (key === 'XYDATA' || key === 'PEAKTABLE' || key === 'XYPOINTS') {
      const end = lines.findIndex((l, j) => j > i && /^##/.test(l));
      const data = lines.slice(i + 1, end < 0 ? lines.length : end);
      checkDataLines(data, i + 2, file, key === 'XYDATA' && /X\+\+\(Y\.\.Y\)/i.test(value) ? header : undefined);
      i = end < 0 ? lines.length : end - 1;
    }
  }
}

function checkDataLines(data: string[], firstLine: number, file: string, header: Header | undefined): void {
  const tokens: string[][] = [];
  for (const [k, raw] of data.entries()) {
    const line = raw.replace(/\$\$.*$/, '');
    if (!DATA_CHARS.test(line)) {
      const col = [...line].findIndex((c) => !DATA_CHARS.test(c));
      throw new StageError(`"${line.trim()}" is not JCAMP-DX data (unexpected "${line[col]}" at column ${col + 1})`, `${file} line ${firstLine + k}`);
    }
    tokens.push(line.trim() === '' ? [] : line.trim().split(/[\s,;]+/));
  }
  // X checkpoints can be compared only where every value is plain (AFFN); compressed (ASDF) data is left to the parser
  if (!header || !tokens.every((t) => t.every((v) => AFFN.test(v)))) return;
  const { firstX, lastX, nPoints, xFactor } = header;
  let count = 0;
  const delta = firstX !== undefined && lastX !== undefined && nPoints !== undefined && nPoints > 1 ? (lastX - firstX) / (nPoints - 1) : undefined;
  for (const [k, t] of tokens.entries()) {
    if (t.length === 0) continue;
    const x = Number(t[0]) * xFactor;
    if (delta !== undefined && firstX !== undefined) {
      const expected = firstX + count * delta;
      if (Math.abs(x - expected) > Math.abs(delta) / 2 + 1e-9 * Math.abs(expected)) {
        throw new StageError(
          `the line starts at X = ${x}, but FIRSTX = ${firstX}, LASTX = ${lastX} and NPOINTS = ${nPoints} put point ${count + 1} at X = ${Number(expected.toPrecision(10))}: the header disagrees with the data`,
          `${file} line ${firstLine + k}`,
        );
      }
    }
    count += t.length - 1;
  }
  if (nPoints !== undefined && count !== nPoints) {
    throw new StageError(`NPOINTS = ${nPoints}, but the data has ${count} values`, `${file} line ${firstLine - 1}`);
  }
}

/** The parsed block against its header: jcampconverter builds x from FIRSTX/LASTX/NPOINTS whatever the data holds. */
export function checkJcampBlock(info: Record<string, unknown>, x: ArrayLike<number>, where: string): void {
  const nPoints = typeof info.NPOINTS === 'number' ? info.NPOINTS : undefined;
  if (nPoints !== undefined && x.length !== nPoints) {
    throw new StageError(`NPOINTS = ${nPoints}, but the data has ${x.length} values (a cut-off file or garbage in the data?)`, where);
  }
  const n = x.length;
  const tol = n > 1 ? Math.abs(x[n - 1]! - x[0]!) / (n - 1) / 2 : 1e-9;
  for (const [name, value] of [['FIRSTX', info.FIRSTX], ['LASTX', info.LASTX]] as const) {
    if (typeof value !== 'number' || n === 0) continue;
    const xs = [x[0]!, x[n - 1]!];
    // descending data: FIRSTX is the first point written, which may be the larger x
    if (!xs.some((v) => Math.abs(v - value) <= tol + 1e-9 * Math.abs(value))) {
      throw new StageError(`${name} = ${value}, but the data runs from ${x[0]} to ${x[n - 1]}`, where);
    }
  }
}
