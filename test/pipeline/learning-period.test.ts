/**
 * A live learning period: traffic inside it is stored and measured but learned by the detectors rather than
 * scored; after it, scoring starts on what was learned. A restart learns the period again from the store.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseConfig } from "../../src/config/config.js";
import type { Detector, ExchangePosition } from "../../src/core/detector.js";
import type { CapturedExchange } from "../../src/core/exchange.js";
import { createLiveRuntime } from "../../src/runtime/live-runtime.js";
import { InMemoryStore } from "../../src/store/memory-store.js";

/** Records which exchanges it learned and which it scored. */
class RecordingDetector implements Detector {
  readonly name = "recording";
  readonly learned: string[] = [];
  readonly scored: string[] = [];
  learn(exchange: CapturedExchange): void {
    this.learned.push(exchange.tool ?? "");
  }
  observe(exchange: CapturedExchange, _position: ExchangePosition): void {
    this.scored.push(exchange.tool ?? "");
  }
  async shutdown(): Promise<void> {}
}

function call(time_ms: number, tool: string): CapturedExchange {
  return {
    time: new Date(time_ms).toISOString(),
    session: "s",
    user: "u",
    agent: "a",
    server: "srv",
    method: "tools/call",
    tool,
    arguments: {},
    result: "ok",
    error: null,
    duration_ms: 1,
  };
}

test("traffic inside the learning period is learned and stored, traffic after it is scored", async () => {
  const config = parseConfig("detectors:\n  learning_period: 1h\nalerts:\n  enabled: false\n");
  const store = new InMemoryStore();
  const detector = new RecordingDetector();
  const runtime = createLiveRuntime({ config, store, detectors: [detector] });
  await runtime.ready;
  const now = Date.now();
  runtime.pipeline.process(call(now, "inside"));
  runtime.pipeline.process(call(now + 2 * 3_600_000, "after"));
  await runtime.shutdown();
  assert.deepEqual(detector.learned, ["inside"]);
  assert.deepEqual(detector.scored, ["after"]);
  assert.equal((await store.exchanges()).length, 2, "both are stored");
});

test("after a restart the period is learned again from the store", async () => {
  const config = parseConfig("detectors:\n  learning_period: 1h\nalerts:\n  enabled: false\n");
  const store = new InMemoryStore();
  const start = Date.now() - 3 * 3_600_000;
  store.appendExchange(call(start, "first"));
  store.appendExchange(call(start + 60_000, "second"));
  store.appendExchange(call(start + 2 * 3_600_000, "outside"));
  const detector = new RecordingDetector();
  const runtime = createLiveRuntime({ config, store, detectors: [detector] });
  await runtime.ready;
  runtime.pipeline.process(call(Date.now(), "live"));
  await runtime.shutdown();
  assert.deepEqual(detector.learned, ["first", "second"], "the stored period, not what came after it");
  assert.deepEqual(detector.scored, ["live"], "the period is over: live traffic is scored");
});
