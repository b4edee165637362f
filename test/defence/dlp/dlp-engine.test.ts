import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { runDlpJsonLines } from "../../../src/cli/commands/dlp.js";
import { DlpEngine, dlpSettingsSchema, parseDlpRules } from "../../../src/defence/dlp/index.js";

const github = `ghp_${"R8fK2mQ9xL4vN7pT1wZ6yB3cH5jD0sA8eU2i"}`;
const settings = (overrides: Record<string, unknown> = {}) => dlpSettingsSchema.parse(overrides);
const argumentsContext = { server: "github", tool: "create_issue", direction: "arguments" as const };
const resultContext = { server: "github", tool: "get_issue", direction: "result" as const };

test("inspect: nothing found allocates no copies", () => {
  const engine = new DlpEngine(settings());
  const value = { title: "Crash on save", body: "Steps to reproduce: open, save.", labels: ["bug"] };
  const inspection = engine.inspect(value, argumentsContext);
  assert.deepEqual(inspection, { matches: [], action: "allow", forward: undefined, record: undefined });
});

test("inspect: a secret in arguments blocks; the record masks it at the right offsets", () => {
  const engine = new DlpEngine(settings());
  const body = `token is ${github} ok`;
  const value = { title: "t", body, nested: [{ text: "mail jane.doe@example.org" }] };
  const inspection = engine.inspect(value, argumentsContext);
  assert.equal(inspection.action, "block");
  assert.deepEqual(
    inspection.matches.map((match) => [match.rule, match.path, match.start, match.end, match.action]),
    [
      ["github_token", ["body"], 9, 9 + github.length, "block"],
      ["email", ["nested", 0, "text"], 5, 25, "alert"],
    ],
  );
  assert.equal(inspection.forward, undefined);
  assert.deepEqual(inspection.record, {
    title: "t",
    body: "token is [REDACTED:github_token] ok",
    nested: [{ text: "mail [REDACTED:email]" }],
  });
  // The original is untouched, and untouched branches are shared.
  assert.equal(value.body, body);
  assert.equal((inspection.record as { title: string }).title, "t");
});

test("inspect: a secret in a result is redacted by default, blocked when the rule says block", () => {
  const result = { content: [{ type: "text", text: `config: ${github}` }] };
  const engine = new DlpEngine(settings());
  const inspection = engine.inspect(result, resultContext);
  assert.equal(inspection.action, "redact");
  assert.deepEqual(inspection.forward, { content: [{ type: "text", text: "config: [REDACTED:github_token]" }] });
  const strict = new DlpEngine(settings({ actions: { rules: { github_token: "block" } } }));
  assert.equal(strict.inspect(result, resultContext).action, "block");
});

test("inspect: redact forwards only redact spans; alert spans pass but are masked in the record", () => {
  const engine = new DlpEngine(settings({ actions: { pii: "alert", rules: { credit_card: "redact" } } }));
  const value = { note: "card 4539 1488 0343 6467 for jane.doe@example.org" };
  const inspection = engine.inspect(value, argumentsContext);
  assert.equal(inspection.action, "redact");
  assert.deepEqual(inspection.forward, { note: "card [REDACTED:credit_card] for jane.doe@example.org" });
  assert.deepEqual(inspection.record, { note: "card [REDACTED:credit_card] for [REDACTED:email]" });
});

test("inspect: store_raw keeps the record unmasked; binary content blocks are skipped", () => {
  const engine = new DlpEngine(settings({ store_raw: true }));
  const inspection = engine.inspect({ body: github }, argumentsContext);
  assert.equal(inspection.action, "block");
  assert.equal(inspection.record, undefined);
  const image = { content: [{ type: "image", mimeType: "image/png", data: github }] };
  assert.equal(new DlpEngine(settings()).inspect(image, resultContext).action, "allow");
});

