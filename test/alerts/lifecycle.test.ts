import assert from "node:assert/strict";
import { test } from "node:test";
import { createAlertEngine } from "../../src/alerts/alert-engine.js";
import type { Detector } from "../../src/core/detector.js";
import type { Finding } from "../../src/core/finding.js";
import type { AlertEvent } from "../../src/core/notifier.js";
import { Pipeline } from "../../src/pipeline/pipeline.js";
import { AUTH_DENY, DLP_BLOCK, EPOCH, exchangeAt, feed, MemoryNotifier, rulesFrom } from "./alert-test-helpers.js";

const SECOND = 1_000;
const MINUTE = 60_000;

function blocks(offsets: number[]) {
  return offsets.map((offset) => exchangeAt(EPOCH + offset, { tool: "send_email", decisions: [DLP_BLOCK] }));
}

function every(step: number, until: number): number[] {
  return Array.from({ length: Math.floor(until / step) + 1 }, (_, index) => index * step);
}

test("pending, then firing after the hold, then resolved, each with the values that caused it", () => {
  const events: AlertEvent[] = [];
  const notifier = new MemoryNotifier();
  const engine = createAlertEngine({
    rules: rulesFrom(
      "alerts:\n  - {name: held, condition: dlp_blocks > 2 in 60s for 30s, severity: critical, action: a, runbook: r}\n",
    ),
    notifiers: [notifier],
    onEvent: (event) => events.push(event),
  });
  feed(engine, blocks([0, 1 * SECOND, 2 * SECOND, 10 * SECOND, 20 * SECOND]));
  engine.tick(EPOCH + 2 * MINUTE);
  assert.deepEqual(
    events.map((event) => [event.state, event.previous_state, event.time, event.values.value]),
    [
      ["pending", "inactive", "2026-03-02T08:00:02.000Z", 3],
      ["firing", "pending", "2026-03-02T08:00:40.000Z", 5],
      ["resolved", "firing", "2026-03-02T08:01:10.000Z", 1],
    ],
  );
  assert.equal(events[1]!.active_since, "2026-03-02T08:00:02.000Z");
  assert.deepEqual(events[1]!.values, { value: 5, threshold: 2, window_seconds: 60 });
  assert.deepEqual(
    notifier.events.map((event) => event.state),
    ["firing", "resolved"],
    "notifiers never see pending",
  );
});

test("a pending alert that clears before its hold is recorded, never delivered", () => {
  const events: AlertEvent[] = [];
  const notifier = new MemoryNotifier();
  const engine = createAlertEngine({
    rules: rulesFrom("alerts:\n  - {name: held, condition: dlp_blocks > 2 in 60s, for: 5m, severity: critical}\n"),
    notifiers: [notifier],
    onEvent: (event) => events.push(event),
  });
  feed(engine, blocks([0, SECOND, 2 * SECOND]));
  engine.tick(EPOCH + 3 * MINUTE);
  assert.deepEqual(
    events.map((event) => [event.state, event.previous_state]),
    [
      ["pending", "inactive"],
      ["resolved", "pending"],
    ],
  );
  assert.deepEqual(notifier.events, []);
});

test("one alert per group while firing; repeats at the rule's interval or the notifier's", () => {
  const events: AlertEvent[] = [];
  const hourly = new MemoryNotifier("pager");
  const minutely = new MemoryNotifier("alertmanager", MINUTE);
  const engine = createAlertEngine({
    rules: rulesFrom(
      "alerts:\n  - {name: leak, condition: dlp_blocks > 0 in 60s, severity: critical, repeat_interval: 5m, action: a, runbook: r}\n",
    ),
    notifiers: [hourly, minutely],
    onEvent: (event) => events.push(event),
  });
  feed(engine, blocks(every(10 * SECOND, 12 * MINUTE - 10 * SECOND)));
  assert.deepEqual(
    events.map((event) => event.state),
    ["firing"],
    "no duplicates while firing",
  );
  assert.deepEqual(
    hourly.events.map((event) => [event.time.slice(11, 19), event.repeat ?? false]),
    [
      ["08:00:00", false],
      ["08:05:00", true],
      ["08:10:00", true],
    ],
  );
  assert.equal(minutely.events.length, 12, "the notifier's own repeat interval wins");
  engine.tick(EPOCH + 20 * MINUTE);
  assert.deepEqual(
    events.map((event) => event.state),
    ["firing", "resolved"],
  );
  assert.equal(hourly.events.at(-1)!.state, "resolved");
  assert.equal(minutely.events.at(-1)!.state, "resolved");
});

