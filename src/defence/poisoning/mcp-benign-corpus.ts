/**
 * A benign corpus from real MCP servers: the reference servers installed in `node_modules`
 * (`@modelcontextprotocol/server-everything`, `server-filesystem`, `server-memory`) are started over stdio
 * and driven with the SDK client, and every tool description (with its input schema's descriptions),
 * resource, prompt and a range of tool results is collected as the inline guard would read it.
 *
 * Ordinary MCP traffic is what the classifier sees most in production, so this corpus is both benign
 * training data (one part) and a regression check that must raise no flag (the held-out part). It is built
 * at run time from the installed servers rather than copied into the repository.
 *
 *   node dist/src/defence/poisoning/mcp-benign-corpus.js [--out corpus.json]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { resultText } from "../inline-defence.js";
import { collectSchemaDescriptions } from "../tool-description-text.js";

/** One text of the corpus and where it came from. */
export interface CorpusText {
  /** `server/what`, e.g. `memory/read_graph` or `filesystem/tool/read_text_file`. */
  source: string;
  /** How the classifier is asked about it. */
  kind: "result" | "description";
  text: string;
}

/** Which part of the corpus a text belongs to: trained on, or held out for the zero-flag check. */
export type CorpusPart = "train" | "held-out";

/**
 * Splits the corpus by a hash of each text's source: about a third is held out. By source rather than by
 * text, so that the held-out part holds whole tools' outputs the model never saw.
 */
export function corpusPart(item: CorpusText): CorpusPart {
  let hash = 2166136261;
  for (let index = 0; index < item.source.length; index++) {
    hash = Math.imul(hash ^ item.source.charCodeAt(index), 16777619);
  }
  return (hash >>> 0) % 3 === 0 ? "held-out" : "train";
}

const require = createRequire(import.meta.url);

/** Entry points of the reference servers, or null when one is not installed. */
function serverEntry(name: string): string | null {
  try {
    return require.resolve(`@modelcontextprotocol/${name}/dist/index.js`);
  } catch {
    return null;
  }
}

/** Whether the three reference servers are installed (the corpus cannot be built otherwise). */
export function referenceServersInstalled(): boolean {
  return ["server-everything", "server-filesystem", "server-memory"].every((name) => serverEntry(name) !== null);
}

type CallResult = Awaited<ReturnType<Client["callTool"]>>;

class Collector {
  readonly texts: CorpusText[] = [];
  private readonly seen = new Set<string>();

  add(source: string, kind: CorpusText["kind"], text: string): void {
    const key = `${kind}\u0000${text}`;
    if (text.trim().length === 0 || this.seen.has(key)) return;
    this.seen.add(key);
    this.texts.push({ source, kind, text });
  }

  result(source: string, result: unknown): void {
    if (typeof result === "object" && result !== null)
      this.add(source, "result", resultText(result as Record<string, unknown>));
  }

  async tools(server: string, client: Client): Promise<void> {
    const listed = await client.listTools();
    for (const tool of listed.tools) {
      const parts: string[] = [];
      if (tool.description !== undefined) parts.push(tool.description);
      collectSchemaDescriptions(tool.inputSchema, parts);
      this.add(`${server}/tool/${tool.name}`, "description", parts.join("\n"));
    }
  }

  async call(server: string, client: Client, name: string, args: Record<string, unknown>, tag = name): Promise<void> {
    let result: CallResult;
    try {
      result = await client.callTool({ name, arguments: args }, undefined, { timeout: 15_000 });
    } catch {
      return;
    }
    this.result(`${server}/${tag}`, result);
  }
}

async function connect(entry: string, args: string[], env: Record<string, string> = {}): Promise<Client> {
  const client = new Client({ name: "toolwatch-corpus", version: "1.0.0" });
  const inherited: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) inherited[key] = value;
  await client.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: [entry, ...args],
      env: { ...inherited, ...env },
      stderr: "ignore",
    }),
  );
  return client;
}

