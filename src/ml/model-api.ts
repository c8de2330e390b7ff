/**
 * What every trained spectral model offers downstream code (encode, decode,
 * reconstruct), whatever it is: PCA or an autoencoder. Matrices are row-major
 * Float32Arrays: n × inputDim for spectra, n × latentDim for codes.
 */
export type ModelArch = 'pca' | 'dense' | 'conv1d' | 'transformer';

export interface SpectralModel {
  arch: ModelArch;
  inputDim: number;
  latentDim: number;
  /** Loss the model was trained with: reconstruction errors use the matching deviance. */
  loss: 'mse' | 'poisson';
  encode(x: Float32Array, n: number): Promise<Float32Array>;
  decode(z: Float32Array, n: number): Promise<Float32Array>;
  /** Releases tensors held by the model. */
  dispose(): void;
}
