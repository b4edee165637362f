/**
 * Cost of the learned-baseline detectors (sequence, arguments, timing, resources):
 *
 * (a) training on 100,000 synthetic events (three agent types, arguments with recipients, amounts, paths, links)
 *     through the pipeline's learn path, plus saving the baseline as JSON: seconds (target under a minute);
 * (b) observe cost per scored event: CPU time of a pipeline with the four detectors minus a pipeline without them,
 *     over the same 100,000 events, in µs per event;
 * (c) memory per active session: heap growth while 5,000 sessions of 10 calls stay open, minus the same without
 *     the detectors, in bytes per session (target 64 KB for all detectors together; these four take a share).
 *
 * Run: `npx tsc -p . && node --expose-gc dist/bench/baseline.bench.js` (without `--expose-gc` (c) is noisier).
 */
import { pathToFileURL } from "node:url";
import type { Detector } from "../src/core/detector.js";
import type { CapturedExchange } from "../src/core/exchange.js";
import { baselineDetectors } from "../src/detectors/baseline/index.js";
import { Pipeline } from "../src/pipeline/pipeline.js";
import type { BenchResult } from "./bench-result.js";
import { cpuNanoseconds } from "./bench-statistics.js";

const TRAINING_EVENTS = 100_000;
const OPEN_SESSIONS = 5_000;
const CALLS_PER_OPEN_SESSION = 10;

/** A small deterministic generator (xorshift32). */
class Sequence {
  private state = 0x2545f491;
  below(bound: number): number {
    this.state ^= this.state << 13;
    this.state ^= this.state >>> 17;
    this.state ^= this.state << 5;
    this.state >>>= 0;
    return this.state % bound;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)]!;
  }
}

const AGENTS: Record<string, Array<(random: Sequence) => { tool: string; arguments: Record<string, unknown> }>> = {
  payments: [
    () => ({ tool: "get_balance", arguments: {} }),
    (random) => ({ tool: "list_invoices", arguments: { status: random.pick(["open", "due"]), limit: 10 } }),
    (random) => ({
      tool: "pay_invoice",
      arguments: {
        iban: `DE89370400440532013${String(random.below(40)).padStart(3, "0")}`,
        amount: 20 + random.below(500),
        reference: `Invoice ${random.below(9000)} for services rendered in March`,
      },
    }),
  ],
  support: [
    (random) => ({ tool: "search_tickets", arguments: { query: random.pick(["refund", "login broken", "invoice"]) } }),
    (random) => ({ tool: "get_ticket", arguments: { ticket_id: `T-${random.below(100_000)}` } }),
    (random) => ({
      tool: "reply_to_customer",
      arguments: {
        to: `customer${random.below(50_000)}@company${random.below(5_000)}.example`,
        body: "Thanks for reaching out: we fixed it, see https://help.vendor.example/article/42 for details.",
      },
    }),
  ],
  devops: [
    (random) => ({ tool: "read_file", arguments: { path: `/srv/app/src/module${random.below(200)}.ts` } }),
    (random) => ({ tool: "post_message", arguments: { channel: "#builds", text: `build ${random.below(1e6)} ok` } }),
    (random) => ({ tool: "http_request", arguments: { url: `https://ci.build.example/job/${random.below(1e5)}` } }),
  ],
};

/** `events` calls in sessions of 3–12 calls, interleaved in time order, business hours on weekdays. */
export function syntheticEvents(events: number, sessionPrefix = "s"): CapturedExchange[] {
  const random = new Sequence();
  const result: CapturedExchange[] = [];
  const start = Date.UTC(2026, 2, 2, 9, 0, 0);
  let session = 0;
  let time = start;
  while (result.length < events) {
    const agent = random.pick(Object.keys(AGENTS));
    const tools = AGENTS[agent]!;
    const calls = 3 + random.below(10);
    const id = `${sessionPrefix}-${session++}`;
    for (let call = 0; call < calls && result.length < events; call++) {
      const { tool, arguments: args } = tools[Math.min(tools.length - 1, call % (tools.length + 1))]!(random);
      result.push({
        time: new Date(time + call * 1_500).toISOString(),
        session: id,
        user: `user${session % 50}`,
        agent,
        server: agent,
        method: "tools/call",
        tool,
        arguments: args,
        result: "ok",
        error: null,
        duration_ms: 100,
      });
    }
    time += 400;
  }
  return result.sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
}

