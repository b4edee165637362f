/**
 * Backtesting: run rules over recorded traffic and count how often each would have fired, so that
 * thresholds are tuned before anyone is paged. The traffic goes through the same pipeline as a replay
 * (positions, sessions ended on event-time idleness, detectors if given) into the live alert engine,
 * with silences ignored and no notifier.
 *
 * Rules on `findings{...}` need findings: either the detectors run here (`detectors`), or the findings
 * of an earlier replay are fed in on event time (`findings`), or those rules see nothing.
 */

import { createAlertEngine } from "../alerts/alert-engine.js";
import type { AlertRule, AlertSettings, RuleSet } from "../alerts/rules-file.js";
import type { Detector } from "../core/detector.js";
import type { CapturedExchange } from "../core/exchange.js";
import type { Finding } from "../core/finding.js";
import type { AlertEvent } from "../core/notifier.js";
import { Pipeline } from "../pipeline/pipeline.js";

export interface BacktestOptions {
  /** Known-normal traffic that session baselines (and detectors, if any) learn from before the backtest. */
  baseline?: AsyncIterable<CapturedExchange> | Iterable<CapturedExchange>;
  /** Findings of an earlier replay, fed to the engine on event time before the first later exchange. */
  findings?: Iterable<Finding>;
  /** Detectors to run over the traffic, whose findings reach the engine as they would live. */
  detectors?: Detector[];
  /** Event-time idleness that ends a session; the pipeline's default when absent. */
  session_idle_ms?: number;
  settings?: Partial<AlertSettings>;
  /** Groups listed per rule, most frequent first. Default 10. */
  groups_listed?: number;
  /** Receives every state change, as `replay --alerts` would write it. */
  onEvent?: (event: AlertEvent) => void;
}

export interface RuleBacktest {
  rule: string;
  severity: string;
  condition: string;
  /** Times the rule went to firing (one per alert, repeats not counted). */
  fired: number;
  /** Times a pending alert cleared without firing. */
  pending_cleared: number;
  resolved: number;
  first_fired: string | null;
  last_fired: string | null;
  /** Distinct groups that fired. */
  groups: number;
  top_groups: Array<{ group_key: string; fired: number }>;
  /** Time spent firing, summed over alerts (still-firing alerts count up to the last event). */
  firing_seconds: number;
  /** Still firing at the end of the traffic. */
  firing_at_end: number;
}

export interface BacktestReport {
  exchanges: number;
  learned: number;
  /** Findings the rules saw: raised by the detectors run here, or read from an earlier replay. */
  findings: { source: "none" | "detectors" | "file"; count: number };
  first_event: string | null;
  last_event: string | null;
  rules: RuleBacktest[];
}

interface RuleTally {
  result: RuleBacktest;
  groups: Map<string, number>;
  firingSince: Map<string, number>;
}

