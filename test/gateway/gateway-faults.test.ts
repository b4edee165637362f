import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { errorLevel } from "../../src/core/exchange.js";
import {
  connectClient,
  ECHO_SERVER,
  JSON_RPC_HEADERS,
  nodeServer,
  openSession,
  postRaw,
  sseMessages,
  startTestGateway,
  type TestGateway,
  waitFor,
} from "./helpers.js";

function call(id: number, name: string, args: Record<string, unknown> = {}) {
  return { jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: args } };
}

// What the client sees, and what is recorded, when the upstream misbehaves.
describe("gateway faults", () => {
  let gateway: TestGateway;
  let echo: string;

  before(async () => {
    gateway = await startTestGateway({
      // Long enough for a Node upstream to start on a busy machine, short enough to wait for.
      capture: { request_timeout: "3s" },
      servers: {
        echo: nodeServer(ECHO_SERVER),
        missing: { command: "/nonexistent/toolwatch-test-server", args: [] },
      },
    });
    echo = gateway.route("echo");
  });

  after(async () => {
    await gateway.close();
  });

  test("an upstream that dies mid-call: the call gets a JSON-RPC error, the session ends", async () => {
    const session = await openSession(echo);
    const headers = { "mcp-session-id": session };
    const crashed = await postRaw(echo, call(1, "crash"), headers);
    assert.equal(crashed.status, 200);
    const answer = crashed.json() as { id: number; error: { code: number; message: string } };
    assert.equal(answer.id, 1);
    assert.equal(answer.error.code, -32000);
    assert.match(answer.error.message, /upstream/);
    const next = await postRaw(echo, call(2, "echo", { text: "still there?" }), headers);
    assert.equal(next.status, 404, "the ended session sends the client back to initialize");
    const record = (await gateway.records()).find(
      (candidate) => candidate.session === session && candidate.method === "tools/call" && candidate.tool === "crash",
    );
    assert.equal(record?.error?.type, "transport");
    assert.equal(errorLevel(record!), "server");
  });

  test("the SDK client's call is rejected when the upstream is killed", async () => {
    const { client } = await connectClient(echo);
    await assert.rejects(client.callTool({ name: "crash", arguments: { signal: true } }), /signal SIGKILL/);
    await client.close();
  });

  test("an upstream that hangs: the call times out with -32001, the session ends", async () => {
    const session = await openSession(echo);
    const headers = { "mcp-session-id": session };
    const hung = await postRaw(echo, call(1, "hang"), headers);
    const answer = hung.json() as { error: { code: number } };
    assert.equal(answer.error.code, -32001);
    await waitFor(async () => (await postRaw(echo, call(2, "echo"), headers)).status === 404);
    const records = (await gateway.records()).filter((candidate) => candidate.session === session);
    const timedOut = records.find((candidate) => candidate.tool === "hang");
    assert.equal(timedOut?.error?.type, "timeout");
    assert.equal(errorLevel(timedOut!), "server");
    assert.ok(
      records.some(
        (candidate) => candidate.method === "notifications/cancelled" && candidate.direction === "client_to_server",
      ),
      "the upstream is told the call is cancelled",
    );
  });

  test("a slow call on a live upstream times out without ending the session", async () => {
    const session = await openSession(echo);
    const headers = { "mcp-session-id": session };
    // The announcement shows the upstream alive after the call was sent.
    const response = await fetch(echo, {
      method: "POST",
      headers: { ...JSON_RPC_HEADERS, ...headers },
      body: JSON.stringify(call(1, "hang", { announce: true })),
    });
    const messages = sseMessages(await response.text());
    assert.equal((messages.at(-1) as { error: { code: number } }).error.code, -32001);
    const next = await postRaw(echo, call(2, "echo", { text: "alive" }), headers);
    assert.equal(next.status, 200);
  });

  test("a command that cannot start: initialize gets 502, recorded as a server error", async () => {
    const refused = await postRaw(gateway.route("missing"), {
      jsonrpc: "2.0",
      id: 0,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } },
    });
    assert.equal(refused.status, 502);
    const body = refused.json() as { id: number; error: { code: number; message: string } };
    assert.equal(body.id, 0);
    assert.equal(body.error.code, -32000);
    assert.match(body.error.message, /command not found/);
    const record = (await gateway.records()).find((candidate) => candidate.server === "missing");
    assert.equal(record?.method, "initialize");
    assert.equal(record?.error?.type, "transport");
  });
});

describe("gateway idle sessions", () => {
  test("an idle session is reaped", async () => {
    const gateway = await startTestGateway({
      gateway: { session_idle_timeout: "1s" },
      servers: { echo: nodeServer(ECHO_SERVER) },
    });
    try {
      const echo = gateway.route("echo");
      const session = await openSession(echo);
      assert.equal(gateway.gateway.counters().sessions_open, 1);
      // Polling the counter, not the session: a request would count as activity.
      await waitFor(() => gateway.gateway.counters().sessions_open === 0);
      const after = await postRaw(echo, call(1, "echo"), { "mcp-session-id": session });
      assert.equal(after.status, 404);
    } finally {
      await gateway.close();
    }
  });
});

describe("gateway session limit", () => {
  test("a new session evicts the least recently used idle one; with all busy, initialize gets 503", async () => {
    const gateway = await startTestGateway({ servers: { echo: nodeServer(ECHO_SERVER) } }, { max_sessions: 2 });
    try {
      const echo = gateway.route("echo");
      const first = await openSession(echo);
      const second = await openSession(echo);
      const third = await openSession(echo);
      assert.equal((await postRaw(echo, call(1, "echo"), { "mcp-session-id": first })).status, 404);
      assert.equal((await postRaw(echo, call(1, "echo"), { "mcp-session-id": second })).status, 200);
      const busy = await Promise.all(
        [second, third].map((session) =>
          fetch(echo, {
            method: "POST",
            headers: { ...JSON_RPC_HEADERS, "mcp-session-id": session },
            body: JSON.stringify(call(2, "hang", { announce: true })),
          }),
        ),
      );
      await assert.rejects(openSession(echo), /503/);
      const refused = (await gateway.records()).find((record) => record.error?.type === "http_503");
      assert.equal(refused?.method, "initialize");
      for (const response of busy) void response.body?.cancel();
    } finally {
      await gateway.close();
    }
  });
});

describe("gateway shutdown", () => {
  test("close answers calls in flight, stops upstreams and keeps every record", async () => {
    const gateway = await startTestGateway({ servers: { echo: nodeServer(ECHO_SERVER) } });
    const echo = gateway.route("echo");
    const session = await openSession(echo);
    const pending = await fetch(echo, {
      method: "POST",
      headers: { ...JSON_RPC_HEADERS, "mcp-session-id": session },
      body: JSON.stringify(call(1, "hang", { announce: true })),
    });
    const body = pending.text();
    await gateway.close();
    const answer = sseMessages(await body).find((message) => message.id === 1) as { error: { message: string } };
    assert.match(answer.error.message, /shutting down/);
    assert.equal(gateway.gateway.counters().sessions_open, 0);
    const records = await gateway.records();
    assert.equal(records.find((record) => record.tool === "hang")?.error?.type, "transport");
    await assert.rejects(fetch(echo, { method: "POST", headers: JSON_RPC_HEADERS, body: "{}" }));
  });
});
