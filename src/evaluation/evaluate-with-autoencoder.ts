/**
 * The sequence autoencoder's ablation: `npm run eval`'s agentdojo evaluation with the autoencoder added.
 *
 *   node dist/src/detectors/sequence-autoencoder/evaluate-with-autoencoder.js [--datasets folder] [--json]
 *
 * Prints the usual tables (the "all but sequence_autoencoder" row is the evaluation without it, since detectors do
 * not see each other's findings) and the autoencoder's cost: training time, capture-path and scoring time per event,
 * and the size of its saved baseline.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Detector, ExchangePosition, FindingSink } from "../core/detector.js";
import type { CapturedExchange } from "../core/exchange.js";
import {
  SequenceAutoencoderDetector,
  type SequenceAutoencoderOptions,
} from "../detectors/sequence-autoencoder/sequence-autoencoder-detector.js";
import { type DatasetEvaluation, evaluateDataset, formatEvaluation } from "./evaluate-detection.js";

/** What the autoencoder cost in one evaluation. */
export interface AutoencoderCost {
  training_ms: number;
  /** `learn`, `observe` and `endSession` time on the capture path, per scored event. */
  capture_path_microseconds_per_event: number;
  /** Batched inference and judging off the capture path, per scored event. */
  scoring_microseconds_per_event: number;
  windows_inferred: number;
  baseline_bytes: number;
  dropped_sessions: number;
}

/** Times the synchronous capture-path calls of a detector, leaving its behaviour alone. */
class TimedDetector implements Detector {
  readonly name: string;
  captureMs = 0;
  /** Size of the saved state, taken at shutdown (replay shuts detectors down, and shutdown releases the models). */
  baselineBytes = 0;

  constructor(private readonly inner: SequenceAutoencoderDetector) {
    this.name = inner.name;
  }

  learn(exchange: CapturedExchange, position: ExchangePosition): void {
    const started = performance.now();
    this.inner.learn(exchange, position);
    this.captureMs += performance.now() - started;
  }

  observe(exchange: CapturedExchange, position: ExchangePosition, emit: FindingSink): void {
    const started = performance.now();
    this.inner.observe(exchange, position, emit);
    this.captureMs += performance.now() - started;
  }

  endSession(session: string, time_ms: number, emit: FindingSink): void {
    const started = performance.now();
    this.inner.endSession(session, time_ms, emit);
    this.captureMs += performance.now() - started;
  }

  forceFlush(emit: FindingSink): Promise<void> {
    return this.inner.forceFlush(emit);
  }

  shutdown(): Promise<void> {
    if (this.baselineBytes === 0) this.baselineBytes = JSON.stringify(this.inner.saveBaseline()).length;
    return this.inner.shutdown();
  }
}

/** Evaluates `dataset` with every evaluated detector plus a sequence autoencoder built with `options`. */
export async function evaluateWithAutoencoder(
  folder: string,
  dataset = "agentdojo",
  options: SequenceAutoencoderOptions = {},
): Promise<{ evaluation: DatasetEvaluation; cost: AutoencoderCost }> {
  const detector = new SequenceAutoencoderDetector(options);
  const timed = new TimedDetector(detector);
  const evaluation = await evaluateDataset(folder, dataset, { extraDetectors: [timed] });
  const perEvent = (ms: number): number => Math.round((ms * 1000 * 100) / Math.max(1, evaluation.events)) / 100;
  const cost: AutoencoderCost = {
    training_ms: Math.round(detector.trainingMs),
    capture_path_microseconds_per_event: perEvent(timed.captureMs),
    scoring_microseconds_per_event: perEvent(detector.scoringMs),
    windows_inferred: detector.windowsInferred,
    baseline_bytes: timed.baselineBytes,
    dropped_sessions: detector.dropped,
  };
  await detector.shutdown();
  return { evaluation, cost };
}

async function main(argv: readonly string[]): Promise<number> {
  const datasetsIndex = argv.indexOf("--datasets");
  const root = fileURLToPath(new URL("../../..", import.meta.url));
  const folder =
    (datasetsIndex === -1 ? undefined : argv[datasetsIndex + 1]) ??
    (process.env.TOOLWATCH_DATASETS || join(root, "..", "shared", "datasets"));
  if (!existsSync(join(folder, "agentdojo", "test.jsonl.gz"))) {
    process.stderr.write(`agentdojo/test.jsonl.gz not found under ${folder} (set TOOLWATCH_DATASETS or --datasets)\n`);
    return 1;
  }
  const { evaluation, cost } = await evaluateWithAutoencoder(folder);
  if (argv.includes("--json")) process.stdout.write(`${JSON.stringify({ evaluation, cost }, null, 2)}\n`);
  else
    process.stdout.write(
      `${formatEvaluation([evaluation])}\n## sequence_autoencoder cost\n\n${JSON.stringify(cost, null, 2)}\n`,
    );
  return 0;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = await main(process.argv.slice(2));
}
