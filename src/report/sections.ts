/**
 * Report sections from whatever artifacts feed the report: each input is
 * recognised by its columns (a `spectrum` column is spectra, `z` latent codes,
 * `epoch`+`loss` a training history, …) and turned into figures and tables.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { InputArtifact, MetricValue } from '../core/stage-api.js';
import type { Cell, SpectraTable } from '../data/arrow-io.js';
import { subsample } from './large.js';
import { groupRows, pickExamples, scalarColumns, streamSpectra } from './spectra-stream.js';
import { clusterColorScale, labelColorScale, mapSection } from './maps.js';
import { axisTitle, barsChart, heatmapChart, histogramChart, linesChart, scatterChart, spectraChart, type Series, type VlSpec } from './charts.js';

/** The series of noise-free spectra in reconstruction figures. */
const CLEAN = 'clean (noise-free)';

// what is flagged (or truly anomalous) in red, the rest in a quiet grey-blue: the default palette drew flagged spectra blue
const ANOMALY_COLORS: Record<string, string> = { anomalous: '#d62728', flagged: '#d62728', normal: '#8ea4bd', 'not flagged': '#8ea4bd' };

export interface Figure {
  title: string;
  spec: VlSpec;
  caption?: string;
}

export interface TableBlock {
  caption: string;
  /** An optional first header row of spanning labels (e.g. stages over their metrics). */
  headerGroups?: { label: string; span: number }[];
  header: string[];
  rows: (string | number | null)[][];
}

export interface Section {
  id: string;
  title: string;
  figures: Figure[];
  tables: TableBlock[];
  notes: string[];
  /** Draw the figures above the tables (an overview read at a glance before its numbers). */
  figuresFirst?: boolean;
}

export type ArtifactRole = 'spectra' | 'reconstruction' | 'pseudospectra' | 'latent' | 'assignments' | 'history'
  | 'curve' | 'relevance' | 'anomaly' | 'embedding' | 'model' | 'table';

export interface Classified {
  art: InputArtifact;
  role: ArtifactRole;
  fields: string[];
  metadata: Record<string, string>;
}

export interface ReportOptions {
  /** Raw spectra drawn in the data section. */
  examples: number;
  /** Spectra shown with their reconstructions. */
  reconstructions: number;
  /** Artifacts with sections of their own elsewhere in the report (shared by every variant). */
  elsewhere?: Set<InputArtifact>;
}

export async function classify(art: InputArtifact): Promise<Classified> {
  if (!art.kind.startsWith('table')) return { art, role: art.kind.startsWith('model') ? 'model' : 'table', fields: [], metadata: {} };
  // the schema alone: a spectra table can be gigabytes
  const { readFieldsAndMetadata } = await import('../data/arrow-io.js');
  const { fields, metadata } = await readFieldsAndMetadata(art.path);
  const has = (...names: string[]): boolean => names.every((n) => fields.includes(n));
  const kindMeta = metadata['specflow.kind'] ?? '';
  let role: ArtifactRole = 'table';
  if (has('spectrum') && (kindMeta.includes('pseudo') || has('group', 'kind'))) role = 'pseudospectra';
  else if (has('spectrum') && (kindMeta.includes('reconstruct') || has('reconstruction') || (has('error') && 'specflow.model_arch' in metadata))) role = 'reconstruction';
  else if (has('spectrum')) role = 'spectra';
  else if (has('z')) role = 'latent';
  else if (has('cluster')) role = 'assignments';
  else if (has('epoch', 'loss')) role = 'history';
  else if (has('k', 'ranking')) role = 'curve';
  else if (has('feature', 'score')) role = 'relevance';
  else if (has('error', 'flagged')) role = 'anomaly';
  else if (has('x', 'y')) role = 'embedding';
  return { art, role, fields, metadata };
}

const MAX_GROUPS = 12;

