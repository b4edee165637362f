import assert from "node:assert/strict";
import { test } from "node:test";
import type { CapturedExchange } from "../../src/core/exchange.js";
import type { Finding } from "../../src/core/finding.js";
import { defaultDetectors, OperationalDetector } from "../../src/detectors/index.js";
import { Pipeline } from "../../src/pipeline/pipeline.js";

let second = 0;

function call(tool: string, error: CapturedExchange["error"], session = "s"): CapturedExchange {
  second++;
  return {
    time: new Date(Date.UTC(2026, 2, 2, 10, 0, second)).toISOString(),
    session,
    user: null,
    agent: null,
    server: "srv",
    method: "tools/call",
    tool,
    arguments: {},
    result: null,
    error,
    duration_ms: 1,
  };
}

const toolError = { type: "tool_error", message: "failed" };

function run(exchanges: CapturedExchange[], detector = new OperationalDetector()): Finding[] {
  const findings: Finding[] = [];
  const pipeline = new Pipeline({
    store: null,
    detectors: [detector],
    findingSinks: [(finding) => findings.push(finding)],
  });
  for (const exchange of exchanges) pipeline.process(exchange);
  return findings;
}

test("tool errors alone raise nothing until the same tool fails three calls in a row", () => {
  assert.deepEqual(run([call("a", toolError), call("a", toolError), call("a", null), call("a", toolError)]), []);
  const findings = run([
    call("a", toolError),
    call("b", toolError),
    call("a", toolError),
    call("a", toolError),
    call("a", toolError),
  ]);
  assert.equal(findings.length, 1, "once per streak");
  assert.deepEqual(findings[0]!.evidence.call_indexes, [0, 2, 3]);
  assert.equal(findings[0]!.call_index, 3);
});

test("a success ends a streak, a cancelled call neither extends nor ends it", () => {
  const cancelled = { type: "cancelled", message: "cancelled by the client" };
  const findings = run([call("a", toolError), call("a", toolError), call("a", cancelled), call("a", toolError)]);
  assert.equal(findings.length, 1);
  assert.deepEqual(findings[0]!.evidence.call_indexes, [0, 1, 3]);
  const again = run([
    ...[1, 2, 3].map(() => call("a", toolError)),
    call("a", null),
    ...[1, 2, 3].map(() => call("a", toolError)),
  ]);
  assert.equal(again.length, 2, "a new streak after a success is reported again");
});

test("streaks are per session, and the threshold is an option", () => {
  const interleaved = [
    call("a", toolError, "x"),
    call("a", toolError, "y"),
    call("a", toolError, "x"),
    call("a", toolError, "y"),
  ];
  assert.deepEqual(run(interleaved), []);
  assert.equal(run(interleaved, new OperationalDetector({ consecutive_failures: 2 })).length, 2);
});

test("server-level errors are medium, JSON-RPC errors low, long messages clipped to one line", () => {
  const long = `line one\n${"x".repeat(500)}`;
  const findings = run([
    call("a", { type: "transport", message: long }),
    call("b", { type: "-32601", message: "Method not found", code: -32601 }),
  ]);
  assert.deepEqual(
    findings.map((finding) => [finding.severity, finding.evidence.kind]),
    [
      ["medium", "server_unavailable"],
      ["low", "protocol_error"],
    ],
  );
  assert.ok(!findings[0]!.message.includes("\n"));
  assert.ok(findings[0]!.message.length < 320);
  assert.equal((findings[0]!.evidence.error as { message: string }).message.length, 201);
});

test("refusals decided by inline defence are security events, not operational ones", () => {
  const refused: CapturedExchange = {
    ...call("a", { type: "http_401", message: "invalid API key" }),
    method: null,
    tool: null,
    kind: "protocol_error",
    decisions: [{ stage: "auth", action: "deny", reason: "invalid API key" }],
  };
  const malformed: CapturedExchange = {
    ...call("b", { type: "-32700", message: "invalid JSON" }),
    kind: "protocol_error",
  };
  const findings = run([refused, malformed]);
  assert.deepEqual(
    findings.map((finding) => finding.evidence.kind),
    ["protocol_error"],
  );
  assert.equal(findings[0]!.tool, "b");
});

test("defaultDetectors gives fresh instances", () => {
  const [first] = defaultDetectors();
  const [second] = defaultDetectors();
  assert.ok(first instanceof OperationalDetector);
  assert.notEqual(first, second);
});
