import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { exitStatus } from "../../src/capture/stdio-upstream.js";
import { defaultServerName } from "../../src/cli/commands/proxy.js";
import type { CapturedExchange } from "../../src/core/exchange.js";
import { SqliteStore } from "../../src/store/sqlite-store.js";
import { LineReader, paths, startProxy } from "./proxy-harness.js";

const initialize = {
  protocolVersion: "2025-06-18",
  capabilities: {},
  clientInfo: { name: "proxy-test", version: "1.0.0" },
};

const toolCall = (name: string, args: Record<string, unknown> = {}) => ({ name, arguments: args });

function errorOf(message: Record<string, unknown>): { code: number; message: string } {
  assert.ok("error" in message, `expected an error response, got ${JSON.stringify(message)}`);
  return message.error as { code: number; message: string };
}

function find(records: CapturedExchange[], test: (record: CapturedExchange) => boolean): CapturedExchange {
  const record = records.find(test);
  assert.ok(record, `no matching record in ${JSON.stringify(records, null, 1)}`);
  return record;
}

test("valid traffic passes and is recorded in order", async () => {
  const harness = startProxy();
  const init = await harness.call(1, "initialize", initialize);
  assert.equal((init.result as { serverInfo: { name: string } }).serverInfo.name, "stdio-test-server");
  harness.send({ jsonrpc: "2.0", method: "notifications/initialized" });
  const echo = await harness.call(2, "tools/call", toolCall("echo", { text: "hello" }));
  assert.deepEqual(echo.result, { content: [{ type: "text", text: "hello" }] });
  harness.input.end();
  assert.equal(await harness.done, 0);
  assert.deepEqual(
    harness.records.map((record) => [record.kind, record.method, record.direction]),
    [
      ["request", "initialize", "client_to_server"],
      ["notification", "notifications/initialized", "client_to_server"],
      ["request", "tools/call", "client_to_server"],
    ],
  );
  const call = harness.records[2]!;
  assert.equal(call.tool, "echo");
  assert.deepEqual(call.arguments, { text: "hello" });
  assert.equal(call.result, "hello");
  assert.equal(call.session, "test-session");
  assert.equal(call.transport, "stdio");
  assert.deepEqual(harness.records[0]!.client, { name: "proxy-test", version: "1.0.0" });
  assert.deepEqual(harness.proxy.counters(), {
    client_lines: 3,
    client_forwarded: 3,
    client_refused: 0,
    server_lines: 2,
    server_forwarded: 2,
    server_refused: 0,
    server_late: 0,
    answered: 0,
    record_errors: 0,
    guard_refused: 0,
    guard_errors: 0,
  });
});

test("every message is forwarded before it is recorded, and recorded in wire order", async () => {
  const harness = startProxy();
  const events: string[] = [];
  const send = harness.upstream.send.bind(harness.upstream);
  harness.upstream.send = (message, raw) => {
    events.push(`sent ${(message as { method: string }).method}`);
    send(message, raw);
  };
  const write = harness.output.write.bind(harness.output) as (chunk: unknown) => boolean;
  harness.output.write = ((chunk: unknown) => {
    events.push(`written ${(JSON.parse(String(chunk)) as { id: number }).id}`);
    return write(chunk);
  }) as typeof harness.output.write;
  const append = harness.store.appendExchange.bind(harness.store);
  harness.store.appendExchange = (exchange) => {
    events.push(`recorded ${exchange.method}`);
    append(exchange);
  };
  await harness.call(1, "initialize", initialize);
  harness.send({ jsonrpc: "2.0", method: "notifications/initialized" });
  await harness.call(2, "ping");
  harness.input.end();
  await harness.done;
  // The pipeline runs a moment after the forward, so only the order each record keeps to is fixed.
  const at = (event: string): number => {
    const index = events.indexOf(event);
    assert.notEqual(index, -1, `${event} in ${events.join(", ")}`);
    return index;
  };
  assert.ok(at("recorded initialize") > at("written 1"));
  assert.ok(at("recorded notifications/initialized") > at("sent notifications/initialized"));
  assert.ok(at("recorded ping") > at("written 2"));
  assert.deepEqual(
    events.filter((event) => event.startsWith("recorded")),
    ["recorded initialize", "recorded notifications/initialized", "recorded ping"],
  );
});

