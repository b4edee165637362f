import assert from "node:assert/strict";
import { test } from "node:test";
import { ExchangeRecorder, isoTime, type SessionIdentity } from "../../src/capture/exchange-recorder.js";
import type { CapturedExchange } from "../../src/core/exchange.js";
import { parseMessage } from "../../src/protocol/parse-message.js";

function recorder(): { recorder: ExchangeRecorder; records: CapturedExchange[] } {
  const records: CapturedExchange[] = [];
  const identity: SessionIdentity = {
    session: "s1",
    user: "ada",
    agent: "coder",
    server: "files",
    transport: "stdio",
    source: null,
  };
  return { recorder: new ExchangeRecorder(identity, (exchange) => records.push(exchange)), records };
}

const frame = (value: unknown) => parseMessage(JSON.stringify(value));

test("pairs a tool call with its result and keeps the v1 fields", () => {
  const { recorder: r, records } = recorder();
  r.observe(
    "client",
    frame({
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: { name: "read_file", arguments: { path: "/etc/hosts" } },
    }),
  );
  assert.equal(records.length, 0, "nothing is recorded before the response");
  r.observe(
    "server",
    frame({
      jsonrpc: "2.0",
      id: 1,
      result: {
        content: [
          { type: "text", text: "127.0.0.1 localhost" },
          { type: "image", mimeType: "image/png", data: "AAAA" },
        ],
      },
    }),
  );
  assert.equal(records.length, 1);
  const record = records[0]!;
  assert.equal(record.method, "tools/call");
  assert.equal(record.tool, "read_file");
  assert.deepEqual(record.arguments, { path: "/etc/hosts" });
  assert.equal(record.result, "127.0.0.1 localhost\n[image image/png 4 base64 chars]");
  assert.equal(record.error, null);
  assert.equal(record.kind, "request");
  assert.equal(record.user, "ada");
  assert.ok(typeof record.duration_ms === "number" && record.duration_ms >= 0);
  assert.ok(record.request_bytes! > 0 && record.response_bytes! > 0);
});

test("tool errors and JSON-RPC errors get the OpenTelemetry error.type", () => {
  const { recorder: r, records } = recorder();
  r.observe("client", frame({ jsonrpc: "2.0", id: "a", method: "tools/call", params: { name: "t" } }));
  r.observe(
    "server",
    frame({ jsonrpc: "2.0", id: "a", result: { isError: true, content: [{ type: "text", text: "bad path" }] } }),
  );
  r.observe("client", frame({ jsonrpc: "2.0", id: "b", method: "nope" }));
  r.observe("server", frame({ jsonrpc: "2.0", id: "b", error: { code: -32601, message: "Method not found" } }));
  assert.deepEqual(records[0]!.error, { type: "tool_error", message: "bad path" });
  assert.deepEqual(records[1]!.error, { type: "-32601", message: "Method not found", code: -32601 });
});

test("server-to-client requests are paired with the client's answer", () => {
  const { recorder: r, records } = recorder();
  r.observe(
    "server",
    frame({ jsonrpc: "2.0", id: 9, method: "sampling/createMessage", params: { messages: [], maxTokens: 5 } }),
  );
  r.observe(
    "client",
    frame({ jsonrpc: "2.0", id: 9, result: { role: "assistant", content: { type: "text", text: "hi" } } }),
  );
  assert.equal(records[0]!.direction, "server_to_client");
  assert.equal(records[0]!.result, "hi");
});

test("unknown responses, duplicates and malformed frames are protocol errors", () => {
  const { recorder: r, records } = recorder();
  r.observe("server", frame({ jsonrpc: "2.0", id: 42, result: {} }));
  r.observe("client", frame({ jsonrpc: "2.0", id: 1, method: "ping" }));
  r.observe("client", frame({ jsonrpc: "2.0", id: 1, method: "ping" }));
  r.observe("client", parseMessage("{oops"));
  assert.deepEqual(
    records.map((record) => [record.kind, record.error?.type]),
    [
      ["protocol_error", "-32600"],
      ["protocol_error", "-32600"],
      ["protocol_error", "-32700"],
    ],
  );
  assert.equal(r.pendingCount, 1);
});

