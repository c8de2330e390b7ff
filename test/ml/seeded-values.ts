/** n floats offset + scale·u, u in [−1, 1), from a linear congruential sequence seeded by `seed` (test data, the same on every run). */
export function values(n: number, seed: number, scale = 1, offset = 0): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return offset + scale * (s / 2 ** 31 - 1);
  });
}