test("malformed client input is answered by the proxy, recorded, and the session goes on", async () => {
  const harness = startProxy({ capture: { max_message_bytes: 4096, max_depth: 8 } });
  await harness.call(1, "initialize", initialize);
  const cases: Array<{ line: unknown; id: string | number | null; code: number }> = [
    { line: "{not json", id: null, code: -32700 },
    { line: Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d]), id: null, code: -32700 },
    { line: { jsonrpc: "1.0", id: 7, method: "ping" }, id: 7, code: -32600 },
    { line: { jsonrpc: "2.0", id: "s", method: "ping", params: [1] }, id: "s", code: -32600 },
    { line: { jsonrpc: "2.0", id: 8, method: "ping", params: { a: [[[[[[[[1]]]]]]]] } }, id: 8, code: -32600 },
    { line: "x".repeat(10_000), id: null, code: -32600 },
    { line: "[]", id: null, code: -32600 },
  ];
  for (const { line, id, code } of cases) {
    const answer = harness.reader.wait(() => true, false);
    harness.send(line);
    const message = JSON.parse((await answer).toString()) as Record<string, unknown>;
    assert.equal(message.id, id, `answer to ${String(line).slice(0, 40)}`);
    assert.equal(errorOf(message).code, code);
  }
  const echo = await harness.call(2, "tools/call", toolCall("echo", { text: "still here" }));
  assert.deepEqual(echo.result, { content: [{ type: "text", text: "still here" }] });
  assert.equal(harness.proxy.counters().client_refused, cases.length);
  harness.input.end();
  assert.equal(await harness.done, 0);
  const protocolErrors = harness.records.filter((record) => record.kind === "protocol_error");
  assert.deepEqual(
    protocolErrors.map((record) => [record.error?.code, record.request_id ?? null]),
    cases.map(({ id, code }) => [code, id]),
  );
});

test("batches pass as they are and every element is recorded", async () => {
  const harness = startProxy();
  await harness.call(1, "initialize", initialize);
  const second = harness.reader.response("b");
  harness.send([
    { jsonrpc: "2.0", id: "a", method: "ping" },
    { jsonrpc: "2.0", method: "notifications/initialized" },
    { jsonrpc: "2.0", id: "b", method: "tools/call", params: toolCall("echo", { text: "in a batch" }) },
  ]);
  assert.deepEqual((await second).result, { content: [{ type: "text", text: "in a batch" }] });
  harness.input.end();
  await harness.done;
  assert.ok(find(harness.records, (record) => record.request_id === "a" && record.method === "ping"));
  assert.equal(find(harness.records, (record) => record.request_id === "b").result, "in a batch");
  assert.ok(find(harness.records, (record) => record.method === "notifications/initialized"));
});

test("an upstream crash mid-call answers every pending request and exits with the server's code", async () => {
  const harness = startProxy();
  await harness.call(1, "initialize", initialize);
  const held = harness.reader.response(2);
  harness.send({ jsonrpc: "2.0", id: 2, method: "tools/call", params: toolCall("hold") });
  const crash = harness.reader.response(3);
  harness.send({ jsonrpc: "2.0", id: 3, method: "tools/call", params: toolCall("crash", { code: 3 }) });
  for (const answer of [await held, await crash]) {
    assert.deepEqual(errorOf(answer), { code: -32000, message: "upstream MCP server exited (code 3)" });
  }
  assert.equal(await harness.done, 3);
  for (const id of [2, 3]) {
    const record = find(harness.records, (candidate) => candidate.request_id === id);
    assert.equal(record.kind, "request");
    assert.deepEqual(record.error, { type: "transport", message: "upstream MCP server exited (code 3)" });
  }
});

test("an upstream killed by a signal gives 128 + the signal number", async () => {
  const harness = startProxy();
  await harness.call(1, "initialize", initialize);
  const answer = await harness.call(2, "tools/call", toolCall("signal", { signal: "SIGKILL" }));
  assert.deepEqual(errorOf(answer), { code: -32000, message: "upstream MCP server was killed by SIGKILL" });
  assert.equal(await harness.done, 137);
  assert.equal(exitStatus({ exit_code: null, signal: "SIGTERM", reason: "" }), 143);
});