export async function buildSections(items: Classified[], options: ReportOptions): Promise<Section[]> {
  const io = await import('../data/arrow-io.js');
  const sections: Section[] = [];
  const section = (id: string, title: string): Section => {
    let s = sections.find((x) => x.id === id);
    if (!s) { s = { id, title, figures: [], tables: [], notes: [] }; sections.push(s); }
    return s;
  };
  const byRole = (role: ArtifactRole): Classified[] => items.filter((i) => i.role === role);
  // artifacts drawn elsewhere (a sweep's shared data) still lend context: originals, clusters
  const own = (role: ArtifactRole): Classified[] => byRole(role).filter((i) => !options.elsewhere?.has(i.art));
  const from = (c: Classified): string => c.art.stage ?? c.art.from;

  // ---- data
  for (const c of own('spectra')) {
    const s = section('data', 'Data');
    // labels first (no spectra), then the group means and the examples in streamed passes
    const { n, columns } = await scalarColumns(c.art.path, ['label']);
    const labels = c.fields.includes('label') ? columns.label : undefined;
    const groups = groupRows(labels, n);
    const examples = new Set(pickExamples(groups, options.examples));
    const summed = { groups: new Map([...groups].slice(0, MAX_GROUPS)), labels };
    const { head, rows, groups: stats } = await streamSpectra(c.art.path, (row) => examples.has(row), summed);
    if (!head) { s.notes.push(`${from(c)}: no spectra.`); continue; }
    if (head.ragged) { s.notes.push(`${from(c)}: ${n} spectra on their own grids (no common axis yet).`); continue; }
    const xTitle = axisTitle(head.axisName, head.axisUnit);
    s.notes.push(`${from(c)}: ${head.n} spectra × ${head.d} channels, ${head.axisName || 'axis'} ${fmt(head.axis[0]!)}–${fmt(head.axis[head.d - 1]!)}${head.axisUnit ? ` ${head.axisUnit}` : ''}${labels ? `, ${groups.size} labels` : ''}${head.hasClean ? ', with noise-free `clean` spectra' : ''}.`);
    const series: Series[] = stats.map((g) => ({ name: `${g.label} (n=${g.count})`, values: g.values, sd: g.sd }));
    // more labels than lines a chart can tell apart: say that only the first are drawn
    const cut = groups.size > MAX_GROUPS ? ` (first ${MAX_GROUPS} of ${groups.size} labels)` : '';
    s.figures.push({ title: `${from(c)}: mean ± sd per label`, spec: spectraChart(`${from(c)}: mean ± 1 sd per label${cut}`, head.axis, xTitle, series, { legend: 'label' }) });
    // in the order pickExamples chose them (round-robin over labels), not table order
    const order = [...examples];
    rows.sort((a, b) => order.indexOf(a.row) - order.indexOf(b.row));
    s.figures.push({
      title: `${from(c)}: example spectra`,
      spec: spectraChart(`${from(c)}: ${rows.length} example spectra`, head.axis, xTitle, rows.map((r) => ({ name: `${r.id}${labels ? ` (${r.label})` : ''}`, values: r.spectrum })), { legend: 'spectrum' }),
    });
  }

  // ---- training
  for (const c of own('history')) {
    const { rows } = await io.readRecords(c.art.path);
    const s = section('training', 'Training');
    const pts: { x: number; y: number; series: string }[] = [];
    for (const r of rows) {
      const epoch = Number(r.epoch);
      if (isNum(r.loss)) pts.push({ x: epoch, y: r.loss, series: 'loss' });
      if (isNum(r.val_loss)) pts.push({ x: epoch, y: r.val_loss, series: 'validation loss' });
    }
    if (pts.length) s.figures.push({ title: `${from(c)}: loss per epoch`, spec: linesChart(`${from(c)}: training curves`, pts, 'epoch', 'loss', { logY: pts.every((p) => p.y > 0), points: new Set(pts.map((p) => p.x)).size < 3 }) });
    const m = c.art.metrics ?? {};
    // no seconds: a report is an artifact, and identical runs must give identical bytes
    const facts = ['epochs_run', 'loss', 'val_loss', 'backend'].filter((k) => m[k] !== undefined).map((k) => `${k} ${fmtMetric(m[k]!)}`);
    if (facts.length) s.notes.push(`${from(c)}: ${facts.join(', ')}.`);
  }
  for (const c of own('model')) {
    const config = readJson(join(c.art.path, 'config.json'));
    if (config) {
      const facts = ['arch', 'inputDim', 'latentDim', 'loss', 'task'].filter((k) => config[k] !== undefined).map((k) => `${k} ${JSON.stringify(config[k])}`);
      section('training', 'Training').notes.push(`model ${from(c)}: ${facts.join(', ')}.`);
    }
  }

  // ---- reconstructions and anomalies
  for (const c of own('reconstruction')) {
    const s = section('reconstruction', 'Reconstructions');
    const { n, columns } = await scalarColumns(c.art.path, ['label', 'error']);
    const labels = c.fields.includes('label') ? columns.label : undefined;
    const examples = pickExamples(groupRows(labels, n), options.reconstructions);
    const wanted = new Set(examples);
    const { head, rows } = await streamSpectra(c.art.path, (row) => wanted.has(row));
    // either a table of reconstructions in `spectrum` (originals found by id in another input),
    // or one holding inputs in `spectrum` and reconstructions in `reconstruction` (small, older tables)
    const legacy = c.fields.includes('reconstruction') ? await readFixedList(c.art.path, 'reconstruction') : undefined;
    const ids = new Set(rows.map((r) => r.id));
    const originals = new Map<string, Float32Array>();
    for (const o of legacy ? [] : byRole('spectra')) {
      if (originals.size === ids.size) break;
      const found = await streamSpectra(o.art.path, (_, id) => ids.has(id) && !originals.has(id));
      if (found.head?.d !== head?.d) continue;
      for (const r of found.rows) if (!originals.has(r.id)) originals.set(r.id, r.spectrum);
    }
    const xTitle = axisTitle(head?.axisName ?? '', head?.axisUnit ?? '');
    for (const i of examples) {
      const r = rows.find((x) => x.row === i)!;
      const d = head!.d;
      const orig = legacy ? r.spectrum : originals.get(r.id);
      const rec = legacy ? legacy.subarray(i * d, (i + 1) * d) : r.spectrum;
      const series: Series[] = [];
      if (orig) series.push({ name: 'input', values: orig });
      // the noise-free line before the reconstruction and dashed: a good reconstruction lies on it and must stay visible
      if (r.clean) series.push({ name: CLEAN, values: r.clean });
      series.push({ name: 'reconstruction', values: rec });
      if (orig) series.push({ name: 'residual (input − reconstruction)', values: orig.map((v, j) => v - rec[j]!) });
      const dash = r.clean ? Object.fromEntries(series.map((x) => [x.name, x.name === CLEAN ? [5, 3] : [1, 0]])) : undefined;
      s.figures.push({ title: `${from(c)}: ${r.id}`, spec: spectraChart(`${from(c)}: ${r.id}${labels ? ` (${r.label})` : ''}`, head!.axis, xTitle, series, { legend: '', ...(dash ? { dash } : {}) }) });
    }
    const err = columns.error;
    if (err) {
      const shown = subsample(err.map((e, i) => ({ value: Number(e), group: String(labels?.[i] ?? 'all') })));
      s.figures.push({ title: `${from(c)}: reconstruction errors`, spec: histogramChart(`${from(c)}: per-spectrum reconstruction error${shown.note}`, shown.rows, 'error') });
    }
    const m = c.art.metrics ?? {};
    const facts = ['mse', 'mse_clean', 'mse_noisy_vs_clean', 'mse_clean_ratio'].filter((k) => isNum(m[k])).map((k) => `${k} ${fmtMetric(m[k]!)}`);
    if (facts.length) s.notes.push(`${from(c)}: ${facts.join(', ')}.`);
  }
  for (const c of own('anomaly')) {
    const { rows } = await io.readRecords(c.art.path);
    const s = section('reconstruction', 'Reconstructions');
    const m = c.art.metrics ?? {};
    const group = (r: Record<string, Cell>): string => (r.anomaly === true ? 'anomalous' : r.anomaly === false ? 'normal' : r.flagged ? 'flagged' : 'not flagged');
    s.figures.push({
      title: `${from(c)}: anomaly scores`,
      spec: ((shown) => histogramChart(`${from(c)}: reconstruction error and threshold${shown.note}`, shown.rows, 'reconstruction error', isNum(m.threshold) ? m.threshold : undefined, ANOMALY_COLORS))(subsample(rows.map((r) => ({ value: Number(r.error), group: group(r) })))),
    });
    const facts = ['threshold', 'flagged', 'precision', 'recall', 'f1', 'error_ratio'].filter((k) => m[k] !== undefined && m[k] !== null).map((k) => `${k} ${fmtMetric(m[k]!)}`);
    if (facts.length) s.notes.push(`${from(c)}: ${facts.join(', ')}.`);
  }

  // ---- latent space
  const assignments = new Map<string, string>();
  // each clustering on its own: two of one set of codes (k-means and a mixture) are two pictures
  const clusterings: { name: string; of: Map<string, string> }[] = [];
  for (const c of byRole('assignments')) {
    const { columns } = await io.readScalarColumns(c.art.path, ['id', 'cluster']);
    const of = new Map<string, string>();
    (columns.id ?? []).forEach((id, i) => of.set(String(id), `cluster ${String(columns.cluster?.[i])}`));
    for (const [id, cluster] of of) assignments.set(id, cluster);
    clusterings.push({ name: from(c), of });
    if (options.elsewhere?.has(c.art)) continue;
    const s = section('latent', 'Latent space');
    const m = c.art.metrics ?? {};
    const curves: [string, string][] = [['inertia_by_k', 'inertia (elbow)'], ['silhouette_by_k', 'mean silhouette'], ['bic_by_k', 'BIC']];
    for (const [name, label] of curves) {
      const obj = m[name];
      if (!obj || typeof obj !== 'object' || Array.isArray(obj)) continue;
      const pts = Object.entries(obj).filter(([, v]) => isNum(v)).map(([k, v]) => ({ x: Number(k), y: v as number, series: label }));
      if (pts.length > 1) s.figures.push({ title: `${from(c)}: ${label} per k`, spec: linesChart(`${from(c)}: ${label} per number of clusters`, pts, 'k', label, { ruleX: isNum(m.k) ? m.k : undefined }) });
    }
    const facts = ['k', 'silhouette', 'ari', 'nmi'].filter((k) => isNum(m[k])).map((k) => `${k} ${fmtMetric(m[k]!)}`);
    if (facts.length) s.notes.push(`${from(c)}: ${facts.join(', ')}.`);
  }
  // an embedding belongs to the latent table whose points it maps (same ids)
  const embeddings = await Promise.all(byRole('embedding').map(async (c) => ({ c, rows: (await io.readRecords(c.art.path)).rows })));
  const shown = new Set<Classified>();
  const methodOf = (c: Classified): string => c.metadata['specflow.embed_method'] ?? 'embedding';
  for (const c of own('latent')) {
    const t = await io.readLatent(c.art.path);
    const s = section('latent', 'Latent space');
    const ids = new Set(t.ids);
    // an embedding of the spectra with the same ids is not a picture of these codes
    const ofCodes = (e: (typeof embeddings)[number]): boolean => (e.c.metadata['specflow.embed_column'] ?? 'z') === 'z';
    // every code embedded; embeddings name the table they map (older ones only by their ids)
    const mapsThese = (e: (typeof embeddings)[number]): boolean => {
      const of = e.c.metadata['specflow.embed_of'];
      return (of === undefined || of === c.art.key) && e.rows.length === ids.size && e.rows.every((r) => ids.has(String(r.id)));
    };
    const emb = t.k > 2 ? embeddings.find((e) => ofCodes(e) && mapsThese(e)) : undefined;
    let pts: { x: number; y: number; id: string }[];
    let axes: [string, string];
    if (!emb) {
      pts = t.ids.map((id, i) => ({ id, x: t.z[i * t.k]!, y: t.k > 1 ? t.z[i * t.k + 1]! : 0 }));
      axes = ['z₁', t.k > 1 ? 'z₂' : ''];
      if (t.k > 2) s.notes.push(`${from(c)}: ${t.k}-dimensional codes; the scatter shows the first two dimensions (add an \`embed\` stage for a 2-D embedding).`);
    } else {
      shown.add(emb.c);
      pts = emb.rows.map((r) => ({ id: String(r.id), x: Number(r.x), y: Number(r.y) }));
      axes = [`${methodOf(emb.c)} 1`, `${methodOf(emb.c)} 2`];
      s.notes.push(`${from(c)}: ${t.k}-dimensional codes shown through the 2-D ${methodOf(emb.c)} embedding of ${from(emb.c)}.`);
    }
    const labelOf = new Map(t.ids.map((id, i) => [id, t.labels?.[i] ?? '']));
    const drawn = subsample(pts);
    pts = drawn.rows;
    if (t.labels) s.figures.push({ title: `${from(c)}: latent codes by label`, spec: scatterChart(`${from(c)}: coloured by label${drawn.note}`, pts.map((p) => ({ x: p.x, y: p.y, group: labelOf.get(p.id) ?? '' })), axes[0], axes[1], 'label', labelColorScale(labelOf.values())) });
    const mine = clusterings.filter((k) => t.ids.some((id) => k.of.has(id)));
    for (const { name, of } of mine) {
      const named = mine.length > 1 ? ` (${name})` : '';
      // beside the label scatter, each cluster takes its label's colour
      const truth = t.labels ? { clusters: t.ids.map((id) => of.get(id) ?? '?'), labels: t.ids.map((id) => labelOf.get(id)!) } : undefined;
      const scale = clusterColorScale(truth ? truth.clusters : of.values(), truth);
      s.figures.push({ title: `${from(c)}: latent codes by cluster${named}`, spec: scatterChart(`${from(c)}: coloured by cluster${named}${drawn.note}`, pts.map((p) => ({ x: p.x, y: p.y, group: of.get(p.id) ?? '?' })), axes[0], axes[1], 'cluster', scale) });
    }
    if (!t.labels && !mine.length) s.figures.push({ title: `${from(c)}: latent codes`, spec: scatterChart(`${from(c)}: latent codes${drawn.note}`, pts.map((p) => ({ x: p.x, y: p.y, group: 'all' })), axes[0], axes[1], '') });
  }
  // embeddings of spectra (or of codes not fed to the report) are drawn on their own
  for (const { c, rows } of embeddings.filter((e) => !shown.has(e.c) && !options.elsewhere?.has(e.c.art))) {
    const s = section('latent', 'Latent space');
    const labelled = rows.some((r) => r.label !== undefined && r.label !== null);
    const byCluster = !labelled && rows.some((r) => assignments.has(String(r.id)));
    const group = (r: Record<string, Cell>): string => (labelled ? String(r.label ?? '') : byCluster ? assignments.get(String(r.id)) ?? '?' : 'all');
    const shown = subsample(rows);
    s.figures.push({
      title: `${from(c)}: 2-D ${methodOf(c)} embedding`,
      spec: scatterChart(`${from(c)}: ${methodOf(c)} embedding${shown.note}`, shown.rows.map((r) => ({ x: Number(r.x), y: Number(r.y), group: group(r) })), `${methodOf(c)} 1`, `${methodOf(c)} 2`, labelled ? 'label' : byCluster ? 'cluster' : '', byCluster ? clusterColorScale(assignments.values()) : undefined),
    });
  }

  // ---- pseudospectra
  for (const c of own('pseudospectra')) {
    const t = await io.readSpectra(c.art.path);
    const s = section('pseudospectra', 'Pseudospectra');
    const xTitle = axisTitle(t.axisName, t.axisUnit);
    const groupCol = (t.columns.group ?? t.labels ?? []).map(String);
    const kindCol = (t.columns.kind ?? []).map(String);
    const all = [...new Set(groupCol)];
    const groups = all.slice(0, MAX_GROUPS);
    if (all.length > groups.length) s.notes.push(`${from(c)}: ${all.length} groups; the first ${groups.length} are drawn.`);
    for (const g of groups) {
      const series: Series[] = [];
      groupCol.forEach((gg, i) => {
        if (gg === g) series.push({ name: kindCol[i] ?? t.ids[i]!, values: t.spectra.subarray(i * t.d, (i + 1) * t.d) });
      });
      // the noisy nearest spectrum underneath, the decoded centroid on top
      const order = ['nearest', 'mean', 'clean_mean', 'pseudospectrum'];
      series.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
      s.figures.push({
        title: `${from(c)}: group ${g}`,
        spec: spectraChart(`${from(c)}: group ${g}`, t.axis, xTitle, series, {
          legend: '', colors: { nearest: '#c9ced6', mean: '#e08a2c', clean_mean: '#3a7bd5', pseudospectrum: '#b01e2e' },
        }),
      });
    }
    const perGroup = (c.art.metrics ?? {}).groups;
    if (perGroup && typeof perGroup === 'object') {
      const entries = Array.isArray(perGroup) ? perGroup.map((v, i) => [String((v as Record<string, MetricValue>)?.group ?? i), v] as const) : Object.entries(perGroup);
      // one level of nesting is flattened: roughness.pseudospectrum, roughness.mean, …
      const flat = entries.map(([g, v]) => [g, flatten(v)] as const);
      const measures = [...new Set(flat.flatMap(([, f]) => Object.keys(f)))];
      const cell = (f: Record<string, number>, k: string) => (isNum(f[k]) ? round(f[k]!) : null);
      const caption = `${from(c)}: correlation, roughness and sparsity per group`;
      // a column per group while groups are fewer than measures (the usual case: ~17
      // measures, a handful of groups), so the table is read down, not scrolled across
      s.tables.push(flat.length < measures.length
        ? { caption, header: ['measure', ...flat.map(([g]) => g)], rows: measures.map((k) => [k, ...flat.map(([, f]) => cell(f, k))]) }
        : { caption, header: ['group', ...measures], rows: flat.map(([g, f]) => [g, ...measures.map((k) => cell(f, k))]) });
    }
  }

  // ---- feature relevance
  for (const c of own('relevance')) {
    const { rows } = await io.readRecords(c.art.path);
    const { metadata } = c; // the schema's own keys: readRecords leaves out the reserved axis ones
    const s = section('relevance', 'Feature relevance');
    const numericAxis = rows.every((r) => isNum(r.axis));
    const pts = rows.map((r) => ({ x: numericAxis ? Number(r.axis) : Number(r.feature), y: Number(r.score) }));
    pts.sort((a, b) => a.x - b.x);
    // features without a spectral axis (the synthetic benchmarks) carry their index as axis
    const byIndex = !numericAxis || rows.every((r) => Number(r.axis) === Number(r.feature));
    const xTitle = byIndex ? 'feature' : axisTitle(metadata['specflow.axis_name'] ?? 'axis', metadata['specflow.axis_unit'] ?? '');
    // rank.features' permutation importance (kind "ranking") is another ranking than the network's relevance: say which
    const permutation = metadata['specflow.kind'] === 'ranking';
    const name = permutation ? c.art.from : from(c);
    s.figures.push(permutation
      ? { title: `${name}: permutation importance`, caption: `${name}: permutation importance of each input (the test loss's increase when the input is shuffled)`, spec: barsChart(`${name}: permutation importance per input`, pts, xTitle, 'loss increase') }
      : { title: `${name}: relevance scores`, spec: barsChart(`${name}: relevance score per input`, pts, xTitle, 'score') });
    const grid = (c.art.metrics ?? {}).score_grid;
    if (Array.isArray(grid) && grid.every((r) => Array.isArray(r))) {
      s.figures.push({
        title: `${from(c)}: scores as an image`,
        caption: `${from(c)}: each input pixel's relevance score at its place in the image (brighter: more relevant)`,
        spec: heatmapChart(`${from(c)}: relevance as an image`, grid as number[][], 'score'),
      });
    }
    const top = [...rows].sort((a, b) => Number(a.rank) - Number(b.rank)).slice(0, 10);
    s.tables.push({ caption: `${name}: top 10 inputs${permutation ? ' by permutation importance' : ''}`, header: ['rank', 'feature', 'axis', 'score'], rows: top.map((r) => [Number(r.rank), Number(r.feature), r.axis as string | number, round(Number(r.score))]) });
  }
  for (const c of own('curve')) {
    const { rows } = await io.readRecords(c.art.path);
    const s = section('relevance', 'Feature relevance');
    const metric = String(rows[0]?.metric ?? 'score');
    const pts: { x: number; y: number; series: string }[] = [];
    for (const r of rows) {
      for (const key of ['ranking', 'random', 'permutation']) if (isNum(r[key])) pts.push({ x: Number(r.k), y: r[key] as number, series: key === 'ranking' ? 'spectral ranking' : key === 'random' ? 'random ranking (mean)' : 'permutation importance' });
    }
    s.figures.push({
      title: `${from(c)}: ${metric} vs inputs kept`,
      caption: `${from(c)}: test ${metric} with only the k top-ranked inputs kept, for the network's ranking, random rankings and permutation importance`,
      spec: linesChart(`${from(c)}: ${metric} with the top-k inputs kept`, pts, 'inputs kept (k)', metric),
    });
    const m = c.art.metrics ?? {};
    const facts = ['k_95', 'k_95_random', 'k_95_permutation'].filter((k) => m[k] !== undefined).map((k) => `${k} ${fmtMetric(m[k]!)}`);
    if (facts.length) s.notes.push(`${from(c)}: ${facts.join(', ')}.`);
  }

  // ---- maps of a spectrum image
  const maps = await mapSection(items);
  if (maps) sections.push(maps);
  return sections;
}

