import assert from "node:assert/strict";
import { test } from "node:test";
import { parseCondition } from "../../src/alerts/condition-parser.js";
import { formatDiagnostic, parseRules } from "../../src/alerts/rules-file.js";

test("the five seed conditions parse verbatim with their obvious meaning", () => {
  const parsed = (text: string) => {
    const result = parseCondition(text);
    assert.ok(result.ok, `${text}: ${result.ok ? "" : result.error.message}`);
    return result.condition;
  };
  const dlp = parsed("dlp_blocks > 10 in 60s");
  assert.deepEqual(
    [dlp.metric, dlp.operator, dlp.threshold, dlp.window_ms, dlp.dimensions],
    ["dlp_blocks", ">", { kind: "number", value: 10 }, 60_000, []],
  );
  const errors = parsed("error_rate > 20% for tool X over 5m");
  assert.deepEqual(errors.threshold, { kind: "percent", value: 0.2 });
  assert.deepEqual(errors.matchers, [{ label: "tool", operator: "=", value: "X" }]);
  assert.deepEqual([errors.window_ms, errors.dimensions], [300_000, ["tool"]]);
  for (const each of ["error_rate > 20% for each tool over 5m", "error_rate > 20% for any tool over 5m"]) {
    assert.deepEqual([parsed(each).dimensions, parsed(each).matchers], [["tool"], []]);
  }
  const diversity = parsed("tool_diversity > 3x baseline for session type");
  assert.deepEqual(
    [diversity.threshold, diversity.dimensions, diversity.window_ms],
    [{ kind: "baseline", multiplier: 3 }, ["session", "agent"], null],
  );
  const auth = parsed("auth_failures > 5 in 30s from same source");
  assert.deepEqual([auth.window_ms, auth.dimensions], [30_000, ["source"]]);
  const latency = parsed("p99_latency > 2s for any tool over 10m");
  assert.deepEqual(
    [latency.threshold, latency.window_ms, latency.dimensions],
    [{ kind: "duration", value: 2 }, 600_000, ["tool"]],
  );
  const findings = parsed("findings{category=slow_exfiltration} >= 1 per session");
  assert.deepEqual(
    [findings.matchers, findings.dimensions],
    [[{ label: "category", operator: "=", value: "slow_exfiltration" }], ["session"]],
  );
});

test("the grammar generalises: holds, groupings, matchers, minimums, quoted names", () => {
  const result = parseCondition(
    'server_error_rate{server=fs} >= 5.5% over 15m for 2m per user for tool "read file" with at least 3 calls',
  );
  assert.ok(result.ok, result.ok ? "" : result.error.message);
  const condition = result.condition;
  assert.equal(condition.hold_ms, 120_000);
  assert.equal(condition.window_ms, 900_000);
  assert.deepEqual(condition.dimensions, ["user", "tool"]);
  assert.equal(condition.min_samples, 3);
  assert.deepEqual(condition.matchers, [
    { label: "server", operator: "=", value: "fs" },
    { label: "tool", operator: "=", value: "read file" },
  ]);
  assert.ok(parseCondition("findings{severity>=high, detector!=canary} > 0 for each user").ok);
  assert.ok(parseCondition("calls < 1 in 5m").ok, "dead-man conditions");
  assert.ok(parseCondition("session_calls > 5x baseline per session type with at least 50 sessions").ok);
  assert.equal(
    parseCondition("dlp_blocks > 3").ok &&
      (parseCondition("dlp_blocks > 3") as { condition: { window_ms: number } }).condition.window_ms,
    60_000,
    "default window 1m",
  );
});

test("condition errors point at the offending token and say what was expected", () => {
  const cases: Array<[string, number, RegExp]> = [
    ["eror_rate > 2", 0, /unknown metric `eror_rate` \(did you mean `error_rate`\?\)/],
    ["error_rate > 20 over 5m", 13, /expected a percentage such as 20%/],
    ["p99_latency > 2 over 5m", 14, /expected a duration such as 2s/],
    ["dlp_blocks > 10 in", 18, /expected a window such as `60s` or `5m` after `in`, found the end of the condition/],
    [
      "dlp_blocks > 10 in 60s by tool",
      23,
      /expected `in`, `over`, `for`, `from`, `per`, `with` or the end of the condition, found `by`/,
    ],
    ["dlp_blocks 10", 11, /expected a comparison/],
    ["dlp_blocks > 3x in 1m", 16, /expected `baseline`, found `in`/],
    ["dlp_blocks > 3x baseline", 13, /needs a per-session metric/],
    ["tool_diversity > 3 in 5m", 19, /takes no window/],
    ["findings{category=exfil} > 0", 18, /unknown finding category `exfil`/],
    [
      "auth_failures > 5 from same planet",
      28,
      /expected `tool`, `server`, `source`, `session`, `user` or `agent`, found `planet`/,
    ],
    ["dlp_blocks > 5 per tool per tool", 24, /already grouped by tool/],
    ['calls > 5 for tool "unterminated', 19, /unterminated quoted name/],
    ["calls > 5 @", 10, /unexpected character "@"/],
  ];
  for (const [text, start, message] of cases) {
    const result = parseCondition(text);
    assert.equal(result.ok, false, text);
    if (result.ok) continue;
    assert.match(result.error.message, message, text);
    assert.equal(result.error.start, start, `${text}: ${result.error.message}`);
  }
});

const FILE = `# rules
alerts:
  - name: spike
    condition: dlp_blocks > 10 inn 60s
    severity: critical
    action: Page.
    runbook: "#r"
  - name: quoted
    condition: "auth_failures > 5 in 30s from same sauce"
    severity: critical
    action: Block.
    runbook: "#r"
  - name: flow
    condition: >-
      error_rate > 20% over 5mm
    severity: warning
  - name: ok
    condition: calls > 100 in 1m per session
    severity: sev1
    colour: red
`;