function train(detectors: Detector[], events: readonly CapturedExchange[]): number {
  const pipeline = new Pipeline({ store: null, detectors });
  const started = performance.now();
  for (const exchange of events) pipeline.learn(exchange);
  pipeline.finishLearning();
  const states = detectors.map((detector) => detector.saveBaseline?.());
  JSON.stringify(states);
  return performance.now() - started;
}

function score(detectors: Detector[], events: readonly CapturedExchange[]): number {
  const pipeline = new Pipeline({ store: null, detectors, session_idle_ms: 60_000 });
  return cpuNanoseconds(() => {
    for (const exchange of events) pipeline.process(exchange);
  });
}

function heapAfterOpenSessions(detectors: Detector[], events: readonly CapturedExchange[]): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  const pipeline = new Pipeline({ store: null, detectors, session_idle_ms: 24 * 3_600_000 });
  gc?.();
  const before = process.memoryUsage().heapUsed;
  for (const exchange of events) pipeline.process(exchange);
  gc?.();
  const grown = process.memoryUsage().heapUsed - before;
  // Keeps the pipeline (and its open sessions) alive until measured.
  if (pipeline.counters().sessions_open === 0) return Number.NaN;
  return grown;
}

/** Runs the benchmark. */
export async function benchBaseline(): Promise<BenchResult> {
  const training = syntheticEvents(TRAINING_EVENTS, "train");
  const scored = syntheticEvents(TRAINING_EVENTS, "score");
  const trainedDetectors = baselineDetectors();
  const trainingMs = train(trainedDetectors, training);

  const learned = (): Detector[] => {
    const detectors = baselineDetectors();
    for (const detector of detectors) {
      const state = trainedDetectors.find((item) => item.name === detector.name)?.saveBaseline?.();
      detector.loadBaseline?.(state);
    }
    return detectors;
  };
  // Warm up both paths before timing them.
  score(learned(), scored.slice(0, 10_000));
  score([], scored.slice(0, 10_000));
  const withDetectors = Math.min(score(learned(), scored), score(learned(), scored));
  const without = Math.min(score([], scored), score([], scored));
  const observeMicroseconds = Math.max(0, withDetectors - without) / 1000 / scored.length;

  // Open sessions: every call of a session before any other session's, so all stay open at once.
  const open: CapturedExchange[] = [];
  const time = Date.UTC(2026, 2, 3, 10, 0, 0);
  const shapes = syntheticEvents(OPEN_SESSIONS * CALLS_PER_OPEN_SESSION, "open");
  for (const [index, exchange] of shapes.entries()) {
    open.push({
      ...exchange,
      session: `open-${index % OPEN_SESSIONS}`,
      time: new Date(time + index * 10).toISOString(),
    });
  }
  const withSessions = heapAfterOpenSessions(learned(), open);
  const withoutSessions = heapAfterOpenSessions([], open);
  const bytesPerSession = Math.max(0, withSessions - withoutSessions) / OPEN_SESSIONS;

  return {
    name: "baseline",
    metrics: {
      training_100k_events_s: Number((trainingMs / 1000).toFixed(2)),
      observe_us_per_event: Number(observeMicroseconds.toFixed(2)),
      events_per_second_four_detectors: Math.round(1e6 / Math.max(observeMicroseconds, 1e-3)),
      bytes_per_open_session: Math.round(bytesPerSession),
    },
    targets: {
      training_100k_events_s: { max: 60 },
      observe_us_per_event: { max: 5 },
      bytes_per_open_session: { max: 16_384 },
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const result = await benchBaseline();
  for (const [name, value] of Object.entries(result.metrics)) process.stdout.write(`${name.padEnd(44)} ${value}\n`);
}
