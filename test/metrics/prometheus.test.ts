import assert from "node:assert/strict";
import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { Registry } from "prom-client";
import { MetricsObserver } from "../../src/metrics/metrics-observer.js";
import { createMetricsHttpHandler, createMetricsRegistry, startMetricsServer } from "../../src/metrics/prometheus.js";
import { call, positionOf, START_MS } from "./synthetic-exchanges.js";

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format back: samples, and each metric's TYPE. */
function parseExposition(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line.startsWith("# TYPE ")) {
      const [name, type] = line.slice(7).split(" ");
      types.set(name!, type!);
      continue;
    }
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const label of (match[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[label[1]!] = label[2]!.replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
    }
    const value = match[3] === "+Inf" ? Number.POSITIVE_INFINITY : Number(match[3]);
    samples.push({ name: match[1]!, labels, value });
  }
  return { samples, types };
}

function sampleValue(samples: Sample[], name: string, labels: Record<string, string>): number {
  const found = samples.filter(
    (sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  );
  assert.equal(found.length, 1, `${name} ${JSON.stringify(labels)}: ${found.length} samples`);
  return found[0]!.value;
}

function trafficObserver(): MetricsObserver {
  const observer = new MetricsObserver({ maximum_tools: 2 });
  const iban = "US133000000121212121212";
  const exchanges = [
    call({ at: 0, tool: "read_file", result: `rent goes to ${iban}`, duration_ms: 15 }),
    call({ at: 1_000, tool: "send_money", arguments: { recipient: iban }, duration_ms: 150 }),
    call({ at: 2_000, tool: "send_money", duration_ms: 2_500, error: { type: "tool_error", message: "no funds" } }),
    call({ at: 3_000, tool: "send_money", duration_ms: 30_000, error: { type: "timeout", message: "late" } }),
    call({
      at: 4_000,
      tool: "send_money",
      duration_ms: 5,
      decisions: [
        { stage: "dlp", action: "block", reason: "IBAN" },
        { stage: "policy", action: "deny", reason: "limit" },
      ],
    }),
    call({ at: 5_000, tool: 'odd"tool\nname', duration_ms: 1 }),
    call({ at: 6_000, method: "tools/list", tool: null, duration_ms: 3 }),
  ];
  for (const exchange of exchanges) observer.observe(exchange, positionOf(exchange));
  observer.endSession("session-1", START_MS + 10_000);
  const finding = {
    time: new Date(START_MS).toISOString(),
    session: "session-1",
    user: null,
    agent: null,
    server: "bank",
    tool: "send_money",
    call_index: 0,
    detector: "operational",
    category: "operational",
    severity: "medium",
    score: 0.5,
    message: "m",
    evidence: {},
  } as const;
  observer.recordFinding(finding);
  observer.recordFinding(finding);
  return observer;
}

test("the exposition parses back with the semantic-convention names, labels and values", async () => {
  const registry = createMetricsRegistry(trafficObserver(), { dropped: { store: () => 7, otlp: () => 2 } });
  const { samples, types } = parseExposition(await registry.metrics());

  assert.equal(types.get("mcp_server_operation_duration_seconds"), "histogram");
  assert.equal(types.get("mcp_server_session_duration_seconds"), "histogram");
  assert.equal(types.get("toolwatch_dlp_blocks_total"), "counter");
  const send = { mcp_server: "bank", mcp_method_name: "tools/call", gen_ai_tool_name: "send_money" };
  const duration = "mcp_server_operation_duration_seconds";
  assert.equal(sampleValue(samples, `${duration}_count`, { ...send, error_type: "" }), 2);
  assert.equal(sampleValue(samples, `${duration}_count`, { ...send, error_type: "tool_error" }), 1);
  assert.equal(sampleValue(samples, `${duration}_count`, { ...send, error_type: "timeout" }), 1);
  assert.equal(sampleValue(samples, `${duration}_sum`, { ...send, error_type: "" }), 0.155);
  // Cumulative buckets with the semantic conventions' bounds.
  assert.equal(sampleValue(samples, `${duration}_bucket`, { ...send, error_type: "", le: "0.01" }), 1);
  assert.equal(sampleValue(samples, `${duration}_bucket`, { ...send, error_type: "", le: "0.2" }), 2);
  assert.equal(sampleValue(samples, `${duration}_bucket`, { ...send, error_type: "timeout", le: "10" }), 0);
  assert.equal(sampleValue(samples, `${duration}_bucket`, { ...send, error_type: "timeout", le: "30" }), 1);
  assert.equal(sampleValue(samples, `${duration}_bucket`, { ...send, error_type: "timeout", le: "+Inf" }), 1);
  const list = { mcp_server: "bank", mcp_method_name: "tools/list", gen_ai_tool_name: "" };
  assert.equal(sampleValue(samples, `${duration}_count`, { ...list, error_type: "" }), 1);

  assert.equal(types.get("toolwatch_findings_total"), "counter");
  assert.equal(
    sampleValue(samples, "toolwatch_findings_total", {
      category: "operational",
      severity: "medium",
      detector: "operational",
    }),
    2,
  );
  assert.equal(sampleValue(samples, "toolwatch_requests_total", send), 4);
  assert.equal(sampleValue(samples, "toolwatch_tool_errors_total", send), 1);
  assert.equal(sampleValue(samples, "toolwatch_server_errors_total", send), 1);
  assert.equal(sampleValue(samples, "toolwatch_dlp_blocks_total", send), 1);
  assert.equal(sampleValue(samples, "toolwatch_policy_denials_total", send), 1);
  assert.equal(sampleValue(samples, "toolwatch_cross_tool_flow_bytes_total", send), 23);

  // The third tool is past the cap of two: it is counted under `_other`, its odd name never shows.
  assert.equal(sampleValue(samples, "toolwatch_requests_total", { gen_ai_tool_name: "_other" }), 1);
  assert.ok(samples.every((sample) => sample.labels.gen_ai_tool_name !== 'odd"tool\nname'));
  assert.equal(sampleValue(samples, "toolwatch_label_overflow_total", { label: "tool" }), 1);

  assert.equal(sampleValue(samples, "mcp_server_session_duration_seconds_count", { mcp_server: "bank" }), 1);
  // From the first request to the last response: the timeout answered at 3 s + 30 s.
  assert.equal(sampleValue(samples, "mcp_server_session_duration_seconds_sum", { mcp_server: "bank" }), 33);
  assert.equal(sampleValue(samples, "toolwatch_session_calls_sum", { mcp_server: "bank" }), 6);
  assert.equal(sampleValue(samples, "toolwatch_session_unique_tools_bucket", { agent: "banking", le: "3" }), 1);
  assert.equal(sampleValue(samples, "toolwatch_session_unique_tools_bucket", { agent: "banking", le: "2" }), 0);
  assert.equal(
    sampleValue(samples, "toolwatch_session_unique_tools_baseline", { agent: "banking", quantile: "0.5" }),
    3,
  );
  assert.equal(sampleValue(samples, "toolwatch_session_flow_bytes_sum", { mcp_server: "bank" }), 23);
  assert.equal(sampleValue(samples, "toolwatch_sessions_open", {}), 0);
  assert.equal(sampleValue(samples, "toolwatch_dropped_events_total", { component: "store" }), 7);
  assert.equal(sampleValue(samples, "toolwatch_dropped_events_total", { component: "otlp" }), 2);
  // No session id ever becomes a label.
  assert.ok(samples.every((sample) => !Object.values(sample.labels).includes("session-1")));
});

test("the label value with quotes and a newline is escaped when it is under the cap", async () => {
  const observer = new MetricsObserver();
  const exchange = call({ at: 0, tool: 'say "hi"\nnow' });
  observer.observe(exchange, positionOf(exchange));
  const { samples } = parseExposition(await createMetricsRegistry(observer).metrics());
  assert.equal(sampleValue(samples, "toolwatch_requests_total", { gen_ai_tool_name: 'say "hi"\nnow' }), 1);
});

function get(url: string, method = "GET"): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const outgoing = request(url, { method }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => {
        body += chunk;
      });
      response.on("end", () =>
        resolve({ status: response.statusCode ?? 0, type: String(response.headers["content-type"]), body }),
      );
    });
    outgoing.on("error", reject);
    outgoing.end();
  });
}

