/**
 * PCA with k components (fitted with ml-pca) behind the SpectralModel
 * interface: encode z = (x − mean)·V, decode x̂ = mean + z·Vᵀ, where the columns
 * of V (D × k) are the leading eigenvectors of the covariance. Signs are fixed
 * (largest-magnitude loading positive) so results do not depend on the solver.
 * Pure JS: no tfjs.
 */
import type { SpectralModel } from './model-api.js';

export interface PcaConfig {
  format: 'specflow-model';
  version: 1;
  arch: 'pca';
  inputDim: number;
  latentDim: number;
  loss: 'mse' | 'poisson';
  /** Variance of each kept component (eigenvalue) and its share of the total variance. */
  eigenvalues: number[];
  explainedVariance: number[];
  /** Total variance (sum of all eigenvalues). */
  totalVariance: number;
  axis?: { values: number[]; unit: string; name: string };
  training?: Record<string, unknown>;
}

export class PcaModel implements SpectralModel {
  readonly arch = 'pca' as const;
  readonly inputDim: number;
  readonly latentDim: number;
  readonly loss: 'mse' | 'poisson';

  /** mean: length D; components: k × D row-major (row c = component c). */
  constructor(readonly config: PcaConfig, readonly mean: Float64Array, readonly components: Float64Array) {
    this.inputDim = config.inputDim;
    this.latentDim = config.latentDim;
    this.loss = config.loss;
  }

  async encode(x: Float32Array, n: number): Promise<Float32Array> {
    const d = this.inputDim;
    const k = this.latentDim;
    if (x.length !== n * d) throw new Error(`expected ${n}×${d} values, got ${x.length}`);
    const out = new Float32Array(n * k);
    const row = new Float64Array(d);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < d; j++) row[j] = x[i * d + j]! - this.mean[j]!;
      for (let c = 0; c < k; c++) {
        let s = 0;
        const off = c * d;
        for (let j = 0; j < d; j++) s += row[j]! * this.components[off + j]!;
        out[i * k + c] = s;
      }
    }
    return out;
  }

  async decode(z: Float32Array, n: number): Promise<Float32Array> {
    const d = this.inputDim;
    const k = this.latentDim;
    if (z.length !== n * k) throw new Error(`expected ${n}×${k} values, got ${z.length}`);
    const out = new Float32Array(n * d);
    const row = new Float64Array(d);
    for (let i = 0; i < n; i++) {
      row.set(this.mean);
      for (let c = 0; c < k; c++) {
        const zc = z[i * k + c]!;
        const off = c * d;
        for (let j = 0; j < d; j++) row[j]! += zc * this.components[off + j]!;
      }
      out.set(row, i * d);
    }
    return out;
  }

  async reconstruct(x: Float32Array, n: number): Promise<Float32Array> {
    return this.decode(await this.encode(x, n), n);
  }

  dispose(): void {}
}

export interface PcaOptions {
  latentDim: number;
  axis?: PcaConfig['axis'];
  seed?: number;
}

/** Fits PCA on an n × d matrix (rows are spectra). */
export async function trainPca(x: Float32Array, n: number, d: number, options: PcaOptions): Promise<PcaModel> {
  const k = options.latentDim;
  if (x.length !== n * d) throw new Error(`expected ${n}×${d} values, got ${x.length}`);
  if (k > Math.min(n, d)) throw new RangeError(`latent_dim ${k} exceeds min(spectra, channels) = ${Math.min(n, d)}`);
  const { PCA } = await import('ml-pca');
  const rowsArr: Float64Array[] = [];
  for (let i = 0; i < n; i++) rowsArr.push(Float64Array.from(x.subarray(i * d, (i + 1) * d)));
  // the covariance route (d × d eigenproblem) is much cheaper than an SVD of n × d when n ≫ d
  const method = n > 2 * d ? 'covarianceMatrix' : 'SVD';
  const pca = new PCA(rowsArr as unknown as number[][], { method, center: true, scale: false });
  const eig = pca.getEigenvalues() as number[];
  const U = pca.getEigenvectors(); // d × m, columns are components
  // order by eigenvalue (descending) to be independent of the solver's order
  const order = eig.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]).map(([, i]) => i);
  const total = eig.reduce((s, v) => s + Math.max(v, 0), 0);
  const components = new Float64Array(k * d);
  const eigenvalues: number[] = [];
  for (let c = 0; c < k; c++) {
    const col = order[c]!;
    let big = 0;
    for (let j = 0; j < d; j++) {
      const v = U.get(j, col);
      if (Math.abs(v) > Math.abs(big)) big = v;
    }
    const sign = big < 0 ? -1 : 1;
    for (let j = 0; j < d; j++) components[c * d + j] = sign * U.get(j, col);
    eigenvalues.push(Math.max(eig[col]!, 0));
  }
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j]! += x[i * d + j]!;
  for (let j = 0; j < d; j++) mean[j]! /= n;
  const config: PcaConfig = {
    format: 'specflow-model',
    version: 1,
    arch: 'pca',
    inputDim: d,
    latentDim: k,
    loss: 'mse',
    eigenvalues,
    explainedVariance: eigenvalues.map((v) => (total > 0 ? v / total : 0)),
    totalVariance: total,
    ...(options.axis ? { axis: options.axis } : {}),
    training: { method, n },
  };
  return new PcaModel(config, mean, components);
}