async function readFixedList(path: string, column: string): Promise<Float32Array | undefined> {
  const { parseArrowIpc } = await import('../data/arrow-io.js');
  const t = parseArrowIpc(readFileSync(path));
  const col = t.getChild(column);
  if (!col) return undefined;
  const out: number[] = [];
  for (const v of col) out.push(...Array.from(v as ArrayLike<number>));
  return Float32Array.from(out);
}

function flatten(v: MetricValue): Record<string, number> {
  const out: Record<string, number> = {};
  if (!v || typeof v !== 'object' || Array.isArray(v)) return out;
  for (const [k, x] of Object.entries(v)) {
    if (isNum(x)) out[k] = x;
    else if (x && typeof x === 'object' && !Array.isArray(x)) for (const [k2, y] of Object.entries(x)) if (isNum(y)) out[`${k}.${k2}`] = y;
  }
  return out;
}

function readJson(path: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

export function isNum(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

export function round(x: number): number {
  return Number(x.toPrecision(4));
}

function fmt(x: number): string {
  return String(round(x));
}

export function fmtMetric(v: MetricValue): string {
  if (isNum(v)) return String(round(v));
  if (typeof v === 'string' || typeof v === 'boolean') return String(v);
  const s = JSON.stringify(v);
  return s.length > 80 ? `${s.slice(0, 77)}…` : s;
}