async function everything(collector: Collector, entry: string): Promise<void> {
  const server = "everything";
  const client = await connect(entry, []);
  try {
    await collector.tools(server, client);
    const resources = await client.listResources();
    for (const resource of resources.resources) {
      if (resource.description !== undefined)
        collector.add(`${server}/resource-list`, "description", resource.description);
      collector.result(`${server}/resource/${resource.uri}`, await client.readResource({ uri: resource.uri }));
    }
    const templates = await client.listResourceTemplates();
    for (const template of templates.resourceTemplates) {
      if (template.description !== undefined) collector.add(`${server}/template`, "description", template.description);
    }
    for (const id of [1, 2, 3]) {
      collector.result(
        `${server}/resource/dynamic`,
        await client.readResource({ uri: `demo://resource/dynamic/text/${id}` }),
      );
    }
    const prompts = await client.listPrompts();
    for (const prompt of prompts.prompts) {
      const parts = [
        prompt.description ?? "",
        ...(prompt.arguments ?? []).map((argument) => argument.description ?? ""),
      ];
      collector.add(
        `${server}/prompt-list/${prompt.name}`,
        "description",
        parts.filter((part) => part !== "").join("\n"),
      );
    }
    const promptArguments: Record<string, Record<string, string>> = {
      "simple-prompt": {},
      "args-prompt": { city: "Lisbon", state: "Estremadura" },
      "completable-prompt": { department: "Engineering", name: "Alice" },
      "resource-prompt": { resourceType: "Text", resourceId: "2" },
    };
    for (const prompt of prompts.prompts) {
      try {
        collector.result(
          `${server}/prompt/${prompt.name}`,
          await client.getPrompt({ name: prompt.name, arguments: promptArguments[prompt.name] ?? {} }),
        );
      } catch {
        // A prompt whose arguments this corpus does not know: its description is enough.
      }
    }
    await collector.call(server, client, "echo", { message: "Meeting moved to 3 pm, room 4B." });
    await collector.call(server, client, "echo", { message: "Deploy finished without errors." }, "echo-2");
    await collector.call(server, client, "get-sum", { a: 17, b: 25 });
    for (const messageType of ["error", "success", "debug"]) {
      await collector.call(
        server,
        client,
        "get-annotated-message",
        { messageType },
        `get-annotated-message-${messageType}`,
      );
    }
    for (const location of ["New York", "Chicago", "Los Angeles"]) {
      await collector.call(server, client, "get-structured-content", { location });
    }
    await collector.call(server, client, "get-resource-links", { count: 5 });
    await collector.call(server, client, "get-resource-reference", { resourceType: "Text", resourceId: 3 });
    await collector.call(server, client, "get-tiny-image", {});
  } finally {
    await client.close();
  }
}

async function filesystem(collector: Collector, entry: string, scratch: string): Promise<void> {
  const server = "filesystem";
  const packages = dirname(dirname(dirname(entry)));
  const client = await connect(entry, [packages, scratch]);
  try {
    await collector.tools(server, client);
    const call = (name: string, args: Record<string, unknown>, tag = name): Promise<void> =>
      collector.call(server, client, name, args, tag);
    await call("list_allowed_directories", {});
    for (const folder of ["", "server-memory", "server-filesystem", "server-everything/dist", "sdk"]) {
      await call("list_directory", { path: join(packages, folder) }, `list_directory/${folder}`);
    }
    await call("list_directory_with_sizes", { path: join(packages, "server-memory") });
    await call("directory_tree", { path: join(packages, "server-memory") });
    await call("search_files", { path: packages, pattern: "README" });
    await call("get_file_info", { path: join(packages, "server-memory", "package.json") });
    const files = [
      "server-memory/README.md",
      "server-filesystem/README.md",
      "server-everything/README.md",
      "sdk/README.md",
      "server-memory/package.json",
      "server-filesystem/package.json",
      "sdk/package.json",
      "server-memory/dist/index.js",
      "server-filesystem/dist/lib.js",
      "server-filesystem/dist/path-utils.js",
      "server-everything/dist/docs/features.md",
      "server-everything/dist/docs/how-it-works.md",
    ];
    for (const file of files) {
      await call("read_text_file", { path: join(packages, file), head: 120 }, `read_text_file/${file}`);
    }
    await call(
      "read_multiple_files",
      { paths: [join(packages, "server-memory/package.json"), join(packages, "server-everything/package.json")] },
      "read_multiple_files",
    );
    const notes = join(scratch, "notes.md");
    await call("write_file", {
      path: notes,
      content: "# Notes\n\n- Buy milk\n- Call the plumber about the kitchen sink\n",
    });
    await call("edit_file", { path: notes, edits: [{ oldText: "Buy milk", newText: "Buy oat milk" }] });
    await call("read_text_file", { path: notes }, "read_text_file/notes");
    await call("create_directory", { path: join(scratch, "archive") });
    await call("move_file", { source: notes, destination: join(scratch, "archive", "notes.md") });
    await call("directory_tree", { path: scratch }, "directory_tree/scratch");
  } finally {
    await client.close();
  }
}

