/**
 * A sweep's pictures side by side, where the eye compares them: training
 * curves of every variant overlaid, and one row of small multiples — a panel
 * per variant, shared axes — for latent codes, reconstructions and
 * pseudospectra. An artifact several variants share is drawn once, named by
 * the variants that read it.
 */
import { matchClustersToLabels } from '../analysis/assignment.js';
import type { InputArtifact } from '../core/stage-api.js';
import { axisTitle, thin, type VlSpec } from './charts.js';
import type { Classified, Figure } from './sections.js';
import { paletteColor, seriesScale, variantLabel, type SweepDesign } from './sweep-design.js';
import { readersOf } from './variants.js';

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v5.json';
const CONFIG = { legend: { labelLimit: 320 }, header: { labelFontSize: 12, labelFontWeight: 'bold' } };
const COLUMNS = 4;
/** Points per latent panel: enough to see the structure, few enough for a light page. */
const MAX_POINTS = 1500;

/** The variants that read an artifact, in words: a whole group by its label, else each variant. */
export function artifactLabel(a: InputArtifact, design: SweepDesign): string {
  const readers = readersOf(a);
  if (readers.length === design.groupOf.size && readers.length > 1) return 'every variant';
  const g = design.groupOf.get(readers[0]!.variant);
  if (g && readers.length > 1 && readers.length === g.variants.length && readers.every((r) => g.variants.includes(r.variant))) {
    return design.maxReplicates > 1 ? `${g.label} · every ${design.replicates.join(' × ')}` : g.label;
  }
  return readers.map((r) => variantLabel(design, r.variant, r.axes)).join(' + ');
}

/** The order of artifacts by their first reader's place in the sweep. */
function bySweepOrder(arts: InputArtifact[], design: SweepDesign): InputArtifact[] {
  const order = [...design.groupOf.keys()];
  return [...arts].sort((a, b) => order.indexOf(readersOf(a)[0]!.variant) - order.indexOf(readersOf(b)[0]!.variant));
}

/** Loss and validation loss against epoch, one line per trained model, coloured by series. */
export async function trainingCurves(histories: InputArtifact[], design: SweepDesign): Promise<Figure | undefined> {
  if (histories.length < 2) return undefined;
  const { readRecords } = await import('../data/arrow-io.js');
  const rows: Record<string, unknown>[] = [];
  for (const a of bySweepOrder(histories, design)) {
    const series = design.groupOf.get(readersOf(a)[0]!.variant)?.series ?? 'all variants';
    const model = artifactLabel(a, design);
    for (const r of (await readRecords(a.path)).rows) {
      const epoch = Number(r.epoch);
      if (typeof r.loss === 'number' && Number.isFinite(r.loss)) rows.push({ epoch, value: r.loss, measure: 'training loss', series, model });
      if (typeof r.val_loss === 'number' && Number.isFinite(r.val_loss)) rows.push({ epoch, value: r.val_loss, measure: 'validation loss', series, model });
    }
  }
  if (!rows.length) return undefined;
  const log = rows.every((r) => (r.value as number) > 0);
  const few = new Set(rows.map((r) => r.epoch)).size < 3;
  const thinLines = design.maxReplicates > 1;
  const spec: VlSpec = {
    $schema: SCHEMA,
    title: { text: 'Training curves of every variant', anchor: 'start' },
    data: { values: rows },
    facet: { column: { field: 'measure', type: 'nominal', title: null, sort: ['training loss', 'validation loss'] } },
    spec: {
      width: 330, height: 200,
      // a model trained for an epoch or two has no line to draw: show its points
      mark: { type: 'line', strokeWidth: thinLines ? 1.1 : 1.6, opacity: thinLines ? 0.85 : 1, clip: true, ...(few ? { point: { size: 24 } } : {}) },
      encoding: {
        x: { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { tickMinStep: 1, format: 'd' } },
        y: { field: 'value', type: 'quantitative', title: 'loss', scale: log ? { type: 'log', nice: false } : { zero: false } },
        color: { field: 'series', type: 'nominal', title: null, scale: seriesScale(design), sort: design.series },
        // one line per trained model: replicates of a variant share its colour
        detail: { field: 'model', type: 'nominal' },
      },
    },
    config: CONFIG,
  };
  const reps = thinLines ? ` Each ${design.replicates.join(' × ')} is a thin line of its variant's colour.` : '';
  return { title: 'training curves of every variant', caption: `Loss against epoch for every trained model, one colour per variant.${reps}`, spec };
}

