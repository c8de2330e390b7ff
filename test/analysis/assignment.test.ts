import { describe, expect, it } from 'vitest';
import { assignMinCost, matchClustersToLabels } from '../../src/analysis/assignment.js';
import { Rng } from '../../src/util/random.js';

/** Every injective row → column map, by brute force: the reference for small matrices. */
function bruteForce(cost: number[][]): number {
  const rows = cost.length;
  const cols = cost[0]!.length;
  let best = Infinity;
  const used = new Array<boolean>(cols).fill(false);
  const go = (i: number, sum: number, assigned: number): void => {
    if (i === rows) { if (assigned === Math.min(rows, cols)) best = Math.min(best, sum); return; }
    // a row may stay unassigned only when rows outnumber columns
    if (rows - i > cols - assigned) go(i + 1, sum, assigned);
    for (let j = 0; j < cols; j++) {
      if (used[j]) continue;
      used[j] = true;
      go(i + 1, sum + cost[i]![j]!, assigned + 1);
      used[j] = false;
    }
  };
  go(0, 0, 0);
  return best;
}

const total = (cost: number[][], a: number[]): number => a.reduce((s, j, i) => s + (j >= 0 ? cost[i]![j]! : 0), 0);

describe('assignMinCost (Hungarian method)', () => {
  it('solves a hand-worked 3×3 case', () => {
    // the greedy choice (row 0 → col 0, cost 1) forces 9 + 9; the optimum is 2 + 3 + 4 = 9
    const cost = [[1, 2, 9], [3, 9, 9], [9, 9, 4]];
    const a = assignMinCost(cost);
    expect(a).toEqual([1, 0, 2]);
    expect(total(cost, a)).toBe(9);
  });

  it('matches brute force on random square and rectangular matrices', () => {
    const rng = new Rng(42);
    const rand = (): number => rng.uniform();
    for (let trial = 0; trial < 60; trial++) {
      const rows = 1 + Math.floor(rand() * 5);
      const cols = 1 + Math.floor(rand() * 5);
      const cost = Array.from({ length: rows }, () => Array.from({ length: cols }, () => Math.round(rand() * 20) - 5));
      const a = assignMinCost(cost);
      expect(a).toHaveLength(rows);
      const cols_ = a.filter((j) => j >= 0);
      expect(new Set(cols_).size, 'columns used twice').toBe(cols_.length);
      expect(cols_.length).toBe(Math.min(rows, cols));
      expect(total(cost, a)).toBe(bruteForce(cost));
    }
  });

  it('refuses ragged or non-finite costs', () => {
    expect(() => assignMinCost([[1, 2], [3]])).toThrow(/ragged/);
    expect(() => assignMinCost([[1, NaN]])).toThrow(/finite/);
    expect(assignMinCost([])).toEqual([]);
  });
});

describe('matchClustersToLabels', () => {
  it('gives each cluster the label it overlaps most, one label per cluster', () => {
    const labels = ['FeO', 'FeO', 'FeO', 'Fe2O3', 'Fe2O3', 'Fe3O4', 'Fe3O4', 'Fe3O4'];
    // cluster numbers are arbitrary: 2 is mostly FeO, 0 is Fe2O3, 1 is Fe3O4
    const clusters = ['2', '2', '0', '0', '0', '1', '1', '1'];
    expect(Object.fromEntries(matchClustersToLabels(clusters, labels))).toEqual({ 2: 'FeO', 0: 'Fe2O3', 1: 'Fe3O4' });
  });

  it('leaves a surplus cluster unmatched rather than giving two clusters one label', () => {
    const labels = ['a', 'a', 'a', 'a', 'b', 'b'];
    const clusters = ['x', 'x', 'y', 'y', 'z', 'z'];
    const m = matchClustersToLabels(clusters, labels);
    expect(m.get('z')).toBe('b');
    expect([m.get('x'), m.get('y')].filter((l) => l === 'a')).toHaveLength(1);
    expect(m.size).toBe(2);
  });
});
