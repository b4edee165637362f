import { stat } from "node:fs/promises";
import { performance } from "node:perf_hooks";
import type { Detector, ExchangeObserver, FindingSink } from "../core/detector.js";
import type { Finding } from "../core/finding.js";
import type { StoreCounters } from "../core/store.js";
import { defaultDetectors } from "../detectors/index.js";
import { Pipeline } from "../pipeline/pipeline.js";
import {
  type CaptureReadStats,
  type CaptureRecord,
  newCaptureReadStats,
  type ReadCaptureOptions,
  readCaptureBatches,
} from "../record/read-capture.js";
import type { HashAlgorithm } from "../store/audit-chain.js";
import { SqliteStore } from "../store/sqlite-store.js";
import { JsonLinesWriter } from "./json-lines-writer.js";
import { mergeByTime } from "./merge-by-time.js";
import { groupDigits, ProgressBar, type ProgressOutput } from "./progress-bar.js";

export interface ReplayOptions {
  /** Capture files to score (`.jsonl` or `.jsonl.gz`), merged by event time. */
  files: readonly string[];
  /** Known-normal capture files, merged by time and learned in full before any scored record. */
  baseline?: readonly string[];
  /** Where findings go as JSON lines: a file, or `-` for stdout. Absent: nowhere but the store and the summary. */
  findings?: string;
  /** SQLite file that receives the replayed exchanges and findings. Absent: nothing is stored. */
  db?: string;
  /** Stop at the first bad line instead of reporting, counting and skipping it. */
  strict?: boolean;
  /** Detectors to run; {@link defaultDetectors} when absent. */
  detectors?: Detector[];
  /** Stages that watch every exchange without raising findings (metrics, the alert engine), as live. */
  observers?: ExchangeObserver[];
  /** Receivers of every finding besides the findings file (the alert engine, metrics). */
  findingSinks?: FindingSink[];
  /** Event-time idle timeout that ends sessions (as live traffic does). */
  session_idle_ms?: number;
  /** Records per store transaction. */
  store_batch_size?: number;
  /** The audit chain's hash function if `db` is a new database; the cheaper on this CPU when absent. */
  store_hash_algorithm?: HashAlgorithm;
  /** Further receivers of every finding. */
  onFinding?: (finding: Finding) => void;
  /** Told about each bad line; defaults to stderr, the first {@link BAD_LINES_SHOWN} only. */
  onBadLine?: (message: string) => void;
  /** Where the progress bar is drawn; defaults to stderr when it is a terminal. `null`: no bar. */
  progress?: ProgressOutput | null;
}

/** How many bad lines the default reporter prints before it only counts. */
export const BAD_LINES_SHOWN = 10;

/** What a replay did. */
export interface ReplaySummary {
  files: CaptureReadStats[];
  baseline_files: CaptureReadStats[];
  /** Scored events processed. */
  events: number;
  /** Baseline events learned. */
  learned: number;
  bad_lines: number;
  blank_lines: number;
  /** Scored events whose time was earlier than the one before (after merging). */
  out_of_order: number;
  /** Distinct sessions among scored events. */
  sessions: number;
  findings: number;
  findings_by_category: Record<string, number>;
  findings_by_severity: Record<string, number>;
  detectors: string[];
  detector_errors: number;
  elapsed_ms: number;
  /** Events read (learned and scored) per second of wall time. */
  events_per_second: number;
  /** The SQLite file written, or `null` when the replay ran without a store. */
  db: string | null;
  store: StoreCounters | null;
  findings_file: string | null;
}

/**
 * Runs capture files through a {@link Pipeline} exactly as live traffic runs: on event time, one record
 * after another, with the same detectors and store. Baseline files go through `pipeline.learn` first.
 *
 * Several files are merged by event time (a k-way merge; each file is sorted by time, as toolwatch and the
 * data sets write them), so captures from several proxies or gateways interleave as they happened; equal
 * times keep the order of the files given. Everything runs on the calling thread: the store writes in-thread.
 */
