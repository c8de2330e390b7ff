/**
 * CSV records from text that arrives in pieces, so a file of any size is read in
 * bounded memory: only the current, incomplete line is carried from one piece to
 * the next. The rules are those of the whole-text reader it replaced (RFC 4180
 * quoting with "" escapes, embedded delimiters and newlines; CRLF, LF or CR; `#`
 * comment lines and blank lines skipped at record starts; a leading UTF-8 BOM
 * dropped), and a record's fields come out the same however the text is cut.
 */
import { StageError } from '../../core/stage-api.js';

export interface CsvRecord {
  fields: string[];
  /** 1-based line of the file the record starts on. */
  line: number;
}

/** `auto` picks tab, semicolon or comma, whichever the header line uses. */
export function detectDelimiter(firstLine: string): string {
  const count = (c: string) => firstLine.split(c).length - 1;
  if (count('\t') > 0) return '\t';
  if (count(';') > count(',')) return ';';
  return ',';
}

const QUOTE = 34;
const HASH = 35;
/** `\\s` is the set String.trim removes (white space and line terminators). */
const NOT_SPACE = /\S/g;
const LF = 10;
const CR = 13;

export class CsvTokenizer {
  /** Text after the last complete line seen so far. */
  private pending = '';
  private first = true;
  private delim: string;
  private delimCode = -1;
  private line = 1;
  // a record cut by the end of a piece (only inside a quoted field, which may span lines)
  private fields: string[] | undefined;
  private field = '';
  private quoted = false;
  private startLine = 0;
  /** Whether any text so far held a NUL character (comment and blank lines included). */
  sawNul = false;

  constructor(private readonly file: string, delimiter = 'auto') {
    this.delim = delimiter === 'auto' ? '' : delimiter === '\\t' ? '\t' : delimiter;
    if (this.delim) this.delimCode = this.delim.length === 1 ? this.delim.charCodeAt(0) : -1;
  }

  /** The delimiter in use ('' until the header line has been seen with `auto`). */
  get delimiter(): string {
    return this.delim;
  }

  /** The records completed by this piece of text. */
  push(piece: string): CsvRecord[] {
    if (this.first && piece.length > 0) {
      this.first = false;
      if (piece.charCodeAt(0) === 0xfeff) piece = piece.slice(1);
    }
    if (!this.sawNul && piece.includes('\0')) this.sawNul = true;
    const text = this.pending + piece;
    // Lines up to the last newline are complete; a CR at the very end may still be a CRLF's first half.
    const lastCr = text.length >= 2 ? text.lastIndexOf('\r', text.length - 2) : -1;
    const end = Math.max(text.lastIndexOf('\n'), lastCr) + 1;
    this.pending = text.slice(end);
    const out: CsvRecord[] = [];
    this.scan(text, end, false, out);
    return out;
  }

  /** The records left at the end of the text (the last line needs no newline). */
  end(): CsvRecord[] {
    const text = this.pending;
    this.pending = '';
    const out: CsvRecord[] = [];
    this.scan(text, text.length, true, out);
    if (this.fields) throw new StageError('unterminated quoted field', `${this.file} line ${this.startLine}`);
    return out;
  }

  private scan(text: string, n: number, atEof: boolean, out: CsvRecord[]): void {
    let i = 0;
    while (i < n || (this.fields && atEof)) {
      if (!this.fields) {
        // Skip blank and comment lines (only at record starts, so a '#' inside data is kept):
        // the line's first character that String.trim would keep is absent or '#'.
        NOT_SPACE.lastIndex = i;
        const found = NOT_SPACE.exec(text);
        const visible = found && found.index < n ? found.index : n;
        if (visible !== i || text.charCodeAt(i) === HASH) {
          const lineEnd = nextLineEnd(text, i, n);
          if (visible >= lineEnd || text.charCodeAt(visible) === HASH) {
            i = skipNewline(text, lineEnd, n);
            this.line++;
            continue;
          }
        }
        if (!this.delim) {
          this.delim = detectDelimiter(text.slice(i, nextLineEnd(text, i, n)));
          this.delimCode = this.delim.charCodeAt(0);
        }
        this.fields = [];
        this.field = '';
        this.quoted = false;
        this.startLine = this.line;
      }
      const fields = this.fields;
      const done = this.scanRecord(text, i, n, atEof);
      i = done.at;
      if (!done.complete) return;
      out.push({ fields, line: this.startLine });
      this.fields = undefined;
    }
  }

  /** Continue the current record from `i`; complete when its line ended (or the text did). */
  private scanRecord(text: string, i: number, n: number, atEof: boolean): { at: number; complete: boolean } {
    const fields = this.fields!;
    const delim = this.delimCode;
    for (;;) {
      if (i >= n) {
        if (!atEof || this.quoted) return { at: i, complete: false };
        fields.push(this.field);
        return { at: i, complete: true };
      }
      if (this.quoted) {
        const q = text.indexOf('"', i);
        const stop = q < 0 || q >= n ? n : q;
        const part = text.slice(i, stop);
        this.field += part;
        for (let k = part.indexOf('\n'); k >= 0; k = part.indexOf('\n', k + 1)) this.line++;
        i = stop;
        if (stop === n) continue;
        if (text.charCodeAt(i + 1) === QUOTE && i + 1 < n) {
          this.field += '"';
          i += 2;
        } else {
          this.quoted = false;
          i++;
        }
        continue;
      }
      let j = i;
      let c = -1;
      for (; j < n; j++) {
        c = text.charCodeAt(j);
        if (c === delim || c === LF || c === CR || c === QUOTE) break;
      }
      if (j > i) this.field += text.slice(i, j);
      i = j;
      if (j >= n) continue;
      if (c === QUOTE) {
        if (this.field.trim() === '') {
          this.quoted = true;
          this.field = '';
        } else {
          this.field += '"';
        }
        i++;
      } else if (c === delim) {
        fields.push(this.field);
        this.field = '';
        i++;
      } else {
        fields.push(this.field);
        this.field = '';
        i = skipNewline(text, i, n);
        this.line++;
        return { at: i, complete: true };
      }
    }
  }
}

function nextLineEnd(text: string, from: number, n: number): number {
  for (let j = from; j < n; j++) {
    const c = text.charCodeAt(j);
    if (c === LF || c === CR) return j;
  }
  return n;
}

function skipNewline(text: string, at: number, n: number): number {
  if (text.charCodeAt(at) === CR && at + 1 < n && text.charCodeAt(at + 1) === LF) return at + 2;
  return at < n ? at + 1 : at;
}
