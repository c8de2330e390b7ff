/**
 * Maps of a spectrum image: when a table feeding the report is one (x/y
 * navigation columns and `specflow.map` geometry, see SpectrumMap), cluster
 * labels are drawn as a phase map, per-pixel reconstruction errors and anomaly
 * scores and the latent dimensions as images — HyperSpy's pictures.
 *
 * Maps are Vega-Lite rect heatmaps, one rect per pixel, so they stay vector
 * figures with axes in the stage units and a legend whose colours match the
 * scatter plots. Up to MAX_CELLS pixels are drawn as they are; a larger map is
 * reduced by whole blocks (majority label, mean value), said in the title,
 * which keeps a 1024 × 1024 image at a few MB of SVG instead of 10⁶ rects.
 */
import type { Cell } from '../data/arrow-io.js';
import { matchClustersToLabels } from '../analysis/assignment.js';
import type { VlSpec } from './charts.js';
import type { Classified, Figure, Section } from './sections.js';

/** Most rects one map draws (128 × 128). */
export const MAX_CELLS = 128 * 128;

/** Vega's tableau10 then tableau20's lighter hues: cluster c always gets the same colour. */
const PALETTE = ['#4c78a8', '#f58518', '#e45756', '#72b7b2', '#54a24b', '#eeca3b', '#b279a2', '#ff9da6', '#9d755d', '#bab0ac',
  '#9ecae9', '#ffbf79', '#ff9d98', '#88d27a', '#b9e9e4', '#f2cf5b', '#d6a5c9', '#fcbfd2', '#d8b5a5', '#79706e'];

/** Colour scale of labels, in the order Vega sorts a nominal domain (plain string order): every chart by label agrees. */
export function labelColorScale(labels: Iterable<string>): { domain: string[]; range: string[] } {
  const domain = [...new Set(labels)].sort();
  return { domain, range: domain.map((_, i) => PALETTE[i % PALETTE.length]!) };
}

/**
 * Colour scale of `cluster N` categories, in numeric order: shared by scatter plots and phase maps.
 * Given the points' true labels, each cluster takes the colour its label has (the label it overlaps
 * most, by Hungarian assignment, as in a sweep's side-by-side panels), so the cluster that is phase A
 * is never drawn in phase B's colour; clusters matching no label take colours no label has.
 */
export function clusterColorScale(names: Iterable<string>, truth?: { clusters: string[]; labels: string[] }): { domain: string[]; range: string[] } {
  const domain = [...new Set(names)].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  if (!truth) return { domain, range: domain.map((_, i) => PALETTE[i % PALETTE.length]!) };
  const labels = labelColorScale(truth.labels);
  const match = matchClustersToLabels(truth.clusters, truth.labels);
  let spare = labels.domain.length;
  const range = domain.map((c) => {
    const label = match.get(c);
    return label !== undefined ? labels.range[labels.domain.indexOf(label)]! : PALETTE[spare++ % PALETTE.length]!;
  });
  return { domain, range };
}

export interface MapGeometry {
  width: number;
  height: number;
  xUnit: string;
  yUnit: string;
  /** Pixel index (row-major, x fastest) of each spectrum id. */
  pixelOf: Map<string, number>;
  /** Navigation coordinate of each column and row (pixel indices when the table has none). */
  xs: number[];
  ys: number[];
  /** The stage whose table gave the geometry. */
  source: string;
}