test("a bad rules file reports every error with file, line and column", () => {
  const result = parseRules(FILE, "rules.yaml");
  assert.equal(result.ok, false);
  if (result.ok) return;
  assert.deepEqual(result.errors.map(formatDiagnostic), [
    "rules.yaml:4:32: error: in condition: expected `in`, `over`, `for`, `from`, `per`, `with` or the end of the condition, found `inn`",
    // Inside double quotes: the column counts from the file, past the opening quote.
    "rules.yaml:9:52: error: in condition: expected `tool`, `server`, `source`, `session`, `user` or `agent`, found `sauce`",
    // A folded block scalar: the condition sits on the next line.
    "rules.yaml:15:29: error: in condition: expected a window such as `60s` or `5m` after `over`, found `5mm`",
    'rules.yaml:19:15: error: Invalid option: expected one of "critical"|"high"|"warning"|"medium"|"low"|"info" at alerts.3.severity',
    "rules.yaml:20:5: error: unknown key `colour` at alerts.3",
  ]);
});

test("YAML syntax errors, missing fields, duplicates and unknown notifiers are errors too", () => {
  const syntax = parseRules("alerts:\n  - name: a\n   condition: x\n", "s.yaml");
  assert.equal(syntax.ok, false);
  if (!syntax.ok) assert.match(formatDiagnostic(syntax.errors[0]!), /^s\.yaml:3:\d+: error: /);

  const missing = parseRules("alerts:\n  - name: a\n    severity: critical\n", "m.yaml");
  assert.equal(missing.ok, false);
  if (!missing.ok)
    assert.equal(formatDiagnostic(missing.errors[0]!), "m.yaml:2:5: error: missing `condition` at alerts.0.condition");

  const duplicate = parseRules(
    "alerts:\n  - {name: a, condition: calls > 1, severity: info, action: x, runbook: y}\n  - {name: a, condition: calls > 2, severity: info, action: x, runbook: y, notify: [pager]}\n",
    "d.yaml",
  );
  assert.equal(duplicate.ok, false);
  if (!duplicate.ok)
    assert.match(duplicate.errors.map(formatDiagnostic).join("\n"), /d\.yaml:3:\d+: error: rule `a` is defined twice/);

  const route = parseRules(
    "notifiers:\n  - {name: pager, type: pagerduty, routing_key: k}\nalerts:\n  - {name: a, condition: calls > 1, severity: info, action: x, runbook: y, notify: [pager, slack]}\n",
    "r.yaml",
  );
  assert.equal(route.ok, false);
  if (!route.ok)
    assert.match(
      formatDiagnostic(route.errors[0]!),
      /^r\.yaml:4:\d+: error: unknown notifier `slack`; expected one of pager$/,
    );

  const notifier = parseRules("notifiers:\n  - {name: x, type: carrier-pigeon}\nalerts: []\n", "n.yaml");
  assert.equal(notifier.ok, false);
  if (!notifier.ok) assert.match(formatDiagnostic(notifier.errors[0]!), /^n\.yaml:2:\d+: error: .*type/);
});

test("rules without an action or runbook, and the literal `X` placeholder, are warnings", () => {
  const result = parseRules(
    "alerts:\n  - name: bare\n    condition: error_rate > 20% for tool X over 5m\n    severity: warning\n",
    "w.yaml",
  );
  assert.ok(result.ok);
  assert.deepEqual(result.warnings.map(formatDiagnostic), [
    "w.yaml:2:5: warning: rule `bare` has no action: every alert needs a clear action",
    "w.yaml:2:5: warning: rule `bare` has no runbook",
    "w.yaml:3:42: warning: rule `bare` watches one tool named `X`; write `for each tool` to watch every tool",
  ]);
});

test("notifiers, settings and environment placeholders", () => {
  const result = parseRules(
    `notifiers:
  - name: pager
    type: pagerduty
    routing_key: \${PD_KEY}
    max_attempts: 3
  - name: am
    type: alertmanager
    url: http://localhost:9093
settings:
  notify: [am]
  repeat_interval: 1h
  baseline: {min_sessions: 5}
alerts:
  - {name: a, condition: calls > 1, severity: info, action: x, runbook: y, notify: [pager], for: 2m, repeat_interval: 30m}
`,
    "n.yaml",
    {},
  );
  assert.ok(result.ok);
  assert.deepEqual(
    result.warnings.map((warning) => warning.message),
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the rules file's own placeholder syntax.
    ["notifier `pager` uses ${PD_KEY}, which is not set in this environment"],
  );
  const { rules, notifiers, settings } = result.rules;
  assert.deepEqual(
    notifiers?.map((notifier) => [notifier.name, notifier.type]),
    [
      ["pager", "pagerduty"],
      ["am", "alertmanager"],
    ],
  );
  assert.equal(notifiers?.[0]?.max_attempts, 3);
  assert.deepEqual(
    [settings.notify, settings.repeat_interval_ms, settings.baseline_min_sessions],
    [["am"], 3_600_000, 5],
  );
  assert.deepEqual(
    [rules[0]!.hold_ms, rules[0]!.repeat_interval_ms, rules[0]!.notify],
    [120_000, 1_800_000, ["pager"]],
  );

  const twice = parseRules("alerts:\n  - {name: a, condition: calls > 1 for 1m, severity: info, for: 2m}\n", "t.yaml");
  assert.equal(twice.ok, false);
  if (!twice.ok) assert.match(twice.errors[0]!.message, /hold duration is given twice/);
});