export async function replay(options: ReplayOptions): Promise<ReplaySummary> {
  const started = performance.now();
  const detectors = options.detectors ?? defaultDetectors();
  const baselineStats = (options.baseline ?? []).map((file) => newCaptureReadStats(file));
  const fileStats = options.files.map((file) => newCaptureReadStats(file));
  const readOptions: ReadCaptureOptions = {
    strict: options.strict ?? false,
    onBadLine: options.onBadLine ?? defaultBadLineReporter(),
  };
  const findingsByCategory: Record<string, number> = {};
  const findingsBySeverity: Record<string, number> = {};
  const sessions = new Set<string>();
  let outOfOrder = 0;

  const store =
    options.db === undefined
      ? null
      : new SqliteStore(options.db, {
          // A database the replay creates can be made again from the capture: it is not synced until the end.
          bulkLoad: true,
          ...(options.store_batch_size === undefined ? {} : { batchSize: options.store_batch_size }),
          ...(options.store_hash_algorithm === undefined ? {} : { hashAlgorithm: options.store_hash_algorithm }),
        });
  let writer: JsonLinesWriter | null = null;
  const progressOutput = options.progress === undefined ? defaultProgressOutput() : options.progress;
  let progress: ProgressBar | null = null;
  let pipeline: Pipeline | null = null;
  try {
    writer = options.findings === undefined ? null : new JsonLinesWriter(options.findings);
    const findingsWriter = writer;
    const onFinding = options.onFinding;
    pipeline = new Pipeline({
      store,
      detectors,
      session_idle_ms: options.session_idle_ms,
      observers: options.observers ?? [],
      findingSinks: [
        ...(options.findingSinks ?? []),
        (finding) => {
          findingsByCategory[finding.category] = (findingsByCategory[finding.category] ?? 0) + 1;
          findingsBySeverity[finding.severity] = (findingsBySeverity[finding.severity] ?? 0) + 1;
          findingsWriter?.write(finding);
          onFinding?.(finding);
        },
      ],
    });
    const allStats = [...baselineStats, ...fileStats];
    if (progressOutput !== null) {
      await Promise.all(allStats.map((stats) => fileSize(stats)));
      progress = new ProgressBar(
        progressOutput,
        allStats.reduce((total, stats) => total + stats.file_bytes, 0),
      );
    }
    const bytesRead = (): number => allStats.reduce((total, stats) => total + stats.bytes_read, 0);
    let read = 0;

    const learning = pipeline;
    for await (const batch of mergeByTime(sourcesOf(baselineStats, readOptions))) {
      for (const record of batch) learning.learn(record.exchange);
      read += batch.length;
      progress?.update(bytesRead(), read);
    }
    pipeline.finishLearning();

    const scoring = pipeline;
    let previousTime = Number.NEGATIVE_INFINITY;
    for await (const batch of mergeByTime(sourcesOf(fileStats, readOptions))) {
      for (const record of batch) {
        if (record.time_ms < previousTime) outOfOrder++;
        else previousTime = record.time_ms;
        sessions.add(record.exchange.session);
        // The bytes as read: the store hashes and keeps them without encoding the text again.
        scoring.process(record.exchange, record.bytes);
      }
      read += batch.length;
      progress?.update(bytesRead(), read);
    }
    // Ends every open session (session-level detectors conclude) and flushes detectors and the store.
    await pipeline.shutdown();
  } finally {
    progress?.finish();
    await writer?.close();
    store?.close();
  }

  const counters = pipeline.counters();
  const elapsed = performance.now() - started;
  const allStats = [...baselineStats, ...fileStats];
  return {
    files: fileStats,
    baseline_files: baselineStats,
    events: counters.exchanges,
    learned: counters.learned,
    bad_lines: allStats.reduce((total, stats) => total + stats.bad_lines, 0),
    blank_lines: allStats.reduce((total, stats) => total + stats.blank_lines, 0),
    out_of_order: outOfOrder,
    sessions: sessions.size,
    findings: counters.findings,
    findings_by_category: findingsByCategory,
    findings_by_severity: findingsBySeverity,
    detectors: detectors.map((detector) => detector.name),
    detector_errors: counters.detector_errors,
    elapsed_ms: elapsed,
    events_per_second: elapsed > 0 ? ((counters.exchanges + counters.learned) * 1000) / elapsed : 0,
    db: store === null ? null : store.path,
    store: store === null ? null : store.counters(),
    findings_file: options.findings ?? null,
  };
}

