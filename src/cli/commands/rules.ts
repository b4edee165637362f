import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import { exportPrometheusRules } from "../../alerts/prometheus-export.js";
import { defaultRulesPath, formatDiagnostic, loadRules, type RuleSet } from "../../alerts/rules-file.js";
import { loadConfig } from "../../config/config.js";
import { ToolwatchError } from "../../core/errors.js";
import type { CapturedExchange } from "../../core/exchange.js";
import type { Finding } from "../../core/finding.js";
import { readCapture } from "../../record/read-capture.js";
import { readFindings } from "../../record/read-findings.js";
import { backtestRules, formatBacktestReport } from "../../replay/backtest.js";
import { createAnalysis } from "../../runtime/analysis.js";

/** Where a command writes; the process's streams unless a test passes its own. */
export interface CommandOutput {
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

interface CheckOptions {
  strict?: boolean;
}

interface BacktestCommandOptions {
  events: string[];
  baseline: string[];
  findings: string[];
  /** `--detect` / `--no-detect`; absent: detect when a rule counts findings and no findings file is given. */
  detect?: boolean;
  config?: string;
  json?: boolean;
}

interface ExportOptions {
  prometheus?: boolean;
  output?: string;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** Registers `toolwatch rules check|backtest|export`. */
export function registerRulesCommand(program: Command, io: CommandOutput = {}): void {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const rules = program.command("rules").description("Check, backtest and export alert rules (docs/alert-rules.md).");

  rules
    .command("check")
    .description("Lint rules files: errors with file:line:column, warnings for rules without an action or runbook.")
    .argument("[files...]", "rules files (default: the shipped config/alerts.yaml)")
    .option("--strict", "fail on warnings too")
    .action((files: string[], options: CheckOptions) => {
      const targets = files.length > 0 ? files : [defaultRulesPath()];
      let failed = false;
      for (const file of targets) {
        const result = loadRules(file);
        const diagnostics = [...(result.ok ? [] : result.errors), ...result.warnings];
        for (const diagnostic of diagnostics) stdout.write(`${formatDiagnostic(diagnostic)}\n`);
        const errors = result.ok ? 0 : result.errors.length;
        const warnings = result.warnings.length;
        const count = result.ok ? `${result.rules.rules.length} rules, ` : "";
        stdout.write(`${file}: ${count}${plural(errors, "error")}, ${plural(warnings, "warning")}\n`);
        if (errors > 0 || (options.strict && warnings > 0)) failed = true;
      }
      if (failed) process.exitCode = 1;
    });

  rules
    .command("backtest")
    .description("Replay recorded traffic through rules and report how often each would have fired.")
    .argument("<file>", "rules file")
    .requiredOption("--events <capture...>", "capture files (.jsonl or .jsonl.gz), in time order")
    .option("--baseline <capture>", "known-normal capture to learn session baselines from (repeatable)", collect, [])
    .option(
      "--findings <file>",
      "findings of an earlier `toolwatch replay --findings` to feed in on event time (repeatable)",
      collect,
      [],
    )
    .option("--detect", "run the detectors over the traffic so rules on findings see what live traffic would raise")
    .option(
      "--no-detect",
      "never run the detectors (default: run them when a rule counts findings and no --findings is given)",
    )
    .option("--config <file>", "configuration file (YAML), for the detectors' poisoning threshold and saved baseline")
    .option("--json", "print the report as JSON")
    .action(async (file: string, options: BacktestCommandOptions) => {
      const ruleSet = loadOrThrow(file, stderr);
      if (options.findings.length > 0 && options.detect === true) {
        throw new ToolwatchError("usage", "give --findings or --detect, not both: findings would be counted twice");
      }
      let badLines = 0;
      const onBadLine = (message: string): void => {
        badLines++;
        if (badLines <= 5) stderr.write(`toolwatch: ${message}\n`);
      };
      const findings: Finding[] = [];
      for (const findingsFile of options.findings) {
        for await (const finding of readFindings(findingsFile, { onBadLine })) findings.push(finding);
      }
      const countsFindings = ruleSet.rules.some((rule) => rule.condition.kind === "findings");
      const detect = options.detect ?? (countsFindings && options.findings.length === 0);
      const detectors = detect ? createAnalysis({ config: loadConfig(options.config), rules: null }).detectors : [];
      if (detect && options.detect === undefined) {
        stderr.write(
          "toolwatch: rules count findings: running the detectors over the traffic (--no-detect skips them)\n",
        );
      }
      const report = await backtestRules(ruleSet, exchangesOf(options.events, onBadLine), {
        ...(options.baseline.length > 0 ? { baseline: exchangesOf(options.baseline, onBadLine) } : {}),
        ...(options.findings.length > 0 ? { findings } : {}),
        detectors,
      });
      if (badLines > 5) stderr.write(`toolwatch: ${badLines} bad lines skipped in all\n`);
      stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : formatBacktestReport(report));
    });

  rules
    .command("export")
    .description("Write the rules that the exported metrics can express as Prometheus alerting rules.")
    .argument("[file]", "rules file (default: the shipped config/alerts.yaml)")
    .option("--prometheus", "Prometheus alerting rules YAML (the only format)")
    .option("-o, --output <file>", "write to this file instead of stdout")
    .action((file: string | undefined, options: ExportOptions) => {
      if (!options.prometheus) throw new ToolwatchError("usage", "say which format: --prometheus");
      const exported = exportPrometheusRules(loadOrThrow(file ?? defaultRulesPath(), stderr));
      if (options.output) writeFileSync(options.output, exported.yaml);
      else stdout.write(exported.yaml);
      for (const skipped of exported.skipped) {
        stderr.write(`toolwatch: ${skipped.rule} not exported: ${skipped.reason}\n`);
      }
    });
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

/** Loads a rules file or fails with every error, one per line. */
export function loadOrThrow(file: string, stderr: NodeJS.WritableStream = process.stderr): RuleSet {
  const result = loadRules(file);
  for (const warning of result.warnings) stderr.write(`${formatDiagnostic(warning)}\n`);
  if (!result.ok) {
    throw new ToolwatchError("config_invalid", result.errors.map(formatDiagnostic).join("\n"));
  }
  return result.rules;
}

async function* exchangesOf(files: string[], onBadLine: (message: string) => void): AsyncGenerator<CapturedExchange> {
  for (const file of files) {
    for await (const record of readCapture(file, { onBadLine })) yield record.exchange;
  }
}
