import { z } from "zod";
import { CAPTURE_FORMAT_VERSION, capturedExchangeSchema, findingSchema } from "./capture-record.js";

/** Where the generated schema is kept, relative to the repository root. */
export const JSON_SCHEMA_PATH = "docs/event-format.schema.json";

/**
 * The JSON Schema of the capture record (the document's root) and of the finding (`$defs/Finding`),
 * generated from the zod schemas so the two can never disagree.
 */
export function eventFormatJsonSchema(): Record<string, unknown> {
  const exchange = z.toJSONSchema(capturedExchangeSchema) as { $defs?: Record<string, unknown> };
  const finding = z.toJSONSchema(findingSchema) as { $defs?: Record<string, unknown> };
  const definitions = { ...exchange.$defs, ...finding.$defs };
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    title: `toolwatch capture record (format v${CAPTURE_FORMAT_VERSION})`,
    description:
      "One line of a capture file (.jsonl or .jsonl.gz): one MCP exchange. Findings, one per line of a findings file, are $defs/Finding. Generated from src/record/capture-record.ts; see docs/event-format.md.",
    $ref: "#/$defs/CapturedExchange",
    $defs: Object.fromEntries(Object.entries(definitions).sort(([a], [b]) => a.localeCompare(b))),
  };
}

/** The file's exact text: two-space indentation and a final newline. */
export function eventFormatJsonSchemaText(): string {
  return `${JSON.stringify(eventFormatJsonSchema(), null, 2)}\n`;
}