/**
 * Latent codes of every variant, a panel each, coloured by cluster where the
 * report has clusters — each cluster in the colour of the label it overlaps
 * most (Hungarian assignment), so a phase keeps its colour from panel to
 * panel — else by label.
 */
export async function latentRow(items: Classified[], design: SweepDesign): Promise<Figure | undefined> {
  const latents = items.filter((c) => c.role === 'latent').map((c) => c.art);
  if (latents.length < 2) return undefined;
  const io = await import('../data/arrow-io.js');
  const clusterArts = items.filter((c) => c.role === 'assignments').map((c) => c.art);
  const rows: Record<string, unknown>[] = [];
  const panels: string[] = [];
  const labelNames = new Set<string>();
  let clustered = false;
  const sizes = new Set<number>();
  // a panel per clustering (each reads one set of codes), else per set of codes
  const drawn = clusterArts.length ? clusterArts : latents;
  for (const a of bySweepOrder(drawn, design)) {
    const readers = new Set(readersOf(a).map((r) => r.variant));
    const codes = clusterArts.length ? latents.find((l) => readersOf(l).some((r) => readers.has(r.variant))) : a;
    if (!codes) continue;
    const t = await io.readLatent(codes.path);
    sizes.add(t.k);
    let colorOf = (i: number): string => String(t.labels?.[i] ?? 'all');
    if (clusterArts.length) {
      const byId = new Map((await io.readRecords(a.path)).rows.map((r) => [String(r.id), String(r.cluster)]));
      const clusters = t.ids.map((id) => byId.get(id) ?? '?');
      const labels = t.labels?.map((l) => String(l ?? ''));
      const match = labels ? matchClustersToLabels(clusters, labels) : new Map<string, string>();
      colorOf = (i) => match.get(clusters[i]!) ?? `cluster ${clusters[i]} (no label)`;
      clustered = true;
    }
    const panel = artifactLabel(a, design);
    panels.push(panel);
    const step = Math.max(1, Math.ceil(t.ids.length / MAX_POINTS));
    for (let i = 0; i < t.ids.length; i += step) {
      const group = colorOf(i);
      labelNames.add(group);
      rows.push({ x: t.z[i * t.k]!, y: t.k > 1 ? t.z[i * t.k + 1]! : 0, group, panel });
    }
  }
  if (panels.length < 2) return undefined;
  const names = [...labelNames].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  const spec: VlSpec = {
    $schema: SCHEMA,
    title: { text: clustered ? 'Latent codes of every variant, by cluster' : 'Latent codes of every variant, by label', anchor: 'start' },
    data: { values: rows },
    facet: { field: 'panel', type: 'nominal', title: null, sort: panels },
    columns: Math.min(COLUMNS, panels.length),
    spec: {
      width: 200, height: 180,
      mark: { type: 'circle', size: 14, opacity: 0.7 },
      encoding: {
        x: { field: 'x', type: 'quantitative', title: 'z₁', scale: { zero: false }, axis: { tickCount: 4 } },
        y: { field: 'y', type: 'quantitative', title: 'z₂', scale: { zero: false }, axis: { tickCount: 4 } },
        color: { field: 'group', type: 'nominal', title: clustered ? 'cluster ≈ label' : 'label', titleLimit: 200, sort: names, scale: { domain: names, range: names.map((n, i) => (n.includes('(no label)') ? '#9aa1ad' : paletteColor(i))) } },
      },
    },
    // each model has its own latent coordinates: a shared scale would squash all but one
    resolve: { scale: { x: 'independent', y: 'independent' } },
    config: CONFIG,
  };
  // variants of a latent_dim sweep differ in size: "of 8" (the largest) misdescribed the others
  const ks = [...sizes].sort((a, b) => a - b);
  const of = ks.length === 1 && ks[0]! > 2 ? ` of ${ks[0]}` : '';
  const which = ks.length > 1 ? ` (models of ${ks.slice(0, -1).join(', ')} and ${ks.at(-1)} dimensions${ks[0] === 1 ? '; one dimension is drawn at z₂ = 0' : ''})` : ks[0] === 1 ? ' (one dimension, drawn at z₂ = 0)' : '';
  const caption = `The first two latent dimensions${of} of every variant${which}, each model in its own coordinates.${clustered ? ' Clusters take the colour of the label they overlap most (Hungarian assignment), so a phase keeps its colour across panels.' : ''}`;
  return { title: 'latent codes of every variant', caption, spec };
}