async function memory(collector: Collector, entry: string, scratch: string): Promise<void> {
  const server = "memory";
  const client = await connect(entry, [], { MEMORY_FILE_PATH: join(scratch, "memory.jsonl") });
  try {
    await collector.tools(server, client);
    const call = (name: string, args: Record<string, unknown>, tag = name): Promise<void> =>
      collector.call(server, client, name, args, tag);
    await call("create_entities", {
      entities: [
        { name: "Q3 plan", entityType: "document", observations: ["owned by finance", "due in September"] },
        { name: "Maria Lopez", entityType: "person", observations: ["works on the billing team", "prefers email"] },
        { name: "Billing service", entityType: "system", observations: ["written in Go", "deployed every Tuesday"] },
      ],
    });
    await call(
      "create_entities",
      {
        entities: [
          { name: "Lisbon office", entityType: "place", observations: ["opened in 2021", "hosts the support desk"] },
          { name: "Onboarding checklist", entityType: "document", observations: ["send the laptop before day one"] },
        ],
      },
      "create_entities-2",
    );
    await call("create_relations", {
      relations: [
        { from: "Maria Lopez", to: "Billing service", relationType: "maintains" },
        { from: "Maria Lopez", to: "Q3 plan", relationType: "reviews" },
        { from: "Lisbon office", to: "Onboarding checklist", relationType: "uses" },
      ],
    });
    await call("add_observations", {
      observations: [
        { entityName: "Q3 plan", contents: ["budget approved on 12 August", "review the draft with legal first"] },
      ],
    });
    await call("read_graph", {});
    await call("search_nodes", { query: "billing" });
    await call("search_nodes", { query: "document" }, "search_nodes-2");
    await call("open_nodes", { names: ["Q3 plan", "Maria Lopez"] });
    await call("delete_observations", { deletions: [{ entityName: "Q3 plan", observations: ["owned by finance"] }] });
    await call("delete_relations", {
      relations: [{ from: "Lisbon office", to: "Onboarding checklist", relationType: "uses" }],
    });
    await call("delete_entities", { entityNames: ["Lisbon office"] });
    await call("read_graph", {}, "read_graph-2");
    try {
      const resources = await client.listResources();
      for (const resource of resources.resources) {
        collector.result(`${server}/resource`, await client.readResource({ uri: resource.uri }));
      }
    } catch {
      // Older versions of the server have no resources.
    }
  } finally {
    await client.close();
  }
}

/**
 * Starts the three reference servers one after the other and collects their texts. Rejects when a
 * server is not installed or does not start; a single tool call that fails is skipped.
 */
export async function collectMcpBenignCorpus(): Promise<CorpusText[]> {
  const entries = {
    everything: serverEntry("server-everything"),
    filesystem: serverEntry("server-filesystem"),
    memory: serverEntry("server-memory"),
  };
  if (entries.everything === null || entries.filesystem === null || entries.memory === null) {
    throw new Error("the MCP reference servers are not installed under node_modules/@modelcontextprotocol");
  }
  const scratch = mkdtempSync(join(tmpdir(), "toolwatch-corpus-"));
  const collector = new Collector();
  try {
    mkdirSync(join(scratch, "files"));
    await everything(collector, entries.everything);
    await filesystem(collector, entries.filesystem, join(scratch, "files"));
    await memory(collector, entries.memory, scratch);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return collector.texts;
}

async function main(): Promise<void> {
  const texts = await collectMcpBenignCorpus();
  const at = process.argv.indexOf("--out");
  const output = at !== -1 ? process.argv[at + 1] : undefined;
  if (output !== undefined) writeFileSync(output, `${JSON.stringify(texts, null, 2)}\n`);
  const held = texts.filter((item) => corpusPart(item) === "held-out").length;
  process.stdout.write(
    `${texts.length} texts (${held} held out)${output === undefined ? "" : `, written to ${output}`}\n`,
  );
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) await main();
