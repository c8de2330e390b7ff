/**
 * `pseudospectrum`: per group (cluster or label), the decoder applied to the
 * group's latent centroid, beside the group's arithmetic mean spectrum (and
 * mean clean spectrum when the table has one) and the real spectrum whose code
 * is nearest the centroid. Shape metrics per group and per model make "smooth
 * vs sparse and peaky" measurable.
 */
import { StageError, type MetricValue, type StageDef } from '../core/stage-api.js';
import { KIND } from './kinds.js';
import { allowAxisMismatchParam } from './model-axis.js';
import { loadModelSpectra, streamModelSpectra } from './model-stream.js';

type Kind = 'pseudospectrum' | 'mean' | 'clean_mean' | 'nearest';

export const pseudospectrum: StageDef = {
  type: 'pseudospectrum',
  description: 'Decoded latent centroid of each group beside its mean spectrum and nearest real spectrum, with shape metrics',
  inputs: {
    model: { kind: KIND.model, description: 'A trained model with a decoder (autoencoder or PCA)' },
    codes: { kind: KIND.latent, description: 'Latent codes of the spectra (encode output)' },
    groups: {
      kind: KIND.table, optional: true,
      description: 'Cluster assignments (`cluster` column) or any table with `label`, joined by `id`; default: the labels of `codes`',
    },
    spectra: {
      kind: KIND.spectra, optional: true,
      description: 'The spectra the codes came from (joined by `id`): needed for mean and nearest spectra',
    },
  },
  outputs: {
    pseudospectra: {
      kind: KIND.spectra,
      description: 'One row per group and kind (pseudospectrum, mean, clean_mean, nearest): `group`, `kind`, `n`, `source_id`, `spectrum`; axis kept',
    },
  },
  metrics: {
    correlation_mean: { better: 'higher', description: 'Pearson r of each pseudospectrum with its group\'s mean spectrum, averaged' },
    correlation_mean_min: { better: 'higher', description: 'the worst group\'s correlation_mean' },
    correlation_clean_mean: { better: 'higher', description: 'Pearson r with the group\'s noise-free mean spectrum, averaged' },
    correlation_clean_mean_min: { better: 'higher', description: 'the worst group\'s correlation_clean_mean' },
    roughness: { better: 'lower', description: 'mean squared second difference over variance of the pseudospectra' },
    gini: { description: 'sparsity of the pseudospectra (Gini of |intensity|)' },
    top5_energy: { description: 'share of the pseudospectra\'s energy in the top 5 % of channels' },
  },
  params: {
    type: 'object',
    properties: {
      group_by: {
        type: 'string', default: 'auto',
        description: 'Column of `groups` defining the groups: auto (`cluster` when present, else `label`), or a column name',
      },
      min_prominence: {
        type: 'number', minimum: 0, maximum: 1, default: 0.05,
        description: 'Peaks: minimum topographic prominence as a fraction of the spectrum\'s range',
      },
      max_peaks: { type: 'integer', minimum: 1, default: 10, description: 'Peaks reported per spectrum (tallest first)' },
      allow_axis_mismatch: allowAxisMismatchParam,
    },
  },
  seedless: true,
  packages: ['apache-arrow', '@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', 'ml-pca'],
  module: import.meta.url,
  async run(ctx) {
    const arrow = await import('../data/arrow-io.js');
    const { loadModel, readModelConfig } = await import('../ml/model-io.js');
    const sm = await import('../analysis/spectrum-metrics.js');

    const modelIn = single(ctx.inputs.model, 'model');
    const codesIn = single(ctx.inputs.codes, 'codes');
    const groupsIn = optionalSingle(ctx.inputs.groups);
    const spectraIn = optionalSingle(ctx.inputs.spectra);

    const codes = await arrow.readLatent(codesIn.path);
    // --- groups
    let groupOf: Map<string, string>;
    const groupBy = ctx.params.group_by as string;
    if (groupsIn) {
      const table = await arrow.readTableColumns(groupsIn.path);
      const cols = table.n > 0 ? Object.keys(table.columns) : [];
      const col = groupBy === 'auto' ? (cols.includes('cluster') ? 'cluster' : cols.includes('label') ? 'label' : undefined) : groupBy;
      if (!col || !cols.includes(col)) {
        throw new StageError(
          groupBy === 'auto' ? `groups table has neither a \`cluster\` nor a \`label\` column; columns: ${cols.join(', ')}` : `${groupsIn.from} has no column "${groupBy}"; its columns: ${cols.join(', ')}`,
          groupBy === 'auto' ? groupsIn.from : 'with.group_by',
        );
      }
      if (!cols.includes('id')) throw new StageError('groups table has no `id` column to join on', groupsIn.from);
      groupOf = new Map();
      const ids = table.columns.id!;
      const values = table.columns[col]!;
      for (let i = 0; i < table.n; i++) if (values[i] !== null && ids[i] !== null) groupOf.set(String(ids[i]), String(values[i]));
      ctx.log(`groups from column "${col}" of ${groupsIn.from}`);
    } else {
      if (groupBy !== 'auto' && groupBy !== 'label') throw new StageError(`group_by: ${groupBy} needs a \`groups\` input`, 'with.group_by');
      if (!codes.labels) throw new StageError('no `groups` input and the codes have no `label` column: nothing to group by', codesIn.from);
      groupOf = new Map();
      codes.ids.forEach((id, i) => {
        const l = codes.labels![i];
        if (l !== null && l !== undefined) groupOf.set(id, l);
      });
    }

    // --- members and centroids
    const k = codes.k;
    const members = new Map<string, number[]>();
    codes.ids.forEach((id, i) => {
      const g = groupOf.get(id);
      if (g === undefined) return;
      let m = members.get(g);
      if (!m) members.set(g, (m = []));
      m.push(i);
    });
    if (members.size === 0) throw new StageError('no code has a group (ids of `codes` and `groups` do not match)', codesIn.from);
    const groups = naturalSort([...members.keys()]);
    const G = groups.length;
    const centroids = new Float32Array(G * k);
    groups.forEach((g, gi) => {
      const m = members.get(g)!;
      for (const i of m) for (let c = 0; c < k; c++) centroids[gi * k + c]! += codes.z[i * k + c]! / m.length;
    });
    // code nearest each centroid
    const nearest = groups.map((g, gi) => {
      let best = -1;
      let bestD = Infinity;
      for (const i of members.get(g)!) {
        let d = 0;
        for (let c = 0; c < k; c++) d += (codes.z[i * k + c]! - centroids[gi * k + c]!) ** 2;
        if (d < bestD) {
          bestD = d;
          best = i;
        }
      }
      return best;
    });

    // --- decode
    const model = await loadModel(modelIn.path);
    let pseudo: Float32Array;
    try {
      if (model.latentDim !== k) throw new StageError(`model has ${model.latentDim} latent dimensions but the codes have ${k}`, modelIn.from);
      pseudo = await model.decode(centroids, G);
    } finally {
      model.dispose();
    }
    const D = model.inputDim;

    // --- spectra: means and nearest
    let axis: Float64Array = Float64Array.from({ length: D }, (_, i) => i);
    let axisUnit = '';
    let axisName = '';
    let meta: Record<string, string> = {};
    const rows: { group: string; kind: Kind; n: number; sourceId: string | null; values: Float32Array }[] = [];
    groups.forEach((g, gi) => rows.push({ group: g, kind: 'pseudospectrum', n: members.get(g)!.length, sourceId: null, values: pseudo.subarray(gi * D, (gi + 1) * D) }));
    if (spectraIn) {
      // one pass over the spectra (chunk by chunk when the table is large): per-group sums in
      // the spectra table's row order, the same order whether it is streamed or loaded
      const streamed = await streamModelSpectra(ctx, 'spectra', D, modelIn.from);
      const whole = streamed ? undefined : await loadModelSpectra(ctx, 'spectra', D, modelIn.from);
      const groupIndex = new Map(groups.map((g, gi) => [g, gi]));
      const memberGroup = new Map<string, number>();
      for (const id of codes.ids) {
        const g = groupOf.get(id);
        if (g !== undefined) memberGroup.set(id, groupIndex.get(g)!);
      }
      const nearestGroup = new Map(nearest.map((i, gi) => [codes.ids[i]!, gi]));
      const sums = new Float64Array(G * D);
      let cleanSums: Float64Array | undefined;
      const counts = new Array<number>(G).fill(0);
      const nearestRows: (Float32Array | undefined)[] = new Array(G);
      const chunks = streamed?.chunks ?? (async function* () { yield { first: 0, t: whole! }; })();
      let seen = false;
      for await (const { first, t } of chunks) {
        if (!seen) {
          ({ axis, axisUnit, axisName } = t);
          meta = t.metadata;
          if (t.clean) cleanSums = new Float64Array(G * D);
          seen = true;
        }
        t.ids.forEach((id, r) => {
          const gi = memberGroup.get(id);
          if (gi === undefined) return;
          counts[gi]!++;
          addRow(sums, gi * D, t.spectra, r * D, D);
          if (cleanSums) addRow(cleanSums, gi * D, t.clean!, r * D, D);
          const ni = nearestGroup.get(id);
          if (ni !== undefined) nearestRows[ni] = t.spectra.slice(r * D, (r + 1) * D);
        });
        streamed?.progress(first + t.n);
      }
      groups.forEach((g, gi) => {
        const c = counts[gi]!;
        if (c === 0) {
          ctx.log(`group ${g}: none of its spectra is in ${spectraIn.from}`);
          return;
        }
        rows.push({ group: g, kind: 'mean', n: c, sourceId: null, values: Float32Array.from(sums.subarray(gi * D, (gi + 1) * D), (v) => v / c) });
        if (cleanSums) rows.push({ group: g, kind: 'clean_mean', n: c, sourceId: null, values: Float32Array.from(cleanSums.subarray(gi * D, (gi + 1) * D), (v) => v / c) });
      });
      groups.forEach((g, gi) => {
        const values = nearestRows[gi];
        if (values) rows.push({ group: g, kind: 'nearest', n: 1, sourceId: codes.ids[nearest[gi]!]!, values });
      });
    } else {
      const cfg = await readModelConfig(modelIn.path).catch(() => undefined);
      const a = (cfg as { axis?: { values: number[]; unit: string; name: string } } | undefined)?.axis;
      if (a && a.values.length === D) {
        axis = Float64Array.from(a.values);
        axisUnit = a.unit;
        axisName = a.name;
      }
      ctx.log('no `spectra` input: only pseudospectra (no mean or nearest spectra to compare with)');
    }
    const kindOrder: Kind[] = ['pseudospectrum', 'mean', 'clean_mean', 'nearest'];
    rows.sort((a, b) => groups.indexOf(a.group) - groups.indexOf(b.group) || kindOrder.indexOf(a.kind) - kindOrder.indexOf(b.kind));

    // --- metrics
    const minProminence = ctx.params.min_prominence as number;
    const maxPeaks = ctx.params.max_peaks as number;
    const perGroup: Record<string, MetricValue> = {};
    const summary: Record<string, number[]> = {};
    const add = (name: string, v: number) => {
      if (Number.isFinite(v)) (summary[name] ??= []).push(v);
    };
    for (const g of groups) {
      const of = (kind: Kind) => rows.find((r) => r.group === g && r.kind === kind)?.values;
      const p = of('pseudospectrum')!;
      const entry: Record<string, MetricValue> = { n: members.get(g)!.length };
      const mean = of('mean');
      const cleanMean = of('clean_mean');
      const near = of('nearest');
      if (mean) {
        entry.correlation_mean = finite(sm.pearson(p, mean));
        add('correlation_mean', sm.pearson(p, mean));
      }
      if (cleanMean) {
        entry.correlation_clean_mean = finite(sm.pearson(p, cleanMean));
        add('correlation_clean_mean', sm.pearson(p, cleanMean));
      }
      if (near) entry.correlation_nearest = finite(sm.pearson(p, near));
      for (const [name, fn] of [['roughness', sm.roughness], ['gini', sm.gini], ['top5_energy', (x: ArrayLike<number>) => sm.topEnergyShare(x, 0.05)]] as const) {
        const byKind: Record<string, MetricValue> = {};
        for (const kind of kindOrder) {
          const v = of(kind);
          if (!v) continue;
          const value = fn(v);
          byKind[kind] = finite(value);
          add(kind === 'pseudospectrum' ? name : `${name}_${kind}_spectrum`, value);
        }
        entry[name] = byKind;
      }
      const peaks: Record<string, MetricValue> = {};
      for (const kind of kindOrder) {
        const v = of(kind);
        if (v) peaks[kind] = sm.findPeaks(v, { axis, minProminence, maxPeaks }).map((q) => round(q.position));
      }
      entry.peaks = peaks;
      perGroup[g] = entry;
    }
    ctx.metric('groups', perGroup);
    ctx.metric('n_groups', G);
    ctx.metric('arch', model.arch);
    for (const [name, values] of Object.entries(summary)) {
      ctx.metric(name, values.reduce((s, v) => s + v, 0) / values.length);
      if (name.startsWith('correlation_')) ctx.metric(`${name}_min`, Math.min(...values));
    }

    // --- output
    const n = rows.length;
    const spectra = new Float32Array(n * D);
    rows.forEach((r, i) => spectra.set(r.values, i * D));
    await arrow.writeSpectra(ctx.output('pseudospectra'), {
      n, d: D,
      ids: rows.map((r) => `${r.group}/${r.kind}`),
      labels: rows.map((r) => r.group),
      spectra,
      axis, axisUnit, axisName,
      columns: {
        group: rows.map((r) => r.group),
        kind: rows.map((r) => r.kind),
        n: rows.map((r) => r.n),
        source_id: rows.map((r) => r.sourceId),
      },
      metadata: { ...meta, 'specflow.model_arch': model.arch },
    });
  },
};

function single<T>(v: T | T[] | undefined, port: string): T {
  if (v === undefined || Array.isArray(v)) throw new StageError(`input \`${port}\` is required`);
  return v;
}

function optionalSingle<T>(v: T | T[] | undefined): T | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function addRow(acc: Float64Array, at: number, x: Float32Array, from: number, d: number): void {
  for (let j = 0; j < d; j++) acc[at + j]! += x[from + j]!;
}

/** Numbers first in numeric order, then strings. */
function naturalSort(values: string[]): string[] {
  return values.sort((a, b) => {
    const na = Number(a);
    const nb = Number(b);
    const fa = a.trim() !== '' && Number.isFinite(na);
    const fb = b.trim() !== '' && Number.isFinite(nb);
    if (fa && fb) return na - nb;
    if (fa !== fb) return fa ? -1 : 1;
    return a < b ? -1 : a > b ? 1 : 0;
  });
}

function finite(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

function round(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}