test("silences hold deliveries back until they expire; the record still shows the alert", () => {
  const events: AlertEvent[] = [];
  const notifier = new MemoryNotifier();
  const engine = createAlertEngine({
    rules: rulesFrom(
      "alerts:\n  - {name: leak, condition: dlp_blocks > 0 in 60s per tool, severity: critical, action: a, runbook: r}\n",
    ),
    notifiers: [notifier],
    onEvent: (event) => events.push(event),
  });
  const silence = engine.silence({
    rule: "leak",
    matchers: { tool: "send_email" },
    starts_at_ms: EPOCH,
    duration_ms: 5 * MINUTE,
    comment: "pen test",
  });
  feed(engine, [exchangeAt(EPOCH, { tool: "upload", decisions: [DLP_BLOCK] })]);
  assert.deepEqual(
    engine.silences().map((active) => active.id),
    [silence.id],
  );
  feed(engine, blocks(every(10 * SECOND, 8 * MINUTE)));
  const firing = events.filter((event) => event.state === "firing");
  assert.deepEqual(
    firing.map((event) => [event.labels.tool, event.silenced_by ?? null]),
    [
      ["upload", null],
      ["send_email", silence.id],
    ],
  );
  const delivered = notifier.events.filter((event) => event.labels.tool === "send_email");
  assert.equal(delivered.length, 1, "delivered once the silence ended");
  assert.equal(delivered[0]!.time, "2026-03-02T08:05:00.000Z");
  assert.equal(delivered[0]!.repeat, undefined, "the first delivery is not a repeat");
  assert.deepEqual(engine.silences(), [], "expired silences are gone");
  assert.equal(engine.counters().silenced, 1);
});

test("unsilence and file silences (replaceSilences) take effect at once", () => {
  const notifier = new MemoryNotifier();
  const engine = createAlertEngine({
    rules: rulesFrom(
      "alerts:\n  - {name: leak, condition: dlp_blocks > 0 in 60s, severity: critical, action: a, runbook: r}\n",
    ),
    notifiers: [notifier],
  });
  engine.replaceSilences([
    {
      id: "file1",
      rule: "leak",
      matchers: {},
      starts_at: new Date(EPOCH).toISOString(),
      ends_at: new Date(EPOCH + 3_600_000).toISOString(),
    },
  ]);
  feed(engine, blocks([0, 10 * SECOND]));
  assert.equal(notifier.events.length, 0);
  assert.ok(engine.unsilence("file1"));
  feed(engine, blocks([20 * SECOND, 30 * SECOND]));
  assert.deepEqual(
    notifier.events.map((event) => event.state),
    ["firing"],
  );
});

test("groups are capped per rule and the overflow is counted", () => {
  const events: AlertEvent[] = [];
  const engine = createAlertEngine({
    rules: rulesFrom(
      "alerts:\n  - {name: auth, condition: auth_failures > 0 in 60s from same source, severity: critical}\n",
    ),
    settings: { max_groups_per_rule: 2 },
    onEvent: (event) => events.push(event),
  });
  feed(
    engine,
    ["10.0.0.1", "10.0.0.2", "10.0.0.3"].map((source, index) =>
      exchangeAt(EPOCH + index * SECOND, { method: "initialize", source, decisions: [AUTH_DENY] }),
    ),
  );
  assert.deepEqual(
    events.map((event) => event.labels.source),
    ["10.0.0.1", "10.0.0.2"],
  );
  assert.equal(engine.counters().group_overflow, 1);
  // Quiet groups are forgotten, which frees room for new ones.
  engine.tick(EPOCH + 10 * MINUTE);
  feed(engine, [exchangeAt(EPOCH + 11 * MINUTE, { method: "initialize", source: "10.0.0.3", decisions: [AUTH_DENY] })]);
  assert.equal(events.at(-1)!.labels.source, "10.0.0.3");
});

