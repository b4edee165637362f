/**
 * The official SDK client against real MCP servers, directly and through `toolwatch proxy`: the
 * proxied session must give exactly what the direct one gives (drop-in), and what the proxy records
 * must describe it.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { Transport as SdkTransport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { CapturedExchange } from "../../src/core/exchange.js";
import { paths, StreamClientTransport, startProxy } from "./proxy-harness.js";

const workspace = mkdtempSync(join(tmpdir(), "toolwatch-e2e-"));
after(() => rmSync(workspace, { recursive: true, force: true }));

type Server = { args: string[]; env?: Record<string, string> };

function transport(server: Server, proxied: boolean): StdioClientTransport {
  const args = proxied ? [paths.cli, "proxy", "--no-store", "--", process.execPath, ...server.args] : server.args;
  return new StdioClientTransport({ command: process.execPath, args, env: server.env, stderr: "pipe" });
}

async function session<T>(connection: SdkTransport, script: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ name: "toolwatch-e2e", version: "1.0.0" });
  await client.connect(connection);
  try {
    return await script(client);
  } finally {
    await client.close();
  }
}

/** Settles a call into a comparable value: its result, or the error it threw. */
async function outcome(call: Promise<unknown>): Promise<unknown> {
  try {
    return { result: await call };
  } catch (error) {
    return { error: String((error as Error).message) };
  }
}

const everything: Server = { args: [paths.everything, "stdio"] };

async function exerciseEverything(client: Client): Promise<Record<string, unknown>> {
  const progress: unknown[] = [];
  return {
    server: client.getServerVersion(),
    capabilities: client.getServerCapabilities(),
    tools: await client.listTools(),
    echo: await client.callTool({ name: "echo", arguments: { message: "hello through the proxy" } }),
    sum: await client.callTool({ name: "get-sum", arguments: { a: 19, b: 23 } }),
    unknownTool: await outcome(client.callTool({ name: "no-such-tool", arguments: {} })),
    badArguments: await outcome(client.callTool({ name: "get-sum", arguments: { a: "nineteen" } })),
    image: await client.callTool({ name: "get-tiny-image", arguments: {} }),
    resources: await client.listResources(),
    templates: await client.listResourceTemplates(),
    document: await client.readResource({ uri: "demo://resource/static/document/features.md" }),
    prompts: await client.listPrompts(),
    simplePrompt: await client.getPrompt({ name: "simple-prompt" }),
    argumentsPrompt: await client.getPrompt({ name: "args-prompt", arguments: { city: "Lyon", state: "Rhône" } }),
    missingPrompt: await outcome(client.getPrompt({ name: "no-such-prompt" })),
    logging: await client.setLoggingLevel("debug"),
    ping: await client.ping(),
    longRunning: await client.callTool(
      { name: "trigger-long-running-operation", arguments: { duration: 0.03, steps: 3 } },
      undefined,
      { onprogress: (event) => progress.push(event) },
    ),
    progress,
  };
}

test("server-everything: the proxied session is indistinguishable from the direct one", async () => {
  const { progress: directProgress, ...direct } = await session(transport(everything, false), exerciseEverything);
  const { progress: proxiedProgress, ...proxied } = await session(transport(everything, true), exerciseEverything);
  assert.deepEqual(proxied, direct);
  // The SDK client handles notifications a tick later than responses, so a progress notification that
  // arrives in the same read as the result is dropped by the client itself: how many it shows depends
  // on how the bytes were chunked, with or without a proxy. The records count them exactly.
  for (const events of [directProgress, proxiedProgress] as unknown[][]) {
    assert.ok(events.length >= 1 && events.length <= 3);
    assert.ok(events.every((event) => (event as { total: number }).total === 3));
  }
  // The comparison is only worth something if the session did what it should.
  assert.deepEqual((direct.echo as { content: unknown }).content, [
    { type: "text", text: "Echo: hello through the proxy" },
  ]);
  assert.match(JSON.stringify(direct.sum), /42/);
  assert.ok(
    "error" in (direct.badArguments as object) || JSON.stringify(direct.badArguments).includes('"isError":true'),
  );
});

test("server-filesystem on a temporary folder, through the proxy", async () => {
  const folder = mkdtempSync(join(workspace, "files-"));
  writeFileSync(join(folder, "notes.txt"), "first line\nsecond line\n");
  const filesystem: Server = { args: [paths.filesystem, folder] };
  const script = async (client: Client) => ({
    tools: (await client.listTools()).tools.map((tool) => tool.name).sort(),
    allowed: await client.callTool({ name: "list_allowed_directories", arguments: {} }),
    read: await client.callTool({ name: "read_text_file", arguments: { path: join(folder, "notes.txt") } }),
    outside: await outcome(client.callTool({ name: "read_text_file", arguments: { path: "/etc/hostname" } })),
    missing: await outcome(client.callTool({ name: "read_text_file", arguments: { path: join(folder, "nope.txt") } })),
    listing: await client.callTool({ name: "list_directory", arguments: { path: folder } }),
  });
  const direct = await session(transport(filesystem, false), script);
  const proxied = await session(transport(filesystem, true), async (client) => {
    const result = await script(client);
    await client.callTool({
      name: "write_file",
      arguments: { path: join(folder, "new.txt"), content: "written via toolwatch" },
    });
    const written = await client.callTool({ name: "read_text_file", arguments: { path: join(folder, "new.txt") } });
    return { result, written };
  });
  assert.deepEqual(proxied.result, direct);
  assert.deepEqual((proxied.written as { content: unknown }).content, [
    { type: "text", text: "written via toolwatch" },
  ]);
  assert.match(JSON.stringify(direct.read), /second line/);
  assert.match(JSON.stringify(direct.outside), /denied|outside|not allowed/i);
});

