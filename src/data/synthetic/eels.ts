/**
 * Fe L₂,₃ electron energy-loss near-edge spectra of iron oxides.
 *
 * Each spectrum = power-law pre-edge background A·(E/E₀)^−r
 *   + a 2:1 double arctangent edge step (the L₃/L₂ continuum, spin-orbit branching 2:1)
 *   + white lines: pseudo-Voigt peaks at L₃ and L₂ with the phase's positions, widths,
 *     crystal-field shoulders and L₃/L₂ area ratio,
 * scaled so the mean count per channel is `dose` (times a thickness jitter), then
 * Poisson counting noise. Phase values follow the Fe L-edge literature
 * (e.g. van Aken & Liebscher 2002; Colliex et al. 1991): the L₃ maximum moves up by
 * ~1.5–2 eV from Fe²⁺ (FeO) to Fe³⁺ (Fe₂O₃) and the L₃/L₂ ratio rises with valence.
 */
import { deriveSeed, Rng } from '../../util/random.js';
import { setSpectrumMap, type SpectraTable } from '../arrow-io.js';

export interface EelsPhase {
  name: string;
  description: string;
  /** L₃ white-line maximum (eV) and FWHM (eV). */
  l3: number;
  l3Width: number;
  /** Crystal-field shoulder of L₃: offset from the maximum (eV) and height relative to it. */
  l3Shoulder: number;
  l3ShoulderAmp: number;
  l2: number;
  l2Width: number;
  l2Shoulder: number;
  l2ShoulderAmp: number;
  /** L₃/L₂ white-line area ratio (~3 for metal, ~4.3 Fe²⁺, ~5.2 Fe³⁺). */
  ratio: number;
  /** White-line strength (×6 eV of edge-step height): higher for more 3d holes, lower for broad disordered lines. */
  whiteLine: number;
}

export const EELS_PHASES: readonly EelsPhase[] = [
  {
    name: 'Fe2O3', description: 'hematite, Fe³⁺ octahedral: L₃ at 709.8 eV with the t₂g pre-peak 1.5 eV below, high L₃/L₂',
    l3: 709.8, l3Width: 1.4, l3Shoulder: -1.6, l3ShoulderAmp: 0.4, l2: 723.0, l2Width: 2.2, l2Shoulder: -1.4, l2ShoulderAmp: 0.35, ratio: 5.2, whiteLine: 1.35,
  },
  {
    name: 'FeO', description: 'wüstite, Fe²⁺: L₃ at 707.7 eV with a weaker high-energy shoulder, lower L₃/L₂',
    l3: 707.7, l3Width: 1.6, l3Shoulder: 1.7, l3ShoulderAmp: 0.3, l2: 720.7, l2Width: 2.5, l2Shoulder: 1.5, l2ShoulderAmp: 0.25, ratio: 4.3, whiteLine: 1.1,
  },
  {
    name: 'Fe3O4', description: 'magnetite, mixed Fe²⁺/Fe³⁺: L₃ at 709.2 eV, broad, with the Fe²⁺ component as a strong shoulder 1.5 eV below, intermediate ratio',
    l3: 709.2, l3Width: 2.2, l3Shoulder: -1.5, l3ShoulderAmp: 0.55, l2: 722.0, l2Width: 3.0, l2Shoulder: 0, l2ShoulderAmp: 0, ratio: 4.7, whiteLine: 1.2,
  },
  {
    name: 'amorphous', description: 'amorphous / surface-reduced oxide: L₃ at 708.3 eV, broad lines (disordered coordination), weak white lines',
    l3: 708.3, l3Width: 3.4, l3Shoulder: 0, l3ShoulderAmp: 0, l2: 721.4, l2Width: 4.0, l2Shoulder: 0, l2ShoulderAmp: 0, ratio: 3.9, whiteLine: 0.8,
  },
  {
    name: 'Fe', description: 'metallic iron: L₃ at 707.0 eV, narrow-ish, statistical-like ratio, weakest white lines',
    l3: 707.0, l3Width: 2.0, l3Shoulder: 0, l3ShoulderAmp: 0, l2: 719.9, l2Width: 2.6, l2Shoulder: 0, l2ShoulderAmp: 0, ratio: 3.2, whiteLine: 0.6,
  },
];

