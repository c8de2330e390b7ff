/**
 * An ordered list of preprocessing steps applied to spectra held row by row.
 * The `clean` track (noise-free target) goes through the same steps; fitted
 * statistics (MSC reference, standardize mean/sd) come from the `fit` set when
 * one is given (the training split), else from the spectra themselves, and the
 * same statistics are applied to every track so targets stay aligned.
 */
import { StageError } from '../../core/stage-api.js';
import { alsBaseline, airplsBaseline, loadAirpls, polyBaseline } from './baseline.js';
import { whitakerHayes } from './despike.js';
import { cropRange, interpolateLinear, makeGrid } from './grid.js';
import { areaRows, meanLevel, msc, normalizeInto, snvInto, usableScale, type NormalizeMethod } from './normalize.js';
import type { AreaRows } from './row-kernels.js';
import { savitzkyGolayRows, whittaker } from './smooth.js';
import { addRows, addSquaredDeviations, anscombe, finishSd, logTransform, standardizeWith } from './transform.js';

export type Step =
  | { crop: { min?: number; max?: number } }
  | { resample: { min?: number; max?: number; step?: number; n?: number } }
  | { despike: { method?: 'whitaker-hayes'; threshold?: number; window?: number } }
  | { baseline: { method?: 'airpls' | 'als' | 'poly'; lambda?: number; p?: number; degree?: number; iterations?: number; tolerance?: number } }
  | { smooth: { method?: 'savgol' | 'whittaker'; window?: number; polynomial?: number; lambda?: number } }
  | { derivative: { order?: number; window?: number; polynomial?: number } }
  | { normalize: { method?: NormalizeMethod } }
  | { anscombe: Record<string, never> | null }
  | { log: { base?: number | 'e'; offset?: number } | null }
  | { standardize: { center?: boolean; scale?: boolean } | null };

export interface Work {
  ids: string[];
  /** Common axis, or null while spectra are on their own grids. */
  axis: Float64Array | null;
  /** Per-row axis (the same array for every row once on a common grid). */
  xs: Float64Array[];
  /** One array per row, the Work's own (no two rows, tracks or Works share one): a step may overwrite them in place. */
  spectrum: Float64Array[];
  clean?: Float64Array[];
}

/** Statistics a step fits on a whole table (MSC reference, standardize mean/sd). */
export interface StepStats {
  msc?: Float64Array;
  standardize?: { mean: Float64Array; sd: Float64Array };
}

export interface StepContext {
  /** For messages: `with.steps[1] (baseline)` (see stepWhere). */
  where: string;
  log(message: string): void;
  /** Record a metric of the preprocessing stage (e.g. how many values a step had to clamp). */
  metric?(name: string, value: number): void;
  /** Statistics fitted beforehand (streaming: on the whole table, not this batch); else fitted here. */
  stats?: StepStats;
  /** Told the statistics a step fitted here. */
  fitted?(stats: StepStats): void;
}

/** Load what the steps need that is imported on demand (ml-airpls); await before applyStep. */
export async function prepareSteps(steps: (Step | string)[]): Promise<void> {
  if (steps.some((s) => stepName(s) === 'baseline' && ((stepParams(s).method as string | undefined) ?? 'airpls') === 'airpls')) await loadAirpls();
}

/** Does this step fit statistics on a whole table? */
export function fitsStatistics(step: Step | string): 'msc' | 'standardize' | undefined {
  const name = stepName(step);
  if (name === 'standardize') return 'standardize';
  if (name === 'normalize' && stepParams(step).method === 'msc') return 'msc';
  return undefined;
}

/** Where step k (0-based) is, for messages: `with.steps[1] (normalize)`; the run locates
 * `with.` prefixes in the pipeline file. `base` is the parameter holding the steps. */
export function stepWhere(base: string, k: number, step: Step | string): string {
  return `${base}[${k}] (${stepName(step)})`;
}

export function stepName(step: Step | string): string {
  return typeof step === 'string' ? step : Object.keys(step)[0]!;
}

function stepParams(step: Step | string): Record<string, unknown> {
  if (typeof step === 'string') return {};
  return ((Object.values(step)[0] as Record<string, unknown> | null) ?? {});
}

function tracks(w: Work): Float64Array[][] {
  return w.clean ? [w.spectrum, w.clean] : [w.spectrum];
}

function mapRows(works: Work[], f: (x: Float64Array, y: Float64Array, id: string, track: number) => Float64Array): void {
  for (const w of works) {
    tracks(w).forEach((rows, t) => {
      for (let i = 0; i < rows.length; i++) rows[i] = f(w.xs[i]!, rows[i]!, w.ids[i]!, t);
    });
  }
}

