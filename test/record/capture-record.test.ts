import assert from "node:assert/strict";
import { createReadStream } from "node:fs";
import { basename } from "node:path";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { createGunzip } from "node:zlib";
import type { CapturedExchange } from "../../src/core/exchange.js";
import {
  capturedExchangeSchema,
  findingSchema,
  isCapturedExchange,
  parseFinding,
  parseRecordLine,
} from "../../src/record/capture-record.js";
import { newCaptureReadStats, readCapture } from "../../src/record/read-capture.js";
import { DATASETS_MISSING, datasetsFolder, eventFiles } from "./datasets.js";

const v1Record: CapturedExchange = {
  time: "2026-03-02T08:00:24.719Z",
  session: "s-e556047d2763",
  user: "emma.johnson",
  agent: "banking",
  server: "banking",
  method: "tools/call",
  tool: "read_file",
  arguments: { file_path: "landlord-notices.txt" },
  result: "Dear tenant",
  error: null,
  duration_ms: 842,
};

const fullRecord: CapturedExchange = {
  ...v1Record,
  error: { type: "-32602", message: "Invalid params", code: -32602 },
  kind: "request",
  direction: "client_to_server",
  transport: "stdio",
  request_id: 7,
  params: { cursor: "x" },
  uri: "file:///etc/hosts",
  prompt: null,
  tools: [{ name: "read_file", description: "Read a file", input_schema: { type: "object" } }],
  client: { name: "claude-code", version: "1.0.0" },
  server_info: { name: "filesystem" },
  protocol_version: "2025-06-18",
  request_bytes: 120,
  response_bytes: 0,
  truncated: true,
  decisions: [{ stage: "dlp", action: "redact", rule: "aws-key", reason: "secret in result", direction: "result" }],
  source: "127.0.0.1",
};

test("every line of the shared data sets parses, with the fast check and with zod", async (context) => {
  const folder = datasetsFolder();
  if (folder === null) {
    context.skip(DATASETS_MISSING);
    return;
  }
  const files = eventFiles(folder);
  assert.ok(files.length >= 4, `expected the agentdojo and bipia event files in ${folder}`);
  for (const file of files) {
    const lines = createInterface({ input: createReadStream(file).pipe(createGunzip()), crlfDelay: Infinity });
    let count = 0;
    for await (const line of lines) {
      count++;
      const parsed = parseRecordLine(line, count, basename(file));
      if (!parsed.ok) assert.fail(parsed.message);
      // zod is the schema of record: it must agree with the fast check on real data.
      const checked = capturedExchangeSchema.safeParse(parsed.exchange);
      assert.ok(checked.success, `${file}:${count}: zod refused a record the fast check accepted`);
    }
    assert.ok(count > 0, `${file} is empty`);
    // The streaming reader (the path replay takes) agrees, strict: not one line refused.
    const stats = newCaptureReadStats(file);
    for await (const _record of readCapture(file, { strict: true, stats })) {
      // Counted in stats.
    }
    assert.equal(stats.records, count, file);
    assert.equal(stats.bad_lines, 0, file);
  }
});

test("a refused line names the file, the line and the field", () => {
  const missing = parseRecordLine(JSON.stringify({ ...v1Record, session: undefined }), 12, "capture.jsonl");
  assert.equal(missing.ok, false);
  assert.match(!missing.ok ? missing.message : "", /^capture\.jsonl:12: session: missing \(expected string\)/);

  const wrongType = parseRecordLine(JSON.stringify({ ...v1Record, duration_ms: "842" }), 3, "a.jsonl");
  assert.match(!wrongType.ok ? wrongType.message : "", /^a\.jsonl:3: duration_ms: /);

  const nested = parseRecordLine(JSON.stringify({ ...v1Record, error: { type: 5, message: "x" } }), 4, "a.jsonl");
  assert.match(!nested.ok ? nested.message : "", /^a\.jsonl:4: error\.type: /);

  const badTime = parseRecordLine(JSON.stringify({ ...v1Record, time: "yesterday" }), 5, "a.jsonl");
  assert.match(!badTime.ok ? badTime.message : "", /^a\.jsonl:5: time: expected an RFC 3339 date-time/);

  const notJson = parseRecordLine('{"time": ', 6, "a.jsonl");
  assert.match(!notJson.ok ? notJson.message : "", /^a\.jsonl:6: invalid JSON: /);

  const array = parseRecordLine("[1, 2]", 7, "a.jsonl");
  assert.equal(!array.ok && array.message, "a.jsonl:7: expected a JSON object, got an array");
});

test("v1 records, records with every extension, and unknown fields are accepted", () => {
  for (const record of [v1Record, fullRecord, { ...v1Record, future_field: { any: "thing" } }]) {
    const parsed = parseRecordLine(JSON.stringify(record), 1, "a.jsonl");
    assert.ok(parsed.ok, parsed.ok ? "" : parsed.message);
    assert.deepEqual(parsed.exchange, record);
  }
  const { tool: _tool, arguments: _arguments, result: _result, ...minimal } = v1Record;
  assert.ok(isCapturedExchange(minimal), "tool, arguments and result are optional");
});

/** Replacement values that are wrong for some fields and right for others. */
const PROBES: unknown[] = [
  undefined,
  null,
  "",
  "text",
  0,
  -1,
  1.5,
  Number.MAX_SAFE_INTEGER + 2,
  true,
  [],
  [{}],
  [{ name: "x" }],
  [{ name: "x", description: 1 }],
  [{ stage: "dlp", action: "deny", reason: "r" }],
  [{ stage: "dlp", action: "nope", reason: "r" }],
  {},
  { name: "x" },
  { name: "x", version: 2 },
  { type: "timeout", message: "m" },
  { type: "", message: "m" },
  { type: "-32601", message: "m", code: -32601.5 },
  "request",
  "client_to_server",
  "stdio",
  "2026-03-02T08:00:24+01:00",
  "2026-03-02 08:00:24Z",
  "2026-02-30T08:00:24Z",
];

test("the fast check accepts exactly what the zod schema accepts", () => {
  const fields = [...Object.keys(capturedExchangeSchema.shape), "unknown_extra"];
  let compared = 0;
  for (const base of [v1Record, fullRecord]) {
    for (const field of fields) {
      for (const probe of PROBES) {
        const candidate: Record<string, unknown> = { ...base, [field]: probe };
        if (probe === undefined) delete candidate[field];
        const fast = isCapturedExchange(candidate);
        const schema = capturedExchangeSchema.safeParse(candidate).success;
        assert.equal(fast, schema, `${field} = ${JSON.stringify(probe)}: fast ${fast}, zod ${schema}`);
        compared++;
      }
    }
  }
  assert.ok(compared > 1000);
});

test("findings are checked by their schema", () => {
  const finding = {
    time: "2026-03-02T10:00:07.000Z",
    session: "s-a1",
    user: null,
    agent: null,
    server: "files",
    tool: "list_directory",
    call_index: 5,
    detector: "operational",
    category: "operational",
    severity: "medium",
    score: 1,
    message: "m",
    evidence: { kind: "server_unavailable" },
  };
  assert.ok(parseFinding(finding).ok);
  assert.ok(findingSchema.safeParse(finding).success);
  const bad = parseFinding({ ...finding, severity: "urgent", score: 2 });
  assert.equal(bad.ok, false);
  assert.match(!bad.ok ? bad.message : "", /severity: .*; score: /);
});