/** The geometry of the first input that is a spectrum image, or undefined. */
export async function mapGeometry(items: Classified[]): Promise<MapGeometry | undefined> {
  const { readScalarColumns, spectrumMapOf } = await import('../data/arrow-io.js');
  for (const c of items) {
    if (!c.metadata['specflow.map'] || !c.fields.includes('id')) continue;
    // ids and navigation coordinates only, batch by batch: the table may be a spectrum image of 10⁶ spectra
    const { n, columns } = await readScalarColumns(c.art.path, ['id', 'x', 'y']);
    const map = spectrumMapOf(c.metadata, n);
    if (!map) continue;
    const ids = columns.id!;
    const xCol = columns.x;
    const yCol = columns.y;
    const coord = (col: Cell[] | undefined, i: number, fallback: number): number => {
      const v = col?.[i];
      return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
    };
    const xs = Array.from({ length: map.width }, (_, px) => coord(xCol, px, px));
    const ys = Array.from({ length: map.height }, (_, py) => coord(yCol, py * map.width, py));
    const units = xCol && yCol;
    return {
      width: map.width, height: map.height,
      xUnit: units ? map.xUnit : 'px', yUnit: units ? map.yUnit : 'px',
      pixelOf: new Map(Array.from(ids, (id, i) => [String(id), i])),
      xs, ys, source: c.art.stage ?? c.art.from,
    };
  }
  return undefined;
}

type PixelValue = string | number;

/** One value per pixel (undefined where no row of the table has that pixel's id). */
function pixelValues(g: MapGeometry, ids: string[], values: PixelValue[]): (PixelValue | undefined)[] {
  const out = new Array<PixelValue | undefined>(g.width * g.height);
  ids.forEach((id, i) => {
    const p = g.pixelOf.get(id);
    if (p !== undefined) out[p] = values[i];
  });
  return out;
}

/**
 * Cells of the drawn map: each pixel, or blocks of f × f pixels when the map
 * has more than MAX_CELLS of them (the most frequent label, or the mean value).
 */
function cells(g: MapGeometry, values: (PixelValue | undefined)[], series?: string): { rows: Record<string, Cell>[]; block: Block } {
  const { bw, bh } = blockSize(g.width, g.height);
  const rows: Record<string, Cell>[] = [];
  const step = (a: number[], i: number): number => (a.length > 1 ? (a[Math.min(i + 1, a.length - 1)]! - a[Math.max(0, i - 1)]!) / (i > 0 && i < a.length - 1 ? 2 : 1) : 1);
  for (let by = 0; by < g.height; by += bh) {
    for (let bx = 0; bx < g.width; bx += bw) {
      const inBlock: PixelValue[] = [];
      for (let y = by; y < Math.min(by + bh, g.height); y++) {
        for (let x = bx; x < Math.min(bx + bw, g.width); x++) {
          const v = values[y * g.width + x];
          if (v !== undefined) inBlock.push(v);
        }
      }
      if (inBlock.length === 0) continue;
      const xe = Math.min(bx + bw, g.width) - 1;
      const ye = Math.min(by + bh, g.height) - 1;
      // a rect spans its pixels' centres ± half a step, in the stage's coordinates
      const x0 = g.xs[bx]! - step(g.xs, bx) / 2;
      const x1 = g.xs[xe]! + step(g.xs, xe) / 2;
      const y0 = g.ys[by]! - step(g.ys, by) / 2;
      const y1 = g.ys[ye]! + step(g.ys, ye) / 2;
      rows.push({ x: x0, x2: x1, y: y0, y2: y1, v: summarise(inBlock), ...(series ? { series } : {}) });
    }
  }
  return { rows, block: { bw, bh } };
}

/** Pixels per drawn cell across and down. */
export interface Block { bw: number; bh: number }

/**
 * Cells of f × f pixels keep a map under MAX_CELLS; an image fewer than f pixels
 * high (a line scan) or wide gets blocks along its long side only, since square
 * blocks would leave a 10⁶-pixel line scan at 125,000 rects.
 */
export function blockSize(width: number, height: number): Block {
  const f = Math.max(1, Math.ceil(Math.sqrt((width * height) / MAX_CELLS)));
  if (f === 1) return { bw: 1, bh: 1 };
  if (height <= f) return { bw: Math.ceil(width / MAX_CELLS), bh: height };
  if (width <= f) return { bw: width, bh: Math.ceil(height / MAX_CELLS) };
  return { bw: f, bh: f };
}

