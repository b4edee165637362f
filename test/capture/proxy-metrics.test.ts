import assert from "node:assert/strict";
import { createServer } from "node:net";
import { test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { paths } from "./proxy-harness.js";

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

test("proxy --metrics-port serves the proxied calls as Prometheus metrics while stdout stays the client's", async () => {
  const port = await freePort();
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [
      paths.cli,
      "proxy",
      "--no-store",
      "--server",
      "everything",
      "--metrics-port",
      String(port),
      "--",
      process.execPath,
      paths.everything,
      "stdio",
    ],
    stderr: "pipe",
  });
  const client = new Client({ name: "metrics-check", version: "1.0.0" });
  await client.connect(transport);
  try {
    const result = await client.callTool({ name: "echo", arguments: { message: "counted" } });
    assert.deepEqual(result.content, [{ type: "text", text: "Echo: counted" }]);
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(
      text,
      /^mcp_server_operation_duration_seconds_count\{mcp_server="everything",mcp_method_name="tools\/call",gen_ai_tool_name="echo",error_type=""\} 1$/m,
    );
    assert.match(
      text,
      /^toolwatch_requests_total\{mcp_server="everything",mcp_method_name="initialize",gen_ai_tool_name=""\} 1$/m,
    );
  } finally {
    await client.close();
  }
});
