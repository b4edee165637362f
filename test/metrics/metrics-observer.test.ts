import assert from "node:assert/strict";
import { test } from "node:test";
import { setImmediate } from "node:timers/promises";
import type { CapturedExchange } from "../../src/core/exchange.js";
import { DEFAULT_RELATIVE_ACCURACY } from "../../src/metrics/dd-sketch.js";
import { windowCoverage } from "../../src/metrics/event-time-windows.js";
import { OTHER_LABEL_VALUE } from "../../src/metrics/label-values.js";
import { MetricsObserver, type OperationRow } from "../../src/metrics/metrics-observer.js";
import { Pipeline } from "../../src/pipeline/pipeline.js";
import { call, positionOf, START_MS, seededRandom } from "./synthetic-exchanges.js";

function feed(observer: MetricsObserver, exchanges: CapturedExchange[]): void {
  for (const exchange of exchanges) observer.observe(exchange, positionOf(exchange));
}

function toolRow(rows: OperationRow[], tool: string): OperationRow {
  const row = rows.find((candidate) => candidate.tool === tool);
  assert.ok(row, `no row for ${tool}`);
  return row;
}

test("tool-level and server-level errors are counted apart, per tool and per server", () => {
  const observer = new MetricsObserver();
  feed(observer, [
    call({ at: 0, tool: "search" }),
    call({ at: 1_000, tool: "search", error: { type: "tool_error", message: "bad query" } }),
    call({ at: 2_000, tool: "search", error: { type: "-32603", message: "internal", code: -32603 } }),
    call({ at: 3_000, tool: "search", error: { type: "timeout", message: "no answer" } }),
    call({ at: 4_000, tool: "fetch" }),
    call({ at: 5_000, tool: "fetch", server: "web", error: { type: "transport", message: "gone" } }),
    call({ at: 6_000, method: "tools/list", tool: null, duration_ms: 5 }),
  ]);
  const snapshot = observer.snapshot(START_MS + 6_000);
  const search = toolRow(snapshot.tools, "search");
  assert.equal(search.calls, 4);
  assert.equal(search.tool_errors, 1);
  assert.equal(search.server_errors, 2);
  assert.equal(search.errors, 3);
  assert.equal(search.error_rate, 0.75);
  assert.equal(search.tool_error_rate, 0.25);
  assert.equal(search.server_error_rate, 0.5);
  const bank = snapshot.servers.find((row) => row.server === "bank")!;
  assert.deepEqual([bank.calls, bank.tool_errors, bank.server_errors], [5, 1, 2]);
  const web = snapshot.servers.find((row) => row.server === "web")!;
  assert.deepEqual([web.calls, web.tool_errors, web.server_errors], [1, 0, 1]);
  assert.deepEqual(
    snapshot.methods.map((row) => [row.server, row.method, row.requests, row.calls]),
    [["bank", "tools/list", 1, 0]],
  );
  assert.equal(snapshot.total.requests, 7);
  assert.equal(snapshot.total.calls, 6);
  assert.equal(snapshot.total.server_errors, 3);
});

test("latency quantiles per tool and per server stay within the sketch's bound of the exact values", () => {
  const observer = new MetricsObserver();
  const random = seededRandom(3);
  const durations: Record<string, number[]> = { read: [], write: [] };
  for (let index = 0; index < 2_000; index++) {
    const tool = index % 2 === 0 ? "read" : "write";
    const duration = Math.round(tool === "read" ? 20 + random() * 200 : 500 + random() * 3_000);
    durations[tool]!.push(duration);
    feed(observer, [call({ at: index * 10, tool, duration_ms: duration })]);
  }
  const snapshot = observer.snapshot(START_MS + 20_000);
  const check = (row: OperationRow, values: number[]): void => {
    const sorted = values.map((value) => value / 1000).sort((a, b) => a - b);
    const pairs: Array<[number, number | null]> = [
      [0.5, row.latency_p50_seconds],
      [0.95, row.latency_p95_seconds],
      [0.99, row.latency_p99_seconds],
    ];
    for (const [q, estimate] of pairs) {
      const exact = sorted[Math.floor(q * (sorted.length - 1))]!;
      assert.ok(
        estimate !== null && Math.abs(estimate - exact) <= DEFAULT_RELATIVE_ACCURACY * exact,
        `${row.tool} p${q * 100}: ${estimate} vs ${exact}`,
      );
    }
    assert.equal(row.latency_max_seconds, sorted[sorted.length - 1]);
  };
  check(toolRow(snapshot.tools, "read"), durations.read!);
  check(toolRow(snapshot.tools, "write"), durations.write!);
  check(snapshot.servers[0]!, [...durations.read!, ...durations.write!]);
});