function summarise(values: PixelValue[]): PixelValue {
  if (typeof values[0] === 'number') return (values as number[]).reduce((s, v) => s + v, 0) / values.length;
  const counts = new Map<PixelValue, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || String(a[0]).localeCompare(String(b[0])))[0]![0];
}

const SIZE = 300;

function mapSpec(g: MapGeometry, title: string, rows: Record<string, Cell>[], color: VlSpec, extra: VlSpec = {}): VlSpec {
  // keep the image's aspect ratio, the long side SIZE px
  const w = g.xs.length > 1 ? Math.abs(g.xs[g.xs.length - 1]! - g.xs[0]!) : 1;
  const h = g.ys.length > 1 ? Math.abs(g.ys[g.ys.length - 1]! - g.ys[0]!) : 1;
  const aspect = (h + 1e-12) / (w + 1e-12);
  const width = aspect <= 1 ? SIZE : Math.max(60, Math.round(SIZE / aspect));
  const height = aspect <= 1 ? Math.max(60, Math.round(SIZE * aspect)) : SIZE;
  const axis = (name: string, unit: string) => `${name}${unit ? ` (${unit})` : ''}`;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    data: { values: rows },
    mark: { type: 'rect', stroke: null },
    width, height,
    encoding: {
      x: { field: 'x', type: 'quantitative', title: axis('x', g.xUnit), scale: { zero: false, nice: false } },
      x2: { field: 'x2' },
      // image convention: the first row at the top
      y: { field: 'y', type: 'quantitative', title: axis('y', g.yUnit), scale: { zero: false, nice: false, reverse: true } },
      y2: { field: 'y2' },
      color,
    },
    config: { legend: { labelLimit: 320 } },
    ...extra,
  };
}

function blockNote(block: Block): string {
  return block.bw * block.bh > 1 ? ` (${blockText(block)}-pixel blocks)` : '';
}

function blockText({ bw, bh }: Block): string {
  return `${bw}×${bh}`;
}

/** Phase map of cluster labels, colours as in the scatter plots. */
export function phaseMap(g: MapGeometry, title: string, ids: string[], groups: string[], legend: string, scale = clusterColorScale(groups)): Figure {
  const { rows, block } = cells(g, pixelValues(g, ids, groups));
  return {
    title,
    caption: `${title}: one colour per ${legend}, ${g.width} × ${g.height} pixels${block.bw * block.bh > 1 ? `, drawn as ${blockText(block)} blocks (most frequent ${legend})` : ''}`,
    spec: mapSpec(g, title + blockNote(block), rows, { field: 'v', type: 'nominal', title: legend, scale }),
  };
}

/** A quantity per pixel as an image (viridis). */
export function valueMap(g: MapGeometry, title: string, ids: string[], values: number[], legend: string): Figure {
  const { rows, block } = cells(g, pixelValues(g, ids, values));
  return {
    title,
    caption: `${title}: ${g.width} × ${g.height} pixels${block.bw * block.bh > 1 ? `, drawn as ${blockText(block)} block means` : ''}`,
    spec: mapSpec(g, title + blockNote(block), rows, { field: 'v', type: 'quantitative', title: legend, scale: { scheme: 'viridis' } }),
  };
}