/** The same example spectra reconstructed by every variant: a row per spectrum, a column per variant, one y scale. */
export async function reconstructionGrid(items: Classified[], design: SweepDesign, examples: number): Promise<Figure | undefined> {
  const recons = items.filter((c) => c.role === 'reconstruction').map((c) => c.art);
  if (recons.length < 2 || examples < 1) return undefined;
  const io = await import('../data/arrow-io.js');
  const originals = new Map<string, Float32Array>();
  for (const c of items.filter((x) => x.role === 'spectra')) {
    const t = await io.readSpectra(c.art.path);
    t.ids.forEach((id, i) => { if (!originals.has(id)) originals.set(id, t.spectra.slice(i * t.d, (i + 1) * t.d)); });
  }
  const rows: Record<string, unknown>[] = [];
  const panels: string[] = [];
  let picked: string[] | undefined;
  let xTitle = '';
  for (const a of bySweepOrder(recons, design)) {
    const t = await io.readSpectra(a.path);
    xTitle = axisTitle(t.axisName, t.axisUnit);
    // one spectrum of each label (the first ones), the same in every column
    picked ??= [...new Map(t.ids.map((id, i) => [String(t.labels?.[i] ?? 'all'), id])).values()].slice(0, examples);
    const panel = artifactLabel(a, design);
    panels.push(panel);
    const idx = thin(t.d, 250);
    for (const id of picked) {
      const i = t.ids.indexOf(id);
      if (i < 0) continue;
      const label = t.labels?.[i];
      const example = label && !id.includes(String(label)) ? `${id} (${label})` : id;
      const orig = originals.get(id);
      for (const j of idx) {
        if (orig && orig.length === t.d) rows.push({ x: t.axis[j]!, y: orig[j]!, kind: 'input', example, panel });
        rows.push({ x: t.axis[j]!, y: t.spectra[i * t.d + j]!, kind: 'reconstruction', example, panel });
      }
    }
  }
  if (panels.length < 2 || !rows.length) return undefined;
  return {
    title: 'reconstructions of every variant',
    caption: 'The same spectra (rows) reconstructed by every variant (columns), on one intensity scale: input in grey, reconstruction in blue.',
    spec: gridSpec('Reconstructions of every variant', rows, xTitle, panels, { input: '#b8bec9', reconstruction: '#2b6cb0' }, 'example'),
  };
}

