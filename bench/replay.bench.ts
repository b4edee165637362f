/**
 * Replay throughput on agentdojo/test.jsonl.gz (26k records, 78 MB decompressed, about 3 KB each):
 * (a) without a store, (b) with the SQLite store written in-thread, as `toolwatch replay --db` does.
 * Everything runs on the main thread (gzip inflates on libuv's pool, as in the CLI). Each case runs
 * `rounds` times after one warm-up; the median and the best are reported.
 *
 * Run: `npx tsc -p . && node dist/bench/replay.bench.js` (pin one core with `taskset -c 0` to be strict).
 * Skips with a message when the shared data sets are absent.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type ReplaySummary, replay } from "../src/replay/replay.js";
import { DATASETS_MISSING, datasetsFolder } from "../test/record/datasets.js";
import type { BenchResult } from "./bench-result.js";

export interface ReplayBenchOptions {
  /** Measured runs per case (after one warm-up run). */
  rounds?: number;
  /** Print a table. */
  print?: boolean;
}

/** Replays the agentdojo test capture with and without the store; an empty list when the data sets are absent. */
export async function benchReplay(options: ReplayBenchOptions = {}): Promise<BenchResult[]> {
  const { rounds = 5, print = false } = options;
  const datasets = datasetsFolder();
  if (datasets === null) {
    process.stderr.write(`replay bench skipped: ${DATASETS_MISSING}\n`);
    return [];
  }
  const file = join(datasets, "agentdojo", "test.jsonl.gz");
  const directory = mkdtempSync(join(tmpdir(), "toolwatch-replay-bench-"));
  try {
    let run = 0;
    const measure = async (withStore: boolean): Promise<BenchResult> => {
      const rates: number[] = [];
      const cpuRates: number[] = [];
      let last: ReplaySummary | null = null;
      for (let round = 0; round <= rounds; round++) {
        const db = withStore ? join(directory, `round-${run++}.db`) : undefined;
        const cpuBefore = process.cpuUsage();
        const summary = await replay({ files: [file], db, progress: null });
        const cpu = process.cpuUsage(cpuBefore);
        if (db !== undefined) removeDatabase(db);
        if (round > 0) {
          rates.push(summary.events_per_second);
          cpuRates.push(summary.events / ((cpu.user + cpu.system) / 1e6));
        }
        last = summary;
      }
      const median = middle(rates);
      const best = Math.max(...rates);
      const summary = last!;
      const result: BenchResult = {
        name: withStore ? "replay agentdojo/test, SQLite store" : "replay agentdojo/test, no store",
        metrics: {
          events: summary.events,
          findings: summary.findings,
          events_per_second_median: Math.round(median),
          events_per_second_best: Math.round(best),
          megabytes_per_second_median: Math.round((median * bytesPerEvent(summary)) / 1e6),
          // CPU time of the whole process (the main thread and zlib's pool): steadier than wall time on a busy machine.
          events_per_cpu_second_median: Math.round(middle(cpuRates)),
        },
      };
      if (withStore) result.metrics.store_dropped = summary.store?.dropped ?? 0;
      return result;
    };
    const results = [await measure(false), await measure(true)];
    if (print) {
      for (const result of results) {
        const metrics = result.metrics;
        process.stdout.write(
          `${result.name}: ${metrics.events} events, median ${metrics.events_per_second_median} events/s (${metrics.megabytes_per_second_median} MB/s), best ${metrics.events_per_second_best} events/s, ${metrics.events_per_cpu_second_median} events per CPU second\n`,
        );
      }
    }
    return results;
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

/** Average size of a record as JSON text, for a MB/s figure. */
function bytesPerEvent(summary: ReplaySummary): number {
  const bytes = summary.files.reduce((total, stats) => total + stats.text_bytes, 0);
  return summary.events > 0 ? bytes / summary.events : 0;
}

function middle(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

function removeDatabase(path: string): void {
  for (const suffix of ["", "-wal", "-shm"]) rmSync(`${path}${suffix}`, { force: true });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rounds = Number(process.argv[2] ?? 5);
  await benchReplay({ rounds, print: true });
}
