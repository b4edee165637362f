import type { Readable } from "node:stream";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { getDefaultEnvironment, StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { ServerDefinitions } from "./scan-definitions.js";

/** The server to scan: a command to start (stdio) or the URL of a Streamable HTTP endpoint. */
export type ScanTarget =
  | { command: string; args: string[]; env?: Record<string, string>; cwd?: string }
  | { url: string; headers?: Record<string, string> };

/** Options of {@link listServer}. */
export interface ListServerOptions {
  /** Limit for each request (initialize and each page of a list), in milliseconds. */
  timeoutMs: number;
}

/** The definitions, or why they could not be listed: a value, never an exception. */
export type ListServerResult =
  | { ok: true; definitions: ServerDefinitions }
  | { ok: false; stage: "connect" | "list"; message: string };

/** Pages of one list followed at most; a server that paginates forever is cut off here. */
const MAX_PAGES = 100;
/** The last bytes of a stdio server's stderr kept for the error message when it fails to start. */
const STDERR_TAIL = 2_000;

/**
 * Connects to the server with the MCP SDK client, lists its tools, resources, resource templates
 * and prompts (following pagination), and closes the connection (stopping a stdio server).
 */
export async function listServer(target: ScanTarget, options: ListServerOptions): Promise<ListServerResult> {
  const client = new Client({ name: "toolwatch-scan", version: "1.0.0" }, { capabilities: {} });
  let stderr = "";
  let transport: Transport;
  if ("url" in target) {
    let url: URL;
    try {
      url = new URL(target.url);
    } catch {
      return { ok: false, stage: "connect", message: `not a URL: ${JSON.stringify(target.url)}` };
    }
    transport = new StreamableHTTPClientTransport(url, { requestInit: { headers: target.headers ?? {} } });
  } else {
    const stdio = new StdioClientTransport({
      command: target.command,
      args: target.args,
      env: { ...getDefaultEnvironment(), ...target.env },
      ...(target.cwd === undefined ? {} : { cwd: target.cwd }),
      stderr: "pipe",
    });
    (stdio.stderr as Readable | null)?.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString("utf8")).slice(-STDERR_TAIL);
    });
    transport = stdio;
  }
  const requestOptions = { timeout: options.timeoutMs };
  try {
    try {
      await client.connect(transport, requestOptions);
    } catch (error) {
      return {
        ok: false,
        stage: "connect",
        message: withStderr(`${describeTarget(target)}: ${describe(error)}`, stderr),
      };
    }
    try {
      const capabilities = client.getServerCapabilities() ?? {};
      const version = client.getServerVersion();
      const definitions: ServerDefinitions = {
        server: version === undefined ? undefined : { name: version.name, version: version.version },
        instructions: client.getInstructions(),
        tools: [],
        resources: [],
        resourceTemplates: [],
        prompts: [],
      };
      if (capabilities.tools !== undefined) {
        definitions.tools = await paginate(
          (cursor) => client.listTools(cursor, requestOptions),
          (page) => page.tools,
        );
      }
      if (capabilities.resources !== undefined) {
        definitions.resources = await paginate(
          (cursor) => client.listResources(cursor, requestOptions),
          (page) => page.resources,
        );
        definitions.resourceTemplates = await paginate(
          (cursor) => client.listResourceTemplates(cursor, requestOptions),
          (page) => page.resourceTemplates,
        );
      }
      if (capabilities.prompts !== undefined) {
        definitions.prompts = await paginate(
          (cursor) => client.listPrompts(cursor, requestOptions),
          (page) => page.prompts,
        );
      }
      return { ok: true, definitions };
    } catch (error) {
      return { ok: false, stage: "list", message: withStderr(`${describeTarget(target)}: ${describe(error)}`, stderr) };
    }
  } finally {
    await client.close().catch(() => {});
  }
}

async function paginate<Page extends { nextCursor?: string | undefined }, Item>(
  fetchPage: (params: { cursor: string } | undefined) => Promise<Page>,
  itemsOf: (page: Page) => Item[],
): Promise<Item[]> {
  const items: Item[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const result = await fetchPage(cursor === undefined ? undefined : { cursor });
    items.push(...itemsOf(result));
    if (result.nextCursor === undefined || result.nextCursor === cursor) break;
    cursor = result.nextCursor;
  }
  return items;
}

/** How the target is named in messages. */
export function describeTarget(target: ScanTarget): string {
  return "url" in target ? target.url : [target.command, ...target.args].join(" ");
}

function withStderr(message: string, stderr: string): string {
  const tail = stderr.trim();
  return tail.length === 0 ? message : `${message}\n  server stderr: ${tail.split("\n").slice(-5).join("\n  ")}`;
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return `the command was not found (${error.message})`;
    return error.message;
  }
  return String(error);
}
