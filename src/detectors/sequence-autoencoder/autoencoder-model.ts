import type { LayersModel } from "@tensorflow/tfjs";
import { seededRandom } from "../../core/seeded-random.js";
import type { TensorFlow } from "./tensorflow-loader.js";

/** Id 0 pads windows of sessions shorter than the window; it is never scored. */
export const PAD = 0;
/** Id 1 stands for every tool the agent type's vocabulary does not hold. */
export const UNKNOWN = 1;
/** Ids below this are reserved ({@link PAD}, {@link UNKNOWN}). */
export const RESERVED_IDS = 2;

/** The shape of one autoencoder. */
export interface AutoencoderShape {
  /** Token ids, reserved ones included. */
  vocabulary: number;
  /** Calls per window. */
  window: number;
  embedding: number;
  units: number;
}

/** One weight tensor, saved as plain JSON. */
export interface SavedWeight {
  shape: number[];
  values: number[];
}

/** Every weight is overwritten from the seeded generator; zeros skip tfjs' slow, unseeded orthogonal start. */
const ZERO_INITIALIZERS = { kernelInitializer: "zeros", recurrentInitializer: "zeros" } as const;

/** Initial weights come from a seeded generator, so training is reproducible. */
const generator = seededRandom;

/**
 * embedding → LSTM encoder → repeat → LSTM decoder → softmax over the vocabulary at every step. Weights are drawn
 * from a seeded generator (Glorot-uniform matrices, zero biases, forget-gate bias 1) instead of tfjs' initializers,
 * whose orthogonal recurrent initializer is not seedable everywhere: the same seed gives the same model.
 */
export function buildAutoencoder(tf: TensorFlow, shape: AutoencoderShape, seed: number): LayersModel {
  const model = tf.sequential({
    layers: [
      // The embedding is a bias-free dense layer over one-hot ids: tfjs' embedding layer needs a gradient kernel
      // (UnsortedSegmentSum) that the wasm backend lacks; the product is the same lookup.
      tf.layers.timeDistributed({
        inputShape: [shape.window, shape.vocabulary],
        layer: tf.layers.dense({ units: shape.embedding, useBias: false, kernelInitializer: "zeros" }),
      }),
      tf.layers.lstm({ units: shape.units, name: "encoder", ...ZERO_INITIALIZERS }),
      tf.layers.repeatVector({ n: shape.window }),
      tf.layers.lstm({ units: shape.units, returnSequences: true, name: "decoder", ...ZERO_INITIALIZERS }),
      tf.layers.timeDistributed({
        layer: tf.layers.dense({ units: shape.vocabulary, activation: "softmax", kernelInitializer: "zeros" }),
      }),
    ],
  });
  const random = generator(seed);
  const initial = model.weights.map((weight) => {
    const size = weight.shape.reduce((product: number, dimension) => product * (dimension ?? 1), 1);
    const values = new Float32Array(size);
    if (weight.shape.length === 2) {
      const [rows, columns] = weight.shape as [number, number];
      const limit = Math.sqrt(6 / (rows + columns));
      for (let index = 0; index < size; index++) values[index] = (2 * random() - 1) * limit;
    } else if (/encoder|decoder/.test(weight.name)) {
      // LSTM bias [input, forget, cell, output] gates: a forget bias of 1 lets gradients through early training.
      values.fill(1, shape.units, 2 * shape.units);
    }
    return tf.tensor(values, weight.shape as number[]);
  });
  model.setWeights(initial);
  for (const tensor of initial) tensor.dispose();
  model.compile({ optimizer: tf.train.adam(0.01), loss: "categoricalCrossentropy" });
  return model;
}

/** Trains `model` to reproduce `windows` (token ids, each `window` long). Batches in a fixed order: deterministic. */
export async function trainAutoencoder(
  tf: TensorFlow,
  model: LayersModel,
  windows: readonly (readonly number[])[],
  shape: AutoencoderShape,
  options: { epochs: number; batchSize: number },
): Promise<number> {
  const ids = tf.tensor2d(
    windows.map((window) => [...window]),
    [windows.length, shape.window],
    "int32",
  );
  const targets = tf.tidy(() => tf.oneHot(ids, shape.vocabulary).cast("float32"));
  ids.dispose();
  // An autoencoder's input is its target.
  const inputs = targets;
  try {
    const history = await model.fit(inputs, targets, {
      epochs: options.epochs,
      batchSize: options.batchSize,
      shuffle: false,
      verbose: 0,
    });
    const losses = history.history.loss ?? [];
    return Number(losses[losses.length - 1] ?? Number.NaN);
  } finally {
    inputs.dispose();
  }
}

/**
 * The anomaly score of each window: the mean negative log-likelihood (nats) of its real (non-pad) steps under the
 * reconstruction. Synchronous (the wasm backend computes on the calling thread): call it batched, off the hot path.
 */
export function scoreWindows(
  tf: TensorFlow,
  model: LayersModel,
  windows: readonly (readonly number[])[],
  shape: AutoencoderShape,
): number[] {
  if (windows.length === 0) return [];
  const probabilities = tf.tidy(() => {
    const ids = tf.tensor2d(
      windows.map((window) => [...window]),
      [windows.length, shape.window],
      "int32",
    );
    return model.predict(tf.oneHot(ids, shape.vocabulary).cast("float32")) as ReturnType<TensorFlow["tensor"]>;
  });
  const values = probabilities.dataSync();
  probabilities.dispose();
  const scores: number[] = [];
  for (let row = 0; row < windows.length; row++) {
    const window = windows[row]!;
    let sum = 0;
    let steps = 0;
    for (let step = 0; step < shape.window; step++) {
      const id = window[step] ?? PAD;
      if (id === PAD) continue;
      const probability = values[(row * shape.window + step) * shape.vocabulary + id] ?? 0;
      sum -= Math.log(Math.max(probability, 1e-7));
      steps++;
    }
    scores.push(steps === 0 ? 0 : sum / steps);
  }
  return scores;
}

/** The model's weights as JSON arrays; float32 values written with 9 significant digits, which restore exactly. */
export function exportWeights(model: LayersModel): SavedWeight[] {
  return model.getWeights().map((tensor) => ({
    shape: [...tensor.shape],
    values: Array.from(tensor.dataSync(), (value) => Number(value.toPrecision(9))),
  }));
}

/** Restores weights saved by {@link exportWeights}; returns why they do not fit the model, or `null`. */
export function importWeights(tf: TensorFlow, model: LayersModel, saved: readonly SavedWeight[]): string | null {
  const expected = model.weights;
  if (saved.length !== expected.length) return `expected ${expected.length} weight tensors, got ${saved.length}`;
  for (let index = 0; index < saved.length; index++) {
    const want = expected[index]!.shape.join("x");
    const weight = saved[index]!;
    const size = weight.shape.reduce((product, dimension) => product * dimension, 1);
    if (weight.shape.join("x") !== want || weight.values.length !== size) {
      return `weight ${index} has shape ${weight.shape.join("x")} (${weight.values.length} values), expected ${want}`;
    }
  }
  const tensors = saved.map((weight) => tf.tensor(weight.values, weight.shape, "float32"));
  model.setWeights(tensors);
  for (const tensor of tensors) tensor.dispose();
  return null;
}