test("server-memory keeps its graph through the proxy, with the environment passed on", async () => {
  const memory: Server = { args: [paths.memory], env: { MEMORY_FILE_PATH: join(workspace, "memory.jsonl") } };
  const graph = await session(transport(memory, true), async (client) => {
    await client.callTool({
      name: "create_entities",
      arguments: { entities: [{ name: "toolwatch", entityType: "project", observations: ["records MCP traffic"] }] },
    });
    await client.callTool({
      name: "create_relations",
      arguments: { relations: [{ from: "toolwatch", to: "toolwatch", relationType: "watches" }] },
    });
    return client.callTool({ name: "read_graph", arguments: {} });
  });
  assert.match(JSON.stringify(graph), /records MCP traffic/);
  // A second proxied session reads the file the first one wrote, so the variable reached the server.
  const found = await session(transport(memory, true), (client) =>
    client.callTool({ name: "search_nodes", arguments: { query: "toolwatch" } }),
  );
  assert.match(JSON.stringify(found), /records MCP traffic/);
});

test("the records of a server-everything session describe what happened", async () => {
  const harness = startProxy({ args: [paths.everything, "stdio"] });
  await session(new StreamClientTransport(harness.input, harness.output), async (client) => {
    await client.listTools();
    await client.callTool({ name: "echo", arguments: { message: "recorded" } });
    await outcome(client.callTool({ name: "get-sum", arguments: { a: "x" } }));
    await outcome(client.callTool({ name: "no-such-tool", arguments: {} }));
    await client.readResource({ uri: "demo://resource/static/document/features.md" });
    await client.getPrompt({ name: "args-prompt", arguments: { city: "Lyon" } });
    await client.callTool(
      { name: "trigger-long-running-operation", arguments: { duration: 0.03, steps: 2 } },
      undefined,
      { onprogress: () => {} },
    );
  });
  assert.equal(await harness.done, 0);
  const records = harness.records;
  const request = (method: string, test: (record: CapturedExchange) => boolean = () => true) => {
    const record = records.find(
      (candidate) => candidate.kind === "request" && candidate.method === method && test(candidate),
    );
    assert.ok(record, `a ${method} record`);
    return record;
  };

  const init = request("initialize");
  assert.deepEqual(init.client, { name: "toolwatch-e2e", version: "1.0.0" });
  assert.equal(init.server_info?.name, "mcp-servers/everything");
  assert.equal(typeof init.protocol_version, "string");
  assert.ok(
    records.some((record) => record.method === "notifications/initialized" && record.direction === "client_to_server"),
  );

  const list = request("tools/list");
  assert.ok(list.tools?.some((tool) => tool.name === "echo" && tool.input_schema !== undefined));

  const echo = request("tools/call", (record) => record.tool === "echo");
  assert.deepEqual(echo.arguments, { message: "recorded" });
  assert.equal(echo.result, "Echo: recorded");
  assert.equal(echo.error, null);
  assert.ok(echo.duration_ms !== null && echo.duration_ms >= 0);
  assert.ok(echo.request_bytes! > 0 && echo.response_bytes! > 0);

  const badArguments = request("tools/call", (record) => record.tool === "get-sum");
  assert.notEqual(badArguments.error, null, "invalid arguments are a failure on record");
  const unknown = request("tools/call", (record) => record.tool === "no-such-tool");
  assert.notEqual(unknown.error, null);

  const resource = request("resources/read");
  assert.equal(resource.uri, "demo://resource/static/document/features.md");
  assert.ok((resource.result ?? "").length > 0);

  const prompt = request("prompts/get");
  assert.equal(prompt.prompt, "args-prompt");
  assert.deepEqual(prompt.arguments, { city: "Lyon" });
  assert.match(prompt.result ?? "", /Lyon/);

  const progress = records.filter((record) => record.method === "notifications/progress");
  assert.equal(progress.length, 2);
  assert.ok(progress.every((record) => record.direction === "server_to_client" && record.kind === "notification"));

  assert.equal(records.filter((record) => record.kind === "protocol_error").length, 0);
  assert.ok(records.every((record) => record.session === "test-session" && record.user === "tester"));
});

test("a proxy whose config names a baseline it cannot read exits 1 at once, naming the file, and never starts the server", () => {
  const config = join(workspace, "broken-baseline.yaml");
  writeFileSync(config, "detectors:\n  baseline: no-such-baseline.json\n");
  const marker = join(workspace, "server-started");
  // The "server" would leave a file behind if the proxy started it.
  const result = spawnSync(
    process.execPath,
    [
      paths.cli,
      "proxy",
      "--config",
      config,
      "--db",
      join(workspace, "broken-baseline.db"),
      "--",
      process.execPath,
      "-e",
      `require("node:fs").writeFileSync(${JSON.stringify(marker)}, "")`,
    ],
    { encoding: "utf8", timeout: 20_000, input: "" },
  );
  assert.equal(result.signal, null, `the proxy hung and was killed: ${result.stderr}`);
  assert.equal(result.status, 1, result.stderr);
  // Relative to the config file's folder, not the working directory.
  assert.match(
    result.stderr,
    new RegExp(`${join(workspace, "no-such-baseline.json").replaceAll("/", "\\/")}: cannot read`),
  );
  assert.equal(existsSync(marker), false);
});
