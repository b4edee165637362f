import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { connectClient, NPM_SERVERS, startTestGateway, type TestGateway, waitFor } from "./helpers.js";

interface EverythingModule {
  createServer(): { server: McpServer; cleanup(sessionId?: string): void };
}

/**
 * server-everything's own server, behind the SDK's Streamable HTTP server transport on 127.0.0.1:
 * the same server its `streamableHttp` mode runs, without binding every interface.
 */
async function startRemoteEverything(): Promise<{ url: string; deletes: () => number; close(): Promise<void> }> {
  const modulePath = new URL("server/index.js", `file://${NPM_SERVERS.everything}`).href;
  const everything = (await import(modulePath)) as EverythingModule;
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const cleanups: Array<() => void> = [];
  let deletes = 0;
  const server: Server = createServer((request, response) => {
    void (async () => {
      if (request.method === "DELETE") deletes++;
      const id = request.headers["mcp-session-id"];
      let transport = typeof id === "string" ? transports.get(id) : undefined;
      if (transport === undefined) {
        if (id !== undefined) {
          response.writeHead(404).end();
          return;
        }
        const { server: mcp, cleanup } = everything.createServer();
        cleanups.push(cleanup);
        const created = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          onsessioninitialized: (sessionId) => {
            transports.set(sessionId, created);
          },
          onsessionclosed: (sessionId) => {
            transports.delete(sessionId);
            cleanup(sessionId);
          },
        });
        await mcp.connect(created);
        transport = created;
      }
      await transport.handleRequest(request, response);
    })().catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(500).end(String(error));
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    deletes: () => deletes,
    async close() {
      for (const transport of transports.values()) await transport.close();
      for (const cleanup of cleanups) cleanup();
      server.closeAllConnections();
      server.close();
    },
  };
}

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