test("malformed server output is recorded, not forwarded, and a client waiting on it gets an error", async () => {
  const harness = startProxy();
  await harness.call(1, "initialize", initialize);
  const held = harness.reader.response(2);
  harness.send({ jsonrpc: "2.0", id: 2, method: "tools/call", params: toolCall("hold") });
  const garbage = [
    "this is not json",
    '{"jsonrpc":"2.0","id":2,"result":"not an object"}',
    '{"jsonrpc":"1.0","method":"notifications/message"}',
  ];
  const emitted = await harness.call(3, "tools/call", toolCall("emit", { lines: garbage }));
  assert.deepEqual(emitted.result, { content: [{ type: "text", text: "emitted 3" }] });
  assert.deepEqual(errorOf(await held), {
    code: -32603,
    message: 'upstream MCP server sent an invalid response: "result" must be an object',
  });
  // The real answer to 2 now comes late: swallowed, because the client already has one.
  const released = await harness.call(4, "tools/call", toolCall("release"));
  assert.deepEqual(released.result, { content: [{ type: "text", text: "released all" }] });
  harness.input.end();
  assert.equal(await harness.done, 0);
  const forwarded = harness.reader.lines.map((line) => line.toString());
  for (const line of garbage) assert.ok(!forwarded.includes(line), `${line} must not reach the client`);
  assert.equal(forwarded.filter((line) => line.includes('"id":2')).length, 1, "one answer for request 2");
  const serverErrors = harness.records.filter(
    (record) => record.kind === "protocol_error" && record.direction === "server_to_client",
  );
  assert.deepEqual(
    serverErrors.map((record) => record.error?.type),
    ["-32700", "-32600", "-32600", "late_response"],
  );
  assert.equal(
    find(harness.records, (record) => record.request_id === 2 && record.kind === "request").error?.code,
    -32603,
  );
  assert.equal(harness.proxy.counters().server_late, 1);
});

test("invalid UTF-8 and oversized lines from the server are dropped and recorded", async () => {
  const harness = startProxy({ capture: { max_message_bytes: 1024 } });
  await harness.call(1, "initialize", initialize);
  const lines = [Buffer.from([0x7b, 0xc3, 0x28, 0x7d]).toString("base64")];
  await harness.call(2, "tools/call", toolCall("emit", { lines, base64: true, filler: 5000 }));
  harness.input.end();
  await harness.done;
  assert.equal(harness.proxy.counters().server_refused, 2);
  const errors = harness.records.filter((record) => record.kind === "protocol_error");
  assert.deepEqual(
    errors.map((record) => [record.error?.type, record.request_bytes]),
    [
      ["-32700", 4],
      ["-32600", 5000],
    ],
  );
});

test("a hung request is answered with -32001 on the sweep and its late answer swallowed", async () => {
  // With so short a timeout any request may time out (the server is still booting), so only `hold` is relied on.
  const harness = startProxy({ capture: { request_timeout: 30 } });
  const held = await harness.call(2, "tools/call", toolCall("hold"));
  assert.equal(errorOf(held).code, -32001);
  assert.match(errorOf(held).message, /did not answer tools\/call within 30 ms/);
  await harness.call(3, "tools/call", toolCall("release"));
  harness.input.end();
  await harness.done;
  const timeout = find(harness.records, (record) => record.request_id === 2 && record.kind === "request");
  assert.equal(timeout.error?.type, "timeout");
  find(harness.records, (record) => record.error?.type === "late_response" && record.request_id === 2);
  const cancel = find(harness.records, (record) => record.method === "notifications/cancelled");
  assert.deepEqual(cancel.params, { requestId: 2, reason: "toolwatch: no answer within 30 ms" });
  assert.equal(harness.reader.lines.filter((line) => line.toString().includes('"id":2')).length, 1);
});

