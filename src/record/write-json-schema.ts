/**
 * Regenerates docs/event-format.schema.json from the zod schemas:
 *
 *   npx tsc -p . && node dist/src/record/write-json-schema.js
 *
 * test/record/json-schema.test.ts fails while the committed file differs from what this writes.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { eventFormatJsonSchemaText, JSON_SCHEMA_PATH } from "./json-schema.js";

// Compiled to dist/src/record/, three levels below the repository root.
const root = fileURLToPath(new URL("../../..", import.meta.url));
const target = join(root, JSON_SCHEMA_PATH);
writeFileSync(target, eventFormatJsonSchemaText());
process.stdout.write(`wrote ${target}\n`);