test("windows roll on event time: a minute, five minutes and an hour", () => {
  const observer = new MetricsObserver();
  // One call every 10 s for two hours of event time, with a DLP block every 30 s.
  for (let at = 0; at < 7_200_000; at += 10_000) {
    const decisions = at % 30_000 === 0 ? [{ stage: "dlp" as const, action: "block" as const, reason: "secret" }] : [];
    feed(observer, [call({ at, decisions })]);
  }
  const now = START_MS + 7_190_000;
  const minute = observer.snapshot(now, 60_000).total;
  assert.equal(minute.calls, 6);
  assert.equal(minute.calls_per_minute, 6);
  assert.equal(minute.dlp_blocks, 2);
  assert.equal(minute.dlp_blocks_per_minute, 2);
  assert.equal(observer.snapshot(now, 300_000).total.calls, 30);
  assert.equal(observer.snapshot(now, 3_600_000).total.calls, 360);
  // Longer than an hour is answered for an hour.
  const day = observer.snapshot(now, 86_400_000);
  assert.equal(day.window_ms, 3_600_000);
  assert.equal(day.total.calls, 360);
  // Since the start: everything.
  assert.equal(observer.snapshot(now).total.calls, 720);
  // Twenty seconds later, with no traffic in between, the minute holds four calls.
  assert.equal(observer.snapshot(now + 20_000, 60_000).total.calls, 4);
  // An hour of silence later, every window is empty but the cumulative counts stay.
  const later = observer.snapshot(now + 3_700_000, 3_600_000);
  assert.equal(later.total.calls, 0);
  assert.equal(later.total.latency_p99_seconds, null);
  assert.equal(observer.snapshot(now + 3_700_000).total.calls, 720);
});

test("a window covers whole buckets: the one holding now and those before it", () => {
  const coverage = windowCoverage(START_MS + 59_500, 60_000);
  assert.equal(coverage.counts.width_ms, 1_000);
  assert.equal(coverage.counts.buckets, 60);
  assert.equal(coverage.counts.from_ms, START_MS);
  assert.equal(coverage.latency.width_ms, 5_000);
  assert.equal(windowCoverage(START_MS, 600_000).counts.width_ms, 60_000);
  assert.equal(windowCoverage(START_MS, 600_000).counts.buckets, 10);

  const observer = new MetricsObserver();
  feed(observer, [call({ at: 0 }), call({ at: 500 }), call({ at: 1_000 }), call({ at: 60_999 })]);
  // At 60.999 s the 60 s window starts at the bucket [1 s, 2 s): the two calls of the first second are out.
  const snapshot = observer.snapshot(START_MS + 60_999, 60_000);
  assert.equal(snapshot.from_ms, START_MS + 1_000);
  assert.equal(snapshot.total.calls, 2);
});

test("exchanges out of order land in their own bucket; ones older than a ring are counted as late", () => {
  const observer = new MetricsObserver();
  feed(observer, [call({ at: 10_000 }), call({ at: 5_000 }), call({ at: 200_000 })]);
  assert.equal(observer.snapshot(START_MS + 10_000, 10_000).total.calls, 2);
  assert.equal(observer.counters().late_exchanges, 0);
  // 1 s ring has moved on by 190 s: an exchange from second 100 is too late for it, not for the others.
  feed(observer, [call({ at: 100_000 })]);
  assert.equal(observer.counters().late_exchanges, 1);
  assert.equal(observer.snapshot(START_MS + 200_000, 300_000).total.calls, 4);
  assert.equal(observer.snapshot(START_MS + 200_000).total.calls, 4);
});