test("requests beyond the pending limit are refused rather than queued", async () => {
  const harness = startProxy({ max_pending_requests: 2 });
  await harness.call(1, "initialize", initialize);
  harness.send({ jsonrpc: "2.0", id: 2, method: "tools/call", params: toolCall("hold") });
  harness.send({ jsonrpc: "2.0", id: 3, method: "tools/call", params: toolCall("hold") });
  const refused = await harness.call(4, "tools/call", toolCall("hold"));
  assert.equal(errorOf(refused).code, -32000);
  assert.match(errorOf(refused).message, /too many requests/);
  // Cancelling frees a slot; the server's answer to the cancelled request is then swallowed.
  harness.send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 3, reason: "test" } });
  await harness.call(5, "tools/call", toolCall("release"));
  assert.deepEqual((await harness.reader.response(2)).result, { content: [{ type: "text", text: "released" }] });
  harness.input.end();
  await harness.done;
  assert.equal(harness.reader.lines.filter((line) => line.toString().includes('"id":3')).length, 0);
  assert.equal(
    find(harness.records, (record) => record.request_id === 3 && record.kind === "request").error?.type,
    "cancelled",
  );
});

test("a client that stops reading holds back its own input, so memory stays bounded", async () => {
  const harness = startProxy();
  await harness.call(1, "ping");
  harness.output.pause();
  // Each refused line makes an answer the client is not reading; the proxy must stop reading more.
  const line = Buffer.from("{broken\n");
  let sent = 1;
  for (;;) {
    sent++;
    if (harness.input.write(line)) continue;
    if (harness.input.isPaused()) break;
    assert.ok(sent < 1_000_000, "the proxy kept reading although nobody took its answers");
    await once(harness.input, "drain");
  }
  assert.ok(harness.output.readableLength < 1024 * 1024, `answers queued: ${harness.output.readableLength} bytes`);
  harness.output.resume();
  harness.input.end();
  assert.equal(await harness.done, 0);
  assert.equal(harness.reader.lines.length, sent);
  assert.equal(harness.proxy.counters().client_refused, sent - 1);
});

test("a server that stops reading holds back the client's input", async () => {
  const harness = startProxy();
  await harness.call(1, "tools/call", toolCall("deaf"));
  const line = `${JSON.stringify({ jsonrpc: "2.0", method: "notifications/message", params: { data: "x".repeat(1024) } })}\n`;
  for (let sent = 0; ; sent++) {
    if (harness.input.write(line)) continue;
    if (harness.input.isPaused()) break;
    assert.ok(sent < 1_000_000, "the proxy kept reading although the server took nothing");
    await once(harness.input, "drain");
  }
  assert.ok(harness.upstream.backlogged);
  // Held back, the client's end of input is not seen either (as with the server alone): a signal ends it.
  harness.proxy.stop("SIGTERM");
  assert.equal(await harness.done, 143);
});

test("after the client closes, a server that lingers is stopped after the grace period", async () => {
  const polite = startProxy({ kill_grace_ms: 50 });
  await polite.call(1, "tools/call", toolCall("slow-exit", { ms: 60_000 }));
  polite.input.end();
  assert.equal(await polite.done, 143, "SIGTERM after the grace period");

  const stubborn = startProxy({ kill_grace_ms: 50 });
  await stubborn.call(1, "tools/call", toolCall("slow-exit", { ms: 60_000, ignore_sigterm: true }));
  stubborn.input.end();
  assert.equal(await stubborn.done, 137, "SIGKILL when SIGTERM is ignored");
});

test("stop passes the signal on to the server", async () => {
  const harness = startProxy();
  await harness.call(1, "initialize", initialize);
  harness.proxy.stop("SIGTERM");
  assert.equal(await harness.done, 143);
});

test("a server that cannot be started fails with 127 and a clear message", async () => {
  const harness = startProxy({ command: "toolwatch-no-such-command" });
  assert.equal(await harness.done, 127);
  assert.deepEqual(harness.logs, ["cannot start the MCP server: command not found: toolwatch-no-such-command"]);
});

