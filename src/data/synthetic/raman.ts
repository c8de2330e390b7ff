/**
 * SERS-like spectra of metabolite classes on 400–1800 cm⁻¹.
 *
 * Each spectrum = class-specific Lorentzian bands (the metabolite's fingerprint)
 *   + bands every biological sample shares (phenylalanine 1003, CH₂ 1450, amide I 1655)
 *   + a smooth fluorescence background (a positive quadratic in the shift),
 * with per-spectrum SERS enhancement (log-normal intensity), band-shift jitter
 * (substrate/calibration drift), and shot noise: counts ~ Poisson(clean / noise²),
 * rescaled, so a unit-height band has relative noise `noise`.
 */
import { deriveSeed, Rng } from '../../util/random.js';
import type { SpectraTable } from '../arrow-io.js';

interface Band { x: number; y: number; width: number }

/** Characteristic SERS bands (cm⁻¹, relative height, FWHM) of common metabolites. */
export const RAMAN_CLASSES: readonly { name: string; bands: Band[] }[] = [
  { name: 'adenine', bands: [{ x: 735, y: 1, width: 12 }, { x: 1330, y: 0.5, width: 16 }, { x: 1455, y: 0.35, width: 18 }] },
  { name: 'glucose', bands: [{ x: 425, y: 0.6, width: 14 }, { x: 520, y: 0.7, width: 14 }, { x: 1060, y: 0.5, width: 12 }, { x: 1125, y: 1, width: 12 }] },
  { name: 'lactate', bands: [{ x: 855, y: 1, width: 12 }, { x: 1045, y: 0.6, width: 12 }, { x: 1415, y: 0.5, width: 16 }] },
  { name: 'uric-acid', bands: [{ x: 640, y: 1, width: 12 }, { x: 1135, y: 0.6, width: 14 }, { x: 1595, y: 0.45, width: 16 }] },
  { name: 'glutathione', bands: [{ x: 670, y: 0.9, width: 12 }, { x: 930, y: 0.5, width: 14 }, { x: 1405, y: 0.7, width: 16 }] },
  { name: 'creatinine', bands: [{ x: 605, y: 0.8, width: 12 }, { x: 840, y: 0.6, width: 12 }, { x: 1240, y: 0.5, width: 16 }, { x: 1590, y: 0.7, width: 16 }] },
];
const SHARED_BANDS: Band[] = [{ x: 1003, y: 0.4, width: 10 }, { x: 1450, y: 0.3, width: 20 }, { x: 1655, y: 0.35, width: 24 }];

export interface RamanOptions {
  classes: number;
  perClass: number;
  channels: number;
  noise: number;
  xMin: number;
  xMax: number;
  shiftJitter: number;
  intensityJitter: number;
  fluorescence: number;
}

export async function generateRaman(seed: number, o: RamanOptions): Promise<SpectraTable> {
  const n = RAMAN_CLASSES.slice(0, o.classes).length * o.perClass;
  const { spectra, clean, axis } = await ramanRows({ seed, o, from: 0, to: n });
  return { ...ramanTable(o, 0, n), spectra, clean, axis };
}

/** Everything of rows [from, to) but the numbers (ids, labels, metadata; axis filled by ramanRows). */
export function ramanTable(o: RamanOptions, from: number, to: number): SpectraTable {
  const classes = RAMAN_CLASSES.slice(0, o.classes);
  const ids: string[] = [];
  const labels: string[] = [];
  for (let row = from; row < to; row++) {
    const cls = classes[Math.floor(row / o.perClass)]!;
    ids.push(`${cls.name}-${String(row % o.perClass).padStart(4, '0')}`);
    labels.push(cls.name);
  }
  return {
    n: to - from, d: o.channels, ids, labels, spectra: new Float32Array(0), axis: new Float64Array(0),
    axisUnit: 'cm-1', axisName: 'Raman shift',
    columns: {},
    metadata: {
      generator: 'synthetic.raman',
      classes: JSON.stringify(classes),
      shared_bands: JSON.stringify(SHARED_BANDS),
    },
  };
}

export interface RamanJob { seed: number; o: RamanOptions; from: number; to: number }

/**
 * Rows [from, to) of the data set (classes one after another, `perClass` rows each).
 * Every row has its own seeded generator, so any range can be computed on its own
 * (the streaming stage spreads ranges over worker threads).
 */
export async function ramanRows({ seed, o, from, to }: RamanJob): Promise<{ spectra: Float32Array; clean: Float32Array; axis: Float64Array }> {
  const { generateSpectrum } = await import('spectrum-generator');
  const classes = RAMAN_CLASSES.slice(0, o.classes);
  const d = o.channels;
  const spectra = new Float32Array((to - from) * d);
  const clean = new Float32Array((to - from) * d);
  let axis = new Float64Array(d);
  const photons = 1 / (o.noise * o.noise);
  for (let row = from; row < to; row++) {
    const cls = classes[Math.floor(row / o.perClass)]!;
    const i = row % o.perClass;
    const rng = new Rng(deriveSeed(seed, 'synthetic.raman', cls.name, i));
    const shift = rng.normal(0, o.shiftJitter);
    const enhancement = Math.exp(rng.normal(0, o.intensityJitter));
    const peaks = [
      ...cls.bands.map((b) => ({ x: b.x + shift, y: b.y * enhancement * Math.exp(rng.normal(0, 0.05)), width: b.width })),
      ...SHARED_BANDS.map((b) => ({ x: b.x + shift, y: b.y * Math.exp(rng.normal(0, 0.15)), width: b.width })),
    ];
    // Fluorescence: positive, smooth, rising or falling across the window.
    const f0 = o.fluorescence * Math.exp(rng.normal(0, 0.3));
    const f1 = rng.normal(0, 0.5);
    const f2 = Math.abs(rng.normal(0, 0.3));
    const baseline = (x: number) => {
      const t = (x - o.xMin) / (o.xMax - o.xMin);
      return f0 * Math.max(0.05, 1 + f1 * (t - 0.5) + f2 * (t - 0.5) * (t - 0.5));
    };
    const s = generateSpectrum(peaks, {
      generator: { from: o.xMin, to: o.xMax, nbPoints: d, shape: { kind: 'lorentzian' } },
      baseline,
    });
    if (row === from) axis = Float64Array.from(s.x);
    const at = (row - from) * d;
    for (let j = 0; j < d; j++) {
      const c = s.y[j]!;
      clean[at + j] = c;
      spectra[at + j] = rng.poisson(c * photons) / photons;
    }
  }
  return { spectra, clean, axis };
}
