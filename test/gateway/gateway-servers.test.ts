import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CreateMessageRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { errorLevel } from "../../src/core/exchange.js";
import { connectClient, ECHO_SERVER, NPM_SERVERS, nodeServer, startTestGateway, type TestGateway } from "./helpers.js";

// End to end: the official SDK client, through the gateway, to real npm MCP servers spawned per session.
describe("gateway in front of stdio servers", () => {
  let folder: string;
  let gateway: TestGateway;

  before(async () => {
    folder = mkdtempSync(join(tmpdir(), "toolwatch-gateway-"));
    writeFileSync(join(folder, "notes.txt"), "the quick brown fox\n");
    gateway = await startTestGateway({
      servers: {
        everything: nodeServer(NPM_SERVERS.everything, "stdio"),
        filesystem: nodeServer(NPM_SERVERS.filesystem, folder),
        memory: { ...nodeServer(NPM_SERVERS.memory), env: { MEMORY_FILE_PATH: join(folder, "memory.jsonl") } },
        echo: nodeServer(ECHO_SERVER),
      },
    });
  });

  after(async () => {
    await gateway.close();
    rmSync(folder, { recursive: true, force: true });
  });

  test("tools, resources and prompts of server-everything pass through and are recorded", async () => {
    const { client } = await connectClient(gateway.route("everything"));
    assert.equal(client.getServerVersion()?.name, "mcp-servers/everything");
    const tools = await client.listTools();
    assert.ok(tools.tools.some((tool) => tool.name === "echo"));
    const echoed = await client.callTool({ name: "echo", arguments: { message: "hello gateway" } });
    assert.deepEqual(echoed.content, [{ type: "text", text: "Echo: hello gateway" }]);
    const resources = await client.listResources();
    const first = resources.resources[0];
    assert.ok(first !== undefined, "server-everything lists resources");
    const read = await client.readResource({ uri: first.uri });
    assert.equal(read.contents[0]?.uri, first.uri);
    const prompts = await client.listPrompts();
    assert.ok(prompts.prompts.some((prompt) => prompt.name === "simple-prompt"));
    const prompt = await client.getPrompt({ name: "simple-prompt" });
    assert.ok(prompt.messages.length > 0);
    await client.close();

    const records = (await gateway.records()).filter((record) => record.server === "everything");
    const sessions = new Set(records.map((record) => record.session));
    assert.equal(sessions.size, 1, "one gateway session");
    for (const record of records) {
      assert.equal(record.transport, "http");
      assert.equal(record.source, "127.0.0.1");
      assert.equal(record.user, null);
    }
    const initialize = records.find((record) => record.method === "initialize");
    assert.equal(initialize?.server_info?.name, "mcp-servers/everything");
    assert.equal(initialize?.client?.name, "gateway-test");
    assert.ok((records.find((record) => record.method === "tools/list")?.tools?.length ?? 0) > 5);
    const call = records.find((record) => record.method === "tools/call");
    assert.equal(call?.tool, "echo");
    assert.deepEqual(call?.arguments, { message: "hello gateway" });
    assert.equal(call?.result, "Echo: hello gateway");
    assert.equal(call?.error, null);
    assert.ok((call?.request_bytes ?? 0) > 0 && (call?.response_bytes ?? 0) > 0);
    assert.equal(records.find((record) => record.method === "resources/read")?.uri, first.uri);
    assert.equal(records.find((record) => record.method === "prompts/get")?.prompt, "simple-prompt");
  });

  test("progress notifications arrive over SSE before the result", async () => {
    const { client } = await connectClient(gateway.route("everything"));
    const progress: number[] = [];
    const result = await client.callTool(
      { name: "trigger-long-running-operation", arguments: { duration: 0.3, steps: 3 } },
      undefined,
      { onprogress: (notification) => progress.push(notification.progress) },
    );
    assert.deepEqual(progress, [1, 2, 3]);
    assert.match(JSON.stringify(result.content), /Long running operation completed/);
    await client.close();
    const records = await gateway.records();
    const notifications = records.filter(
      (record) => record.method === "notifications/progress" && record.direction === "server_to_client",
    );
    assert.ok(notifications.length >= 3);
  });

  test("a sampling request from the server reaches the client and its answer goes back", async () => {
    const { client } = await connectClient(gateway.route("echo"), {}, { sampling: {} });
    client.setRequestHandler(CreateMessageRequestSchema, async () => ({
      model: "test-model",
      role: "assistant",
      content: { type: "text", text: "hi from the client" },
    }));
    const result = await client.callTool({ name: "sample", arguments: {} });
    assert.deepEqual(result.content, [{ type: "text", text: "sampled: hi from the client" }]);
    await client.close();
    const sampling = (await gateway.records()).find((record) => record.method === "sampling/createMessage");
    assert.equal(sampling?.direction, "server_to_client");
    assert.equal(sampling?.result, "hi from the client");
  });

  test("server-filesystem reads a file in its folder", async () => {
    const { client } = await connectClient(gateway.route("filesystem"));
    const result = await client.callTool({ name: "read_text_file", arguments: { path: join(folder, "notes.txt") } });
    assert.match(JSON.stringify(result.content), /quick brown fox/);
    const denied = await client.callTool({ name: "read_text_file", arguments: { path: "/etc/passwd" } });
    assert.equal(denied.isError, true);
    await client.close();
    const calls = (await gateway.records()).filter(
      (record) => record.server === "filesystem" && record.method === "tools/call",
    );
    assert.equal(calls.length, 2);
    assert.equal(calls[0]?.result, "the quick brown fox\n");
    assert.equal(errorLevel(calls[0]!), null);
    assert.equal(errorLevel(calls[1]!), "tool", "a refused path is the tool's own error");
  });

  test("server-memory keeps state within one session", async () => {
    const { client } = await connectClient(gateway.route("memory"));
    await client.callTool({
      name: "create_entities",
      arguments: { entities: [{ name: "toolwatch", entityType: "project", observations: ["records MCP traffic"] }] },
    });
    const graph = await client.callTool({ name: "read_graph", arguments: {} });
    assert.match(JSON.stringify(graph.content), /records MCP traffic/);
    await client.close();
    const tools = (await gateway.records())
      .filter((record) => record.server === "memory" && record.method === "tools/call")
      .map((record) => record.tool);
    assert.deepEqual(tools, ["create_entities", "read_graph"]);
  });

  test("concurrent sessions each get their own upstream and their own records", async () => {
    const sessions = 6;
    const callsEach = 8;
    await Promise.all(
      Array.from({ length: sessions }, async (_, index) => {
        const { client, transport } = await connectClient(gateway.route("echo"));
        for (let call = 0; call < callsEach; call++) {
          const text = `session ${index} call ${call}`;
          const result = await client.callTool({ name: "echo", arguments: { text } });
          assert.deepEqual(result.content, [{ type: "text", text }]);
        }
        await transport.terminateSession();
        await client.close();
      }),
    );
    const calls = (await gateway.records()).filter(
      (record) => record.server === "echo" && record.method === "tools/call" && record.tool === "echo",
    );
    const perSession = new Map<string, string[]>();
    for (const call of calls)
      perSession.set(call.session, [...(perSession.get(call.session) ?? []), call.result ?? ""]);
    assert.equal(perSession.size, sessions);
    for (const results of perSession.values()) {
      assert.equal(results.length, callsEach);
      const owner = /session (\d+)/.exec(results[0]!)?.[1];
      assert.ok(
        results.every((result) => result.startsWith(`session ${owner} `)),
        "no answer crossed sessions",
      );
    }
  });
});
