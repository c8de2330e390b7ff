/**
 * A bounds-checked cursor over a file's bytes. Every read checks that the bytes
 * are there first, so a truncated file becomes `FILE: <what> at byte N` rather
 * than a RangeError or, worse, zeros read past the end.
 */
import { StageError } from '../../core/stage-api.js';

/** A bad file: `FILE: <what is wrong> at byte N` (a StageError, so the CLI prints one line and exits 1). */
export class FormatError extends StageError {
  constructor(file: string, message: string, public readonly offset?: number) {
    // Names read from a damaged file may hold control characters; the message stays one line.
    const text = message.replace(/[\x00-\x1f\x7f]/g, '?');
    super(offset === undefined ? text : `${text} at byte ${offset}`, file);
  }
}

export class ByteReader {
  readonly view: DataView;
  pos = 0;
  /** Byte order of multi-byte values read without an explicit one. */
  little = true;

  constructor(readonly bytes: Uint8Array, readonly file: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get length(): number {
    return this.bytes.length;
  }

  fail(message: string, at = this.pos): never {
    throw new FormatError(this.file, message, at);
  }

  /** Throws unless `n` bytes of `what` are available at the cursor. */
  need(n: number, what: string, at = this.pos): void {
    if (!Number.isSafeInteger(n) || n < 0) this.fail(`${what}: impossible length ${n}`, at);
    if (at + n > this.bytes.length) this.fail(`file is truncated: ${what} needs ${n} bytes, ${Math.max(0, this.bytes.length - at)} left`, at);
  }

  seek(at: number, what: string): void {
    if (at < 0 || at > this.bytes.length) this.fail(`${what} points outside the file (offset ${at}, file size ${this.bytes.length})`, this.pos);
    this.pos = at;
  }

  skip(n: number, what: string): void {
    this.need(n, what);
    this.pos += n;
  }

  take(n: number, what: string): Uint8Array {
    this.need(n, what);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** One value of `size` bytes at the cursor, bounds-checked, then the cursor moves past it. */
  private read<T>(size: number, what: string, get: (at: number) => T): T {
    this.need(size, what);
    const v = get(this.pos);
    this.pos += size;
    return v;
  }

  u8(what: string): number {
    return this.read(1, what, (p) => this.view.getUint8(p));
  }

  u16(what: string, little = this.little): number {
    return this.read(2, what, (p) => this.view.getUint16(p, little));
  }

  u32(what: string, little = this.little): number {
    return this.read(4, what, (p) => this.view.getUint32(p, little));
  }

  i32(what: string, little = this.little): number {
    return this.read(4, what, (p) => this.view.getInt32(p, little));
  }

  /** A full 64-bit unsigned value (timestamps), as a bigint. */
  u64big(what: string, little = this.little): bigint {
    return this.read(8, what, (p) => this.view.getBigUint64(p, little));
  }

  /** An unsigned 64-bit count or offset; refused when it cannot be a safe integer. */
  u64(what: string, little = this.little): number {
    const at = this.pos;
    const v = this.u64big(what, little);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`${what} is implausibly large (${v})`, at);
    return Number(v);
  }

  f32(what: string, little = this.little): number {
    return this.read(4, what, (p) => this.view.getFloat32(p, little));
  }

  f64(what: string, little = this.little): number {
    return this.read(8, what, (p) => this.view.getFloat64(p, little));
  }

  ascii(n: number, what: string): string {
    const b = this.take(n, what);
    let s = '';
    for (const c of b) s += String.fromCharCode(c);
    return s;
  }
}

/** Numeric element types the binary readers decode into Float32. */
export type NumericType = 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'float32' | 'float64' | 'bool';

export const TYPE_BYTES: Record<NumericType, number> = {
  int8: 1, uint8: 1, bool: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, float32: 4, int64: 8, uint64: 8, float64: 8,
};

/** `count` values of `type` starting at byte `at`, as Float32 (the spectra column's type). */
export function decodeNumbers(r: ByteReader, at: number, count: number, type: NumericType, little: boolean, what: string): Float32Array {
  const size = TYPE_BYTES[type];
  r.need(count * size, what, at);
  const v = r.view;
  const out = new Float32Array(count);
  for (let i = 0, p = at; i < count; i++, p += size) {
    switch (type) {
      case 'int8': out[i] = v.getInt8(p); break;
      case 'uint8': case 'bool': out[i] = v.getUint8(p); break;
      case 'int16': out[i] = v.getInt16(p, little); break;
      case 'uint16': out[i] = v.getUint16(p, little); break;
      case 'int32': out[i] = v.getInt32(p, little); break;
      case 'uint32': out[i] = v.getUint32(p, little); break;
      case 'int64': out[i] = Number(v.getBigInt64(p, little)); break;
      case 'uint64': out[i] = Number(v.getBigUint64(p, little)); break;
      case 'float32': out[i] = v.getFloat32(p, little); break;
      case 'float64': out[i] = v.getFloat64(p, little); break;
    }
  }
  return out;
}