/** Pseudospectra (over the group's mean spectrum) of every variant: a row per group, a column per variant, one y scale. */
export async function pseudospectraGrid(items: Classified[], design: SweepDesign): Promise<Figure | undefined> {
  const arts = items.filter((c) => c.role === 'pseudospectra').map((c) => c.art);
  if (arts.length < 2) return undefined;
  const { readSpectra } = await import('../data/arrow-io.js');
  const clusterArts = items.filter((c) => c.role === 'assignments').map((c) => c.art);
  const rows: Record<string, unknown>[] = [];
  const panels: string[] = [];
  let xTitle = '';
  for (const a of bySweepOrder(arts, design)) {
    const t = await readSpectra(a.path);
    xTitle = axisTitle(t.axisName, t.axisUnit);
    const kinds = (t.columns.kind ?? []).map(String);
    const rowOf = await groupRowNames(a, (t.columns.group ?? t.labels ?? []).map(String), clusterArts);
    const groups = (t.columns.group ?? t.labels ?? []).map((g) => rowOf(String(g)));
    const idx = thin(t.d, 200);
    const panel = artifactLabel(a, design);
    panels.push(panel);
    for (let r = 0; r < t.n; r++) {
      if (kinds[r] !== 'pseudospectrum' && kinds[r] !== 'mean') continue;
      for (const j of idx) rows.push({ x: t.axis[j]!, y: t.spectra[r * t.d + j]!, kind: kinds[r] === 'mean' ? 'mean spectrum' : 'pseudospectrum', example: groups[r], panel });
    }
  }
  if (!rows.length) return undefined;
  return {
    title: 'pseudospectra of every variant',
    caption: 'Each group\'s pseudospectrum (the decoded latent centroid, dark red) over its mean spectrum (grey): a row per group, a column per variant, one intensity scale.',
    spec: gridSpec('Pseudospectra of every variant', rows, xTitle, panels, { 'mean spectrum': '#b8bec9', pseudospectrum: '#a4161a' }, 'example'),
  };
}

/**
 * Row names for a pseudospectrum table's groups. Groups that are cluster ids
 * mean different things in different models, so they are named after the label
 * each cluster overlaps most (Hungarian assignment) — the rows of every variant
 * then line up phase by phase; labels name themselves.
 */
export async function groupRowNames(pseudo: InputArtifact, groups: string[], clusterArts: InputArtifact[]): Promise<(group: string) => string> {
  const plain = (g: string): string => `group ${g}`;
  const readers = new Set(readersOf(pseudo).map((r) => r.variant));
  const clusters = clusterArts.find((c) => readersOf(c).some((r) => readers.has(r.variant)));
  if (!clusters) return plain;
  const { readRecords } = await import('../data/arrow-io.js');
  const { rows } = await readRecords(clusters.path);
  if (!rows.length || rows.some((r) => r.label === null || r.label === undefined)) return plain;
  const ids = new Set(rows.map((r) => String(r.cluster)));
  const labels = new Set(rows.map((r) => String(r.label)));
  // grouped by label (no clusters fed to the pseudospectrum stage): nothing to match
  if (!groups.every((g) => ids.has(g)) || groups.every((g) => labels.has(g))) return plain;
  const match = matchClustersToLabels(rows.map((r) => String(r.cluster)), rows.map((r) => String(r.label)));
  return (g) => (match.has(g) ? `cluster ≈ ${match.get(g)}` : `cluster ${g} (no label)`);
}

function gridSpec(title: string, rows: Record<string, unknown>[], xTitle: string, panels: string[], colors: Record<string, string>, rowField: string): VlSpec {
  const kinds = Object.keys(colors);
  const rowNames = [...new Set(rows.map((r) => String(r[rowField])))];
  if (rowNames.some((n) => n.startsWith('cluster'))) rowNames.sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  return {
    $schema: SCHEMA,
    title: { text: title, anchor: 'start' },
    data: { values: rows },
    facet: {
      row: { field: rowField, type: 'nominal', title: null, sort: rowNames, header: { labelAngle: 0, labelAlign: 'left', labelLimit: 180 } },
      column: { field: 'panel', type: 'nominal', title: null, sort: panels },
    },
    spec: {
      width: Math.max(170, Math.min(260, Math.floor(1000 / panels.length))), height: 90,
      mark: { type: 'line', strokeWidth: 1.3, clip: true },
      encoding: {
        x: { field: 'x', type: 'quantitative', title: xTitle, scale: { zero: false, nice: false }, axis: { tickCount: 4 } },
        y: { field: 'y', type: 'quantitative', title: null, scale: { zero: false }, axis: { tickCount: 3 } },
        color: { field: 'kind', type: 'nominal', title: null, sort: kinds, scale: { domain: kinds, range: kinds.map((k) => colors[k]!) } },
      },
    },
    // one intensity scale for every panel: the point is to compare their heights and shapes
    resolve: { scale: { y: 'shared', x: 'shared' } },
    config: CONFIG,
  };
}
