/**
 * Model artifacts. A model is a directory:
 *
 *   config.json   { format: "specflow-model", version: 1, arch, inputDim, latentDim, loss,
 *                   arch sizes (dense | conv1d | transformer) and scaling, or PCA eigenvalues
 *                   and explained variance; axis; training provenance;
 *                   weights: { file, dtype, byteOrder: "little",
 *                              tensors: [{ name, shape, offset (bytes), trainable }] } }
 *   weights.bin   the tensors, concatenated (float32 for autoencoders, float64 for PCA)
 *
 * `loadModel(dir)` rebuilds any of them (PCA included) as a SpectralModel
 * without retraining. tfjs is loaded only for autoencoders.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SpectralModel } from './model-api.js';
import type { Autoencoder, AutoencoderConfig } from './autoencoder.js';
import type { PcaConfig, PcaModel } from './pca.js';

export const CONFIG_FILE = 'config.json';
export const WEIGHTS_FILE = 'weights.bin';

export interface TensorEntry {
  name: string;
  shape: number[];
  offset: number;
  trainable: boolean;
}

export interface WeightsManifest {
  file: string;
  dtype: 'float32' | 'float64';
  byteOrder: 'little';
  tensors: TensorEntry[];
}

export type ModelConfig = (AutoencoderConfig | PcaConfig) & { weights?: WeightsManifest };

/** The trained-model classes this module can save. */
export type SavableModel = Autoencoder | PcaModel;

function isPca(model: SavableModel): model is PcaModel {
  return model.arch === 'pca';
}

export async function saveModel(model: SavableModel, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const tensors: { entry: Omit<TensorEntry, 'offset'>; values: Float32Array | Float64Array }[] = [];
  let dtype: WeightsManifest['dtype'];
  if (isPca(model)) {
    dtype = 'float64';
    tensors.push({ entry: { name: 'mean', shape: [model.inputDim], trainable: false }, values: model.mean });
    tensors.push({ entry: { name: 'components', shape: [model.latentDim, model.inputDim], trainable: false }, values: model.components });
  } else {
    dtype = 'float32';
    const snap = model.store.snapshot();
    for (const s of model.store.specs) tensors.push({ entry: { name: s.name, shape: s.shape, trainable: s.trainable }, values: snap.get(s.name)! });
  }
  const bytesPer = dtype === 'float64' ? 8 : 4;
  const total = tensors.reduce((s, t) => s + t.values.length * bytesPer, 0);
  const buf = Buffer.alloc(total);
  const entries: TensorEntry[] = [];
  let offset = 0;
  for (const t of tensors) {
    entries.push({ ...t.entry, offset });
    for (let i = 0; i < t.values.length; i++) {
      if (dtype === 'float64') buf.writeDoubleLE(t.values[i]!, offset + i * 8);
      else buf.writeFloatLE(t.values[i]!, offset + i * 4);
    }
    offset += t.values.length * bytesPer;
  }
  const config: ModelConfig = { ...model.config, weights: { file: WEIGHTS_FILE, dtype, byteOrder: 'little', tensors: entries } };
  await writeFile(join(dir, WEIGHTS_FILE), buf);
  await writeFile(join(dir, CONFIG_FILE), JSON.stringify(config, null, 2) + '\n');
}

/** The config of a model directory, without loading weights (cheap; no tfjs). */
export async function readModelConfig(dir: string): Promise<ModelConfig> {
  let text: string;
  try {
    text = await readFile(join(dir, CONFIG_FILE), 'utf8');
  } catch (e) {
    throw new Error(`${dir} is not a model directory (no ${CONFIG_FILE}: ${(e as Error).message})`);
  }
  const config = JSON.parse(text) as ModelConfig;
  if (config.format !== 'specflow-model') throw new Error(`${join(dir, CONFIG_FILE)}: not a specflow model config`);
  if (config.version !== 1) throw new Error(`${join(dir, CONFIG_FILE)}: unsupported model format version ${String(config.version)}`);
  return config;
}

async function readWeights(dir: string, m: WeightsManifest): Promise<Map<string, Float32Array | Float64Array>> {
  const buf = await readFile(join(dir, m.file));
  const bytesPer = m.dtype === 'float64' ? 8 : 4;
  const out = new Map<string, Float32Array | Float64Array>();
  for (const t of m.tensors) {
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (t.offset + size * bytesPer > buf.length) throw new Error(`${join(dir, m.file)} is truncated (tensor "${t.name}")`);
    const values = m.dtype === 'float64' ? new Float64Array(size) : new Float32Array(size);
    for (let i = 0; i < size; i++) {
      values[i] = m.dtype === 'float64' ? buf.readDoubleLE(t.offset + i * 8) : buf.readFloatLE(t.offset + i * 4);
    }
    out.set(t.name, values);
  }
  return out;
}

/** Loads a model directory written by saveModel (any arch, PCA included). */
export async function loadModel(dir: string): Promise<SpectralModel & SavableModel> {
  const config = await readModelConfig(dir);
  if (!config.weights) throw new Error(`${join(dir, CONFIG_FILE)} lists no weights`);
  const weights = await readWeights(dir, config.weights);
  const { weights: _manifest, ...rest } = config;
  if (rest.arch === 'pca') {
    const { PcaModel } = await import('./pca.js');
    const mean = weights.get('mean');
    const components = weights.get('components');
    if (!mean || !components) throw new Error(`${dir}: PCA weights need "mean" and "components"`);
    return new PcaModel(rest as PcaConfig, Float64Array.from(mean), Float64Array.from(components));
  }
  const { Autoencoder } = await import('./autoencoder.js');
  const { getTf } = await import('./engine.js');
  const { tf } = await getTf();
  const f32 = new Map<string, Float32Array>();
  for (const [k, v] of weights) f32.set(k, v instanceof Float32Array ? v : Float32Array.from(v));
  return new Autoencoder(tf, rest as AutoencoderConfig, 0, f32);
}
