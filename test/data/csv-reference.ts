/**
 * The whole-text CSV record splitter specflow used before the streamed tokenizer
 * (src/data/load/csv-parse.ts at commit 6aff124, its record loop only), kept as the
 * reference the tokenizer must agree with on any text and any cut into pieces.
 */
export function referenceRecords(text: string, delimiter = 'auto'): { fields: string[]; line: number }[] | { error: string } {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const records: { fields: string[]; line: number }[] = [];
  let delim = delimiter === 'auto' ? '' : delimiter === '\\t' ? '\t' : delimiter;
  let i = 0;
  let line = 1;
  const n = text.length;
  while (i < n) {
    const lineEnd = nextLineEnd(text, i);
    const raw = text.slice(i, lineEnd);
    if (raw.trim() === '' || raw.trimStart().startsWith('#')) {
      i = skipNewline(text, lineEnd);
      line++;
      continue;
    }
    if (!delim) delim = detect(raw);
    const startLine = line;
    const fields: string[] = [];
    let field = '';
    let quoted = false;
    for (;;) {
      if (i >= n) {
        if (quoted) return { error: `unterminated quoted field line ${startLine}` };
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
  return records;
}

function detect(firstLine: string): string {
  const count = (c: string) => firstLine.split(c).length - 1;
  if (count('\t') > 0) return '\t';
  if (count(';') > count(',')) return ';';
  return ',';
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
