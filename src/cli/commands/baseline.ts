import type { Command } from "commander";
import { parseSince } from "../../config/duration.js";
import type { Detector } from "../../core/detector.js";
import { ToolwatchError } from "../../core/errors.js";
import type { CapturedExchange } from "../../core/exchange.js";
import { baselineDetectors } from "../../detectors/baseline/index.js";
import { defaultDetectors, describeDetectorBaseline } from "../../detectors/index.js";
import { SequenceAutoencoderDetector } from "../../detectors/sequence-autoencoder/index.js";
import { type CaptureRecord, readCaptureBatches } from "../../record/read-capture.js";
import { mergeByTime } from "../../replay/merge-by-time.js";
import { type BaselineFile, readBaselineFile, trainBaseline, writeBaselineFile } from "../../runtime/baseline-file.js";
import { SqliteStore } from "../../store/sqlite-store.js";

interface TrainOptions {
  output: string;
  db?: string;
  since?: string;
  until?: string;
  strict?: boolean;
  withAutoencoder?: boolean;
}

/** Every detector that learns a baseline: the defaults plus the baseline models, each name once. */
export function learningDetectors(options: { autoencoder?: boolean } = {}): Detector[] {
  const byName = new Map<string, Detector>();
  // The autoencoder is opt-in: it loads TensorFlow.js and adds seconds of training, and it earned nothing in the
  // ablation (docs/sequence-autoencoder.md).
  const extra = options.autoencoder ? [new SequenceAutoencoderDetector()] : [];
  for (const detector of [...defaultDetectors(), ...baselineDetectors(), ...extra]) {
    if (detector.saveBaseline !== undefined && !byName.has(detector.name)) byName.set(detector.name, detector);
  }
  return [...byName.values()];
}

/** Registers `toolwatch baseline train` and `toolwatch baseline show`. */
export function registerBaselineCommand(program: Command): void {
  const baseline = program
    .command("baseline")
    .description("Learn what normal tool use looks like from capture files, and inspect what was learned.");
  baseline
    .command("train")
    .description(
      "Learn baselines (tool sequences, arguments, timing, resources) from known-normal capture files, or from the store.",
    )
    .argument("[captures...]", "known-normal capture files (.jsonl or .jsonl.gz), merged by time")
    .requiredOption("-o, --output <file>", "where to write the baseline (JSON)")
    .option("--db <file>", "learn from the exchanges stored in this database instead of capture files")
    .option("--since <time>", "with --db: only exchanges since this time (30d, 2h, or an RFC 3339 time)")
    .option("--until <time>", "with --db: only exchanges before this time (the end of the learning period)")
    .option("--strict", "stop at the first bad line instead of reporting and skipping it")
    .option("--with-autoencoder", "also train the LSTM sequence autoencoder (TensorFlow.js, optional install)")
    .action(async (files: string[], options: TrainOptions) => {
      if ((files.length === 0) === (options.db === undefined)) {
        throw new ToolwatchError("usage", "give capture files or --db, not both");
      }
      let badLines = 0;
      const started = performance.now();
      const detectors = learningDetectors({ autoencoder: options.withAutoencoder ?? false });
      let trained: BaselineFile;
      if (options.db !== undefined) {
        const now = Date.now();
        const store = new SqliteStore(options.db, { readonly: true });
        try {
          trained = await trainBaseline(
            {
              files: [options.db],
              batches: storedBatches(store, {
                ...(options.since === undefined ? {} : { since_ms: parseSince(options.since, now) }),
                ...(options.until === undefined ? {} : { until_ms: parseSince(options.until, now) }),
              }),
            },
            detectors,
          );
        } finally {
          await store.shutdown();
        }
      } else {
        const sources = files.map((file) =>
          readCaptureBatches(file, {
            strict: options.strict ?? false,
            onBadLine: (message) => {
              badLines++;
              if (badLines <= 10) process.stderr.write(`toolwatch: skipped ${message}\n`);
            },
          }),
        );
        trained = await trainBaseline({ files, batches: exchangesOf(mergeByTime<CaptureRecord>(sources)) }, detectors);
      }
      writeBaselineFile(options.output, trained);
      const seconds = (performance.now() - started) / 1000;
      process.stderr.write(
        `learned ${trained.trained_on.events} events, ${trained.trained_on.sessions} sessions, agent types ${trained.trained_on.agents.join(", ") || "none"} in ${seconds.toFixed(2)} s; bad lines: ${badLines}\n` +
          `  detectors: ${Object.keys(trained.detectors).join(", ")} -> ${options.output}\n`,
      );
    });
  baseline
    .command("show")
    .description(
      "Summarise a baseline file: agent types, tools, top transitions, argument statistics, hours, resources.",
    )
    .argument("<file>", "a baseline file written by `toolwatch baseline train`")
    .action((file: string) => {
      const read = readBaselineFile(file);
      if (!read.ok) throw new ToolwatchError("config_invalid", read.message);
      process.stdout.write(formatBaseline(read.value));
    });
}

async function* exchangesOf(batches: AsyncIterable<CaptureRecord[]>): AsyncGenerator<CapturedExchange[]> {
  for await (const batch of batches) yield batch.map((record) => record.exchange);
}

/** The readable summary `toolwatch baseline show` prints. */
export function formatBaseline(baseline: BaselineFile): string {
  const { trained_on: trainedOn } = baseline;
  const lines = [
    `baseline created ${baseline.created} from ${trainedOn.files.join(", ") || "no files"}`,
    `  ${trainedOn.events} events, ${trainedOn.sessions} sessions, agent types: ${trainedOn.agents.join(", ") || "none"}`,
  ];
  for (const [name, state] of Object.entries(baseline.detectors)) {
    lines.push("", `${name}:`);
    const described = describeDetectorBaseline(name, state);
    if (described === null) {
      lines.push(`  ${JSON.stringify(state).length} bytes of state (no summary for this detector)`);
    } else {
      for (const line of described) lines.push(`  ${line}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

/**
 * The store's exchanges in pages, oldest first: what live traffic recorded becomes the training traffic, so a
 * deployment can learn its own baseline after a learning period (`--until` the end of that period).
 */
async function* storedBatches(
  store: SqliteStore,
  range: { since_ms?: number; until_ms?: number },
): AsyncGenerator<CapturedExchange[]> {
  let after: number | undefined;
  for (;;) {
    const page = await store.exchanges({
      ...range,
      limit: 5_000,
      ...(after === undefined ? {} : { after_seq: after }),
    });
    if (page.length === 0) return;
    after = page[page.length - 1]!.seq;
    yield page.map((stored) => stored.exchange);
  }
}