function sourcesOf(stats: readonly CaptureReadStats[], options: ReadCaptureOptions): AsyncIterable<CaptureRecord[]>[] {
  return stats.map((fileStats) => readCaptureBatches(fileStats.file, { ...options, stats: fileStats }));
}

async function fileSize(stats: CaptureReadStats): Promise<void> {
  try {
    stats.file_bytes = (await stat(stats.file)).size;
  } catch {
    // The reader reports a missing file with a proper error; the bar just leaves it out.
  }
}

function defaultProgressOutput(): ProgressOutput | null {
  return process.stderr.isTTY ? process.stderr : null;
}

function defaultBadLineReporter(): (message: string) => void {
  let reported = 0;
  return (message) => {
    reported++;
    if (reported <= BAD_LINES_SHOWN) {
      process.stderr.write(`toolwatch: skipped ${message}\n`);
    } else if (reported === BAD_LINES_SHOWN + 1) {
      process.stderr.write(
        "toolwatch: further bad lines are only counted (see the summary; --strict stops at the first)\n",
      );
    }
  };
}

/** The end-of-replay report, for people (stderr). */
export function formatReplaySummary(summary: ReplaySummary): string {
  const lines: string[] = [];
  const count = groupDigits;
  const seconds = summary.elapsed_ms / 1000;
  const bytes = summary.files.reduce((total, stats) => total + stats.file_bytes, 0);
  lines.push(
    `replayed ${count(summary.events)} events from ${plural(summary.files.length, "file")} (${(bytes / 1e6).toFixed(1)} MB on disk) in ${seconds.toFixed(2)} s: ${count(Math.round(summary.events_per_second))} events/s`,
  );
  if (summary.baseline_files.length > 0) {
    lines.push(
      `  baseline: ${count(summary.learned)} events learned from ${plural(summary.baseline_files.length, "file")}`,
    );
  }
  lines.push(
    `  sessions: ${count(summary.sessions)}; bad lines: ${count(summary.bad_lines)}; blank lines: ${count(summary.blank_lines)}; out of order: ${count(summary.out_of_order)}`,
  );
  const destination =
    summary.findings_file === null ? "" : ` -> ${summary.findings_file === "-" ? "stdout" : summary.findings_file}`;
  lines.push(`  findings: ${count(summary.findings)}${destination}`);
  if (summary.findings > 0) {
    lines.push(`    by category: ${formatCounts(summary.findings_by_category)}`);
    lines.push(
      `    by severity: ${formatCounts(summary.findings_by_severity, ["critical", "high", "medium", "low", "info"])}`,
    );
  }
  lines.push(
    `  detectors: ${summary.detectors.join(", ") || "none"}; detector errors: ${count(summary.detector_errors)}`,
  );
  if (summary.store === null) {
    lines.push("  store: none (no --db given; nothing was persisted)");
  } else {
    const { accepted, written, dropped } = summary.store;
    lines.push(
      `  store: ${summary.db}: accepted ${count(accepted)}, written ${count(written)}, dropped ${count(dropped)}`,
    );
  }
  return `${lines.join("\n")}\n`;
}

function plural(value: number, noun: string): string {
  return `${groupDigits(value)} ${noun}${value === 1 ? "" : "s"}`;
}

function formatCounts(counts: Record<string, number>, order?: readonly string[]): string {
  const keys = order === undefined ? Object.keys(counts).sort() : order.filter((key) => counts[key] !== undefined);
  return keys.map((key) => `${key} ${groupDigits(counts[key] ?? 0)}`).join(", ");
}