export interface EelsOptions {
  /** Number of phases (the first n of EELS_PHASES) or their names. */
  phases: number | string[];
  perClass: number;
  channels: number;
  dose: number;
  eMin: number;
  eMax: number;
  /** Phase (name or 0-based index into EELS_PHASES) whose spectra are anomalies. */
  anomaly?: string | number;
  anomalyCount?: number;
  includeAnomaly: boolean;
  shiftJitter: number;
  intensityJitter: number;
  /** Pre-edge background height at eMin relative to the edge step. */
  background: number;
  /** Power-law exponent r of the background. */
  exponent: number;
  /** Spectrum-image mode: one spectrum per pixel, phases laid out in grains (then perClass is not used). */
  map?: EelsMapOptions;
}

export interface EelsMapOptions {
  width: number;
  height: number;
  /** Voronoi grains (seeded centres); default 3 per phase. */
  grains?: number;
  /** Step between pixels, in nm. */
  pixelSize: number;
}

/** Resolve a phase given by name (case-insensitive) or 0-based index; undefined if unknown. */
export function findPhase(p: string | number): EelsPhase | undefined {
  if (typeof p === 'number') return EELS_PHASES[p];
  if (/^\d+$/.test(p)) return EELS_PHASES[Number(p)];
  return EELS_PHASES.find((ph) => ph.name.toLowerCase() === p.toLowerCase());
}

function pseudoVoigt(e: number, center: number, fwhm: number, eta = 0.5): number {
  const x = (e - center) / (fwhm / 2);
  return eta / (1 + x * x) + (1 - eta) * Math.exp(-Math.LN2 * x * x);
}

/** Area of a unit-height pseudo-Voigt of the given FWHM (η = 0.5). */
function pvArea(fwhm: number): number {
  return 0.5 * (Math.PI * fwhm / 2) + 0.5 * (fwhm / 2) * Math.sqrt(Math.PI / Math.LN2);
}

/** Noise-free expected counts of one spectrum. */
export function eelsClean(phase: EelsPhase, axis: Float64Array, rng: Rng, o: EelsOptions): Float64Array {
  const shift = rng.normal(0, o.shiftJitter);
  const widthScale = 1 + rng.normal(0, 0.04);
  const r = o.exponent + rng.normal(0, 0.05);
  const bg = o.background * Math.exp(rng.normal(0, 0.05));
  const wl = phase.whiteLine * Math.exp(rng.normal(0, 0.05));
  const l3 = phase.l3 + shift;
  const l2 = phase.l2 + shift;
  const w3 = phase.l3Width * widthScale;
  const w2 = phase.l2Width * widthScale;
  // White-line area in eV × edge-step height (~6 eV·step for Fe oxides, the 3d-hole count);
  // L₃ gets ratio/(1+ratio) of it, L₂ the rest; shoulders share their line's area.
  const area = 6 * wl;
  const a3 = (area * phase.ratio) / (1 + phase.ratio);
  const a2 = area / (1 + phase.ratio);
  const h3 = a3 / (pvArea(w3) * (1 + phase.l3ShoulderAmp));
  const h2 = a2 / (pvArea(w2) * (1 + phase.l2ShoulderAmp));
  // Continuum onset sits ~1 eV above the L₃/L₂ maxima; step width ~1 eV (core-hole lifetime + resolution).
  const stepWidth = 0.8;
  const out = new Float64Array(axis.length);
  for (let i = 0; i < axis.length; i++) {
    const e = axis[i]!;
    const background = bg * Math.pow(e / o.eMin, -r);
    const step = (2 / 3) * (0.5 + Math.atan((e - l3 - 1) / stepWidth) / Math.PI)
      + (1 / 3) * (0.5 + Math.atan((e - l2 - 1) / stepWidth) / Math.PI);
    const continuum = step * Math.pow(e / (l3 + 1), -1.5);
    let lines = h3 * pseudoVoigt(e, l3, w3);
    if (phase.l3ShoulderAmp > 0) lines += h3 * phase.l3ShoulderAmp * pseudoVoigt(e, l3 + phase.l3Shoulder, w3);
    lines += h2 * pseudoVoigt(e, l2, w2);
    if (phase.l2ShoulderAmp > 0) lines += h2 * phase.l2ShoulderAmp * pseudoVoigt(e, l2 + phase.l2Shoulder, w2);
    out[i] = background + continuum + lines;
  }
  // Dose: mean counts per channel, times a sample-thickness factor.
  let mean = 0;
  for (const v of out) mean += v;
  mean /= out.length;
  const scale = (o.dose * Math.exp(rng.normal(0, o.intensityJitter))) / mean;
  for (let i = 0; i < out.length; i++) out[i]! *= scale;
  return out;
}

