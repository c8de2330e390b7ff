import { expect } from 'vitest';

/** max |a − b| / max(|b|, 1e-6): the largest difference relative to the largest reference value (lengths checked; any length). */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a).toHaveLength(b.length);
  let scale = 1e-6;
  let err = 0;
  for (let i = 0; i < b.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]!));
    err = Math.max(err, Math.abs(a[i]! - b[i]!));
  }
  return err / scale;
}