test("expired requests are recorded as timeouts and their late answers recognised", () => {
  const { recorder: r, records } = recorder();
  r.observe("client", frame({ jsonrpc: "2.0", id: 5, method: "tools/call", params: { name: "slow" } }), 1_000);
  const expired = r.expire(500, 2_000);
  assert.deepEqual(
    expired.map((request) => request.id),
    [5],
  );
  assert.equal(records[0]!.error?.type, "timeout");
  assert.equal(r.observe("server", frame({ jsonrpc: "2.0", id: 5, result: {} })), "late_response");
  assert.equal(records[1]!.error?.type, "late_response");
});

test("a vanished upstream fails every pending request as a transport error", () => {
  const { recorder: r, records } = recorder();
  r.observe("client", frame({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "a" } }));
  r.observe("client", frame({ jsonrpc: "2.0", id: 2, method: "resources/read", params: { uri: "file:///x" } }));
  const failed = r.failAll("upstream exited (code 1)");
  assert.equal(failed.length, 2);
  assert.deepEqual(
    records.map((record) => [record.error?.type, record.uri ?? record.tool]),
    [
      ["transport", "a"],
      ["transport", "file:///x"],
    ],
  );
});

test("cancellation closes the cancelled request", () => {
  const { recorder: r, records } = recorder();
  r.observe("client", frame({ jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "a" } }));
  r.observe(
    "client",
    frame({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 3, reason: "user" } }),
  );
  assert.deepEqual(
    records.map((record) => [record.kind, record.error?.type ?? null]),
    [
      ["request", "cancelled"],
      ["notification", null],
    ],
  );
  assert.equal(r.pendingCount, 0);
});

test("initialize and tools/list keep client info and tool definitions", () => {
  const { recorder: r, records } = recorder();
  r.observe(
    "client",
    frame({
      jsonrpc: "2.0",
      id: 0,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", clientInfo: { name: "claude", version: "1" }, capabilities: {} },
    }),
  );
  r.observe(
    "server",
    frame({
      jsonrpc: "2.0",
      id: 0,
      result: { protocolVersion: "2025-06-18", serverInfo: { name: "fs" }, capabilities: {} },
    }),
  );
  r.observe("client", frame({ jsonrpc: "2.0", id: 1, method: "tools/list" }));
  r.observe(
    "server",
    frame({
      jsonrpc: "2.0",
      id: 1,
      result: { tools: [{ name: "read", description: "Reads", inputSchema: { type: "object" } }, { bad: true }] },
    }),
  );
  assert.deepEqual(records[0]!.client, { name: "claude", version: "1" });
  assert.deepEqual(records[0]!.server_info, { name: "fs" });
  assert.equal(records[0]!.protocol_version, "2025-06-18");
  assert.deepEqual(records[1]!.tools, [{ name: "read", description: "Reads", input_schema: { type: "object" } }]);
  assert.deepEqual(r.clientInfo, { name: "claude", version: "1" });
});

test("record times read as toISOString gives them, across seconds, days and the ends of the Date range", () => {
  const times = [
    0, 1, 999, 1000, 1001, -1, -999, -1000, -1001, 1_763_744_416_123, 253_402_300_799_999, 8.64e15, -8.64e15,
  ];
  for (let index = 0; index < 2000; index++)
    times.push(1_700_000_000_000 + index * 997, Math.floor(Math.random() * 4e12) - 1e12);
  for (const time of times) assert.equal(isoTime(time), new Date(time).toISOString(), String(time));
  assert.equal(isoTime(1.5), new Date(1.5).toISOString());
  for (const time of [Number.NaN, 8.64e15 + 1, Number.POSITIVE_INFINITY])
    assert.throws(() => isoTime(time), RangeError);
});