/**
 * A seeded grain layout: `grains` centres drawn uniformly over the image, each
 * pixel taking the grain of its nearest centre (a Voronoi tessellation, the
 * usual picture of a polycrystal). Grain g has phase g mod phases, so every
 * phase has a grain when grains ≥ phases; with `single`, the last phase
 * (an anomaly) gets exactly one grain, the last. Returns the phase of each
 * pixel, row-major (x fastest).
 */
export function grainLayout(seed: number, width: number, height: number, grains: number, phases: number, single = false, from = 0, to = width * height): Int32Array {
  const rng = new Rng(deriveSeed(seed, 'synthetic.eels', 'map-layout'));
  const cx = new Float64Array(grains);
  const cy = new Float64Array(grains);
  for (let g = 0; g < grains; g++) {
    cx[g] = rng.uniform() * width;
    cy[g] = rng.uniform() * height;
  }
  const common = single ? phases - 1 : phases;
  const phaseOf = (g: number): number => (single && g === grains - 1 ? phases - 1 : g % common);
  // pixels [from, to) only: a streamed map computes its layout chunk by chunk
  const out = new Int32Array(to - from);
  for (let i = from; i < to; i++) {
    const x = i % width;
    const y = Math.floor(i / width);
    let best = 0;
    let bestD = Infinity;
    for (let g = 0; g < grains; g++) {
      const d = (x + 0.5 - cx[g]!) ** 2 + (y + 0.5 - cy[g]!) ** 2;
      if (d < bestD) {
        bestD = d;
        best = g;
      }
    }
    out[i - from] = phaseOf(best);
  }
  return out;
}

function resolvePhases(o: EelsOptions): { phases: EelsPhase[]; anomaly: EelsPhase | undefined } {
  const phases: EelsPhase[] = typeof o.phases === 'number'
    ? EELS_PHASES.slice(0, o.phases)
    : o.phases.map((p) => {
      const ph = findPhase(p);
      if (!ph) throw new Error(`unknown phase "${p}"`);
      return ph;
    });
  const anomaly = o.anomaly === undefined ? undefined : findPhase(o.anomaly);
  if (o.anomaly !== undefined && !anomaly) throw new Error(`unknown anomaly phase "${o.anomaly}"`);
  return { phases, anomaly };
}

/** Row `row` of `clean` (expected counts) and `spectra` (their Poisson draw), from one spectrum's Rng. */
function drawSpectrum(phase: EelsPhase, axis: Float64Array, rng: Rng, o: EelsOptions, clean: Float32Array, spectra: Float32Array, row: number): void {
  const c = eelsClean(phase, axis, rng, o);
  const d = axis.length;
  for (let j = 0; j < d; j++) {
    clean[row * d + j] = c[j]!;
    spectra[row * d + j] = rng.poisson(c[j]!);
  }
}

function energyAxis(o: EelsOptions): Float64Array {
  return Float64Array.from({ length: o.channels }, (_, i) => o.eMin + ((o.eMax - o.eMin) * i) / (o.channels - 1));
}

/**
 * A spectrum image: one spectrum per pixel of a width × height map whose phases
 * form seeded grains (see grainLayout); the anomaly phase, when set, is one
 * grain among them. Navigation coordinates in the `x`/`y` columns (nm), the
 * map's geometry in the table metadata (setSpectrumMap).
 */
export function generateEelsMap(seed: number, o: EelsOptions & { map: EelsMapOptions }): SpectraTable {
  return eelsMapRows({ seed, o, from: 0, to: o.map.width * o.map.height });
}

export interface EelsMapJob { seed: number; o: EelsOptions & { map: EelsMapOptions }; from: number; to: number }

/**
 * Pixels [from, to) (row-major) of the spectrum image: each pixel has its own seeded
 * generator and the grain centres are seeded once, so any range is computed on its own
 * and ranges put together are the whole map (the streaming stage relies on it).
 */