/** For kernels that may overwrite their row (the Work's own: every step hands over fresh rows). */
function updateRows(works: Work[], f: (x: Float64Array, y: Float64Array, id: string, track: number) => void): void {
  for (const w of works) {
    tracks(w).forEach((rows, t) => {
      for (let i = 0; i < rows.length; i++) f(w.xs[i]!, rows[i]!, w.ids[i]!, t);
    });
  }
}

/** The rows as one array when they are consecutive views, each `d` long, of one buffer; else undefined. */
export function contiguousRows(r: Float64Array[], d: number): Float64Array | undefined {
  if (r.length === 0) return undefined;
  const first = r[0]!;
  for (let i = 0; i < r.length; i++) {
    if (r[i]!.buffer !== first.buffer || r[i]!.byteOffset !== first.byteOffset + i * d * 8 || r[i]!.length !== d) return undefined;
  }
  return new Float64Array(first.buffer, first.byteOffset, r.length * d);
}

function requireGrid(w: Work, ctx: StepContext, name: string): Float64Array {
  if (!w.axis) throw new StageError(`spectra are on different grids; add a \`resample\` step before ${name}`, ctx.where);
  return w.axis;
}

/** Apply one step to the spectra (and, in lockstep, to the fit set). */
export function applyStep(step: Step | string, main: Work, fit: Work | undefined, ctx: StepContext): void {
  const name = stepName(step);
  const p = stepParams(step);
  const works = fit ? [main, fit] : [main];
  const where = (id: string) => `${ctx.where}, spectrum "${id}"`;
  switch (name) {
    case 'crop': {
      const min = (p.min as number | undefined) ?? -Infinity;
      const max = (p.max as number | undefined) ?? Infinity;
      if (min >= max) throw new StageError(`crop min (${min}) must be below max (${max})`, ctx.where);
      for (const w of works) {
        const cache = new Map<Float64Array, [number, number]>();
        const ranges = w.xs.map((x, i) => {
          let r = cache.get(x);
          if (!r) {
            r = cropRange(x, min, max);
            cache.set(x, r);
          }
          if (r[1] - r[0] < 2) throw new StageError(`crop ${min}–${max} leaves ${r[1] - r[0]} points (axis ${x[0]}–${x[x.length - 1]})`, where(w.ids[i]!));
          return r;
        });
        for (const rows of tracks(w)) rows.forEach((y, i) => (rows[i] = y.slice(ranges[i]![0], ranges[i]![1])));
        const cropped = new Map<Float64Array, Float64Array>();
        w.xs = w.xs.map((x, i) => {
          let c = cropped.get(x);
          if (!c) {
            c = x.slice(ranges[i]![0], ranges[i]![1]);
            cropped.set(x, c);
          }
          return c;
        });
        if (w.axis) w.axis = w.xs[0]!;
      }
      return;
    }
    case 'resample': {
      if (p.step !== undefined && p.n !== undefined) throw new StageError('give either step or n, not both', ctx.where);
      // Default range: where every spectrum has data (no extrapolation).
      const all = works.flatMap((w) => w.xs);
      const lo = (p.min as number | undefined) ?? Math.max(...all.map((x) => x[0]!));
      const hi = (p.max as number | undefined) ?? Math.min(...all.map((x) => x[x.length - 1]!));
      if (!(lo < hi)) throw new StageError(`the spectra have no common range to resample on (${lo} ≥ ${hi})`, ctx.where);
      for (const w of works) {
        w.xs.forEach((x, i) => {
          if (x[0]! > lo + 1e-9 * Math.abs(lo) || x[x.length - 1]! < hi - 1e-9 * Math.abs(hi)) {
            throw new StageError(`covers ${x[0]}–${x[x.length - 1]} but resample asks for ${lo}–${hi}; narrow min/max`, where(w.ids[i]!));
          }
        });
      }
      let spec: { step?: number; n?: number };
      if (p.step !== undefined) spec = { step: p.step as number };
      else if (p.n !== undefined) spec = { n: p.n as number };
      else {
        const counts = main.xs.map((x) => { const [a, b] = cropRange(x, lo, hi); return b - a; }).sort((a, b) => a - b);
        spec = { n: Math.max(2, counts[counts.length >> 1]!) };
      }
      const grid = makeGrid(lo, hi, spec);
      if (grid.length < 2) throw new StageError(`the grid ${lo}–${hi} has fewer than 2 points`, ctx.where);
      mapRows(works, (x, y) => interpolateLinear(x, y, grid));
      for (const w of works) {
        w.axis = grid;
        w.xs = w.xs.map(() => grid);
      }
      ctx.log(`resampled onto ${grid.length} points ${lo}–${grid[grid.length - 1]}`);
      return;
    }
    case 'despike': {
      works.forEach((w) => requireGrid(w, ctx, name));
      const threshold = (p.threshold as number | undefined) ?? 8;
      const window = (p.window as number | undefined) ?? 3;
      let spikes = 0;
      mapRows(works, (_x, y, _id, t) => {
        const r = whitakerHayes(y, threshold, window);
        if (t === 0) spikes += r.spikes;
        return r.y;
      });
      ctx.log(`despike: replaced ${spikes} points`);
      return;
    }
    case 'baseline': {
      works.forEach((w) => requireGrid(w, ctx, name));
      const method = (p.method as string | undefined) ?? 'airpls';
      const iterations = p.iterations as number | undefined;
      const tolerance = p.tolerance as number | undefined;
      mapRows(works, (x, y) => {
        let b: Float64Array;
        if (method === 'airpls') b = airplsBaseline(x, y, (p.lambda as number | undefined) ?? 10, iterations ?? 100, tolerance ?? 0.001);
        else if (method === 'als') b = alsBaseline(y, (p.lambda as number | undefined) ?? 1e5, (p.p as number | undefined) ?? 0.01, iterations ?? 10);
        else b = polyBaseline(x, y, (p.degree as number | undefined) ?? 3, iterations ?? 100, tolerance ?? 1e-3);
        const out = new Float64Array(y.length);
        for (let i = 0; i < y.length; i++) out[i] = y[i]! - b[i]!;
        return out;
      });
      return;
    }
    case 'smooth':
    case 'derivative': {
      works.forEach((w) => requireGrid(w, ctx, name));
      const method = name === 'derivative' ? 'savgol' : ((p.method as string | undefined) ?? 'savgol');
      if (method === 'whittaker') {
        const lambda = (p.lambda as number | undefined) ?? 10;
        mapRows(works, (_x, y) => whittaker(y, lambda));
        return;
      }
      const window = (p.window as number | undefined) ?? 9;
      const order = name === 'derivative' ? ((p.order as number | undefined) ?? 1) : 0;
      const polynomial = (p.polynomial as number | undefined) ?? Math.max(2, order + 1);
      if (window % 2 === 0) throw new StageError(`window must be odd (got ${window})`, ctx.where);
      if (polynomial >= window) throw new StageError(`polynomial order ${polynomial} must be below the window (${window})`, ctx.where);
      if (order > polynomial) throw new StageError(`derivative order ${order} needs a polynomial of at least that order (got ${polynomial})`, ctx.where);
      const d = main.axis!.length;
      if (window > d) throw new StageError(`window ${window} is longer than the spectra (${d} points)`, ctx.where);
      // one row function per axis (the weights and spacings set up once, not per row); in place
      let axisOfRows: Float64Array | undefined;
      let rows!: (y: Float64Array, out: Float64Array) => void;
      updateRows(works, (x, y) => {
        if (x !== axisOfRows) {
          rows = savitzkyGolayRows(x, window, polynomial, order);
          axisOfRows = x;
        }
        rows(y, y);
      });
      return;
    }
    case 'normalize': {
      const method = ((p.method as NormalizeMethod | undefined) ?? 'snv');
      if (method === 'snv') {
        updateRows(works, (_x, y) => snvInto(y, y));
        return;
      }
      if (method === 'msc') {
        works.forEach((w) => requireGrid(w, ctx, 'msc'));
        const source = (fit ?? main).spectrum;
        checkSameGrid(main, fit, ctx);
        const ref = ctx.stats?.msc ?? meanRow(source);
        ctx.fitted?.({ msc: ref });
        mapRows(works, (_x, y, id, t) => {
          const out = msc(y, ref);
          if (!out) throw new StageError(`cannot msc-normalise: the spectrum has zero slope against the reference (mean) spectrum, so there is no scale to divide by${t === 1 ? ' (clean column)' : ''}; is it flat or empty?`, where(id));
          return out;
        });
        return;
      }
      let axisOfRows: Float64Array | undefined;
      let kernels!: AreaRows;
      updateRows(works, (x, y, id, t) => {
        if (method === 'area' && x !== axisOfRows) {
          kernels = areaRows(x);
          axisOfRows = x;
        }
        // dividing by a negative area or maximum would silently flip the spectrum upside down
        const area = method === 'area' ? kernels.integrate(y) : undefined;
        const negative = area ?? (method === 'max' ? maxOf(y) : 0);
        if (negative < 0) {
          throw new StageError(`cannot ${method}-normalise: the ${method === 'area' ? 'area' : 'maximum'} is negative (${Number(negative.toPrecision(4))}), so dividing by it would flip the spectrum's sign${t === 1 ? ' (clean column)' : ''}; subtract a baseline or offset first, or use snv or minmax`, where(id));
        }
        let scaled: boolean;
        if (area === undefined) scaled = normalizeInto(method, x, y, y);
        else {
          const level = meanLevel(x, y, area);
          scaled = usableScale(level);
          if (scaled) kernels.divide(y, y, level);
        }
        if (!scaled) throw new StageError(`cannot ${method}-normalise: the ${method === 'area' ? 'area' : method === 'minmax' ? 'range' : method === 'max' ? 'maximum' : 'norm'} is zero${t === 1 ? ' (clean column)' : ''}`, where(id));
      });
      return;
    }
    case 'anscombe': {
      // 2√(y + 3/8) is undefined below −3/8: such values are clamped to 0, and the user is told how many
      let clamped = 0;
      mapRows(works, (_x, y) => {
        for (const v of y) if (v < -3 / 8) clamped++;
        return anscombe(y);
      });
      if (clamped > 0) ctx.log(`warning: anscombe clamped ${clamped} values below −3/8 to 0 (counts should not be negative: is a baseline subtracted before?)`);
      ctx.metric?.('anscombe_clamped', clamped);
      return;
    }
    case 'log': {
      const baseParam = p.base as number | 'e' | undefined;
      const base = baseParam === undefined || baseParam === 'e' ? Math.E : baseParam;
      const offset = (p.offset as number | undefined) ?? 0;
      mapRows(works, (x, y, id, t) => {
        const r = logTransform(y, base, offset);
        if (r.bad >= 0) {
          throw new StageError(`log of a non-positive value ${y[r.bad]! + offset} at ${x[r.bad]}${t === 1 ? ' (clean column)' : ''}; set an offset (e.g. log: {offset: 1})`, where(id));
        }
        return r.y;
      });
      return;
    }
    case 'standardize': {
      works.forEach((w) => requireGrid(w, ctx, name));
      checkSameGrid(main, fit, ctx);
      const source = (fit ?? main).spectrum;
      const d = main.axis!.length;
      const { mean, sd } = ctx.stats?.standardize ?? channelStatsOfRows(source, d);
      ctx.fitted?.({ standardize: { mean, sd } });
      const center = (p.center as boolean | undefined) ?? true;
      const scale = (p.scale as boolean | undefined) ?? true;
      for (const w of works) {
        for (const rows of tracks(w)) {
          const out = standardizeWith(stack(rows, d), rows.length, d, mean, sd, center, scale);
          rows.forEach((_, i) => (rows[i] = out.slice(i * d, (i + 1) * d)));
        }
      }
      if (!ctx.stats?.standardize) ctx.log(`standardize: statistics fitted on ${fit ? 'the fit set' : 'these spectra'} (${source.length} spectra)`);
      return;
    }
    default:
      throw new StageError(`unknown step "${name}"`, ctx.where);
  }
}

