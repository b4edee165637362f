import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { Command } from "commander";
import { parse } from "yaml";
import { exportPrometheusRules } from "../../src/alerts/prometheus-export.js";
import { defaultRulesPath, loadRules } from "../../src/alerts/rules-file.js";
import { registerRulesCommand } from "../../src/cli/commands/rules.js";
import type { CapturedExchange } from "../../src/core/exchange.js";
import { backtestRules } from "../../src/replay/backtest.js";
import { replay } from "../../src/replay/replay.js";
import { AUTH_DENY, DLP_BLOCK, EPOCH, exchangeAt, rulesFrom } from "./alert-test-helpers.js";

const folder = mkdtempSync(join(tmpdir(), "toolwatch-alerts-"));
after(() => rmSync(folder, { recursive: true, force: true }));

/** Two DLP bursts ten minutes apart, one auth burst, and quiet traffic around them. */
function traffic(): CapturedExchange[] {
  const exchanges: CapturedExchange[] = [];
  for (let index = 0; index < 60; index++)
    exchanges.push(exchangeAt(EPOCH + index * 30_000, { session: `quiet-${index % 4}` }));
  for (const start of [EPOCH + 2 * 60_000, EPOCH + 12 * 60_000]) {
    for (let index = 0; index < 12; index++)
      exchanges.push(exchangeAt(start + index * 2_000, { tool: "send_email", decisions: [DLP_BLOCK] }));
  }
  for (let index = 0; index < 6; index++) {
    exchanges.push(
      exchangeAt(EPOCH + 20 * 60_000 + index * 1_000, {
        method: "initialize",
        source: "203.0.113.9",
        decisions: [AUTH_DENY],
      }),
    );
  }
  return exchanges.sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
}

function shipped() {
  const result = loadRules(defaultRulesPath());
  assert.ok(result.ok);
  return result.rules;
}

test("backtest counts fires, groups and first/last times per rule", async () => {
  const report = await backtestRules(shipped(), traffic());
  const byRule = Object.fromEntries(report.rules.map((rule) => [rule.rule, rule]));
  assert.equal(report.exchanges, 90);
  assert.deepEqual(
    [byRule.dlp_block_spike!.fired, byRule.dlp_block_spike!.groups, byRule.dlp_block_spike!.resolved],
    [2, 1, 2],
  );
  assert.equal(byRule.dlp_block_spike!.first_fired, "2026-03-02T08:02:20.000Z");
  assert.equal(byRule.dlp_block_spike!.last_fired, "2026-03-02T08:12:20.000Z");
  assert.deepEqual(byRule.dlp_block_spike!.top_groups, [{ group_key: "{}", fired: 2 }]);
  assert.deepEqual(
    [byRule.auth_failure_burst!.fired, byRule.auth_failure_burst!.top_groups],
    [1, [{ group_key: '{source="203.0.113.9"}', fired: 1 }]],
  );
  for (const quiet of ["tool_error_sustained", "session_anomaly", "latency_degradation"])
    assert.equal(byRule[quiet]!.fired, 0, quiet);
});

test("`rules backtest` reads .jsonl.gz captures and prints JSON; `rules check` sets the exit code", async () => {
  const capture = join(folder, "capture.jsonl.gz");
  writeFileSync(
    capture,
    gzipSync(
      `${traffic()
        .map((exchange) => JSON.stringify(exchange))
        .join("\n")}\n`,
    ),
  );
  const bad = join(folder, "bad.yaml");
  writeFileSync(bad, "alerts:\n  - name: x\n    condition: dlp_blocks >\n    severity: critical\n");
  const output = await runCli(["rules", "backtest", defaultRulesPath(), "--events", capture, "--json"]);
  const report = JSON.parse(output.stdout) as { exchanges: number; rules: Array<{ rule: string; fired: number }> };
  assert.equal(report.exchanges, 90);
  assert.deepEqual(
    report.rules.map((rule) => [rule.rule, rule.fired]),
    [
      ["dlp_block_spike", 2],
      ["tool_error_sustained", 0],
      ["session_anomaly", 0],
      ["auth_failure_burst", 1],
      ["latency_degradation", 0],
    ],
  );
  const check = await runCli(["rules", "check", bad, defaultRulesPath()]);
  assert.equal(check.exitCode, 1);
  assert.match(check.stdout, new RegExp(`${bad}:3:28: error: in condition: expected a threshold`));
  assert.match(check.stdout, /alerts\.yaml: 5 rules, 0 errors, 0 warnings/);
});

