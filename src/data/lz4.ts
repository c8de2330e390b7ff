/**
 * LZ4 frame decoder (https://github.com/lz4/lz4/blob/dev/doc/lz4_Frame_format.md and
 * lz4_Block_format.md). pyarrow and pandas compress Feather v2 buffers with LZ4 frames
 * by default; apache-arrow for JS reads them only with a codec registered, and no LZ4
 * package is a dependency, so this small pure decoder is that codec. Checksums are not
 * verified (Arrow buffers carry their own length, and a corrupt block fails on bounds).
 */

const FRAME_MAGIC = 0x184d2204;

class Output {
  buf: Uint8Array;
  pos = 0;
  constructor(capacity: number) {
    this.buf = new Uint8Array(Math.max(64, capacity));
  }
  ensure(extra: number): void {
    if (this.pos + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }
}

function u32(src: Uint8Array, at: number): number {
  if (at + 4 > src.length) throw new Error('LZ4: truncated input');
  return (src[at]! | (src[at + 1]! << 8) | (src[at + 2]! << 16) | (src[at + 3]! << 24)) >>> 0;
}

/** Decode one LZ4 block (src[start, end)) appending to `out`; matches may reach back into earlier blocks. */
export function decodeLz4Block(src: Uint8Array, start: number, end: number, out: Output): void {
  let ip = start;
  while (ip < end) {
    const token = src[ip++]!;
    let literals = token >>> 4;
    if (literals === 15) {
      let b: number;
      do {
        if (ip >= end) throw new Error('LZ4: truncated literal length');
        b = src[ip++]!;
        literals += b;
      } while (b === 255);
    }
    if (ip + literals > end) throw new Error('LZ4: literals run past the block');
    out.ensure(literals);
    out.buf.set(src.subarray(ip, ip + literals), out.pos);
    out.pos += literals;
    ip += literals;
    if (ip >= end) break; // the last sequence has literals only
    if (ip + 2 > end) throw new Error('LZ4: truncated match offset');
    const offset = src[ip]! | (src[ip + 1]! << 8);
    ip += 2;
    if (offset === 0 || offset > out.pos) throw new Error(`LZ4: invalid match offset ${offset}`);
    let length = token & 15;
    if (length === 15) {
      let b: number;
      do {
        if (ip >= end) throw new Error('LZ4: truncated match length');
        b = src[ip++]!;
        length += b;
      } while (b === 255);
    }
    length += 4;
    out.ensure(length);
    // Byte by byte: a match may overlap the bytes it is producing (offset < length = run).
    let from = out.pos - offset;
    const buf = out.buf;
    for (let k = 0; k < length; k++) buf[out.pos++] = buf[from++]!;
  }
}

/** Decode a sequence of LZ4 frames (skippable frames are skipped). */
export function decodeLz4Frame(src: Uint8Array): Uint8Array {
  const out = new Output(src.length * 4);
  let ip = 0;
  while (ip < src.length) {
    const magic = u32(src, ip);
    ip += 4;
    if ((magic & 0xfffffff0) === 0x184d2a50) {
      ip += 4 + u32(src, ip);
      continue;
    }
    if (magic !== FRAME_MAGIC) throw new Error(`LZ4: bad frame magic 0x${magic.toString(16)}`);
    const flg = src[ip++]!;
    ip++; // BD: block maximum size, not needed to decode
    if (flg >>> 6 !== 1) throw new Error(`LZ4: unsupported frame version ${flg >>> 6}`);
    const blockChecksum = (flg & 0x10) !== 0;
    const contentSize = (flg & 0x08) !== 0;
    const contentChecksum = (flg & 0x04) !== 0;
    const dictId = (flg & 0x01) !== 0;
    if (contentSize) {
      const size = u32(src, ip) + u32(src, ip + 4) * 2 ** 32;
      out.ensure(size);
      ip += 8;
    }
    if (dictId) throw new Error('LZ4: frames with a dictionary are not supported');
    ip++; // header checksum
    for (;;) {
      const word = u32(src, ip);
      ip += 4;
      if (word === 0) break; // end mark
      const size = word & 0x7fffffff;
      if (ip + size > src.length) throw new Error('LZ4: block runs past the input');
      if (word & 0x80000000) {
        out.ensure(size);
        out.buf.set(src.subarray(ip, ip + size), out.pos);
        out.pos += size;
      } else {
        decodeLz4Block(src, ip, ip + size, out);
      }
      ip += size + (blockChecksum ? 4 : 0);
    }
    if (contentChecksum) ip += 4;
  }
  return out.buf.slice(0, out.pos);
}

/** For tests: an Output to decode single blocks into. */
export function newOutput(capacity = 64): Output {
  return new Output(capacity);
}
export type { Output };