test("DLP blocks, policy denials and auth failures come from the inline decisions", () => {
  const observer = new MetricsObserver();
  feed(observer, [
    call({ at: 0, tool: "send_email", decisions: [{ stage: "dlp", action: "block", reason: "card number" }] }),
    call({ at: 1_000, tool: "send_email", decisions: [{ stage: "dlp", action: "redact", reason: "email" }] }),
    call({ at: 2_000, tool: "delete_file", decisions: [{ stage: "policy", action: "deny", reason: "read-only" }] }),
    call({ at: 3_000, tool: "delete_file" }),
    call({
      at: 4_000,
      method: "initialize",
      tool: null,
      decisions: [{ stage: "auth", action: "deny", reason: "bad key" }],
    }),
  ]);
  const snapshot = observer.snapshot(START_MS + 4_000, 60_000);
  assert.equal(toolRow(snapshot.tools, "send_email").dlp_blocks, 1);
  assert.equal(toolRow(snapshot.tools, "send_email").dlp_redactions, 1);
  assert.equal(toolRow(snapshot.tools, "delete_file").policy_denials, 1);
  assert.equal(toolRow(snapshot.tools, "delete_file").policy_denial_rate, 0.5);
  assert.equal(snapshot.total.auth_failures, 1);
  assert.equal(snapshot.total.dlp_blocks_per_minute, 1);
  const session = observer.session("session-1")!;
  assert.deepEqual([session.dlp_blocks, session.policy_denials, session.auth_failures], [1, 1, 1]);
});

test("sessions: duration and calls at the end, distinct tools, flow bytes, and a baseline per agent type", () => {
  const observer = new MetricsObserver();
  const iban = "US133000000121212121212";
  feed(observer, [
    call({ at: 0, session: "a", tool: "read_file", result: `Pay the rent to ${iban}.`, duration_ms: 500 }),
    call({ at: 10_000, session: "a", tool: "send_money", arguments: { recipient: iban }, duration_ms: 1_000 }),
    call({ at: 20_000, session: "a", tool: "send_money", arguments: { recipient: "me" } }),
    call({ at: 0, session: "b", agent: "workspace", tool: "list_files" }),
    call({ at: 1_000, session: "b", agent: "workspace", tool: "search_files" }),
    call({ at: 2_000, session: "b", agent: "workspace", tool: "read_file" }),
    call({ at: 3_000, session: "c", tool: "get_balance", duration_ms: 200 }),
  ]);
  const open = observer.session("a")!;
  assert.deepEqual([open.calls, open.unique_tools, open.flow_bytes], [3, 2, iban.length]);
  assert.equal(open.duration_seconds, 20.1);
  assert.equal(observer.openSessions().length, 3);
  assert.equal(observer.baseline("banking"), null, "no session has ended yet");

  observer.endSession("a", START_MS + 3_600_000);
  observer.endSession("b", START_MS + 3_600_000);
  observer.endSession("c", START_MS + 3_600_000);
  observer.endSession("c", START_MS + 3_600_000);
  const sessions = observer.sessionsSummary();
  assert.equal(sessions.open, 0);
  assert.equal(sessions.ended, 3);
  // Durations from first request to last response, not to the (idle) end: 20.1 s, 2.1 s, 0.2 s.
  assert.equal(sessions.duration_seconds.max, 20.1);
  assert.ok(Math.abs(sessions.duration_seconds.p50! - 2.1) <= 0.021);
  assert.deepEqual([sessions.calls.p50, sessions.calls.max], [3, 3]);
  assert.deepEqual([sessions.unique_tools.p50, sessions.unique_tools.max], [2, 3]);
  assert.equal(sessions.flow_bytes.sum, iban.length);
  assert.deepEqual(observer.baseline("banking"), {
    agent: "banking",
    sessions: 2,
    unique_tools_p50: 1,
    // Of two sessions the p95 is the element of rank ⌊0.95 × 1⌋ = 0, as for every quantile the sketch gives.
    unique_tools_p95: 1,
    unique_tools_max: 2,
  });
  assert.equal(observer.baseline("workspace")!.unique_tools_p50, 3);
  assert.equal(observer.snapshot(START_MS + 20_000).total.flow_bytes, iban.length);
  assert.equal(toolRow(observer.snapshot(START_MS + 20_000).tools, "send_money").flow_bytes, iban.length);
});

test("a baseline can be learned from known-normal traffic", () => {
  const observer = new MetricsObserver();
  for (let session = 0; session < 20; session++) {
    for (let tool = 0; tool < (session % 2 === 0 ? 2 : 4); tool++) {
      observer.learn(call({ at: tool * 1_000, session: `learned-${session}`, tool: `tool-${tool}` }));
    }
  }
  observer.finishLearning();
  const baseline = observer.baseline("banking")!;
  assert.equal(baseline.sessions, 20);
  assert.equal(baseline.unique_tools_p50, 2);
  assert.equal(baseline.unique_tools_p95, 4);
  assert.equal(observer.counters().exchanges, 0, "learning counts nothing else");
});

