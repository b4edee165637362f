export {
  type AutoencoderShape,
  buildAutoencoder,
  exportWeights,
  importWeights,
  PAD,
  RESERVED_IDS,
  type SavedWeight,
  scoreWindows,
  trainAutoencoder,
  UNKNOWN,
} from "./autoencoder-model.js";
export {
  type AutoencoderStatus,
  SEQUENCE_AUTOENCODER_DETECTOR,
  type SequenceAutoencoderBaselineState,
  SequenceAutoencoderDetector,
  type SequenceAutoencoderOptions,
  sequenceAutoencoderBaselineSchema,
  slidingWindows,
} from "./sequence-autoencoder-detector.js";
export { loadTensorFlow, type TensorFlow, type TensorFlowLoader, type TensorFlowResult } from "./tensorflow-loader.js";
