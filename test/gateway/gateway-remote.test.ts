import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { connectClient, startRemoteEverything, startTestGateway, type TestGateway, waitFor } from "./helpers.js";

describe("gateway in front of a remote Streamable HTTP server", () => {
  let remote: Awaited<ReturnType<typeof startRemoteEverything>>;
  let gateway: TestGateway;

  before(async () => {
    remote = await startRemoteEverything();
    gateway = await startTestGateway({
      servers: {
        remote: { url: remote.url, headers: { "x-remote-credential": "sent-upstream-only" } },
        // A port nothing listens on: connections are refused.
        unreachable: { url: "http://127.0.0.1:9/mcp" },
      },
    });
  });

  after(async () => {
    await gateway.close();
    await remote.close();
  });

  test("tools, progress over SSE and session end pass through", async () => {
    const { client, transport } = await connectClient(gateway.route("remote"));
    assert.equal(client.getServerVersion()?.name, "mcp-servers/everything");
    const tools = await client.listTools();
    assert.ok(tools.tools.some((tool) => tool.name === "get-sum"));
    const sum = await client.callTool({ name: "get-sum", arguments: { a: 2, b: 3 } });
    assert.match(JSON.stringify(sum.content), /5/);
    const progress: number[] = [];
    await client.callTool(
      { name: "trigger-long-running-operation", arguments: { duration: 0.3, steps: 3 } },
      undefined,
      { onprogress: (notification) => progress.push(notification.progress) },
    );
    assert.deepEqual(progress, [1, 2, 3]);
    const deletesBefore = remote.deletes();
    await transport.terminateSession();
    await client.close();
    await waitFor(() => remote.deletes() > deletesBefore);

    const records = (await gateway.records()).filter((record) => record.server === "remote");
    assert.equal(new Set(records.map((record) => record.session)).size, 1);
    const call = records.find((record) => record.tool === "get-sum");
    assert.deepEqual(call?.arguments, { a: 2, b: 3 });
    assert.equal(call?.error, null);
    assert.ok(records.filter((record) => record.method === "notifications/progress").length >= 3);
    assert.ok(!JSON.stringify(records).includes("sent-upstream-only"), "upstream credentials are never recorded");
  });

  test("an unreachable remote answers initialize with a JSON-RPC error, recorded as a server error", async () => {
    await assert.rejects(connectClient(gateway.route("unreachable")), /cannot reach the remote/);
    const record = (await gateway.records()).find(
      (candidate) => candidate.server === "unreachable" && candidate.method === "initialize",
    );
    assert.equal(record?.error?.type, "transport");
    await waitFor(() => gateway.gateway.counters().sessions_open === 0);
  });
});
