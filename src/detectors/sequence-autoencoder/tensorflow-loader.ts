import { createRequire } from "node:module";
import { dirname } from "node:path";
import type * as TensorFlowModule from "@tensorflow/tfjs";

/** The TensorFlow.js namespace, as `import("@tensorflow/tfjs")` gives it. */
export type TensorFlow = typeof TensorFlowModule;

/** TensorFlow.js on its wasm backend, or why it could not be had (packages not installed, wasm refused). */
export type TensorFlowResult = { ok: true; tf: TensorFlow } | { ok: false; message: string };

/** Loads TensorFlow.js; replaceable so tests can simulate a missing optional install. */
export type TensorFlowLoader = () => Promise<TensorFlowResult>;

let shared: Promise<TensorFlowResult> | null = null;

/**
 * Imports `@tensorflow/tfjs` and `@tensorflow/tfjs-backend-wasm` (optional dependencies) and selects the wasm
 * backend, once per process. Nothing is imported until a detector that needs the model asks: the packages are an
 * optional install, and loading them costs about 300 ms and a few MB that deployments without the detector
 * should not pay. Never rejects: a missing package is a value.
 */
export function loadTensorFlow(): Promise<TensorFlowResult> {
  shared ??= importTensorFlow();
  return shared;
}

async function importTensorFlow(): Promise<TensorFlowResult> {
  let tf: TensorFlow;
  let wasm: typeof import("@tensorflow/tfjs-backend-wasm");
  try {
    tf = await import("@tensorflow/tfjs");
    wasm = await import("@tensorflow/tfjs-backend-wasm");
  } catch (error) {
    return {
      ok: false,
      message: `@tensorflow/tfjs and @tensorflow/tfjs-backend-wasm are not installed (${(error as Error).message.split("\n")[0]}); install them to use the sequence autoencoder`,
    };
  }
  try {
    // The wasm binaries ship inside the package; pointing at its dist folder keeps loading offline.
    const require = createRequire(import.meta.url);
    const folder = dirname(require.resolve("@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm"));
    wasm.setWasmPaths(`${folder}/`);
    if (!(await tf.setBackend("wasm"))) return { ok: false, message: "the TensorFlow.js wasm backend did not start" };
    await tf.ready();
    return { ok: true, tf };
  } catch (error) {
    return { ok: false, message: `the TensorFlow.js wasm backend did not start: ${(error as Error).message}` };
  }
}
