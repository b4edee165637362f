import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { eventFormatJsonSchema, eventFormatJsonSchemaText, JSON_SCHEMA_PATH } from "../../src/record/json-schema.js";
import { repositoryRoot } from "./datasets.js";

test("docs/event-format.schema.json is what the zod schemas generate", () => {
  const committed = readFileSync(join(repositoryRoot, JSON_SCHEMA_PATH), "utf8");
  assert.ok(
    committed === eventFormatJsonSchemaText(),
    `${JSON_SCHEMA_PATH} is stale: run \`npx tsc -p . && node dist/src/record/write-json-schema.js\``,
  );
});

test("the JSON Schema describes the capture record and the finding", () => {
  const schema = eventFormatJsonSchema() as { $ref: string; $defs: Record<string, { required?: string[] }> };
  assert.equal(schema.$ref, "#/$defs/CapturedExchange");
  assert.deepEqual(schema.$defs.CapturedExchange?.required, [
    "time",
    "session",
    "user",
    "agent",
    "server",
    "method",
    "error",
    "duration_ms",
  ]);
  assert.ok(schema.$defs.Finding?.required?.includes("evidence"));
  for (const name of ["ExchangeError", "PeerInfo", "ToolDefinition", "InlineDecision"]) {
    assert.ok(schema.$defs[name], `$defs/${name}`);
  }
});
