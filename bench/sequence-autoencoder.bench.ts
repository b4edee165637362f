/**
 * Cost of the optional LSTM sequence autoencoder, on the agentdojo data set (skipped when it is absent):
 *
 * (a) loading TensorFlow.js and its wasm backend, ms;
 * (b) training on `baseline.jsonl.gz` (learn path plus `await train()`), ms, alone on the event loop;
 * (c) capture-path cost (`observe` + `endSession`) on `test.jsonl.gz`, µs per event: what the proxy pays;
 * (d) batched scoring at `forceFlush` (inference of unseen windows and judging), µs per event, off the capture path;
 * (e) the saved baseline, bytes of JSON.
 *
 * Run: `npx tsc -p . && node dist/bench/sequence-autoencoder.bench.js`.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { CapturedExchange } from "../src/core/exchange.js";
import { readJsonLines } from "../src/defence/poisoning/dataset-files.js";
import { loadTensorFlow, SequenceAutoencoderDetector } from "../src/detectors/sequence-autoencoder/index.js";
import { Pipeline } from "../src/pipeline/pipeline.js";
import type { BenchResult } from "./bench-result.js";

function datasetsFolder(): string {
  const root = fileURLToPath(new URL("../..", import.meta.url));
  return process.env.TOOLWATCH_DATASETS || join(root, "..", "shared", "datasets");
}

function exchanges(file: string): CapturedExchange[] {
  return readJsonLines(file) as unknown as CapturedExchange[];
}

/** The sequence autoencoder's costs; empty metrics when TensorFlow.js or the data set is missing. */
export async function benchSequenceAutoencoder(): Promise<BenchResult> {
  const folder = join(datasetsFolder(), "agentdojo");
  const name = "sequence autoencoder (agentdojo)";
  if (!existsSync(join(folder, "test.jsonl.gz"))) {
    process.stderr.write(`sequence autoencoder bench skipped: ${folder}/test.jsonl.gz not found\n`);
    return { name, metrics: {} };
  }
  let started = performance.now();
  const loaded = await loadTensorFlow();
  const loadMs = performance.now() - started;
  if (!loaded.ok) {
    process.stderr.write(`sequence autoencoder bench skipped: ${loaded.message}\n`);
    return { name, metrics: {} };
  }
  const baseline = exchanges(join(folder, "baseline.jsonl.gz"));
  const test = exchanges(join(folder, "test.jsonl.gz"));

  const detector = new SequenceAutoencoderDetector();
  const pipeline = new Pipeline({ store: null, detectors: [detector] });
  started = performance.now();
  for (const exchange of baseline) pipeline.learn(exchange);
  pipeline.finishLearning();
  await detector.train();
  const trainingMs = performance.now() - started;

  let findings = 0;
  const scoring = new Pipeline({ store: null, detectors: [detector], findingSinks: [() => findings++] });
  started = performance.now();
  for (const exchange of test) scoring.process(exchange);
  for (const session of new Set(test.map((exchange) => exchange.session))) scoring.endSession(session);
  const captureMs = performance.now() - started;
  const scoringBefore = detector.scoringMs;
  await scoring.forceFlush();
  const scoringMs = detector.scoringMs - scoringBefore;
  const baselineBytes = JSON.stringify(detector.saveBaseline()).length;
  await detector.shutdown();
  return {
    name,
    metrics: {
      tensorflow_load_ms: Math.round(loadMs),
      training_ms: Math.round(trainingMs),
      training_events: baseline.length,
      capture_path_us_per_event: Math.round((captureMs * 1000 * 100) / test.length) / 100,
      batched_scoring_us_per_event: Math.round((scoringMs * 1000 * 100) / test.length) / 100,
      windows_inferred: detector.windowsInferred,
      findings,
      baseline_bytes: baselineBytes,
    },
    targets: { capture_path_us_per_event: { max: 5 }, training_ms: { max: 60_000 } },
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.stdout.write(`${JSON.stringify(await benchSequenceAutoencoder(), null, 2)}\n`);
}
