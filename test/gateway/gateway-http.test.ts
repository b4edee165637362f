import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { request } from "node:http";
import { after, before, describe, test } from "node:test";
import { StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
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

const ALICE = "alice-key-0123456789";
const BOB = "bob-key-0123456789";
const CAROL = "carol-key-0123456789";
const WRONG = "wrong-key-0123456789";

function call(id: number | string, name: string, args: Record<string, unknown> = {}, meta?: Record<string, unknown>) {
  const params: Record<string, unknown> = { name, arguments: args };
  if (meta !== undefined) params._meta = meta;
  return { jsonrpc: "2.0", id, method: "tools/call", params };
}

// The HTTP surface, driven with plain fetch so every status code and header can be checked.
describe("gateway HTTP surface", () => {
  let gateway: TestGateway;
  let echo: string;
  const alice = { authorization: `Bearer ${ALICE}` };

  before(async () => {
    gateway = await startTestGateway(
      {
        capture: { max_message_bytes: 64 * 1024 },
        gateway: {
          api_keys: [
            { key: ALICE, user: "alice", agent: "coder" },
            { key: BOB, user: "bob" },
            { key_sha256: createHash("sha256").update(CAROL).digest("hex"), user: "carol" },
          ],
        },
        servers: { echo: nodeServer(ECHO_SERVER) },
      },
      { max_buffered_messages: 2 },
    );
    echo = gateway.route("echo");
  });

  after(async () => {
    await gateway.close();
  });

  test("a missing or wrong key gets 401 with WWW-Authenticate, recorded without the key", async () => {
    const missing = await postRaw(echo, call(1, "echo"));
    assert.equal(missing.status, 401);
    assert.match(missing.headers.get("www-authenticate") ?? "", /^Bearer/);
    assert.equal((missing.json() as { error: { code: number } }).error.code, -32600);
    const wrong = await postRaw(echo, call(1, "echo"), { authorization: `Bearer ${WRONG}` });
    assert.equal(wrong.status, 401);
    const wrongHeader = await postRaw(echo, call(1, "echo"), { "x-api-key": WRONG });
    assert.equal(wrongHeader.status, 401);
    const records = (await gateway.records()).filter((record) => record.error?.type === "http_401");
    assert.equal(records.length, 3);
    for (const record of records) {
      assert.equal(record.kind, "protocol_error");
      assert.equal(record.user, null);
      assert.equal(record.server, "echo");
      assert.equal(record.source, "127.0.0.1");
      assert.deepEqual(record.decisions, [{ stage: "auth", action: "deny", reason: record.error?.message }]);
    }
    assert.deepEqual(
      records.map((record) => record.error?.message),
      ["missing API key", "invalid API key", "invalid API key"],
    );
    assert.ok(!JSON.stringify(await gateway.records()).includes(WRONG), "the presented key is never recorded");
  });

  test("GET /metrics serves Prometheus text with the calls made and the auth failures, without a key", async () => {
    const { client } = await connectClient(echo, alice);
    await client.callTool({ name: "echo", arguments: { text: "metrics" } });
    await client.close();
    const response = await fetch(`${gateway.gateway.url}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^text\/plain/);
    const text = await response.text();
    assert.match(text, /^mcp_server_operation_duration_seconds_count\{[^}]*gen_ai_tool_name="echo"[^}]*\} [1-9]/m);
    assert.match(text, /^toolwatch_auth_failures_total(\{[^}]*\})? [1-9]/m, "the 401s above are counted");
    assert.doesNotMatch(text, /mcp_session_id/, "session ids never become labels");
  });

  test("the SDK client sees the 401 too", async () => {
    await assert.rejects(
      connectClient(echo, { authorization: `Bearer ${WRONG}` }),
      (error: unknown) => error instanceof StreamableHTTPError && error.code === 401,
    );
  });

  test("Bearer, X-API-Key and key_sha256 keys put user and agent into the session", async () => {
    const { client } = await connectClient(echo, alice);
    await client.callTool({ name: "echo", arguments: { text: "from alice" } });
    await client.close();
    const bobSession = await openSession(echo, { "x-api-key": BOB });
    const bobCall = await postRaw(echo, call(1, "echo", { text: "from bob" }), {
      "x-api-key": BOB,
      "mcp-session-id": bobSession,
    });
    assert.equal(bobCall.status, 200);
    const carolSession = await openSession(echo, { authorization: `Bearer ${CAROL}` });
    assert.ok(carolSession.length > 0);
    const records = await gateway.records();
    const aliceCall = records.find((record) => record.result === "from alice");
    assert.equal(aliceCall?.user, "alice");
    assert.equal(aliceCall?.agent, "coder");
    const bobRecord = records.find((record) => record.result === "from bob");
    assert.equal(bobRecord?.user, "bob");
    assert.equal(bobRecord?.agent, null);
    assert.equal(records.find((record) => record.session === carolSession)?.user, "carol");
  });

  test("a session answers only to the key that opened it", async () => {
    const session = await openSession(echo, alice);
    const stolen = await postRaw(echo, call(1, "echo", { text: "x" }), { "x-api-key": BOB, "mcp-session-id": session });
    assert.equal(stolen.status, 404);
    const own = await postRaw(echo, call(1, "echo", { text: "x" }), { ...alice, "mcp-session-id": session });
    assert.equal(own.status, 200);
  });

  test("routes, methods and sessions: 404, 405, 400", async () => {
    const unknownRoute = await postRaw(`${gateway.gateway.url}/mcp/nope`, call(1, "echo"), alice);
    assert.equal(unknownRoute.status, 404);
    const root = await fetch(`${gateway.gateway.url}/`, { headers: alice });
    assert.equal(root.status, 404);
    const put = await fetch(echo, { method: "PUT", headers: { ...alice, ...JSON_RPC_HEADERS }, body: "{}" });
    assert.equal(put.status, 405);
    assert.equal(put.headers.get("allow"), "GET, POST, DELETE");
    const noSession = await postRaw(echo, call(1, "echo"), alice);
    assert.equal(noSession.status, 400);
    const unknownSession = await postRaw(echo, call(1, "echo"), { ...alice, "mcp-session-id": "no-such-session" });
    assert.equal(unknownSession.status, 404);
    const get = await fetch(echo, { headers: { ...alice, accept: "text/event-stream", "mcp-session-id": "nope" } });
    assert.equal(get.status, 404);
    const records = await gateway.records();
    assert.ok(records.some((record) => record.error?.type === "http_404" && record.server === "nope"));
    assert.ok(records.some((record) => record.error?.type === "http_405"));
    const missing = records.find((record) => record.error?.type === "http_400" && record.method === "tools/call");
    assert.equal(missing?.user, "alice", "refusals after authentication carry the principal");
    assert.ok(records.some((record) => record.error?.type === "http_404" && record.session === "no-such-session"));
  });

  test("wrong Accept is 406, wrong Content-Type is 415, a foreign Origin is 403", async () => {
    const accept = await postRaw(echo, call(1, "echo"), { ...alice, accept: "application/json" });
    assert.equal(accept.status, 406);
    const type = await postRaw(echo, call(1, "echo"), { ...alice, "content-type": "text/plain" });
    assert.equal(type.status, 415);
    const origin = await postRaw(echo, call(1, "echo"), { ...alice, origin: "http://evil.example" });
    assert.equal(origin.status, 403);
    const records = await gateway.records();
    for (const status of ["http_406", "http_415", "http_403"]) {
      assert.ok(
        records.some((record) => record.error?.type === status && record.kind === "protocol_error"),
        status,
      );
    }
  });

  test("bodies over capture.max_message_bytes get 413, declared or streamed", async () => {
    const session = await openSession(echo, alice);
    const big = JSON.stringify(call(1, "echo", { text: "x".repeat(70 * 1024) }));
    const declared = await postRaw(echo, big, { ...alice, "mcp-session-id": session });
    assert.equal(declared.status, 413);
    const streamed = await new Promise<number>((resolve, reject) => {
      const outgoing = request(
        echo,
        { method: "POST", headers: { ...alice, ...JSON_RPC_HEADERS, "mcp-session-id": session } },
        (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        },
      );
      outgoing.on("error", reject);
      // Chunked: the size is only known as it arrives.
      outgoing.write(big.slice(0, 40 * 1024));
      outgoing.end(big.slice(40 * 1024));
    });
    assert.equal(streamed, 413);
    const records = (await gateway.records()).filter((record) => record.error?.type === "http_413");
    assert.equal(records.length, 2);
    assert.ok(records.every((record) => record.session === session && (record.request_bytes ?? 0) > 64 * 1024));
  });

  test("malformed JSON gets 400 with a JSON-RPC parse error, recorded in its session", async () => {
    const session = await openSession(echo, alice);
    const broken = await postRaw(echo, '{"jsonrpc":"2.0","id":1,"method":', { ...alice, "mcp-session-id": session });
    assert.equal(broken.status, 400);
    const body = broken.json() as { id: unknown; error: { code: number } };
    assert.equal(body.error.code, -32700);
    assert.equal(body.id, null);
    const invalid = await postRaw(
      echo,
      { jsonrpc: "1.0", id: 7, method: "x" },
      { ...alice, "mcp-session-id": session },
    );
    assert.equal(invalid.status, 400);
    assert.deepEqual(invalid.json(), {
      jsonrpc: "2.0",
      id: 7,
      error: { code: -32600, message: 'missing or wrong "jsonrpc" version (expected "2.0")' },
    });
    const records = (await gateway.records()).filter(
      (record) => record.session === session && record.kind === "protocol_error",
    );
    assert.deepEqual(
      records.map((record) => record.error?.type),
      ["-32700", "-32600"],
    );
    assert.equal(records[0]?.user, "alice");
  });

  test("notifications get 202; a plain call answers JSON; progress switches to SSE", async () => {
    const session = await openSession(echo, alice);
    const headers = { ...alice, "mcp-session-id": session };
    const notification = await postRaw(echo, { jsonrpc: "2.0", method: "notifications/roots/list_changed" }, headers);
    assert.equal(notification.status, 202);
    assert.equal(notification.text, "");
    const plain = await postRaw(echo, call(1, "echo", { text: "json please" }), headers);
    assert.equal(plain.status, 200);
    assert.match(plain.headers.get("content-type") ?? "", /^application\/json/);
    assert.deepEqual(plain.json(), {
      jsonrpc: "2.0",
      id: 1,
      result: { content: [{ type: "text", text: "json please" }] },
    });
    const streamed = await postRaw(echo, call(2, "progress", { steps: 2 }, { progressToken: "p-1" }), headers);
    assert.equal(streamed.status, 200);
    assert.match(streamed.headers.get("content-type") ?? "", /^text\/event-stream/);
    const events = sseMessages(streamed.text);
    assert.deepEqual(
      events.map((event) => event.method ?? `answer ${String(event.id)}`),
      ["notifications/progress", "notifications/progress", "answer 2"],
    );
  });

  test("a batch is answered with an array of answers", async () => {
    const session = await openSession(echo, alice);
    const batch = await postRaw(echo, [call(1, "echo", { text: "one" }), call(2, "echo", { text: "two" })], {
      ...alice,
      "mcp-session-id": session,
    });
    assert.equal(batch.status, 200);
    const answers = batch.json() as Array<{ id: number }>;
    assert.deepEqual(answers.map((answer) => answer.id).sort(), [1, 2]);
  });

  test("a request id already in flight gets a JSON-RPC -32600", async () => {
    const session = await openSession(echo, alice);
    const headers = { ...alice, "mcp-session-id": session };
    // The announcement switches the hanging call's answer to SSE, so its headers arrive while it is in flight.
    const hanging = await fetch(echo, {
      method: "POST",
      headers: { ...JSON_RPC_HEADERS, ...headers },
      body: JSON.stringify(call(5, "hang", { announce: true })),
    });
    assert.match(hanging.headers.get("content-type") ?? "", /^text\/event-stream/);
    const duplicate = await postRaw(echo, call(5, "echo", { text: "again" }), headers);
    assert.equal(duplicate.status, 400);
    assert.equal((duplicate.json() as { error: { code: number } }).error.code, -32600);
    const record = (await gateway.records()).find(
      (candidate) =>
        candidate.session === session && candidate.kind === "protocol_error" && candidate.error?.type === "-32600",
    );
    assert.equal(record?.request_id, 5);
    // Ending the session answers the hanging call.
    const deleted = await fetch(echo, { method: "DELETE", headers });
    assert.equal(deleted.status, 200);
    const answer = sseMessages(await hanging.text()).find((message) => message.id === 5) as { error: { code: number } };
    assert.equal(answer.error.code, -32000);
  });

  test("server messages with no POST open wait for the GET stream; a second GET is 409", async () => {
    const session = await openSession(echo, alice);
    const headers = { ...alice, "mcp-session-id": session };
    // `notify` answers first and logs after, when its POST is complete and no other is open.
    await postRaw(echo, call(1, "notify", { count: 3 }), headers);
    await waitFor(
      async () =>
        (await gateway.records()).filter(
          (record) =>
            record.session === session && record.kind === "notification" && record.method === "notifications/message",
        ).length === 3,
    );
    const controller = new AbortController();
    const stream = await fetch(echo, {
      headers: { ...headers, accept: "text/event-stream" },
      signal: controller.signal,
    });
    assert.equal(stream.status, 200);
    assert.match(stream.headers.get("content-type") ?? "", /^text\/event-stream/);
    const second = await fetch(echo, { headers: { ...headers, accept: "text/event-stream" } });
    assert.equal(second.status, 409);
    const reader = stream.body!.getReader();
    let text = "";
    while (sseMessages(text).length < 2) {
      const { value } = await reader.read();
      text += new TextDecoder().decode(value);
    }
    // The buffer holds two: the oldest of the three was dropped, counted and recorded.
    assert.deepEqual(
      sseMessages(text).map((message) => message.method),
      ["notifications/message", "notifications/message"],
    );
    controller.abort();
    const dropped = (await gateway.records()).filter(
      (record) => record.session === session && record.error?.type === "dropped",
    );
    assert.equal(dropped.length, 1);
    assert.ok(gateway.gateway.counters().dropped_server_messages >= 1);
  });

  test("DELETE ends the session; the next request gets 404", async () => {
    const session = await openSession(echo, alice);
    const headers = { ...alice, "mcp-session-id": session };
    const deleted = await fetch(echo, { method: "DELETE", headers });
    assert.equal(deleted.status, 200);
    const after = await postRaw(echo, call(1, "echo"), headers);
    assert.equal(after.status, 404);
  });
});

describe("gateway without API keys", () => {
  test("lets clients in anonymously and says so at startup", async () => {
    const lines: string[] = [];
    const gateway = await startTestGateway(
      { servers: { echo: nodeServer(ECHO_SERVER) } },
      { log: (line) => lines.push(line) },
    );
    try {
      assert.ok(lines.some((line) => /anonymous/.test(line)));
      assert.ok(lines.some((line) => line.includes(`${gateway.gateway.url}/mcp/echo`)));
      const { client } = await connectClient(gateway.route("echo"));
      await client.callTool({ name: "echo", arguments: { text: "anyone" } });
      await client.close();
      const record = (await gateway.records()).find((candidate) => candidate.result === "anyone");
      assert.equal(record?.user, null);
    } finally {
      await gateway.close();
    }
  });
});
