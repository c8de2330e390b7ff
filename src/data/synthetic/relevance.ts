/**
 * The two tabular benchmarks of the spectral feature-relevance paper, as spectra
 * tables whose channels are features (axis = feature index).
 */
import { deriveSeed, Rng } from '../../util/random.js';
import type { SpectraTable } from '../arrow-io.js';

function featureTable(name: string, n: number, d: number, spectra: Float32Array, labels: string[], metadata: Record<string, string>): SpectraTable {
  return {
    n, d, spectra, labels,
    ids: Array.from({ length: n }, (_, i) => `${name}-${String(i).padStart(5, '0')}`),
    axis: Float64Array.from({ length: d }, (_, j) => j),
    axisUnit: '', axisName: 'feature',
    columns: {},
    metadata: { generator: `synthetic.${name}`, ...metadata },
  };
}

/**
 * Independent Gaussians: feature j ~ N(∓Δμ_j/2, σ²) for class 0/1, so the classes
 * differ in feature j by exactly Δμ_j and features with Δμ_j = 0 carry no information.
 */
export function generateRelevance(seed: number, perClass: number, deltaMu: number[], sd: number): SpectraTable {
  const d = deltaMu.length;
  const n = 2 * perClass;
  const spectra = new Float32Array(n * d);
  const labels: string[] = [];
  const rng = new Rng(deriveSeed(seed, 'synthetic.relevance'));
  for (let i = 0; i < n; i++) {
    const cls = i < perClass ? 0 : 1;
    const sign = cls === 0 ? -0.5 : 0.5;
    for (let j = 0; j < d; j++) spectra[i * d + j] = rng.normal(sign * deltaMu[j]!, sd);
    labels.push(String(cls));
  }
  return featureTable('relevance', n, d, spectra, labels, { delta_mu: JSON.stringify(deltaMu), sd: JSON.stringify(sd) });
}

/**
 * Correlated pairs: x₂ₙ ~ N(0,1); class 0 copies it (x₂ₙ₊₁ = x₂ₙ), class 1 flips the
 * sign with probability pₙ. Every feature is N(0,1) in both classes, so no single
 * feature separates them; the pair (x₂ₙ, x₂ₙ₊₁) does, the more the larger pₙ.
 * Features 8 and 9 are pure N(0,1) noise.
 */
export function generateCorrelated(seed: number, perClass: number, p: number[]): SpectraTable {
  const d = 10;
  const n = 2 * perClass;
  const spectra = new Float32Array(n * d);
  const labels: string[] = [];
  const rng = new Rng(deriveSeed(seed, 'synthetic.correlated'));
  for (let i = 0; i < n; i++) {
    const cls = i < perClass ? 0 : 1;
    for (let k = 0; k < 4; k++) {
      const x = rng.normal();
      const flip = cls === 1 && rng.uniform() < p[k]!;
      spectra[i * d + 2 * k] = x;
      spectra[i * d + 2 * k + 1] = flip ? -x : x;
    }
    spectra[i * d + 8] = rng.normal();
    spectra[i * d + 9] = rng.normal();
    labels.push(String(cls));
  }
  return featureTable('correlated', n, d, spectra, labels, { p: JSON.stringify(p) });
}
