import assert from "node:assert/strict";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { ExportResultCode } from "@opentelemetry/core";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-base";
import { createOtlpTraceExporter, spanName } from "../../src/metrics/otlp-trace-exporter.js";
import { call, positionOf, START_MS } from "./synthetic-exchanges.js";

interface OtlpValue {
  stringValue?: string;
  intValue?: number | string;
}

interface OtlpSpan {
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Array<{ key: string; value: OtlpValue }>;
  status?: { code?: number; message?: string };
}

interface OtlpRequest {
  resourceSpans: Array<{
    resource: { attributes: Array<{ key: string; value: OtlpValue }> };
    scopeSpans: Array<{ spans: OtlpSpan[] }>;
  }>;
}

/** A real OTLP/HTTP receiver on 127.0.0.1 that keeps every request it gets. */
async function startReceiver(): Promise<{
  url: string;
  received: Array<{ path: string; headers: IncomingMessage["headers"]; body: OtlpRequest }>;
  close(): Promise<void>;
}> {
  const received: Array<{ path: string; headers: IncomingMessage["headers"]; body: OtlpRequest }> = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      received.push({
        path: request.url ?? "",
        headers: request.headers,
        body: JSON.parse(Buffer.concat(chunks).toString("utf8")) as OtlpRequest,
      });
      response.writeHead(200, { "content-type": "application/json" });
      response.end("{}");
    });
  });
  server.listen(0, "127.0.0.1");
  await new Promise<void>((resolve) => server.once("listening", () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1/traces`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function attributesOf(span: OtlpSpan): Record<string, string | number> {
  const result: Record<string, string | number> = {};
  for (const { key, value } of span.attributes) result[key] = value.stringValue ?? Number(value.intValue);
  return result;
}

test("one span per exchange reaches a real OTLP/HTTP receiver with the semantic-convention attributes", async () => {
  const receiver = await startReceiver();
  const exporter = createOtlpTraceExporter({
    url: receiver.url,
    headers: { "x-api-key": "test-key" },
    service_name: "toolwatch-test",
  });
  try {
    const success = call({ at: 0, tool: "get_balance", duration_ms: 250 });
    success.request_id = 7;
    success.transport = "stdio";
    success.protocol_version = "2025-06-18";
    const failure = call({
      at: 1_000,
      tool: "send_money",
      duration_ms: 40,
      error: { type: "-32602", message: "invalid params", code: -32602 },
      decisions: [{ stage: "dlp", action: "block", reason: "IBAN" }],
    });
    const prompt = call({ at: 2_000, method: "prompts/get", tool: null, duration_ms: 3 });
    prompt.prompt = "summarise";
    const notification = call({ at: 3_000, method: "notifications/initialized", tool: null, duration_ms: null });
    for (const exchange of [success, failure, prompt, notification]) exporter.observe(exchange, positionOf(exchange));
    await exporter.forceFlush();

    const spans = receiver.received.flatMap((request) =>
      request.body.resourceSpans.flatMap((resource) => resource.scopeSpans.flatMap((scope) => scope.spans)),
    );
    assert.equal(receiver.received[0]!.path, "/v1/traces");
    assert.equal(receiver.received[0]!.headers["x-api-key"], "test-key");
    const service = receiver.received[0]!.body.resourceSpans[0]!.resource.attributes.find(
      (attribute) => attribute.key === "service.name",
    );
    assert.equal(service?.value.stringValue, "toolwatch-test");
    assert.deepEqual(
      spans.map((span) => span.name),
      ["tools/call get_balance", "tools/call send_money", "prompts/get summarise", "notifications/initialized"],
    );

    const [first, second, third, fourth] = spans as [OtlpSpan, OtlpSpan, OtlpSpan, OtlpSpan];
    assert.equal(first.kind, 2, "SERVER");
    assert.equal(first.startTimeUnixNano, `${START_MS}000000`);
    assert.equal(first.endTimeUnixNano, `${START_MS + 250}000000`);
    assert.deepEqual(attributesOf(first), {
      "mcp.method.name": "tools/call",
      "gen_ai.tool.name": "get_balance",
      "gen_ai.operation.name": "execute_tool",
      "jsonrpc.request.id": "7",
      "mcp.session.id": "session-1",
      "mcp.protocol.version": "2025-06-18",
      "network.transport": "pipe",
      "toolwatch.server": "bank",
      "toolwatch.agent": "banking",
      "toolwatch.user": "alice",
    });
    assert.equal(first.status?.code ?? 0, 0);

    const failed = attributesOf(second);
    assert.equal(failed["error.type"], "-32602");
    assert.equal(failed["rpc.response.status_code"], "-32602");
    assert.equal(failed["toolwatch.dlp_blocks"], 1);
    assert.equal(second.status?.code, 2, "ERROR");
    assert.equal(second.status?.message, "invalid params");

    assert.equal(attributesOf(third)["gen_ai.prompt.name"], "summarise");
    assert.equal(fourth.startTimeUnixNano, fourth.endTimeUnixNano);
    assert.deepEqual(exporter.counters(), { spans: 4, exported: 4, failed: 0, dropped: 0 });
  } finally {
    await exporter.shutdown();
    await exporter.shutdown();
    await receiver.close();
  }
});

test("a full queue drops and counts instead of growing or blocking", async () => {
  const pending: Array<() => void> = [];
  // An exporter that never answers until released: the processor's queue fills up behind it.
  const stalled: SpanExporter = {
    export(spans: ReadableSpan[], done) {
      pending.push(() => done({ code: ExportResultCode.SUCCESS }));
      void spans;
    },
    shutdown: async () => {},
  };
  const messages: string[] = [];
  const exporter = createOtlpTraceExporter({
    exporter: stalled,
    max_queue_size: 2,
    scheduled_delay_ms: 60_000,
    onError: (message) => messages.push(message),
  });
  for (let index = 0; index < 10; index++) {
    const exchange = call({ at: index });
    exporter.observe(exchange, positionOf(exchange));
  }
  // Two spans went to the stalled export, two wait in the queue, six were dropped.
  assert.deepEqual(exporter.counters(), { spans: 4, exported: 0, failed: 0, dropped: 6 });
  assert.equal(messages.length, 1, "reported once per burst");
  for (const release of pending.splice(0)) release();
  const flushed = exporter.shutdown();
  for (let attempt = 0; attempt < 10 && pending.length === 0; attempt++)
    await new Promise((resolve) => setTimeout(resolve, 5));
  for (const release of pending.splice(0)) release();
  await flushed;
  assert.equal(exporter.counters().exported, 4);
});

test("an unreachable receiver counts failed spans and never throws into the caller", async () => {
  const receiver = await startReceiver();
  await receiver.close();
  const messages: string[] = [];
  const exporter = createOtlpTraceExporter({
    url: receiver.url,
    export_timeout_ms: 2_000,
    onError: (message) => messages.push(message),
  });
  const exchange = call({ at: 0 });
  exporter.observe(exchange, positionOf(exchange));
  await exporter.forceFlush();
  await exporter.shutdown();
  assert.deepEqual(exporter.counters(), { spans: 1, exported: 0, failed: 1, dropped: 0 });
  assert.match(messages[0] ?? "", /export .* failed/);
});

test("span names use the tool or prompt as target and fall back to the method", () => {
  assert.equal(spanName(call({ at: 0, tool: "search" })), "tools/call search");
  assert.equal(spanName(call({ at: 0, method: "resources/read", tool: null })), "resources/read");
  assert.equal(spanName({ ...call({ at: 0, tool: null }), method: null }), "protocol_error");
});
