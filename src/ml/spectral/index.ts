/** Spectral neural networks for input-feature relevance: model, training, ranking checks. */
export { SpectralNet, forwardWith, initialValues, parameterShapes, prepareInputs, rankRows } from './model.js';
export { JsAdam, lossAndGrads } from './step.js';
export type { StepPenalty, StepTarget } from './step.js';
export type { SpectralConfig, SpectralLoss, SpectralTask, RelevanceRow, TF } from './model.js';
export { trainSpectral, distinctClasses, SPECTRAL_DEFAULTS } from './train.js';
export type { SpectralTrainData, SpectralTrainOptions, SpectralTrainResult } from './train.js';
export {
  classIndices, curveArea, evaluate, higherIsBetter, keepTop, kGrid, maskedCurve, orderByScore,
  permutationImportance, randomOrders, scoreOutputs, smallestK, spearman,
} from './evaluate.js';
export type { EvalResult, Truth } from './evaluate.js';
