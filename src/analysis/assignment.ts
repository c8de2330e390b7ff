/**
 * The linear assignment problem (Hungarian method, Kuhn–Munkres with potentials,
 * O(n²m)): give each row a distinct column so that the summed cost is least.
 * Reports use it to give a cluster the colour of the label it overlaps most.
 */

/**
 * Minimum-cost assignment of an r×c cost matrix. Returns, for each row, its
 * column; when there are more rows than columns the surplus rows get -1.
 */
export function assignMinCost(cost: number[][]): number[] {
  const rows = cost.length;
  const cols = rows ? cost[0]!.length : 0;
  if (cost.some((r) => r.length !== cols)) throw new Error('assignMinCost: the cost matrix is ragged');
  if (cost.some((r) => r.some((v) => !Number.isFinite(v)))) throw new Error('assignMinCost: costs must be finite');
  if (rows === 0 || cols === 0) return new Array<number>(rows).fill(-1);
  // the method below needs rows ≤ columns: solve the transpose otherwise
  if (rows > cols) {
    const byCol = assignMinCost(Array.from({ length: cols }, (_, j) => cost.map((r) => r[j]!)));
    const out = new Array<number>(rows).fill(-1);
    byCol.forEach((i, j) => { if (i >= 0) out[i] = j; });
    return out;
  }
  // 1-based arrays as in the classic formulation; index 0 is the virtual start
  const u = new Float64Array(rows + 1);
  const v = new Float64Array(cols + 1);
  const owner = new Int32Array(cols + 1); // column → row assigned (0: none)
  const way = new Int32Array(cols + 1);
  for (let i = 1; i <= rows; i++) {
    owner[0] = i;
    let j0 = 0;
    const minv = new Float64Array(cols + 1).fill(Infinity);
    const used = new Uint8Array(cols + 1);
    do {
      used[j0] = 1;
      const i0 = owner[j0]!;
      let delta = Infinity;
      let j1 = 0;
      for (let j = 1; j <= cols; j++) {
        if (used[j]) continue;
        const cur = cost[i0 - 1]![j - 1]! - u[i0]! - v[j]!;
        if (cur < minv[j]!) { minv[j] = cur; way[j] = j0; }
        if (minv[j]! < delta) { delta = minv[j]!; j1 = j; }
      }
      for (let j = 0; j <= cols; j++) {
        if (used[j]) { u[owner[j]!]! += delta; v[j]! -= delta; } else minv[j]! -= delta;
      }
      j0 = j1;
    } while (owner[j0] !== 0);
    do {
      const j1 = way[j0]!;
      owner[j0] = owner[j1]!;
      j0 = j1;
    } while (j0 !== 0);
  }
  const out = new Array<number>(rows).fill(-1);
  for (let j = 1; j <= cols; j++) if (owner[j]! > 0) out[owner[j]! - 1] = j - 1;
  return out;
}

/**
 * Matches each cluster to the label it shares most members with, one label per
 * cluster at most (maximum total overlap). Returns cluster → label; clusters
 * beyond the number of labels (or matched to nothing) are absent.
 */
export function matchClustersToLabels(clusters: readonly string[], labels: readonly string[]): Map<string, string> {
  if (clusters.length !== labels.length) throw new Error('matchClustersToLabels: one cluster and one label per point');
  const cs = [...new Set(clusters)];
  const ls = [...new Set(labels)];
  const ci = new Map(cs.map((c, i) => [c, i]));
  const li = new Map(ls.map((l, i) => [l, i]));
  const overlap = cs.map(() => new Array<number>(ls.length).fill(0));
  clusters.forEach((c, n) => { overlap[ci.get(c)!]![li.get(labels[n]!)!]! += 1; });
  const match = assignMinCost(overlap.map((r) => r.map((x) => -x)));
  const out = new Map<string, string>();
  match.forEach((j, i) => { if (j >= 0 && overlap[i]![j]! > 0) out.set(cs[i]!, ls[j]!); });
  return out;
}