/** Runs `rules` over `exchanges` (in event-time order, as capture files are) and reports per rule. */
export async function backtestRules(
  rules: RuleSet | readonly AlertRule[],
  exchanges: AsyncIterable<CapturedExchange> | Iterable<CapturedExchange>,
  options: BacktestOptions = {},
): Promise<BacktestReport> {
  const ruleList = Array.isArray(rules) ? (rules as readonly AlertRule[]) : (rules as RuleSet).rules;
  const tallies = new Map<string, RuleTally>();
  for (const rule of ruleList) {
    tallies.set(rule.name, {
      result: {
        rule: rule.name,
        severity: rule.severity,
        condition: rule.condition.text,
        fired: 0,
        pending_cleared: 0,
        resolved: 0,
        first_fired: null,
        last_fired: null,
        groups: 0,
        top_groups: [],
        firing_seconds: 0,
        firing_at_end: 0,
      },
      groups: new Map(),
      firingSince: new Map(),
    });
  }
  const onEvent = (event: AlertEvent): void => {
    options.onEvent?.(event);
    const tally = tallies.get(event.rule);
    if (tally === undefined) return;
    const result = tally.result;
    if (event.state === "firing") {
      result.fired++;
      result.first_fired ??= event.time;
      result.last_fired = event.time;
      tally.groups.set(event.group_key, (tally.groups.get(event.group_key) ?? 0) + 1);
      tally.firingSince.set(event.group_key, Date.parse(event.time));
    } else if (event.state === "resolved") {
      if (event.previous_state === "pending") {
        result.pending_cleared++;
        return;
      }
      result.resolved++;
      const since = tally.firingSince.get(event.group_key);
      if (since !== undefined) {
        result.firing_seconds += (Date.parse(event.time) - since) / 1000;
        tally.firingSince.delete(event.group_key);
      }
    }
  };
  const engine = createAlertEngine({
    rules,
    onEvent,
    apply_silences: false,
    ...(options.settings === undefined ? {} : { settings: options.settings }),
  });

  // Findings reach the engine from the detectors (through the pipeline) or from a findings file: counted alike.
  let findingsSeen = 0;
  const feedFinding = (finding: Finding): void => {
    findingsSeen++;
    engine.findingSink(finding);
  };
  const pipeline = new Pipeline({
    store: null,
    observers: [engine.observer],
    detectors: options.detectors ?? [],
    findingSinks: [feedFinding],
    ...(options.session_idle_ms === undefined ? {} : { session_idle_ms: options.session_idle_ms }),
  });

  let learned = 0;
  if (options.baseline !== undefined) {
    for await (const exchange of options.baseline) {
      pipeline.learn(exchange);
      learned++;
    }
  }
  pipeline.finishLearning();
  const findings =
    options.findings === undefined ? [] : [...options.findings].sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
  let nextFinding = 0;
  let count = 0;
  let first: string | null = null;
  let last: string | null = null;
  for await (const exchange of exchanges) {
    const time = Date.parse(exchange.time);
    while (nextFinding < findings.length && Date.parse(findings[nextFinding]!.time) <= time) {
      feedFinding(findings[nextFinding++]!);
    }
    pipeline.process(exchange);
    count++;
    first ??= exchange.time;
    last = exchange.time;
  }
  while (nextFinding < findings.length) feedFinding(findings[nextFinding++]!);
  // Sessions end with the traffic (session-level detectors conclude); windowed alerts still firing are counted up
  // to the last event.
  await pipeline.shutdown();
  const end = engine.now;
  engine.finish();
  await engine.shutdown();

  const listed = options.groups_listed ?? 10;
  const results: RuleBacktest[] = [];
  for (const tally of tallies.values()) {
    const result = tally.result;
    for (const since of tally.firingSince.values()) {
      result.firing_seconds += Math.max(0, end - since) / 1000;
      result.firing_at_end++;
    }
    result.firing_seconds = Math.round(result.firing_seconds * 1000) / 1000;
    result.groups = tally.groups.size;
    result.top_groups = [...tally.groups.entries()]
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .slice(0, listed)
      .map(([group_key, fired]) => ({ group_key, fired }));
    results.push(result);
  }
  const source = options.findings !== undefined ? "file" : (options.detectors?.length ?? 0) > 0 ? "detectors" : "none";
  return {
    exchanges: count,
    learned,
    findings: { source, count: findingsSeen },
    first_event: first,
    last_event: last,
    rules: results,
  };
}

/** The report as a table for the terminal. */
export function formatBacktestReport(report: BacktestReport): string {
  const lines: string[] = [];
  lines.push(
    `${report.exchanges} exchanges from ${report.first_event ?? "-"} to ${report.last_event ?? "-"}` +
      (report.learned > 0 ? `; baseline learned from ${report.learned}` : ""),
    report.findings.source === "none"
      ? "findings: none (rules on findings stay quiet; give --findings or --detect)"
      : `findings: ${report.findings.count} ${report.findings.source === "file" ? "read from the findings files" : "raised by the detectors"}`,
    "",
  );
  const header = ["rule", "severity", "fired", "groups", "first fired", "last fired", "firing"];
  const rows = report.rules.map((rule) => [
    rule.rule,
    rule.severity,
    String(rule.fired),
    String(rule.groups),
    rule.first_fired ?? "-",
    rule.last_fired ?? "-",
    formatSeconds(rule.firing_seconds),
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const format = (row: string[]): string =>
    row
      .map((cell, column) => cell.padEnd(widths[column]!))
      .join("  ")
      .trimEnd();
  lines.push(format(header), format(widths.map((width) => "-".repeat(width))));
  for (const row of rows) lines.push(format(row));
  for (const rule of report.rules) {
    if (rule.top_groups.length === 0) continue;
    lines.push("", `${rule.rule}: ${rule.condition}`);
    for (const group of rule.top_groups) lines.push(`  ${String(group.fired).padStart(6)}  ${group.group_key}`);
    if (rule.groups > rule.top_groups.length)
      lines.push(`  ... and ${rule.groups - rule.top_groups.length} more groups`);
  }
  return `${lines.join("\n")}\n`;
}

function formatSeconds(seconds: number): string {
  if (seconds === 0) return "0s";
  if (seconds < 120) return `${Math.round(seconds)}s`;
  if (seconds < 7_200) return `${Math.round(seconds / 60)}m`;
  return `${(seconds / 3_600).toFixed(1)}h`;
}
