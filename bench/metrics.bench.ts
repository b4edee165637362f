/**
 * The metrics observer on real traffic: the agentdojo test capture, about 26,000 `tools/call` records
 * of 3 KB on average.
 *
 * (a) Replay: every line parsed and run through a `Pipeline` (no store) with no observer, with the
 *     metrics observer, and with it but without cross-tool flow. The difference is what metrics cost a
 *     replay per event; `replay_with_metrics_events_per_second` is parse + pipeline + metrics on one core.
 * (b) Heap per open session with 10,000 sessions open (the capture's sessions under fresh ids, never
 *     ended), after garbage collection, with only what the observer keeps alive; and per session filled
 *     to every per-session cap (1,024 distinct long tool names, two-byte text past the flow window).
 *
 * Times are CPU time of this process (the machine is shared: CPU time moves less than wall time when
 * other work competes for the cores) over interleaved rounds: the median, and the best round, which
 * interference inflates least. The ratio to the replay without metrics compares across machines.
 * Run: `npx tsc -p . && node --expose-gc dist/bench/metrics.bench.js`. Reports nothing when the data
 * sets are absent; set TOOLWATCH_DATASETS to their folder.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { gunzipSync } from "node:zlib";
import type { CapturedExchange } from "../src/core/exchange.js";
import { MetricsObserver } from "../src/metrics/metrics-observer.js";
import { Pipeline } from "../src/pipeline/pipeline.js";
import type { BenchResult } from "./bench-result.js";
import { cpuNanoseconds, median } from "./bench-statistics.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const OPEN_SESSIONS = 10_000;
const ROUNDS = 7;

function captureFile(): string | null {
  const folder = process.env.TOOLWATCH_DATASETS || join(root, "..", "shared", "datasets");
  const file = join(folder, "agentdojo", "test.jsonl.gz");
  return existsSync(file) ? file : null;
}

function collectGarbage(): void {
  let gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) {
    // Without --expose-gc: turn it on now and reach it from a fresh context.
    setFlagsFromString("--expose-gc");
    gc = runInNewContext("gc") as () => void;
  }
  gc();
  gc();
}

type ReplayMode = "none" | "metrics" | "metrics-without-flow";

function replayNanoseconds(lines: string[], mode: ReplayMode): number {
  const observers = mode === "none" ? [] : [new MetricsObserver(mode === "metrics" ? {} : { flow: false })];
  const pipeline = new Pipeline({ store: null, observers });
  return (
    cpuNanoseconds(() => {
      for (const line of lines) pipeline.process(JSON.parse(line) as CapturedExchange);
      for (const observer of observers) observer.endAllSessions();
    }) / lines.length
  );
}

/** Heap per open session: the capture's sessions replayed under fresh ids until 10,000 are open, parsing each line anew so only what the observer keeps stays alive. */
function bytesPerOpenSession(lines: string[]): { bytes: number; sessions: number } {
  const observer = new MetricsObserver();
  collectGarbage();
  const before = process.memoryUsage().heapUsed;
  const opened = new Set<string>();
  for (let copy = 0; opened.size < OPEN_SESSIONS; copy++) {
    for (const line of lines) {
      const exchange = JSON.parse(line) as CapturedExchange;
      const session = `${exchange.session}#${copy}`;
      if (!opened.has(session)) {
        if (opened.size >= OPEN_SESSIONS) continue;
        opened.add(session);
      }
      exchange.session = session;
      observer.observe(exchange, { index: 0, call_index: 0, time_ms: Date.parse(exchange.time) });
    }
  }
  opened.clear();
  collectGarbage();
  const after = process.memoryUsage().heapUsed;
  const sessions = observer.counters().sessions_open;
  return { bytes: (after - before) / sessions, sessions };
}

/**
 * Heap per open session filled to every per-session cap: 1,024 distinct tools with long made-up names
 * and results of two-byte text well past the flow window. This is the bound, not the usual case.
 */
function bytesPerFullSession(sessions: number): number {
  const observer = new MetricsObserver();
  collectGarbage();
  const before = process.memoryUsage().heapUsed;
  const filler = "Grüße aus Zürich, Käse und Brötchen. ".repeat(400);
  for (let session = 0; session < sessions; session++) {
    for (let tool = 0; tool < 1_100; tool++) {
      const exchange: CapturedExchange = {
        time: new Date(Date.UTC(2026, 2, 2, 8) + tool).toISOString(),
        session: `full-${session}`,
        user: "bench",
        agent: "bench",
        server: "bench",
        method: "tools/call",
        tool: `${"made-up-tool-name-".repeat(20)}${tool}`,
        arguments: { text: filler.slice(tool % 50, (tool % 50) + 200) },
        result: tool % 100 === 0 ? `${filler}${tool}` : null,
        error: null,
        duration_ms: 5,
      };
      observer.observe(exchange, { index: tool, call_index: tool, time_ms: Date.parse(exchange.time) });
    }
  }
  collectGarbage();
  const bytes = (process.memoryUsage().heapUsed - before) / sessions;
  // Read the observer after measuring, so it is still alive when the heap is measured.
  if (observer.counters().sessions_open !== sessions) throw new Error("sessions were not all open");
  return bytes;
}

/** Runs the benchmark; the figures are empty when the capture is absent. */
export async function benchMetrics(): Promise<BenchResult> {
  const file = captureFile();
  if (file === null) {
    process.stderr.write("metrics bench skipped: agentdojo/test.jsonl.gz not found (set TOOLWATCH_DATASETS)\n");
    return { name: "metrics", metrics: {} };
  }
  const lines = gunzipSync(readFileSync(file))
    .toString("utf8")
    .split("\n")
    .filter((line) => line.length > 0);
  const averageBytes = lines.reduce((sum, line) => sum + Buffer.byteLength(line), 0) / lines.length;

  replayNanoseconds(lines.slice(0, 5_000), "metrics");
  const replay: Record<ReplayMode, number[]> = { none: [], metrics: [], "metrics-without-flow": [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of Object.keys(replay) as ReplayMode[]) replay[mode].push(replayNanoseconds(lines, mode));
  }
  const base = median(replay.none);
  const withMetrics = median(replay.metrics);
  const withoutFlow = median(replay["metrics-without-flow"]);
  const bestBase = Math.min(...replay.none);
  const bestMetrics = Math.min(...replay.metrics);
  const memory = bytesPerOpenSession(lines);
  const fullSession = bytesPerFullSession(200);
  return {
    name: "metrics",
    metrics: {
      events: lines.length,
      average_record_bytes: Math.round(averageBytes),
      replay_without_metrics_ns_per_event: Math.round(base),
      replay_metrics_ns_per_event: Math.round(withMetrics - base),
      replay_metrics_without_flow_ns_per_event: Math.round(withoutFlow - base),
      replay_metrics_best_round_ns_per_event: Math.round(bestMetrics - bestBase),
      metrics_to_replay_ratio: Number(((withMetrics - base) / base).toFixed(3)),
      replay_with_metrics_events_per_second: Math.round(1e9 / withMetrics),
      open_sessions: memory.sessions,
      heap_bytes_per_open_session: Math.round(memory.bytes),
      heap_bytes_per_session_at_every_cap: Math.round(fullSession),
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const result = await benchMetrics();
  for (const [name, value] of Object.entries(result.metrics)) process.stdout.write(`${name.padEnd(44)} ${value}\n`);
}
