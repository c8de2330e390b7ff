import { expect } from 'vitest';

/** max |a − b| / max(|b|, 1e-6): the largest difference relative to the largest reference value (lengths checked). */
export function relErr(a: number[], b: number[]): number {
  expect(a).toHaveLength(b.length);
  const scale = Math.max(...b.map(Math.abs), 1e-6);
  return Math.max(0, ...b.map((w, i) => Math.abs(w - a[i]!))) / scale;
}
