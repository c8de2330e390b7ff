/**
 * A small RFC 4180 reader for the CSV files instruments and spreadsheets export:
 * UTF-8 BOM, CRLF or LF, quoted fields with "" escapes and embedded delimiters or
 * newlines, `#` comment lines and blank lines. Every record remembers the line it
 * starts on, so errors can point into the file.
 */
import { StageError } from '../../core/stage-api.js';

export interface CsvText {
  header: string[];
  rows: string[][];
  /** 1-based line number in the file where each data row starts. */
  lines: number[];
  headerLine: number;
  delimiter: string;
}

/** `auto` picks tab, semicolon or comma, whichever the header line uses. */
export function detectDelimiter(firstLine: string): string {
  const count = (c: string) => firstLine.split(c).length - 1;
  if (count('\t') > 0) return '\t';
  if (count(';') > count(',')) return ';';
  return ',';
}

export function parseCsv(text: string, file: string, delimiter = 'auto'): CsvText {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const records: { fields: string[]; line: number }[] = [];
  let delim = delimiter === 'auto' ? '' : delimiter === '\\t' ? '\t' : delimiter;
  let i = 0;
  let line = 1;
  const n = text.length;
  while (i < n) {
    // Skip blank and comment lines (only at record starts, so a '#' inside data is kept).
    const lineEnd = nextLineEnd(text, i);
    const raw = text.slice(i, lineEnd);
    if (raw.trim() === '' || raw.trimStart().startsWith('#')) {
      i = skipNewline(text, lineEnd);
      line++;
      continue;
    }
    if (!delim) delim = detectDelimiter(raw);
    const startLine = line;
    const fields: string[] = [];
    let field = '';
    let quoted = false;
    for (;;) {
      if (i >= n) {
        if (quoted) throw new StageError('unterminated quoted field', `${file} line ${startLine}`);
        fields.push(field);
        break;
      }
      const c = text[i]!;
      if (quoted) {
        if (c === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
          } else {
            quoted = false;
            i++;
          }
        } else {
          if (c === '\n') line++;
          field += c;
          i++;
        }
        continue;
      }
      if (c === '"' && field.trim() === '') {
        quoted = true;
        field = '';
        i++;
      } else if (c === delim) {
        fields.push(field);
        field = '';
        i++;
      } else if (c === '\r' || c === '\n') {
        fields.push(field);
        i = skipNewline(text, i);
        line++;
        break;
      } else {
        field += c;
        i++;
      }
    }
    records.push({ fields, line: startLine });
  }
  if (records.length === 0) throw new StageError('the file is empty (no header line)', file);
  const [head, ...body] = records;
  const header = head!.fields.map((h) => h.trim());
  header.forEach((h, c) => {
    if (h === '') throw new StageError(`column ${c + 1} has an empty name`, `${file} line ${head!.line}`);
    const first = header.indexOf(h);
    if (first !== c) throw new StageError(`duplicate column name "${h}" (columns ${first + 1} and ${c + 1})`, `${file} line ${head!.line}`);
  });
  if (body.length === 0) throw new StageError('the file has a header but no data rows', file);
  body.forEach((r, k) => {
    if (r.fields.length !== header.length) {
      throw new StageError(
        `ragged row: ${r.fields.length} fields, the header has ${header.length}`,
        `${file} row ${k + 1} (line ${r.line}), column ${r.fields.length < header.length ? `"${header[r.fields.length]}"` : r.fields.length}`,
      );
    }
  });
  if (text.includes('\0')) throwAtNul(head!, body, header, file);
  return { header, rows: body.map((r) => r.fields), lines: body.map((r) => r.line), headerLine: head!.line, delimiter: delim };
}

function nextLineEnd(text: string, from: number): number {
  for (let j = from; j < text.length; j++) {
    const c = text.charCodeAt(j);
    if (c === 10 || c === 13) return j;
  }
  return text.length;
}

function skipNewline(text: string, at: number): number {
  if (text[at] === '\r' && text[at + 1] === '\n') return at + 2;
  return at < text.length ? at + 1 : at;
}

/** An invisible NUL byte would otherwise surface as a baffling `"12" is not a number`. */
function throwAtNul(head: { fields: string[]; line: number }, body: { fields: string[]; line: number }[], header: string[], file: string): never {
  const hint = 'a NUL byte (\\0) in the cell; the file may be binary or UTF-16 (save it as UTF-8)';
  const c = head.fields.findIndex((f) => f.includes('\0'));
  if (c >= 0) throw new StageError(hint, `${file} line ${head.line} (header), column ${c + 1}`);
  for (const [k, r] of body.entries()) {
    const col = r.fields.findIndex((f) => f.includes('\0'));
    if (col >= 0) throw new StageError(hint, `${file} row ${k + 1} (line ${r.line}), column "${header[col]}"`);
  }
  throw new StageError(hint, file);
}