test("the Prometheus export is valid YAML with expr strings and lists what it cannot express", () => {
  const exported = exportPrometheusRules(
    rulesFrom(`alerts:
  - {name: dlp, condition: dlp_blocks > 10 in 60s, severity: critical, action: Page., runbook: "#r"}
  - {name: errors, condition: "tool_error_rate{server=fs} > 5% for each tool over 5m for 2m", severity: warning}
  - {name: slow, condition: p99_latency > 2s for any tool over 10m, severity: warning}
  - {name: auth, condition: auth_failures > 5 in 30s from same source, severity: critical}
  - {name: bad_findings, condition: "findings{severity>=high} > 0 in 5m", severity: high}
  - {name: diversity, condition: tool_diversity > 3x baseline for session type, severity: warning}
  - {name: per_user, condition: calls > 100 in 1m per user, severity: low}
`),
  );
  const document = parse(exported.yaml) as { groups: Array<{ name: string; rules: Array<Record<string, unknown>> }> };
  const rules = document.groups[0]!.rules;
  assert.deepEqual(
    rules.map((rule) => rule.alert),
    ["dlp", "errors", "slow", "bad_findings"],
  );
  for (const rule of rules) assert.equal(typeof rule.expr, "string");
  const expr = Object.fromEntries(rules.map((rule) => [rule.alert, rule.expr as string]));
  assert.equal(expr.dlp, "sum(increase(toolwatch_dlp_blocks_total[1m])) > 10");
  assert.match(expr.errors!, /error_type="tool_error"/);
  assert.match(expr.errors!, /mcp_server="fs"/);
  assert.match(
    expr.slow!,
    /^histogram_quantile\(0\.99, sum by \(le, gen_ai_tool_name\) \(rate\(mcp_server_operation_duration_seconds_bucket\{mcp_method_name="tools\/call"\}\[10m\]\)\)\) > 2 and /,
  );
  assert.match(expr.bad_findings!, /severity=~"critical\|high"/);
  assert.equal(rules[1]!.for, "2m");
  assert.deepEqual(rules[0]!.labels, { severity: "critical" });
  assert.deepEqual(
    exported.skipped.map((skipped) => skipped.rule),
    ["auth", "diversity", "per_user"],
  );
  assert.match(exported.yaml, /# {3}diversity: tool_diversity is a per-session value/);
});

const patterns = join(fileURLToPath(new URL("../../..", import.meta.url)), "test", "fixtures", "captures", "patterns");

test("`rules backtest` runs the detectors for rules on findings, or reads the findings of an earlier replay", async () => {
  const attack = join(patterns, "credential-harvesting.jsonl");
  const benign = join(patterns, "credential-harvesting-benign.jsonl");
  const rules = join(folder, "findings-rules.yaml");
  writeFileSync(
    rules,
    `alerts:
  - name: harvesting
    condition: "findings{category=credential_harvesting} >= 1 per session"
    severity: critical
    action: "Kill the session and rotate what it read."
    runbook: "#ir-credential-harvesting"
`,
  );
  const fired = async (args: string[]): Promise<{ fired: number; source: string; findings: number }> => {
    const output = await runCli(["rules", "backtest", rules, "--json", ...args]);
    const report = JSON.parse(output.stdout) as {
      findings: { source: string; count: number };
      rules: Array<{ fired: number }>;
    };
    return { fired: report.rules[0]!.fired, source: report.findings.source, findings: report.findings.count };
  };

  // A rule counts findings and none are given: the detectors run, as a replay would.
  const detected = await fired(["--events", attack]);
  assert.equal(detected.source, "detectors");
  assert.ok(detected.findings > 0);
  assert.ok(detected.fired >= 1, "the harvesting session fires");
  assert.equal((await fired(["--events", benign])).fired, 0, "ordinary config reads stay quiet");
  const skipped = await fired(["--events", attack, "--no-detect"]);
  assert.deepEqual([skipped.source, skipped.findings, skipped.fired], ["none", 0, 0]);

  // The findings of an earlier replay give the same answer without running the detectors again.
  const findingsFile = join(folder, "harvesting-findings.jsonl");
  await replay({ files: [attack], findings: findingsFile, progress: null });
  const fromFile = await fired(["--events", attack, "--findings", findingsFile]);
  assert.equal(fromFile.source, "file");
  assert.equal(fromFile.fired, detected.fired);
  await assert.rejects(
    runCli(["rules", "backtest", rules, "--events", attack, "--findings", findingsFile, "--detect"]),
    /not both/,
  );
});

async function runCli(args: string[]): Promise<{ stdout: string; exitCode: number }> {
  let stdout = "";
  const sink = (append: (text: string) => void) =>
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        append(chunk.toString());
        done();
      },
    });
  const program = new Command().exitOverride();
  registerRulesCommand(program, { stdout: sink((text) => (stdout += text)), stderr: sink(() => {}) });
  const previousExitCode = process.exitCode;
  process.exitCode = 0;
  await program.parseAsync(args, { from: "user" });
  const exitCode = Number(process.exitCode ?? 0);
  process.exitCode = previousExitCode;
  return { stdout, exitCode };
}