/** Latent dimensions side by side as images, each with its own colour scale. */
export function latentMaps(g: MapGeometry, title: string, ids: string[], z: Float32Array, k: number, dims: number): Figure {
  const all: Record<string, Cell>[] = [];
  let block: Block = { bw: 1, bh: 1 };
  for (let j = 0; j < dims; j++) {
    const values = Array.from({ length: ids.length }, (_, i) => z[i * k + j]!);
    const c = cells(g, pixelValues(g, ids, values), `z${j + 1}`);
    block = c.block;
    all.push(...c.rows);
  }
  const base = mapSpec(g, '', all, { field: 'v', type: 'quantitative', title: null, scale: { scheme: 'viridis' } });
  const { $schema, data, config, width, height, ...inner } = base;
  return {
    title,
    caption: `${title}: each latent dimension over the ${g.width} × ${g.height} map (own colour scale per panel)`,
    spec: {
      $schema, title: title + blockNote(block), data, config,
      facet: { field: 'series', type: 'nominal', title: null, sort: Array.from({ length: dims }, (_, j) => `z${j + 1}`) },
      columns: 4,
      spec: { ...inner, title: undefined, width: Math.round((width as number) * 0.6), height: Math.round((height as number) * 0.6) },
      resolve: { scale: { color: 'independent' } },
    },
  };
}

/** The Maps section of the report, or undefined when no input is a spectrum image. */
export async function mapSection(items: Classified[]): Promise<Section | undefined> {
  const g = await mapGeometry(items);
  if (!g) return undefined;
  const io = await import('../data/arrow-io.js');
  const s: Section = { id: 'maps', title: 'Maps', figures: [], tables: [], notes: [] };
  s.notes.push(`${g.source}: a ${g.width} × ${g.height} spectrum image; maps are drawn over its navigation coordinates.`);
  const from = (c: Classified): string => c.art.stage ?? c.art.from;
  const byRole = (role: Classified['role']): Classified[] => items.filter((i) => i.role === role);

  const spectra = byRole('spectra').find((c) => (c.art.stage ?? c.art.from) === g.source) ?? byRole('spectra')[0];
  const labelOf = new Map<string, string>();
  if (spectra && spectra.fields.includes('label')) {
    const { columns } = await io.readScalarColumns(spectra.art.path, ['id', 'label']);
    const ids = columns.id!.map(String);
    const labels = columns.label!.map((l) => String(l ?? ''));
    ids.forEach((id, i) => labelOf.set(id, labels[i]!));
    if (new Set(labels).size <= 20) s.figures.push(phaseMap(g, `${from(spectra)}: labels as a map`, ids, labels, 'label', labelColorScale(labels)));
  }
  for (const c of byRole('assignments')) {
    // two columns, not an object per row: a spectrum image has 10⁶ of them
    const { columns } = await io.readScalarColumns(c.art.path, ['id', 'cluster']);
    const ids = (columns.id ?? []).map(String);
    const clusters = (columns.cluster ?? []).map((v) => `cluster ${String(v)}`);
    // the colours of the latent scatter: each cluster in its label's colour
    const labelled = ids.every((id) => labelOf.has(id));
    const scale = clusterColorScale(clusters, labelled ? { clusters, labels: ids.map((id) => labelOf.get(id)!) } : undefined);
    s.figures.push(phaseMap(g, `${from(c)}: phase map`, ids, clusters, 'cluster', scale));
  }
  for (const c of byRole('reconstruction')) {
    if (!c.fields.includes('error')) continue;
    const { columns } = await io.readScalarColumns(c.art.path, ['id', 'error']);
    s.figures.push(valueMap(g, `${from(c)}: reconstruction error map`, columns.id!.map(String), columns.error!.map(Number), 'error'));
  }
  for (const c of byRole('anomaly')) {
    const { columns } = await io.readScalarColumns(c.art.path, ['id', 'error']);
    s.figures.push(valueMap(g, `${from(c)}: anomaly score map`, (columns.id ?? []).map(String), (columns.error ?? []).map(Number), 'reconstruction error'));
  }
  for (const c of byRole('latent')) {
    const t = await io.readLatent(c.art.path);
    const dims = Math.min(t.k, 4);
    s.figures.push(latentMaps(g, `${from(c)}: latent dimensions as images${t.k > dims ? ` (first ${dims} of ${t.k})` : ''}`, t.ids, t.z, t.k, dims));
  }
  return s;
}
