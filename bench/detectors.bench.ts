/**
 * Cost of the detectors on the capture path, the figures issue 5 holds them to:
 *
 * (a) replay throughput with every detector (`defaultDetectors()` plus the attack-pattern detectors): the agentdojo
 *     baseline learned, then the test capture scored, as `toolwatch replay --baseline` does, without a store. Events
 *     (learned and scored) per CPU second of the whole process, median of the runs after two warm-up runs; target
 *     50,000 on one core. The first run, compiler still busy, is reported beside it.
 * (b) CPU microseconds per scored event for each detector alone, and for all of them together, over the same
 *     exchanges held in memory, with the cost of a pipeline without detectors subtracted (reading and parsing are
 *     not the detectors'). Alone, each flow detector pays for the analysis the three share.
 * (c) memory per active session: heap growth with every detector while many sessions are open at once (the test
 *     capture's sessions replayed under fresh ids, none ended), divided by the sessions; target 64 KB.
 *
 * Without the shared data sets it runs (b) and (c) on a synthetic capture and skips (a).
 *
 * Run: `npx tsc -p . && node --expose-gc dist/bench/detectors.bench.js [rounds]`.
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { Detector } from "../src/core/detector.js";
import type { CapturedExchange } from "../src/core/exchange.js";
import { defaultDetectors } from "../src/detectors/index.js";
import { patternDetectors } from "../src/detectors/patterns/index.js";
import { Pipeline } from "../src/pipeline/pipeline.js";
import { readCapture } from "../src/record/read-capture.js";
import { replay } from "../src/replay/replay.js";
import { DATASETS_MISSING, datasetsFolder } from "../test/record/datasets.js";
import type { BenchResult } from "./bench-result.js";
import { median } from "./bench-statistics.js";

/** The targets. */
const TARGET_EVENTS_PER_CPU_SECOND = 50_000;
const TARGET_SESSION_KILOBYTES = 64;
/**
 * Replays run before the measured ones. The capture is 27,815 events, two seconds of work: V8 is still compiling
 * the detectors (on its own threads, CPU time counted) through the first two, which a capture of real size
 * leaves behind in its first seconds. The first run's rate is reported too.
 */
const WARM_UP_RUNS = 2;
/** Sessions held open at once for the memory figure. */
const OPEN_SESSIONS = 4000;

export interface DetectorsBenchOptions {
  /** Measured runs of each case (after one warm-up). */
  rounds?: number;
  print?: boolean;
}

/** Every detector live capture runs, plus the attack-pattern detectors (until the lead registers them there). */
function allDetectors(): Detector[] {
  const detectors = defaultDetectors();
  const names = new Set(detectors.map((detector) => detector.name));
  for (const detector of patternDetectors()) if (!names.has(detector.name)) detectors.push(detector);
  return detectors;
}

export async function benchDetectors(options: DetectorsBenchOptions = {}): Promise<BenchResult[]> {
  const { rounds = 3, print = false } = options;
  const datasets = datasetsFolder();
  const metrics: Record<string, number> = {};
  let baseline: CapturedExchange[];
  let scored: CapturedExchange[];
  if (datasets === null) {
    process.stderr.write(`detectors bench: replay skipped (${DATASETS_MISSING}); synthetic traffic for the rest\n`);
    baseline = syntheticTraffic(300, 1);
    scored = syntheticTraffic(3000, 2);
  } else {
    const baselineFile = join(datasets, "agentdojo", "baseline.jsonl.gz");
    const testFile = join(datasets, "agentdojo", "test.jsonl.gz");
    const cpu: number[] = [];
    let firstRun = 0;
    let events = 0;
    for (let round = 0; round < rounds + WARM_UP_RUNS; round++) {
      collectGarbage();
      const before = process.cpuUsage();
      const summary = await replay({
        files: [testFile],
        baseline: [baselineFile],
        detectors: allDetectors(),
        progress: null,
      });
      const used = process.cpuUsage(before);
      events = summary.events + summary.learned;
      if (round === 0) firstRun = (used.user + used.system) / 1e6;
      if (round >= WARM_UP_RUNS) cpu.push((used.user + used.system) / 1e6);
    }
    metrics.replay_events = events;
    metrics.replay_events_per_cpu_second = Math.round(events / median(cpu));
    metrics.replay_first_run_events_per_cpu_second = Math.round(events / firstRun);
    baseline = await readAll(baselineFile);
    scored = await readAll(testFile);
  }

  // (b) each detector alone, minus a pipeline with none.
  const empty = microsecondsPerEvent(() => [], baseline, scored, rounds);
  metrics.pipeline_without_detectors_us_per_event = round(empty, 3);
  for (const probe of allDetectors()) {
    const name = probe.name;
    const cost = microsecondsPerEvent(
      () => allDetectors().filter((detector) => detector.name === name),
      baseline,
      scored,
      rounds,
    );
    metrics[`${name}_us_per_event`] = round(Math.max(0, cost - empty), 3);
  }
  // Together, not the sum of the above: the three flow detectors share one analysis (each alone pays all of it)
  // and the poisoning detector shares its verdicts with them.
  const together = microsecondsPerEvent(allDetectors, baseline, scored, rounds);
  metrics.all_detectors_us_per_event = round(Math.max(0, together - empty), 3);

  // (c) memory per open session.
  metrics.session_bytes = sessionBytes(baseline, scored);
  metrics.session_kilobytes = round(metrics.session_bytes / 1024, 2);

  const result: BenchResult = {
    name: "detectors",
    metrics,
    targets: {
      replay_events_per_cpu_second: { min: TARGET_EVENTS_PER_CPU_SECOND },
      session_kilobytes: { max: TARGET_SESSION_KILOBYTES },
    },
  };
  if (print) {
    for (const [metric, value] of Object.entries(metrics)) {
      process.stdout.write(`${metric.padEnd(44)} ${String(value).padStart(12)}\n`);
    }
  }
  return [result];
}