test("allow-lists: rules per tool and server glob, and literal values", () => {
  const engine = new DlpEngine(
    settings({
      allow: [
        { server: "github", tool: "get_issue*", rules: ["github_token", "email"] },
        { tool: "*", values: ["jane.doe@example.org"] },
      ],
    }),
  );
  const text = `${github} and jane.doe@example.org and john@example.com`;
  const onIssue = engine.scanText(text, { server: "github", tool: "get_issue_comments", direction: "result" });
  assert.deepEqual(onIssue, []);
  const elsewhere = engine.scanText(text, { server: "github", tool: "create_issue", direction: "arguments" });
  assert.deepEqual(
    elsewhere.map((match) => `${match.rule}:${text.slice(match.start, match.end)}`),
    [`github_token:${github}`, "email:john@example.com"],
  );
  const otherServer = engine.scanText(text, { server: "gitlab", tool: "get_issue", direction: "result" });
  assert.equal(otherServer.length, 2);
});

test("disabled engine and disabled rules find nothing", () => {
  assert.deepEqual(new DlpEngine(settings({ enabled: false })).scanText(github), []);
  assert.deepEqual(new DlpEngine(settings({ disabled_rules: ["github_token"] })).scanText(github), []);
});

test("custom rules: keywords anchor the pattern, the action is the rule's own", () => {
  const parsed = parseDlpRules(
    [
      "- id: employee_id",
      "  type: employee_id",
      "  category: pii",
      "  pattern: 'EMP-\\d{6}'",
      "  action: redact",
      "  keywords: [EMP-]",
      "  description: internal employee number",
    ].join("\n"),
    "rules.yaml",
  );
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.error);
  const engine = new DlpEngine(settings(), { customRules: parsed.rules });
  const inspection = engine.inspect({ text: "owner EMP-123456" }, resultContext);
  assert.equal(inspection.action, "redact");
  assert.deepEqual(inspection.forward, { text: "owner [REDACTED:employee_id]" });
});

test("custom rules file: a bad regex is reported with file:line:column", () => {
  const parsed = parseDlpRules(
    ["- id: ok_rule", "  type: thing", "  category: secret", "  pattern: 'abc(def'", "  action: block"].join("\n"),
    "custom.yaml",
  );
  assert.equal(parsed.ok, false);
  assert.match(parsed.ok ? "" : parsed.error, /^custom\.yaml:4:\d+: .*pattern: invalid regular expression/);
  const badAction = parseDlpRules("- {id: a, type: b, category: secret, pattern: x, action: drop}\n", "c.yaml");
  assert.match(badAction.ok ? "" : badAction.error, /^c\.yaml:1:\d+: /);
});

test("adversarial 1 MB inputs finish (linear-time patterns)", () => {
  const engine = new DlpEngine(settings());
  const size = 1 << 20;
  const inputs = [
    `${"a".repeat(size - 1)}@`,
    "password=".repeat(size / 9),
    "-----BEGIN RSA PRIVATE KEY-----".repeat(size / 31),
    "1 ".repeat(size / 2),
    "1.1.1.".repeat(size / 6),
    "eyJ.".repeat(size / 4),
    "xoxb-1234567890-".repeat(size / 16),
    "postgres://a:".repeat(size / 13),
    `${"A".repeat(size / 2)}Q~${"a".repeat(size / 2)}`,
  ];
  for (const input of inputs) assert.ok(Array.isArray(engine.scanText(input)));
});

test("toolwatch dlp --jsonl: one line per input in order, errors for bad lines", async () => {
  const engine = new DlpEngine(settings());
  const input = new PassThrough();
  const output = new PassThrough();
  const lines: string[] = [];
  output.on("data", (chunk: Buffer) => lines.push(...chunk.toString("utf8").split("\n").filter(Boolean)));
  const run = runDlpJsonLines(input, output, engine);
  input.end(
    [
      JSON.stringify({ id: 1, text: `key ${github}` }),
      JSON.stringify({ id: "two", text: "nothing here" }),
      "{not json",
      JSON.stringify({ id: 4 }),
      "",
    ].join("\n"),
  );
  const summary = await run;
  assert.deepEqual(summary, { lines: 4, errors: 2 });
  const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.deepEqual(parsed[0], {
    id: 1,
    findings: [{ type: "github_token", rule: "github_token", start: 4, end: 4 + github.length }],
  });
  assert.deepEqual(parsed[1], { id: "two", findings: [] });
  assert.equal(parsed[2]!.id, null);
  assert.match(String(parsed[2]!.error), /not JSON/);
  assert.equal(parsed[3]!.id, 4);
  assert.match(String(parsed[3]!.error), /string "text"/);
});
