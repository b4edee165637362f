/**
 * Cost of the flow detectors (data-flow tracking, read-then-exfiltrate, privilege escalation, behaviour change)
 * on real agent traffic: the agentdojo test capture, replayed through a pipeline in memory.
 *
 * The poisoning model's verdicts are worked out before timing (the poisoning detector pays for them and shares
 * them through `RecentPoisoningVerdicts`), so the figures are the flow detectors' own work: tracing arguments,
 * fingerprinting results, scoring the sentences that hold identifiers, DLP on results. Measured against a
 * pipeline with no detector in the same run. Each timed replay starts with fresh detectors, so their memos of
 * result texts start empty ("cold": one replay of a capture); "warm" replays the capture again through the same
 * detectors, as a long-running proxy sees documents it has read before. Memory per session: heap growth with
 * every session kept open, less the shared memos (reported on their own, bounded by their byte budgets).
 *
 * Run: `npx tsc -p . && node --expose-gc dist/bench/flow.bench.js`.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Detector } from "../src/core/detector.js";
import type { CapturedExchange } from "../src/core/exchange.js";
import { PoisoningClassifier, type PoisoningVerdict } from "../src/defence/poisoning/poisoning-classifier.js";
import {
  FlowAnalysis,
  flowDetectors,
  type PoisoningVerdictSource,
  PrivilegeEscalationDetector,
} from "../src/detectors/flow/index.js";
import { Pipeline } from "../src/pipeline/pipeline.js";
import { readCapture } from "../src/record/read-capture.js";
import type { BenchResult } from "./bench-result.js";

const ROUNDS = 3;

async function loadExchanges(file: string): Promise<CapturedExchange[]> {
  const exchanges: CapturedExchange[] = [];
  for await (const record of readCapture(file)) exchanges.push(record.exchange);
  return exchanges;
}

function timeReplay(exchanges: readonly CapturedExchange[], detectors: Detector[]): number {
  const pipeline = new Pipeline({ store: null, detectors });
  const started = performance.now();
  for (const exchange of exchanges) pipeline.process(exchange);
  return performance.now() - started;
}

export async function benchFlow(): Promise<BenchResult> {
  const root = fileURLToPath(new URL("../..", import.meta.url));
  const folder = process.env.TOOLWATCH_DATASETS || join(root, "..", "shared", "datasets");
  const file = join(folder, "agentdojo", "test.jsonl.gz");
  if (!existsSync(file)) {
    process.stdout.write("flow: agentdojo/test.jsonl.gz not found (set TOOLWATCH_DATASETS); skipped\n");
    return { name: "flow", metrics: {} };
  }
  const exchanges = await loadExchanges(file);
  const classifier = new PoisoningClassifier();
  const known = new Map<string, PoisoningVerdict>();
  for (const exchange of exchanges) {
    if (typeof exchange.result === "string" && !known.has(exchange.result)) {
      known.set(exchange.result, classifier.inspect(exchange.result, "result"));
    }
  }
  const verdicts: PoisoningVerdictSource = {
    inspect: (text, kind) => known.get(text) ?? classifier.inspect(text, kind),
  };
  let best = Number.POSITIVE_INFINITY;
  let bare = Number.POSITIVE_INFINITY;
  let warm = Number.POSITIVE_INFINITY;
  const reused = flowDetectors({ verdicts });
  timeReplay(exchanges, reused);
  for (let round = 0; round < ROUNDS; round++) {
    bare = Math.min(bare, timeReplay(exchanges, []));
    best = Math.min(best, timeReplay(exchanges, flowDetectors({ verdicts })));
    warm = Math.min(warm, timeReplay(exchanges, reused));
  }
  const perEvent = ((best - bare) * 1000) / exchanges.length;
  const perEventWarm = ((warm - bare) * 1000) / exchanges.length;
  // Memory: every session open at once (no session ends), heap growth over the number of sessions.
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const before = process.memoryUsage().heapUsed;
  // Memos off: the figure is what each session keeps; the shared memos are reported on their own.
  const detectors = flowDetectors({ verdicts, fingerprint_memo_bytes: 0, scan_memo_bytes: 0 });
  const pipeline = new Pipeline({ store: null, detectors, session_idle_ms: 365 * 86_400_000 });
  for (const exchange of exchanges) pipeline.process(exchange);
  gc?.();
  const after = process.memoryUsage().heapUsed;
  const analysis = new FlowAnalysis({ verdicts });
  timeReplay(exchanges, [new PrivilegeEscalationDetector(analysis)]);
  const memoBytes = analysis.memoBytes;
  const sessions = new Set(exchanges.map((exchange) => exchange.session)).size;
  const metrics = {
    events: exchanges.length,
    "flow detectors us/event": Math.round(perEvent * 100) / 100,
    "flow detectors events/s": Math.round(exchanges.length / (best / 1000)),
    "flow detectors warm us/event": Math.round(perEventWarm * 100) / 100,
    "flow detectors warm events/s": Math.round(exchanges.length / (warm / 1000)),
    "memos MB (bound 64)": Math.round(memoBytes / 104_857.6) / 10,
    "pipeline alone events/s": Math.round(exchanges.length / (bare / 1000)),
    "memory per open session KB": Math.round((after - before) / sessions / 102.4) / 10,
  };
  process.stdout.write(`${JSON.stringify(metrics)}\n`);
  pipeline.counters();
  return {
    name: "flow",
    metrics,
    targets: { "flow detectors us/event": { max: 20 }, "memory per open session KB": { max: 64 } },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await benchFlow();
