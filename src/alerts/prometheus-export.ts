/**
 * Translates rules into Prometheus alerting rules over the metrics toolwatch exports on `/metrics`,
 * for teams that alert from Prometheus. What the exported metrics cannot say (session ids are never
 * labels, baselines live in toolwatch) is listed with the reason instead.
 *
 * Prometheus' `increase()` and `rate()` extrapolate over the range, so counts near a threshold can
 * differ slightly from toolwatch's own windows.
 */
import { stringify } from "yaml";
import { SEVERITIES } from "../core/finding.js";
import { formatDuration } from "./alert-engine.js";
import { type AlertMetricName, metricDefinition } from "./alert-metrics.js";
import { type ConditionSpec, type Dimension, formatThreshold, type LabelMatcher } from "./condition-parser.js";
import type { AlertRule, RuleSet } from "./rules-file.js";

/** The exported metric names and labels (src/metrics). */
export const PROMETHEUS_METRICS = {
  /** Histogram of every exchange's duration, OpenTelemetry MCP semantic conventions. */
  duration: "mcp_server_operation_duration_seconds",
  dlp_blocks: "toolwatch_dlp_blocks_total",
  dlp_redactions: "toolwatch_dlp_redactions_total",
  policy_denials: "toolwatch_policy_denials_total",
  auth_failures: "toolwatch_auth_failures_total",
  findings: "toolwatch_findings_total",
} as const;

/** Our dimension → the exported label, per metric family; a missing entry cannot be expressed. */
const DURATION_LABELS: Partial<Record<string, string>> = { tool: "gen_ai_tool_name", server: "mcp_server" };
const DECISION_LABELS: Partial<Record<string, string>> = { tool: "gen_ai_tool_name", server: "mcp_server" };
// Source addresses are unbounded, so they are no label: `from same source` stays a toolwatch-only rule.
const AUTH_LABELS: Partial<Record<string, string>> = { server: "mcp_server" };
const FINDING_LABELS: Partial<Record<string, string>> = {
  category: "category",
  severity: "severity",
  detector: "detector",
};

export interface PrometheusRule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface PrometheusExport {
  /** The rules file, YAML, ready for `rule_files:`. */
  yaml: string;
  rules: PrometheusRule[];
  /** Rules that the exported metrics cannot express, and why. */
  skipped: Array<{ rule: string; reason: string }>;
}

class Inexpressible extends Error {}

function labelMapFor(metric: AlertMetricName): Partial<Record<string, string>> {
  const kind = metricDefinition(metric).kind;
  if (kind === "findings") return FINDING_LABELS;
  if (metric === "auth_failures") return AUTH_LABELS;
  if (kind === "counter" && metric !== "calls" && !metric.endsWith("errors")) return DECISION_LABELS;
  return DURATION_LABELS;
}