/** CPU microseconds per scored event of a pipeline with `detectors()` (baseline learned first), median of rounds. */
function microsecondsPerEvent(
  detectors: () => Detector[],
  baseline: readonly CapturedExchange[],
  scored: readonly CapturedExchange[],
  rounds: number,
): number {
  const costs: number[] = [];
  for (let round = 0; round <= rounds; round++) {
    const pipeline = new Pipeline({ store: null, detectors: detectors(), session_idle_ms: 30 * 60_000 });
    for (const exchange of baseline) pipeline.learn(exchange);
    pipeline.finishLearning();
    // Fitting (the isolation forest fits at its first observation) is training, not per-event cost.
    const first = scored[0];
    if (first !== undefined) pipeline.process({ ...first, session: "warm-up" });
    const before = process.cpuUsage();
    for (const exchange of scored) pipeline.process(exchange);
    const used = process.cpuUsage(before);
    if (round > 0) costs.push((used.user + used.system) / scored.length);
  }
  return median(costs);
}

/** Heap bytes per session with {@link OPEN_SESSIONS} sessions open under every detector. */
function sessionBytes(baseline: readonly CapturedExchange[], scored: readonly CapturedExchange[]): number {
  // Sessions of several calls each, replayed under fresh ids so that all stay open (no idle timeout in reach).
  const bySession = new Map<string, CapturedExchange[]>();
  for (const exchange of scored) {
    const list = bySession.get(exchange.session) ?? [];
    list.push(exchange);
    bySession.set(exchange.session, list);
  }
  const sessions = [...bySession.values()].filter((list) => list.length >= 3);
  const pipeline = new Pipeline({ store: null, detectors: allDetectors(), session_idle_ms: 1e12 });
  for (const exchange of baseline) pipeline.learn(exchange);
  pipeline.finishLearning();
  const warm = scored[0];
  if (warm !== undefined) pipeline.process({ ...warm, session: "warm-up" });
  // Exchanges are made before measuring: the records themselves are the caller's, not detector state.
  const base = Date.parse(scored[0]?.time ?? "2026-01-01T00:00:00Z");
  const exchanges: CapturedExchange[] = [];
  for (let number = 0; number < OPEN_SESSIONS; number++) {
    const calls = sessions[number % Math.max(1, sessions.length)] ?? [];
    calls.forEach((exchange, index) => {
      exchanges.push({
        ...exchange,
        session: `open-${number}`,
        time: new Date(base + number * 10 + index).toISOString(),
      });
    });
  }
  exchanges.sort((a, b) => a.time.localeCompare(b.time));
  collectGarbage();
  const before = process.memoryUsage().heapUsed;
  for (const exchange of exchanges) pipeline.process(exchange);
  collectGarbage();
  const after = process.memoryUsage().heapUsed;
  // Keep the pipeline (and its sessions) alive until measured.
  if (pipeline.counters().sessions_open < OPEN_SESSIONS) throw new Error("sessions ended during the memory bench");
  return Math.round(Math.max(0, after - before) / OPEN_SESSIONS);
}

async function readAll(file: string): Promise<CapturedExchange[]> {
  const exchanges: CapturedExchange[] = [];
  for await (const record of readCapture(file)) exchanges.push(record.exchange);
  return exchanges;
}

/** Deterministic traffic when the data sets are absent: sessions of searches, reads and messages. */
function syntheticTraffic(sessions: number, seed: number): CapturedExchange[] {
  const exchanges: CapturedExchange[] = [];
  let time = Date.UTC(2026, 0, 5, 9);
  let state = seed;
  const next = (bound: number): number => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state % bound;
  };
  for (let session = 0; session < sessions; session++) {
    for (let index = 0; index < 3 + next(5); index++) {
      time += 1000 + next(4000);
      const kind = next(3);
      exchanges.push({
        time: new Date(time).toISOString(),
        session: `synthetic-${seed}-${session}`,
        user: `user-${next(50)}`,
        agent: "assistant",
        server: "tools",
        method: "tools/call",
        tool: kind === 0 ? "search_documents" : kind === 1 ? "read_file" : "send_message",
        arguments:
          kind === 0
            ? { query: `quarterly report ${next(100)}` }
            : kind === 1
              ? { path: `docs/notes-${next(300)}.md` }
              : { to: `colleague${next(40)}@example.com`, body: `Here is the summary for week ${next(52)}.` },
        result: "Lorem ipsum dolor sit amet. ".repeat(5 + next(40)),
        error: null,
        duration_ms: 50 + next(500),
      });
    }
  }
  return exchanges;
}

function collectGarbage(): void {
  let gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) {
    setFlagsFromString("--expose-gc");
    gc = runInNewContext("gc") as () => void;
  }
  gc();
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await benchDetectors({ rounds: Number(process.argv[2] ?? 3), print: true });
}
