/**
 * The metrics an alert condition can name. One table, read by the parser (what is valid), the
 * engine (how to aggregate), the Prometheus export (how to translate) and docs/alert-rules.md.
 */

/** How a metric is aggregated. */
export type MetricKind =
  /** A sum over a sliding window (counts of calls, errors, DLP blocks...). */
  | "counter"
  /** A numerator over a denominator, both summed over a sliding window. */
  | "ratio"
  /** A latency quantile over a sliding window. */
  | "quantile"
  /** A value of the whole session so far (unique tools, calls); compared per session. */
  | "session"
  /** A count of detector findings over a sliding window. */
  | "findings";

/** What one exchange contributes, read from `exchangeSignals` (src/metrics). */
export type SignalInput =
  | "calls"
  | "errors"
  | "tool_errors"
  | "server_errors"
  | "dlp_blocks"
  | "dlp_redactions"
  | "policy_denials"
  | "auth_failures";

export interface AlertMetricDefinition {
  kind: MetricKind;
  /** What a threshold is written in: plain numbers, a percentage or a duration. */
  unit: "count" | "ratio" | "seconds" | "tools" | "calls";
  /** The counted input (counter), or the numerator (ratio). */
  input?: SignalInput;
  /** The quantile, for latency metrics. */
  quantile?: number;
  /** One line for docs and `rules check`. */
  description: string;
}

export const ALERT_METRICS = {
  calls: { kind: "counter", unit: "count", input: "calls", description: "`tools/call` exchanges" },
  errors: { kind: "counter", unit: "count", input: "errors", description: "failed `tools/call` exchanges (any level)" },
  tool_errors: {
    kind: "counter",
    unit: "count",
    input: "tool_errors",
    description: "`tools/call` results with `isError: true` (the tool's own failures)",
  },
  server_errors: {
    kind: "counter",
    unit: "count",
    input: "server_errors",
    description: "`tools/call` exchanges that failed at the server: JSON-RPC errors, timeouts, transport failures",
  },
  error_rate: { kind: "ratio", unit: "ratio", input: "errors", description: "errors / calls" },
  tool_error_rate: { kind: "ratio", unit: "ratio", input: "tool_errors", description: "tool_errors / calls" },
  server_error_rate: { kind: "ratio", unit: "ratio", input: "server_errors", description: "server_errors / calls" },
  p50_latency: { kind: "quantile", unit: "seconds", quantile: 0.5, description: "median `tools/call` latency" },
  p95_latency: {
    kind: "quantile",
    unit: "seconds",
    quantile: 0.95,
    description: "95th percentile `tools/call` latency",
  },
  p99_latency: {
    kind: "quantile",
    unit: "seconds",
    quantile: 0.99,
    description: "99th percentile `tools/call` latency",
  },
  dlp_blocks: {
    kind: "counter",
    unit: "count",
    input: "dlp_blocks",
    description: "DLP decisions that blocked or denied (any method)",
  },
  dlp_redactions: { kind: "counter", unit: "count", input: "dlp_redactions", description: "DLP redactions" },
  policy_denials: {
    kind: "counter",
    unit: "count",
    input: "policy_denials",
    description: "policy decisions that denied or blocked",
  },
  auth_failures: { kind: "counter", unit: "count", input: "auth_failures", description: "authentication denials" },
  tool_diversity: { kind: "session", unit: "tools", description: "unique tools called in the session so far" },
  session_calls: { kind: "session", unit: "calls", description: "`tools/call` exchanges in the session so far" },
  findings: { kind: "findings", unit: "count", description: "detector findings matching the label matchers" },
} as const satisfies Record<string, AlertMetricDefinition>;

export type AlertMetricName = keyof typeof ALERT_METRICS;

export const ALERT_METRIC_NAMES = Object.keys(ALERT_METRICS) as AlertMetricName[];

export function isAlertMetricName(name: string): name is AlertMetricName {
  return Object.hasOwn(ALERT_METRICS, name);
}

/** The definition of a metric, typed as the common shape so optional fields can be read. */
export function metricDefinition(name: AlertMetricName): AlertMetricDefinition {
  return ALERT_METRICS[name];
}