test("startMetricsServer serves GET /metrics on a local port, with the process metrics", async () => {
  const server = await startMetricsServer({ source: trafficObserver(), port: 0 });
  try {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const scrape = await get(server.url);
    assert.equal(scrape.status, 200);
    assert.equal(scrape.type, Registry.PROMETHEUS_CONTENT_TYPE);
    const { samples } = parseExposition(scrape.body);
    assert.equal(sampleValue(samples, "toolwatch_requests_total", { gen_ai_tool_name: "read_file" }), 1);
    assert.ok(samples.some((sample) => sample.name === "process_cpu_user_seconds_total"));
    assert.equal((await get(server.url.replace("/metrics", "/other"))).status, 404);
  } finally {
    await server.close();
    await server.close();
  }
});

test("the handler a gateway mounts answers GET and HEAD and refuses other methods", async () => {
  const handler = createMetricsHttpHandler(trafficObserver());
  const server = createServer(handler);
  server.listen(0, "127.0.0.1");
  await new Promise<void>((resolve) => server.once("listening", () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
  try {
    const scrape = await get(url);
    assert.equal(scrape.status, 200);
    assert.match(scrape.body, /^# HELP mcp_server_operation_duration_seconds /m);
    assert.equal((await get(url, "HEAD")).body, "");
    assert.equal((await get(url, "POST")).status, 405);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
