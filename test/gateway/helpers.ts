import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { type Gateway, type GatewayOptions, startGateway } from "../../src/capture/http-gateway.js";
import { parseConfig } from "../../src/config/config.js";
import type { CapturedExchange } from "../../src/core/exchange.js";
import type { InlineGuard } from "../../src/core/guard.js";
import { createLiveRuntime } from "../../src/runtime/live-runtime.js";
import { InMemoryStore } from "../../src/store/index.js";

const require = createRequire(import.meta.url);
const root = fileURLToPath(new URL("../../..", import.meta.url));

/** The echo fixture, compiled next to this file's output. */
export const ECHO_SERVER = join(root, "dist/test/fixtures/gateway/echo-server.js");

/** Entry points of the npm MCP servers the end-to-end tests run as stdio upstreams. */
export const NPM_SERVERS = {
  everything: require.resolve("@modelcontextprotocol/server-everything/dist/index.js"),
  filesystem: require.resolve("@modelcontextprotocol/server-filesystem/dist/index.js"),
  memory: require.resolve("@modelcontextprotocol/server-memory/dist/index.js"),
};

interface EverythingModule {
  createServer(): { server: McpServer; cleanup(sessionId?: string): void };
}

/**
 * server-everything's own server, behind the SDK's Streamable HTTP server transport on 127.0.0.1:
 * the same server its `streamableHttp` mode runs, without binding every interface.
 */
export async function startRemoteEverything(): Promise<{ url: string; deletes: () => number; close(): Promise<void> }> {
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

/** A stdio upstream entry for the config, running `script` with this Node. */
export function nodeServer(script: string, ...args: string[]): { command: string; args: string[] } {
  return { command: process.execPath, args: [script, ...args] };
}

export interface TestGateway {
  gateway: Gateway;
  store: InMemoryStore;
  /** Base URL of a route. */
  route(server: string): string;
  /** Everything recorded so far, in order. */
  records(): Promise<CapturedExchange[]>;
  close(): Promise<void>;
}

/** Starts a gateway on a free port with an in-memory store, from a config object (as the YAML would give it). */
export async function startTestGateway(
  config: Record<string, unknown>,
  options: Partial<GatewayOptions> = {},
  guard: InlineGuard | null = null,
): Promise<TestGateway> {
  const parsed = parseConfig(JSON.stringify(config));
  const store = new InMemoryStore();
  const runtime = createLiveRuntime({ config: parsed, store, guard });
  // GATEWAY_LOG=1 shows the gateway's log when a test needs explaining.
  const log = process.env.GATEWAY_LOG ? (line: string) => process.stderr.write(`gateway: ${line}\n`) : () => {};
  const gateway = await startGateway({ config: parsed, runtime, host: "127.0.0.1", port: 0, log, ...options });
  return {
    gateway,
    store,
    route: (server) => `${gateway.url}/mcp/${server}`,
    async records() {
      return (await store.exchanges()).map((stored) => stored.exchange);
    },
    async close() {
      await gateway.close();
      await runtime.shutdown();
    },
  };
}

/** An SDK client connected through the gateway. */
export async function connectClient(
  url: string,
  headers: Record<string, string> = {},
  capabilities: Record<string, unknown> = {},
): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const client = new Client({ name: "gateway-test", version: "1.0.0" }, { capabilities });
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
  await client.connect(transport);
  return { client, transport };
}

/** Waits until `check` holds, polling; fails after `timeoutMs` (generous: this is about liveness, not speed). */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export const JSON_RPC_HEADERS = {
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
};

/** POSTs one JSON-RPC body (a string is sent as is) and returns the response with its body read. */
export async function postRaw(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; text: string; json: () => unknown }> {
  const response = await fetch(url, {
    method: "POST",
    headers: { ...JSON_RPC_HEADERS, ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: () => JSON.parse(text) };
}

/** Opens a session by hand: initialize, then initialized. Returns the session id. */
export async function openSession(url: string, headers: Record<string, string> = {}): Promise<string> {
  const initialize = await postRaw(
    url,
    {
      jsonrpc: "2.0",
      id: 0,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw-test", version: "1.0.0" } },
    },
    headers,
  );
  if (initialize.status !== 200 || !initialize.text.includes('"result"')) {
    throw new Error(`initialize answered ${initialize.status}: ${initialize.text}`);
  }
  const session = initialize.headers.get("mcp-session-id");
  if (session === null) throw new Error("initialize answered without a session id");
  const initialized = await postRaw(
    url,
    { jsonrpc: "2.0", method: "notifications/initialized" },
    { ...headers, "mcp-session-id": session },
  );
  if (initialized.status !== 202) throw new Error(`initialized answered ${initialized.status}`);
  return session;
}

/** The JSON-RPC messages in an SSE body. */
export function sseMessages(text: string): Array<Record<string, unknown>> {
  return text
    .split("\n")
    .filter((line) => line.startsWith("data:"))
    .map((line) => JSON.parse(line.slice(5)) as Record<string, unknown>);
}
