/**
 * Rows of an n × d float32 matrix, read by row number: the training loop asks for
 * the rows of each mini-batch and never needs the matrix itself, so the rows may
 * live in memory or in a file (src/data/arrow-batches.ts RowFile) — same bits.
 */
export interface RowSource {
  readonly n: number;
  readonly d: number;
  /** Rows `rows` (any order) into `out`, rows.length × d. */
  read(rows: ArrayLike<number>, out: Float32Array): void;
}

export function memoryRows(data: Float32Array, n: number, d: number): RowSource {
  if (data.length !== n * d) throw new Error(`matrix has ${data.length} values, expected ${n}×${d}`);
  return {
    n, d,
    read(rows, out) {
      for (let i = 0; i < rows.length; i++) out.set(data.subarray(rows[i]! * d, (rows[i]! + 1) * d), i * d);
    },
  };
}

/** Visit the rows `idx` in order, `chunk` at a time (block is count × d, reused between calls). */
export function forEachBlock(src: RowSource, idx: ArrayLike<number>, visit: (block: Float32Array, count: number) => void, chunk = 1024): void {
  const block = new Float32Array(Math.min(chunk, Math.max(1, idx.length)) * src.d);
  for (let start = 0; start < idx.length; start += chunk) {
    const count = Math.min(chunk, idx.length - start);
    const rows = Array.prototype.slice.call(idx, start, start + count) as number[];
    const view = block.subarray(0, count * src.d);
    src.read(rows, view);
    visit(view, count);
  }
}