test("a dead-man rule fires when traffic stops, on event time", () => {
  const events: AlertEvent[] = [];
  const engine = createAlertEngine({
    rules: rulesFrom("alerts:\n  - {name: silent, condition: calls < 1 in 1m, severity: warning}\n"),
    onEvent: (event) => events.push(event),
  });
  feed(
    engine,
    every(5 * SECOND, 2 * MINUTE).map((offset) => exchangeAt(EPOCH + offset)),
  );
  assert.equal(events.length, 0);
  engine.tick(EPOCH + 5 * MINUTE);
  assert.deepEqual(
    events.map((event) => [event.state, event.time]),
    [["firing", "2026-03-02T08:03:00.000Z"]],
  );
  feed(engine, [exchangeAt(EPOCH + 6 * MINUTE)]);
  assert.equal(events.at(-1)!.state, "resolved");
});

test("wired into the pipeline: findings alert per session, session alerts resolve when sessions end", async () => {
  const events: AlertEvent[] = [];
  const engine = createAlertEngine({
    rules: rulesFrom(`alerts:
  - {name: exfil, condition: "findings{category=slow_exfiltration} >= 1 per session", severity: critical, action: a, runbook: r}
  - {name: wide, condition: tool_diversity > 3, severity: warning, action: a, runbook: r}
`),
    onEvent: (event) => events.push(event),
  });
  const detector: Detector = {
    name: "drip",
    observe(exchange, position, emit) {
      if (exchange.tool !== "post") return;
      const finding: Finding = {
        time: exchange.time,
        session: exchange.session,
        user: exchange.user,
        agent: exchange.agent,
        server: exchange.server,
        tool: exchange.tool ?? null,
        call_index: position.call_index,
        detector: "drip",
        category: "slow_exfiltration",
        severity: "high",
        score: 0.9,
        message: "drip",
        evidence: {},
      };
      emit(finding);
    },
    async shutdown() {},
  };
  const pipeline = new Pipeline({
    store: null,
    observers: [engine.observer],
    detectors: [detector],
    findingSinks: [engine.findingSink],
  });
  for (const [index, tool] of ["a", "b", "c", "d", "post"].entries()) {
    pipeline.process(exchangeAt(EPOCH + index * SECOND, { session: "s-9", tool }));
  }
  await pipeline.finish();
  assert.deepEqual(
    events.map((event) => [event.rule, event.state, event.group_key]),
    [
      ["wide", "firing", '{session="s-9"}'],
      ["exfil", "firing", '{session="s-9"}'],
      ["wide", "resolved", '{session="s-9"}'],
    ],
  );
  assert.match(events[2]!.summary, /resolved \(session ended\)/);
});

test("the tool-diversity baseline needs enough sessions; alerted sessions stay out of it", () => {
  const events: AlertEvent[] = [];
  const engine = createAlertEngine({
    rules: rulesFrom(
      "alerts:\n  - {name: wide, condition: tool_diversity > 3x baseline for session type, severity: warning}\n",
    ),
    settings: { baseline_min_sessions: 10 },
    onEvent: (event) => events.push(event),
  });
  const session = (id: string, start: number, tools: number) => {
    feed(
      engine,
      Array.from({ length: tools }, (_, index) =>
        exchangeAt(start + index * SECOND, { session: id, tool: `t${index}` }),
      ),
    );
    engine.observer.endSession?.(id, start + MINUTE);
  };
  session("early-wide", EPOCH, 9);
  assert.equal(events.length, 0, "no baseline yet: nothing is judged");
  for (let index = 0; index < 10; index++) session(`normal-${index}`, EPOCH + (index + 1) * MINUTE, 2);
  session("wide", EPOCH + 20 * MINUTE, 7);
  assert.deepEqual(
    events.map((event) => [event.state, event.labels.session, event.values.baseline, event.values.threshold]),
    [
      ["firing", "wide", 2, 6],
      ["resolved", "wide", 2, 6],
    ],
  );
  const baseline = engine.baselines() as Record<string, { tool_diversity: { sessions: number } }>;
  assert.equal(
    baseline.banking!.tool_diversity.sessions,
    11,
    "ten normal sessions and the early one; not the alerted one",
  );
});

test("a throwing record callback is counted and does not stop delivery", () => {
  const notifier = new MemoryNotifier();
  const errors: string[] = [];
  const engine = createAlertEngine({
    rules: rulesFrom("alerts:\n  - {name: leak, condition: dlp_blocks > 0 in 60s, severity: critical}\n"),
    notifiers: [notifier],
    onEvent: () => {
      throw new Error("disk full");
    },
    onError: (message) => errors.push(message),
  });
  feed(engine, blocks([0]));
  assert.equal(engine.counters().on_event_errors, 1);
  assert.equal(notifier.events.length, 1);
  assert.match(errors[0]!, /disk full/);
});
