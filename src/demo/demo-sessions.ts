import type { Client } from "@modelcontextprotocol/sdk/client/index.js";

/** A scripted agent: who it is, which server it talks to, and what it does there. */
export interface DemoSession {
  user: string;
  agent: string;
  server: string;
  /** The API key the gateway maps to `user` and `agent`. */
  api_key: string;
  run(client: Client, workspace: string): Promise<void>;
}

/** Calls a tool and keeps going on failure: the demo shows errors, it does not stop at them. */
async function call(client: Client, name: string, args: Record<string, unknown>): Promise<void> {
  try {
    await client.callTool({ name, arguments: args });
  } catch {
    // A JSON-RPC error is what this call is here to show; the gateway recorded it.
  }
}

export const DEMO_SESSIONS: DemoSession[] = [
  {
    user: "ada",
    agent: "research-assistant",
    server: "files",
    api_key: "demo-key-ada-research",
    async run(client, workspace) {
      await client.listTools();
      await call(client, "list_directory", { path: workspace });
      await call(client, "read_text_file", { path: `${workspace}/notes/quarterly-plan.md` });
      await call(client, "search_files", { path: workspace, pattern: "*.csv" });
      await call(client, "read_text_file", { path: `${workspace}/data/customers.csv`, head: 3 });
      await call(client, "get_file_info", { path: `${workspace}/notes/quarterly-plan.md` });
    },
  },
  {
    user: "ada",
    agent: "research-assistant",
    server: "memory",
    api_key: "demo-key-ada-research",
    async run(client) {
      await client.listTools();
      await call(client, "create_entities", {
        entities: [{ name: "Q3 plan", entityType: "document", observations: ["owned by finance", "due in September"] }],
      });
      await call(client, "add_observations", {
        observations: [{ entityName: "Q3 plan", contents: ["reviewed by Ada"] }],
      });
      await call(client, "search_nodes", { query: "finance" });
      await call(client, "read_graph", {});
    },
  },
  {
    user: "grace",
    agent: "coder",
    server: "everything",
    api_key: "demo-key-grace-coder",
    async run(client) {
      await client.listTools();
      await call(client, "echo", { message: "hello through toolwatch" });
      await call(client, "get-sum", { a: 19, b: 23 });
      // Progress notifications arrive while the call runs: the gateway streams them over SSE.
      try {
        await client.callTool(
          { name: "trigger-long-running-operation", arguments: { duration: 1, steps: 4 } },
          undefined,
          { onprogress: () => {} },
        );
      } catch {
        // Recorded either way.
      }
      const resources = await client.listResources();
      const first = resources.resources[0];
      if (first !== undefined) await client.readResource({ uri: first.uri });
      const prompts = await client.listPrompts();
      if (prompts.prompts.some((prompt) => prompt.name === "simple-prompt"))
        await client.getPrompt({ name: "simple-prompt" });
    },
  },
  {
    user: "linus",
    agent: "ops",
    server: "files",
    api_key: "demo-key-linus-ops",
    async run(client) {
      await client.listTools();
      // Outside the allowed directory: the server refuses, a tool-level error.
      await call(client, "read_text_file", { path: "/etc/passwd" });
      // No such tool: the server answers with an error too.
      await call(client, "format_disk", { device: "/dev/sda" });
      // Arguments of the wrong type.
      await call(client, "list_directory", { path: 42 });
      // A cloud key on its way into a file: DLP blocks the call before the server sees it, and stores it masked.
      await call(client, "write_file", {
        path: "/tmp/deploy.env",
        content: `AWS_ACCESS_KEY_ID=${["AKIA", "Z7VQ4XK2M6PLJ3RT"].join("")}\nREGION=eu-west-1\n`,
      });
    },
  },
  {
    user: "margaret",
    agent: "support",
    server: "files",
    api_key: "demo-key-margaret-support",
    async run(client, workspace) {
      await client.listTools();
      // The ticket carries an injection: inline defence quarantines it before the model reads it.
      await call(client, "read_text_file", { path: `${workspace}/inbox/ticket-4711.txt` });
      // Had the model followed it anyway: the policy keeps support agents out of data/ and away from writes.
      await call(client, "read_text_file", { path: `${workspace}/data/customers.csv` });
      await call(client, "write_file", { path: `${workspace}/notes/export.md`, content: "id,name,country" });
      await call(client, "read_text_file", { path: `${workspace}/notes/quarterly-plan.md` });
    },
  },
];