test("tool, server and error-type labels are capped and the overflow is counted", () => {
  const observer = new MetricsObserver({ maximum_tools: 3, maximum_servers: 2, maximum_error_types: 2 });
  for (let index = 0; index < 6; index++) feed(observer, [call({ at: index, tool: `tool-${index}` })]);
  feed(observer, [
    call({ at: 10, server: "second" }),
    call({ at: 11, server: "third" }),
    call({ at: 12, server: "fourth" }),
  ]);
  for (const type of ["tool_error", "timeout", "transport", "-32603"]) {
    feed(observer, [call({ at: 20, tool: "tool-0", error: { type, message: type } })]);
  }
  const snapshot = observer.snapshot(START_MS + 20);
  const bankTools = snapshot.tools.filter((row) => row.server === "bank");
  assert.deepEqual(
    bankTools.map((row) => [row.tool, row.calls]),
    [
      [OTHER_LABEL_VALUE, 3],
      ["tool-0", 5],
      ["tool-1", 1],
      ["tool-2", 1],
    ],
  );
  // Servers past the cap share one `_other` server; tools past the cap fold into each server's `_other` tool.
  assert.deepEqual(
    snapshot.servers.map((row) => [row.server, row.calls]),
    [
      [OTHER_LABEL_VALUE, 2],
      ["bank", 10],
      ["second", 1],
    ],
  );
  const counters = observer.counters();
  assert.equal(counters.label_overflow.tool, 3 + 1 + 2, "three bank tools, the second server's and the other servers'");
  assert.equal(counters.label_overflow.server, 2);
  const errorTypes = observer.series().find((series) => series.tool === "tool-0")!.durations;
  assert.deepEqual([...errorTypes.keys()], ["", "tool_error", "_OTHER"]);
  assert.equal(counters.label_overflow.error_type, 3);
  assert.equal(errorTypes.get("_OTHER")!.count, 3);
});

test("long tool names are cut, and session ids never become series", () => {
  const observer = new MetricsObserver();
  for (let index = 0; index < 50; index++) feed(observer, [call({ at: index, session: `session-${index}` })]);
  feed(observer, [call({ at: 100, tool: "x".repeat(1_000) })]);
  assert.equal(observer.series().length, 2);
  assert.ok(observer.series().every((series) => (series.tool ?? "").length <= 128));
});

test("tools whose long names share a cut series stay distinct in a session's tools and flow", () => {
  const observer = new MetricsObserver();
  const prefix = "y".repeat(128);
  const secret = "ACCOUNT-7731-SECRET";
  feed(observer, [
    call({ at: 0, tool: `${prefix}-read`, result: `value: ${secret}` }),
    call({ at: 1, tool: `${prefix}-send`, arguments: { value: secret } }),
  ]);
  assert.equal(observer.series().filter((series) => series.tool === prefix).length, 1);
  const open = observer.session("session-1")!;
  assert.deepEqual([open.unique_tools, open.flow_bytes], [2, secret.length]);
});

test("sessions past the open-session cap still count, without per-session figures", () => {
  const observer = new MetricsObserver({ maximum_open_sessions: 2 });
  feed(observer, [call({ at: 0, session: "a" }), call({ at: 1, session: "b" }), call({ at: 2, session: "c" })]);
  assert.equal(observer.openSessions().length, 2);
  assert.equal(observer.counters().untracked_session_exchanges, 1);
  assert.equal(observer.snapshot(START_MS + 2).total.calls, 3);
});

test("the same stream gives the same figures whatever the wall clock does", async () => {
  const exchanges = [
    call({ at: 0, tool: "read_file", result: "account US133000000121212121212" }),
    call({ at: 65_000, tool: "send_money", arguments: { to: "US133000000121212121212" } }),
    call({ at: 70_000, session: "other", tool: "get_balance", error: { type: "timeout", message: "late" } }),
  ];
  const run = async (pause: boolean) => {
    const observer = new MetricsObserver();
    const pipeline = new Pipeline({ store: null, observers: [observer], session_idle_ms: 120_000 });
    for (const exchange of exchanges) {
      pipeline.process(exchange);
      if (pause) await setImmediate();
    }
    const windowed = observer.snapshot(START_MS + 70_000, 60_000);
    await pipeline.finish();
    return { windowed, whole: observer.snapshot(START_MS + 70_000) };
  };
  const live = await run(true);
  const replay = await run(false);
  assert.deepEqual(live, replay);
  assert.equal(live.windowed.total.calls, 2);
  assert.equal(live.whole.total.flow_bytes, "US133000000121212121212".length);
  assert.equal(live.whole.sessions.ended, 2);
});
