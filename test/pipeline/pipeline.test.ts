import assert from "node:assert/strict";
import { test } from "node:test";
import type { Detector, ExchangePosition } from "../../src/core/detector.js";
import type { CapturedExchange } from "../../src/core/exchange.js";
import type { Finding } from "../../src/core/finding.js";
import { Pipeline } from "../../src/pipeline/pipeline.js";

function exchange(session: string, time: string, method = "tools/call"): CapturedExchange {
  return {
    time,
    session,
    user: "u",
    agent: "a",
    server: "s",
    method,
    tool: "t",
    arguments: {},
    result: "",
    error: null,
    duration_ms: 1,
  };
}

class RecordingDetector implements Detector {
  readonly name = "recording";
  readonly learned: ExchangePosition[] = [];
  readonly observed: Array<[string, ExchangePosition]> = [];
  readonly ended: Array<[string, number]> = [];
  shutdowns = 0;
  learn(_exchange: CapturedExchange, position: ExchangePosition): void {
    this.learned.push(position);
  }
  observe(record: CapturedExchange, position: ExchangePosition, emit: (finding: Finding) => void): void {
    this.observed.push([record.session, position]);
    if (record.method === "tools/call" && position.call_index === 1) {
      emit({
        time: record.time,
        session: record.session,
        user: record.user,
        agent: record.agent,
        server: record.server,
        tool: record.tool ?? null,
        call_index: position.call_index,
        detector: this.name,
        category: "operational",
        severity: "low",
        score: 0.1,
        message: "second call",
        evidence: {},
      });
    }
  }
  endSession(session: string, time_ms: number): void {
    this.ended.push([session, time_ms]);
  }
  async shutdown(): Promise<void> {
    this.shutdowns++;
  }
}

test("positions count exchanges and calls per session on event time", async () => {
  const detector = new RecordingDetector();
  const findings: Finding[] = [];
  const pipeline = new Pipeline({
    store: null,
    detectors: [detector],
    findingSinks: [(finding) => findings.push(finding)],
  });
  pipeline.process(exchange("a", "2026-01-01T00:00:00Z", "initialize"));
  pipeline.process(exchange("a", "2026-01-01T00:00:01Z"));
  pipeline.process(exchange("b", "2026-01-01T00:00:02Z"));
  pipeline.process(exchange("a", "2026-01-01T00:00:03Z"));
  assert.deepEqual(
    detector.observed.map(([session, position]) => [session, position.index, position.call_index]),
    [
      ["a", 0, null],
      ["a", 1, 0],
      ["b", 0, 0],
      ["a", 2, 1],
    ],
  );
  assert.equal(findings.length, 1);
  assert.equal(pipeline.counters().findings, 1);
  await pipeline.shutdown();
  await pipeline.shutdown();
  assert.equal(detector.shutdowns, 1, "shutdown is idempotent");
  assert.deepEqual(detector.ended.map(([session]) => session).sort(), ["a", "b"]);
});

test("idle sessions end on event time, not wall time", () => {
  const detector = new RecordingDetector();
  const pipeline = new Pipeline({ store: null, detectors: [detector], session_idle_ms: 60_000 });
  pipeline.process(exchange("old", "2026-01-01T00:00:00Z"));
  pipeline.process(exchange("new", "2026-01-01T00:05:00Z"));
  assert.deepEqual(detector.ended, [["old", Date.parse("2026-01-01T00:01:00Z")]]);
  assert.equal(pipeline.counters().sessions_open, 1);
});

test("baseline traffic is learned, not scored", () => {
  const detector = new RecordingDetector();
  const pipeline = new Pipeline({ store: null, detectors: [detector] });
  pipeline.learn(exchange("a", "2026-01-01T00:00:00Z"));
  assert.equal(detector.learned.length, 1);
  assert.equal(detector.observed.length, 0);
});

test("a throwing detector is isolated and counted", () => {
  const errors: string[] = [];
  const broken: Detector = {
    name: "broken",
    observe() {
      throw new Error("boom");
    },
    async shutdown() {},
  };
  const healthy = new RecordingDetector();
  const pipeline = new Pipeline({
    store: null,
    detectors: [broken, healthy],
    onDetectorError: (name) => errors.push(name),
  });
  pipeline.process(exchange("a", "2026-01-01T00:00:00Z"));
  pipeline.process(exchange("a", "2026-01-01T00:00:01Z"));
  assert.equal(healthy.observed.length, 2);
  assert.equal(pipeline.counters().detector_errors, 2);
  assert.deepEqual(errors, ["broken"], "reported once per burst");
});