function escapeValue(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

function selector(condition: ConditionSpec, fixed: string[]): string {
  const labelMap = labelMapFor(condition.metric);
  const parts = [...fixed];
  for (const matcher of condition.matchers) parts.push(promMatcher(matcher, labelMap));
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

function promMatcher(matcher: LabelMatcher, labelMap: Partial<Record<string, string>>): string {
  const label = labelMap[matcher.label];
  if (label === undefined) throw new Inexpressible(`the exported metrics have no label for \`${matcher.label}\``);
  if (matcher.operator === "=" || matcher.operator === "!=") {
    return `${label}${matcher.operator}"${escapeValue(matcher.value)}"`;
  }
  // Severity order: critical > high > medium > low > info (SEVERITIES is most severe first).
  const index = (SEVERITIES as readonly string[]).indexOf(matcher.value);
  const keep = SEVERITIES.filter((_severity, position) => {
    switch (matcher.operator) {
      case ">=":
        return position <= index;
      case ">":
        return position < index;
      case "<=":
        return position >= index;
      default:
        return position > index;
    }
  });
  return `${label}=~"${keep.join("|")}"`;
}

function byClause(condition: ConditionSpec, extra: string[] = []): string {
  const labelMap = labelMapFor(condition.metric);
  const labels = [...extra];
  for (const dimension of condition.dimensions) {
    const label = labelMap[dimension];
    if (label === undefined) throw new Inexpressible(groupingReason(dimension));
    labels.push(label);
  }
  return labels.length === 0 ? "sum" : `sum by (${labels.join(", ")}) `;
}

function groupingReason(dimension: Dimension): string {
  switch (dimension) {
    case "session":
      return "session ids are never Prometheus labels (cardinality)";
    case "user":
      return "users are not a label of the exported metrics";
    case "agent":
      return "the session type is not a label of the exported metrics";
    default:
      return `the exported metric has no \`${dimension}\` label`;
  }
}

const ERROR_FILTERS: Record<string, string[]> = {
  errors: ['error_type!=""'],
  tool_errors: ['error_type="tool_error"'],
  server_errors: ['error_type!=""', 'error_type!="tool_error"'],
};

/** The PromQL expression of a condition; throws `Inexpressible` with the reason when there is none. */
function expressionOf(condition: ConditionSpec): string {
  const definition = metricDefinition(condition.metric);
  const range = `[${formatDuration(condition.window_ms ?? 60_000)}]`;
  const threshold = condition.threshold;
  const comparison = (value: number): string => `${condition.operator} ${Number(value.toPrecision(12))}`;
  const calls = ['mcp_method_name="tools/call"'];
  switch (definition.kind) {
    case "session":
      throw new Inexpressible(`${condition.metric} is a per-session value and session ids are never Prometheus labels`);
    case "counter": {
      const input = definition.input;
      if (threshold.kind !== "number" || input === undefined) throw new Inexpressible("unexpected threshold");
      if (input === "calls" || input in ERROR_FILTERS) {
        const filters = [...calls, ...(ERROR_FILTERS[input] ?? [])];
        return `${byClause(condition)}(increase(${PROMETHEUS_METRICS.duration}_count${selector(condition, filters)}${range})) ${comparison(threshold.value)}`;
      }
      const metric = PROMETHEUS_METRICS[input as keyof typeof PROMETHEUS_METRICS];
      return `${byClause(condition)}(increase(${metric}${selector(condition, [])}${range})) ${comparison(threshold.value)}`;
    }
    case "findings": {
      if (threshold.kind !== "number") throw new Inexpressible("unexpected threshold");
      return `${byClause(condition)}(increase(${PROMETHEUS_METRICS.findings}${selector(condition, [])}${range})) ${comparison(threshold.value)}`;
    }
    case "ratio": {
      if (threshold.kind !== "percent") throw new Inexpressible("unexpected threshold");
      const by = byClause(condition);
      const all = `${by}(rate(${PROMETHEUS_METRICS.duration}_count${selector(condition, calls)}${range}))`;
      const failed = `${by}(rate(${PROMETHEUS_METRICS.duration}_count${selector(condition, [...calls, ...(ERROR_FILTERS[definition.input!] ?? [])])}${range}))`;
      return withMinimum(`(${failed} / ${all}) ${comparison(threshold.value)}`, condition, by, calls, range);
    }
    case "quantile": {
      if (threshold.kind !== "duration") throw new Inexpressible("unexpected threshold");
      const by = byClause(condition, ["le"]);
      const quantile = `histogram_quantile(${definition.quantile}, ${by}(rate(${PROMETHEUS_METRICS.duration}_bucket${selector(condition, calls)}${range})))`;
      return withMinimum(`${quantile} ${comparison(threshold.value)}`, condition, byClause(condition), calls, range);
    }
  }
}

/** `and` the minimum number of calls in the window, as toolwatch requires before judging a ratio or quantile. */
function withMinimum(expression: string, condition: ConditionSpec, by: string, calls: string[], range: string): string {
  const minimum = condition.min_samples ?? 0;
  if (minimum <= 1) return expression;
  return `${expression} and ${by}(increase(${PROMETHEUS_METRICS.duration}_count${selector(condition, calls)}${range})) >= ${minimum}`;
}

/** Prometheus alerting rules for every rule the exported metrics can express. */
export function exportPrometheusRules(
  rules: RuleSet | readonly AlertRule[],
  options: { group_name?: string; runbook_base_url?: string | null } = {},
): PrometheusExport {
  const ruleList = Array.isArray(rules) ? (rules as readonly AlertRule[]) : (rules as RuleSet).rules;
  const base = options.runbook_base_url ?? (Array.isArray(rules) ? null : (rules as RuleSet).settings.runbook_base_url);
  const exported: PrometheusRule[] = [];
  const skipped: PrometheusExport["skipped"] = [];
  for (const rule of ruleList) {
    let expr: string;
    try {
      expr = expressionOf(rule.condition);
    } catch (error) {
      if (!(error instanceof Inexpressible)) throw error;
      skipped.push({ rule: rule.name, reason: error.message });
      continue;
    }
    const annotations: Record<string, string> = {
      summary: `${rule.name}: ${rule.condition.metric} is {{ $value }} (${rule.condition.operator} ${formatThreshold(rule.condition.threshold)})${rule.condition.dimensions.length > 0 ? ` for {{ $labels }}` : ""}`,
      condition: rule.condition.text,
    };
    if (rule.action !== undefined) annotations.action = rule.action;
    if (rule.runbook !== undefined) {
      let url = rule.runbook;
      if (base) {
        try {
          url = new URL(rule.runbook, base).href;
        } catch {
          // Keep the runbook as written.
        }
      }
      annotations.runbook_url = url;
    }
    exported.push({
      alert: rule.name,
      expr,
      ...(rule.hold_ms > 0 ? { for: formatDuration(rule.hold_ms) } : {}),
      labels: { severity: rule.severity, ...rule.labels },
      annotations,
    });
  }
  const header = [
    "# Prometheus alerting rules generated by `toolwatch rules export --prometheus`.",
    "# Metric names: docs/alert-rules.md#prometheus-export.",
    ...(skipped.length === 0
      ? []
      : [
          "# Not expressible over the exported metrics (toolwatch evaluates these itself):",
          ...skipped.map((entry) => `#   ${entry.rule}: ${entry.reason}`),
        ]),
  ];
  const body = stringify({ groups: [{ name: options.group_name ?? "toolwatch", rules: exported }] }, { lineWidth: 0 });
  return { yaml: `${header.join("\n")}\n${body}`, rules: exported, skipped };
}