export function eelsMapRows({ seed, o, from, to }: EelsMapJob): SpectraTable {
  const { phases: normal, anomaly } = resolvePhases(o);
  const phases = anomaly ? [...normal.filter((p) => p !== anomaly), anomaly] : normal;
  const { width, height, pixelSize } = o.map;
  const grains = o.map.grains ?? 3 * phases.length;
  if (grains < phases.length) throw new Error(`map.grains (${grains}) must be at least the number of phases (${phases.length})`);
  const layout = grainLayout(seed, width, height, grains, phases.length, anomaly !== undefined, from, to);
  const axis = energyAxis(o);
  const n = to - from;
  const d = o.channels;
  const spectra = new Float32Array(n * d);
  const clean = new Float32Array(n * d);
  const ids: string[] = [];
  const labels: string[] = [];
  const xs: number[] = [];
  const ys: number[] = [];
  const anomalyCol: boolean[] = [];
  const pad = String(Math.max(width, height) - 1).length;
  for (let i = from; i < to; i++) {
    const phase = phases[layout[i - from]!]!;
    const px = i % width;
    const py = Math.floor(i / width);
    // one stream per pixel: the layout never changes another pixel's noise
    const rng = new Rng(deriveSeed(seed, 'synthetic.eels', 'map', i));
    drawSpectrum(phase, axis, rng, o, clean, spectra, i - from);
    ids.push(`px-${String(py).padStart(pad, '0')}-${String(px).padStart(pad, '0')}`);
    labels.push(phase.name);
    xs.push(px * pixelSize);
    ys.push(py * pixelSize);
    anomalyCol.push(phase === anomaly);
  }
  const table: SpectraTable = {
    n, d, ids, labels, spectra, clean, axis,
    axisUnit: 'eV', axisName: 'energy loss',
    columns: { x: xs, y: ys },
    // coordinates are float64 whatever the pixel size (a streamed map fixes its schema at the first chunk)
    columnTypes: { x: 'float64', y: 'float64', anomaly: 'bool' },
    metadata: {
      generator: 'synthetic.eels',
      dose: String(o.dose),
      phases: JSON.stringify(phases),
    },
  };
  setSpectrumMap(table.metadata, { width, height, xUnit: 'nm', yUnit: 'nm' });
  if (anomaly) {
    table.columns.anomaly = anomalyCol;
    table.metadata.anomaly = JSON.stringify(anomaly.name);
  }
  return table;
}

export function generateEels(seed: number, o: EelsOptions): SpectraTable {
  if (o.map) return generateEelsMap(seed, { ...o, map: o.map });
  const { phases, anomaly } = resolvePhases(o);
  const plan: { phase: EelsPhase; count: number; anomalous: boolean }[] = [];
  for (const ph of phases) {
    if (ph === anomaly) {
      if (o.includeAnomaly) plan.push({ phase: ph, count: o.anomalyCount ?? o.perClass, anomalous: true });
    } else plan.push({ phase: ph, count: o.perClass, anomalous: false });
  }
  if (anomaly && !phases.includes(anomaly) && o.includeAnomaly) plan.push({ phase: anomaly, count: o.anomalyCount ?? o.perClass, anomalous: true });
  const axis = energyAxis(o);
  const n = plan.reduce((s, p) => s + p.count, 0);
  const d = o.channels;
  const spectra = new Float32Array(n * d);
  const clean = new Float32Array(n * d);
  const ids: string[] = [];
  const labels: string[] = [];
  const anomalyCol: boolean[] = [];
  let row = 0;
  for (const { phase, count, anomalous } of plan) {
    for (let i = 0; i < count; i++) {
      // One stream per spectrum: changing per_class or the phase list never alters other spectra.
      const rng = new Rng(deriveSeed(seed, 'synthetic.eels', phase.name, i));
      drawSpectrum(phase, axis, rng, o, clean, spectra, row);
      ids.push(`${phase.name}-${String(i).padStart(4, '0')}`);
      labels.push(phase.name);
      anomalyCol.push(anomalous);
      row++;
    }
  }
  const table: SpectraTable = {
    n, d, ids, labels, spectra, clean, axis,
    axisUnit: 'eV', axisName: 'energy loss',
    columns: {},
    metadata: {
      generator: 'synthetic.eels',
      dose: String(o.dose),
      phases: JSON.stringify(plan.map(({ phase }) => phase)),
    },
  };
  if (anomaly) {
    table.columns.anomaly = anomalyCol;
    table.metadata.anomaly = JSON.stringify(anomaly.name);
  }
  return table;
}