test("the CLI: spawn failure, exit code, and signals", async () => {
  const notFound = await runCli(["proxy", "--no-store", "--", "toolwatch-no-such-command"], "");
  assert.equal(notFound.status, 127);
  assert.equal(
    notFound.stderr,
    "toolwatch: cannot start the MCP server: command not found: toolwatch-no-such-command\n",
  );

  const crash = await runCli(
    ["proxy", "--no-store", "--", process.execPath, paths.testServer],
    `${JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: toolCall("crash", { code: 4 }) })}\n`,
  );
  assert.equal(crash.status, 4);
  assert.deepEqual(JSON.parse(crash.stdout), {
    jsonrpc: "2.0",
    id: 1,
    error: { code: -32000, message: "upstream MCP server exited (code 4)" },
  });

  const child = spawn(process.execPath, [paths.cli, "proxy", "--no-store", "--", process.execPath, paths.testServer], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  const reader = new LineReader(child.stdout);
  child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" })}\n`);
  await reader.response(1);
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  child.kill("SIGTERM");
  assert.equal(await exited, 143);
});

test("the CLI: a client that goes away without closing stdin ends the session", async () => {
  const child = spawn(process.execPath, [paths.cli, "proxy", "--no-store", "--", process.execPath, paths.testServer], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  const reader = new LineReader(child.stdout);
  child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" })}\n`);
  await reader.response(1);
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  child.stdout.destroy();
  // The answer to this cannot be written (EPIPE): the proxy closes the server's stdin and exits with its code.
  child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", id: 2, method: "ping" })}\n`);
  assert.equal(await exited, 0);
});

test("the CLI records into the SQLite store given with --db", async () => {
  const folder = mkdtempSync(join(tmpdir(), "toolwatch-proxy-"));
  try {
    const database = join(folder, "records.db");
    const lines = [
      { jsonrpc: "2.0", id: 1, method: "initialize", params: initialize },
      { jsonrpc: "2.0", method: "notifications/initialized" },
      { jsonrpc: "2.0", id: 2, method: "tools/call", params: toolCall("echo", { text: "stored" }) },
    ];
    const run = await runCli(
      [
        "proxy",
        "--db",
        database,
        "--server",
        "echo-server",
        "--agent",
        "tester",
        "--",
        process.execPath,
        paths.testServer,
      ],
      lines.map((line) => `${JSON.stringify(line)}\n`).join(""),
    );
    assert.equal(run.status, 0, run.stderr);
    const store = new SqliteStore(database, { readonly: true });
    try {
      const stored = store.exchangesSync().map((record) => record.exchange);
      // A request is recorded when its answer comes, so the order depends on timing: compare as a set.
      assert.deepEqual(stored.map((exchange) => exchange.method).sort(), [
        "initialize",
        "notifications/initialized",
        "tools/call",
      ]);
      const call = stored.find((exchange) => exchange.method === "tools/call")!;
      assert.equal(call.server, "echo-server");
      assert.equal(call.agent, "tester");
      assert.equal(call.result, "stored");
      assert.equal(new Set(stored.map((exchange) => exchange.session)).size, 1);
      assert.equal(store.verifyAuditSync().ok, true);
    } finally {
      store.close();
    }
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
});

function runCli(args: string[], input: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [paths.cli, ...args], { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("close", (status) => resolve({ status, stdout, stderr }));
    child.stdin.end(input);
  });
}

test("the default server name is the package or script a launcher runs", () => {
  const cases: Array<[string, string[], string]> = [
    ["npx", ["@modelcontextprotocol/server-filesystem", "/data"], "server-filesystem"],
    ["npx", ["-y", "@modelcontextprotocol/server-memory@2026.1.0"], "server-memory"],
    ["uvx", ["mcp-server-git", "--repository", "."], "mcp-server-git"],
    ["python", ["-m", "mcp_server_time"], "mcp_server_time"],
    ["node", ["/x/node_modules/@modelcontextprotocol/server-everything/dist/index.js", "stdio"], "server-everything"],
    ["/usr/local/bin/github-mcp-server", ["stdio"], "github-mcp-server"],
    ["pnpm", ["dlx", "some-server"], "some-server"],
    ["node", [], "node"],
  ];
  for (const [command, args, expected] of cases) assert.equal(defaultServerName(command, args), expected, command);
});