/** Largest value; NaN when any is NaN (as Math.max). */
function maxOf(y: Float64Array): number {
  let m = -Infinity;
  for (let i = 0; i < y.length; i++) m = Math.max(m, y[i]!);
  return m;
}

function checkSameGrid(main: Work, fit: Work | undefined, ctx: StepContext): void {
  if (!fit) return;
  const a = main.axis!;
  const b = fit.axis!;
  if (a.length !== b.length || a.some((v, i) => Math.abs(v - b[i]!) > 1e-9 * Math.max(1, Math.abs(v)))) {
    throw new StageError(`the fit set is on a different axis (${b.length} points ${b[0]}–${b[b.length - 1]}) than the spectra (${a.length} points ${a[0]}–${a[a.length - 1]})`, ctx.where);
  }
}

function stack(rows: Float64Array[], d: number): Float64Array {
  const out = new Float64Array(rows.length * d);
  rows.forEach((r, i) => out.set(r, i * d));
  return out;
}

function meanRow(rows: Float64Array[]): Float64Array {
  const m = new Float64Array(rows[0]!.length);
  addRows(rows, m);
  for (let j = 0; j < m.length; j++) m[j]! /= rows.length;
  return m;
}

function channelStatsOfRows(rows: Float64Array[], d: number): { mean: Float64Array; sd: Float64Array } {
  const mean = new Float64Array(d);
  addRows(rows, mean);
  for (let j = 0; j < d; j++) mean[j]! /= rows.length;
  const ss = new Float64Array(d);
  addSquaredDeviations(rows, mean, ss);
  return { mean, sd: finishSd(ss, rows.length) };
}
