import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { PolicyEngine } from "../../../src/defence/policy/policy-engine.js";
import { loadPolicyFile, parsePolicy } from "../../../src/defence/policy/policy-file.js";
import { call, verdict } from "./policy-helpers.js";

const root = fileURLToPath(new URL("../../../..", import.meta.url));

function errorOf(lines: string[]): string {
  const parsed = parsePolicy(lines.join("\n"), "policies/support.yaml");
  assert.ok(!parsed.ok, "the policy should be rejected");
  return parsed.error;
}

test("the example policy parses and means what its comments say", () => {
  const loaded = loadPolicyFile(join(root, "config", "policy.example.yaml"));
  assert.ok(loaded.ok, loaded.ok ? "" : loaded.error);
  assert.deepEqual(
    loaded.policy.policies.map((policy) => policy.name),
    ["everyone", "support-agents", "finance-agents", "on-call"],
  );
  assert.equal(loaded.policy.time_zone, "Europe/Berlin");
  const engine = new PolicyEngine(loaded.policy);
  const mondayMorning = Date.parse("2026-03-02T09:00:00Z");
  const support = { agent: "support", time_ms: mondayMorning };
  assert.equal(verdict(engine.checkCall(call({ ...support, server: "crm", tool: "get_customer" }))), "allowed");
  assert.equal(
    verdict(engine.checkCall(call({ ...support, server: "shell", tool: "exec" }))),
    "everyone/tools.deny[2]",
  );
  const finance = { agent: "finance", user: "fin", time_ms: mondayMorning };
  assert.equal(
    verdict(
      engine.checkCall(
        call({ ...finance, server: "payments", tool: "transfer", arguments: { amount: 10, currency: "EUR" } }),
      ),
    ),
    "allowed",
  );
  assert.equal(
    verdict(
      engine.checkCall(
        call({ ...finance, server: "payments", tool: "transfer", arguments: { amount: 0, currency: "EUR" } }),
      ),
    ),
    'finance-agents/arguments["payments/transfer"].schema',
  );
  assert.equal(
    verdict(
      engine.checkCall(call({ ...support, time_ms: Date.parse("2026-03-07T09:00:00Z"), server: "crm", tool: "get" })),
    ),
    "support-agents/time_windows",
  );
});

test("a YAML syntax error gives file, line and column", () => {
  assert.match(
    errorOf(["version: 1", "policies:", "  - name: a", '    tools: { allow: ["x/*" }']),
    /^policies\/support\.yaml:4:\d+: /,
  );
  assert.match(errorOf(["version: 1", "policies: [", ""]), /^policies\/support\.yaml:\d+:\d+: .*/);
});

test("an unknown key is an error at the key itself, so a typo never weakens a policy", () => {
  const lines = [
    "version: 1",
    "policies:",
    "  - name: support",
    "    tools:",
    '      allow: ["crm/*"]',
    '      dney: ["shell/*"]',
  ];
  assert.equal(errorOf(lines), 'policies/support.yaml:6:7: policies.0.tools: unknown key "dney"');
  assert.match(errorOf(["version: 1", "polices: []"]), /^policies\/support\.yaml:2:1: unknown key "polices"$/);
  assert.match(
    errorOf(["version: 1", "policies:", "  - name: a", "    arguments:", '      "x/y":', "        to: { max_len: 3 }"]),
    /^policies\/support\.yaml:6:15: policies\.0\.arguments\.x\/y\.to: unknown key "max_len"$/,
  );
});

test("a bad regular expression is reported at its line with the engine's reason", () => {
  const error = errorOf([
    "version: 1",
    "policies:",
    "  - name: mail",
    "    arguments:",
    '      "mail/send_email":',
    '        to: { pattern: "([a-z]+@example.com" }',
  ]);
  assert.match(
    error,
    /^policies\/support\.yaml:6:24: policies\.0\.arguments\.mail\/send_email\.to\.pattern: Invalid regular expression: .*Unterminated group/,
  );
});

test("an invalid JSON Schema is reported at its line, including unknown keywords", () => {
  const base = [
    "version: 1",
    "policies:",
    "  - name: pay",
    "    arguments:",
    '      "payments/transfer":',
    "        schema:",
  ];
  assert.match(
    errorOf([...base, "          type: objekt"]),
    /^policies\/support\.yaml:7:11: policies\.0\.arguments\.payments\/transfer\.schema: invalid JSON Schema: schema is invalid: data\/type must be equal to one of the allowed values/,
  );
  assert.match(
    errorOf([...base, "          type: object", "          maximun: 3"]),
    /^policies\/support\.yaml:7:11: .*schema: invalid JSON Schema: strict mode: unknown keyword: "maximun"/,
  );
  assert.match(errorOf([...base.slice(0, 5), "        schema: 3"]), /:6:17: .*expected a JSON Schema object/);
});

test("other mistakes: durations, clocks, zones, globs, duplicate names, missing version", () => {
  const policy = (...lines: string[]) => errorOf(["version: 1", "policies:", "  - name: p", ...lines]);
  assert.match(
    policy("    rate_limits: [{ per: session, max: 5, window: soon }]"),
    /:4:\d+: .*window: expected a duration such as 60s/,
  );
  assert.match(policy("    rate_limits: [{ per: tool, max: 5, window: 1m }]"), /:4:\d+: .*per: /);
  assert.match(policy("    rate_limits: [{ per: session, max: 0, window: 1m }]"), /:4:\d+: .*max: /);
  assert.match(
    policy('    time_windows: [{ from: "8am", to: "19:00" }]'),
    /:4:\d+: .*from: expected a time of day such as "08:00"/,
  );
  assert.match(policy('    time_windows: [{ from: "25:00", to: "19:00" }]'), /:4:\d+: .*from: expected a time of day/);
  assert.match(policy('    time_windows: [{ from: "10:00", to: "10:00" }]'), /:4:\d+: .*an empty window/);
  assert.match(policy('    time_windows: [{ days: [monday], from: "10:00", to: "11:00" }]'), /:4:\d+: .*days\.0: /);
  assert.match(policy('    tools: { deny: ["/x"] }'), /:4:\d+: .*tools\.deny\.0: expected `<server>\/<tool glob>`/);
  assert.match(policy('    tools: { deny: [""] }'), /:4:\d+: .*expected a tool pattern/);
  assert.match(
    policy("    arguments:", '      "f/read":', "        path: { path_prefixes: [srv] }"),
    /:6:\d+: .*expected an absolute path prefix/,
  );
  assert.match(
    policy("    arguments:", '      "f/read":', "        path: {}"),
    /:6:\d+: .*expected at least one of max_length/,
  );
  assert.match(errorOf(["version: 1", "time_zone: Mars/Olympus"]), /:2:12: time_zone: expected an IANA time zone/);
  assert.match(errorOf(["policies: []"]), /^policies\/support\.yaml:1:1: version: /);
  assert.match(
    errorOf(["version: 1", "policies:", "  - name: p", "  - name: p"]),
    /^policies\/support\.yaml:4:11: policies\.1\.name: a second policy named "p"/,
  );
});

test("an unreadable file is an error, not a throw", () => {
  const loaded = loadPolicyFile(join(root, "config", "no-such-policy.yaml"));
  assert.ok(!loaded.ok && /no-such-policy\.yaml: cannot read the policy file: ENOENT/.test(loaded.error));
});
