/**
 * A structural check of an Arrow IPC *file* before apache-arrow reads it. apache-arrow trusts the lengths
 * and offsets inside the file's flatbuffers: a damaged footer that lists 2^31 record batches, a batch
 * whose field-node list claims 2^31 entries, or a block pointing back at the schema message keeps it
 * busy for hours (the last one forever). Each of these must fit inside the bytes that hold it.
 * Throws `Error('corrupt: …')` (arrowReadError turns it into the user's message).
 */

/** Flatbuffers over bytes [start, end): tables, their fields (by vtable slot) and vectors, all bounds-checked. */
class Flat {
  constructor(private readonly v: DataView, private readonly start: number, private readonly end: number, private readonly what: string) {}

  private u32(at: number): number {
    if (at < this.start || at + 4 > this.end) corrupt(`${this.what} points outside itself`);
    return this.v.getUint32(at, true);
  }

  root(): number {
    return this.start + this.u32(this.start);
  }

  /** Absolute position of field `slot` (0-based) of the table at `table`, or 0 when absent. */
  field(table: number, slot: number): number {
    const vtable = table - (this.u32(table) | 0);
    if (vtable < this.start || vtable + 4 > this.end) corrupt(`${this.what} has a field table outside itself`);
    const size = this.v.getUint16(vtable, true);
    const at = 4 + 2 * slot;
    if (at + 2 > size || vtable + at + 2 > this.end) return 0;
    const offset = this.v.getUint16(vtable + at, true);
    return offset === 0 ? 0 : table + offset;
  }

  /** The table a field refers to. */
  table(field: number): number {
    return field + this.u32(field);
  }

  /** Length of the vector a field refers to, checked to fit with `itemBytes` per item. */
  vector(field: number, itemBytes: number, name: string): number {
    const at = field + this.u32(field);
    const count = this.u32(at);
    if (at + 4 + count * itemBytes > this.end) corrupt(`${this.what} lists ${count} ${name}, more than it can hold`);
    return count;
  }

  byte(field: number): number {
    if (field < this.start || field + 1 > this.end) corrupt(`${this.what} points outside itself`);
    return this.v.getUint8(field);
  }
}

function corrupt(what: string): never {
  throw new Error(`corrupt: ${what}`);
}

/** Message header types (Arrow's MessageHeader union). */
const DICTIONARY_BATCH = 2;
const RECORD_BATCH = 3;

export function checkArrowFile(bytes: Uint8Array, magic: string): void {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = bytes.length - magic.length - 4;
  if (end < 8) corrupt('the file is too short to hold a footer');
  const length = v.getInt32(end, true);
  const start = end - length;
  if (length <= 0 || start < 8) corrupt(`the footer length (${length}) does not fit the file (${bytes.length} bytes)`);
  const footer = new Flat(v, start, end, 'the footer');
  const root = footer.root();
  // Footer slot 1: the schema — fields (slot 1), each with children (slot 5) and custom metadata (slot 6), lists of offsets.
  const schema = footer.field(root, 1);
  if (!schema) corrupt('the footer has no schema');
  const schemaTable = footer.table(schema);
  const schemaMeta = footer.field(schemaTable, 2);
  if (schemaMeta) footer.vector(schemaMeta, 4, 'metadata entries');
  checkFields(footer, schemaTable, 1, 0);
  // Footer: version, schema, dictionaries (slot 2), recordBatches (slot 3); a Block is offset i64, metaDataLength i32, pad, bodyLength i64.
  for (const [slot, name, type] of [[2, 'dictionaries', DICTIONARY_BATCH], [3, 'record batches', RECORD_BATCH]] as const) {
    const field = footer.field(root, slot);
    if (!field) continue;
    const count = footer.vector(field, 24, name);
    const items = field + v.getUint32(field, true) + 4;
    for (let i = 0; i < count; i++) checkMessage(v, Number(v.getBigInt64(items + 24 * i, true)), start, type, `${name} block ${i + 1}`);
  }
}

/** Every list under a schema (or field) fits; `slot`: where its fields (children) are. Nesting stops at 64 levels. */
function checkFields(f: Flat, table: number, slot: number, depth: number): void {
  if (depth > 64) corrupt('the schema nests fields more than 64 deep');
  const fields = f.field(table, slot);
  if (!fields) return;
  const count = f.vector(fields, 4, depth === 0 ? 'fields' : 'child fields');
  const items = f.table(fields) + 4;
  for (let i = 0; i < count; i++) {
    const field = f.table(items + 4 * i);
    const meta = f.field(field, 6);
    if (meta) f.vector(meta, 4, 'metadata entries');
    checkFields(f, field, 5, depth + 1);
  }
}

/** The message a footer block points at: inside the data part of the file, of the type the block says, its lists in bounds. */
function checkMessage(v: DataView, offset: number, dataEnd: number, type: number, where: string): void {
  if (!Number.isSafeInteger(offset) || offset < 8 || offset + 8 > dataEnd) corrupt(`${where} points outside the file's data (offset ${offset})`);
  let at = offset;
  let length = v.getInt32(at, true);
  at += 4;
  if (length === -1) {
    length = v.getInt32(at, true);
    at += 4;
  }
  if (length <= 0 || at + length > dataEnd) corrupt(`${where}: its message length (${length}) does not fit the file`);
  const m = new Flat(v, at, at + length, `the message of ${where}`);
  const root = m.root();
  // Message: version (slot 0), header_type (1), header (2), bodyLength (3)
  const headerType = m.field(root, 1);
  if (!headerType || m.byte(headerType) !== type) corrupt(`${where} does not hold a ${type === RECORD_BATCH ? 'record batch' : 'dictionary batch'}`);
  const header = m.field(root, 2);
  if (!header) corrupt(`${where}: its message has no header`);
  let batch = m.table(header);
  if (type === DICTIONARY_BATCH) {
    const data = m.field(batch, 1); // DictionaryBatch: id, data, isDelta
    if (!data) return;
    batch = m.table(data);
  }
  // RecordBatch: length, nodes (16-byte FieldNodes), buffers (16-byte Buffers)
  const nodes = m.field(batch, 1);
  if (nodes) m.vector(nodes, 16, 'field nodes');
  const buffers = m.field(batch, 2);
  if (buffers) m.vector(buffers, 16, 'buffers');
}
