/**
 * The windowed aggregators behind alert rules ("series") and how a rule reads one.
 *
 * Rules that count over the same source, filter, grouping and window share one series, whatever
 * their metric: `errors`, `error_rate` and `p99_latency` per tool over 5m are three fields of the
 * same per-tool window, updated once per exchange. A series keeps a group only while the group has
 * something in its window, and never more than the per-rule cap.
 */
import type { CapturedExchange } from "../core/exchange.js";
import { compareSeverity, type Finding, type Severity } from "../core/finding.js";
import type { ExchangeSignals } from "../metrics/exchange-signals.js";
import { metricDefinition, type SignalInput } from "./alert-metrics.js";
import type { ComparisonOperator, ConditionSpec, Dimension, LabelMatcher } from "./condition-parser.js";
import { UNKNOWN_LABEL } from "./session-baseline.js";
import { newWindow, SampleRing, type SlidingWindow, sliceLength } from "./sliding-window.js";

/** What feeds a series: `tools/call` exchanges, one decision signal, or findings. */
export type SeriesSource = "calls" | "dlp_blocks" | "dlp_redactions" | "policy_denials" | "auth_failures" | "findings";

/** Bits of what one exchange changed in a call series; a rule is evaluated only when its bit is set. */
export const CHANGED = { calls: 1, errors: 2, tool_errors: 4, server_errors: 8, latency: 16, count: 32 } as const;

const GROUP_SEPARATOR = "\u001f";
const MAX_LATENCY_SAMPLES = 512;
const SPARE_GROUPS = 256;

export interface SeriesGroup {
  key: string;
  labels: Record<string, string>;
  window: SlidingWindow;
  /** Recent latencies, for reporting a quantile's value when an alert changes state. */
  samples: SampleRing | null;
  /** The latest time counted into the window: once it has left the window, the group is empty. */
  last_ms: number;
}

export interface Series {
  source: SeriesSource;
  matchers: LabelMatcher[];
  dimensions: Dimension[];
  window_ms: number;
  /** Field of each counted input (`calls`, `errors`, ... or `count` for decision signals and findings); -1 when unused. */
  field: Record<"calls" | "errors" | "tool_errors" | "server_errors" | "latency" | "count", number>;
  /** Latency thresholds (seconds) counted against: field `threshold_fields[i]` holds calls at most `thresholds[i]`, the next one calls below it. */
  thresholds: number[];
  threshold_fields: number[];
  field_count: number;
  groups: Map<string, SeriesGroup>;
  /** The one group of an ungrouped series, kept at hand: no key, no lookup. */
  only: SeriesGroup | null;
  /** The latest time counted into any group: a window span after it, every group is empty. */
  last_fed: number;
  next_collection: number;
  /** Forgotten groups, reused so that short-lived groups (sessions) do not churn memory. */
  spare: SeriesGroup[];
}

/** How a rule reads its series. */
export interface WindowedReading {
  series: Series;
  kind: "counter" | "ratio" | "quantile" | "findings";
  operator: ComparisonOperator;
  threshold: number;
  min_samples: number;
  /** Counter: the counted field; ratio: the numerator; quantile: the latency count. */
  value_field: number;
  /** Ratio: the calls field. */
  calls_field: number;
  /** Quantile: calls at most the threshold, and below it. */
  at_most_field: number;
  below_field: number;
  quantile: number;
  /** Which changes of an exchange can change this reading (`CHANGED` bits). */
  trigger: number;
  /** The name the numerator is reported under (`errors`, `tool_errors`...). */
  input: string;
  /** Length of the series' window slices: its value changes with time only at their boundaries. */
  slice_ms: number;
  /** After the series' last count, how long its windows can still change: every slice, and one more. */
  span_ms: number;
}

export function exchangeLabel(exchange: CapturedExchange, label: string): string {
  switch (label) {
    case "tool":
      return exchange.tool || UNKNOWN_LABEL;
    case "server":
      return exchange.server || UNKNOWN_LABEL;
    case "source":
      return exchange.source || UNKNOWN_LABEL;
    case "session":
      return exchange.session || UNKNOWN_LABEL;
    case "user":
      return exchange.user || UNKNOWN_LABEL;
    case "agent":
      return exchange.agent || UNKNOWN_LABEL;
    default:
      return UNKNOWN_LABEL;
  }
}

export function findingLabel(finding: Finding, label: string): string {
  switch (label) {
    case "category":
      return finding.category;
    case "severity":
      return finding.severity;
    case "detector":
      return finding.detector || UNKNOWN_LABEL;
    case "tool":
      return finding.tool || UNKNOWN_LABEL;
    case "server":
      return finding.server || UNKNOWN_LABEL;
    case "session":
      return finding.session || UNKNOWN_LABEL;
    case "user":
      return finding.user || UNKNOWN_LABEL;
    case "agent":
      return finding.agent || UNKNOWN_LABEL;
    default:
      return UNKNOWN_LABEL;
  }
}

export function compare(value: number, operator: ComparisonOperator, threshold: number): boolean {
  switch (operator) {
    case ">":
      return value > threshold;
    case ">=":
      return value >= threshold;
    case "<":
      return value < threshold;
    case "<=":
      return value <= threshold;
    case "==":
      return value === threshold;
    case "!=":
      return value !== threshold;
  }
}

/** An exchange or a finding, read label by label. */
type Labelled = { exchange: CapturedExchange; finding?: undefined } | { finding: Finding; exchange?: undefined };

function labelOf(item: Labelled, label: string): string {
  return item.exchange !== undefined ? exchangeLabel(item.exchange, label) : findingLabel(item.finding, label);
}

export function matchesLabels(matchers: readonly LabelMatcher[], item: Labelled): boolean {
  for (const matcher of matchers) {
    const value = labelOf(item, matcher.label);
    switch (matcher.operator) {
      case "=":
        if (value !== matcher.value) return false;
        break;
      case "!=":
        if (value === matcher.value) return false;
        break;
      default:
        // Ordered matchers exist for severities only (the parser says so).
        if (!compare(compareSeverity(value as Severity, matcher.value as Severity), matcher.operator, 0)) return false;
    }
  }
  return true;
}

export function groupKeyOf(dimensions: readonly Dimension[], item: Labelled): string {
  const count = dimensions.length;
  if (count === 0) return "";
  let key = labelOf(item, dimensions[0]!);
  for (let index = 1; index < count; index++) key += GROUP_SEPARATOR + labelOf(item, dimensions[index]!);
  return key;
}

function sourceOf(condition: ConditionSpec): SeriesSource {
  if (condition.kind === "findings") return "findings";
  const input = metricDefinition(condition.metric).input;
  if (condition.kind === "counter" && input !== undefined && input !== "calls" && !input.endsWith("errors")) {
    return input as SeriesSource;
  }
  return "calls";
}

/** Groups windowed conditions into series and lays out each series' fields. */
export class SeriesPlanner {
  private readonly bySignature = new Map<string, Series>();

  /** The series a windowed condition reads, created or shared. */
  seriesFor(condition: ConditionSpec): Series {
    const source = sourceOf(condition);
    const matchers = [...condition.matchers].sort((a, b) =>
      `${a.label}${a.operator}${a.value}`.localeCompare(`${b.label}${b.operator}${b.value}`),
    );
    const signature = JSON.stringify([source, matchers, condition.dimensions, condition.window_ms]);
    let series = this.bySignature.get(signature);
    if (series === undefined) {
      series = {
        source,
        matchers,
        dimensions: condition.dimensions,
        window_ms: condition.window_ms ?? 60_000,
        field: { calls: -1, errors: -1, tool_errors: -1, server_errors: -1, latency: -1, count: -1 },
        thresholds: [],
        threshold_fields: [],
        field_count: 0,
        groups: new Map(),
        only: null,
        last_fed: Number.NEGATIVE_INFINITY,
        next_collection: 0,
        spare: [],
      };
      this.bySignature.set(signature, series);
    }
    return series;
  }

  /** Gives the reading of `condition` its fields in `series`, adding fields as needed. */
  reading(condition: ConditionSpec, series: Series, threshold: number): WindowedReading {
    const need = (name: keyof Series["field"]): number => {
      if (series.field[name] === -1) series.field[name] = series.field_count++;
      return series.field[name];
    };
    const definition = metricDefinition(condition.metric);
    const kind = condition.kind as WindowedReading["kind"];
    const reading: WindowedReading = {
      series,
      kind,
      operator: condition.operator,
      threshold,
      min_samples: condition.min_samples ?? 0,
      value_field: -1,
      calls_field: -1,
      at_most_field: -1,
      below_field: -1,
      quantile: definition.quantile ?? 0,
      trigger: CHANGED.count,
      input: definition.input ?? "count",
      slice_ms: sliceLength(series.window_ms),
      span_ms: windowSpan(series.window_ms) + sliceLength(series.window_ms),
    };
    if (series.source !== "calls") {
      reading.value_field = need("count");
      return reading;
    }
    const input = (definition.input ?? "calls") as Exclude<SignalInput, "dlp_blocks">;
    if (kind === "quantile") {
      reading.value_field = need("latency");
      let index = series.thresholds.indexOf(threshold);
      if (index === -1) {
        index = series.thresholds.length;
        series.thresholds.push(threshold);
        series.threshold_fields.push(series.field_count);
        series.field_count += 2;
      }
      reading.at_most_field = series.threshold_fields[index]!;
      reading.below_field = reading.at_most_field + 1;
      reading.trigger = CHANGED.latency;
      return reading;
    }
    reading.value_field = need(input as keyof Series["field"]);
    reading.trigger = CHANGED[input as keyof typeof CHANGED];
    if (kind === "ratio") {
      reading.calls_field = need("calls");
      reading.trigger = CHANGED.calls;
    }
    return reading;
  }

  series(): Series[] {
    return [...this.bySignature.values()];
  }
}

/** The group of `key` in `series`, created (or reused) on first use; `null` past `maxGroups`. */
export function groupFor(series: Series, key: string, item: Labelled, maxGroups: number): SeriesGroup | null {
  const found = series.groups.get(key);
  if (found !== undefined) return found;
  if (series.groups.size >= maxGroups) return null;
  const labels: Record<string, string> = {};
  for (const dimension of series.dimensions) labels[dimension] = labelOf(item, dimension);
  return addGroup(series, key, labels);
}

export function addGroup(series: Series, key: string, labels: Record<string, string>): SeriesGroup {
  const spare = series.spare.pop();
  let group: SeriesGroup;
  if (spare === undefined) {
    group = {
      key,
      labels,
      window: newWindow(series.field_count, series.window_ms),
      samples: series.thresholds.length > 0 ? new SampleRing(MAX_LATENCY_SAMPLES) : null,
      last_ms: Number.NEGATIVE_INFINITY,
    };
  } else {
    group = spare;
    group.key = key;
    group.labels = labels;
    group.last_ms = Number.NEGATIVE_INFINITY;
  }
  series.groups.set(key, group);
  if (series.dimensions.length === 0) series.only = group;
  return group;
}

/**
 * Counts one `tools/call` exchange into a group at `slot`; returns the `CHANGED` bits. Every call
 * counts as a call; errors and latencies add their own fields.
 */
export function countCall(
  series: Series,
  group: SeriesGroup,
  slot: number,
  signals: ExchangeSignals,
  time: number,
): number {
  const window = group.window;
  const field = series.field;
  let changed = CHANGED.calls;
  if (field.calls >= 0) window.add(slot, field.calls, 1);
  if (signals.is_error) {
    changed |= CHANGED.errors;
    if (field.errors >= 0) window.add(slot, field.errors, 1);
    if (signals.is_tool_error) {
      changed |= CHANGED.tool_errors;
      if (field.tool_errors >= 0) window.add(slot, field.tool_errors, 1);
    } else {
      changed |= CHANGED.server_errors;
      if (field.server_errors >= 0) window.add(slot, field.server_errors, 1);
    }
  }
  const latency = signals.latency_seconds;
  if (latency !== null && field.latency >= 0) {
    changed |= CHANGED.latency;
    window.add(slot, field.latency, 1);
    const thresholds = series.thresholds;
    for (let index = 0; index < thresholds.length; index++) {
      const threshold = thresholds[index]!;
      if (latency <= threshold) {
        const atMost = series.threshold_fields[index]!;
        window.add(slot, atMost, 1);
        if (latency < threshold) window.add(slot, atMost + 1, 1);
      }
    }
    group.samples?.push(time, latency);
  }
  return changed;
}

/**
 * Whether the condition holds for a group. `null` means "too few calls to judge" (the alert keeps
 * its state rather than flapping); a missing or empty group has no data and never holds.
 */
export function readingHolds(reading: WindowedReading, group: SeriesGroup | undefined): boolean | null {
  if (group === undefined) return false;
  const sums = group.window.sums;
  switch (reading.kind) {
    case "counter":
    case "findings":
      return compare(sums[reading.value_field]!, reading.operator, reading.threshold);
    case "ratio": {
      const calls = sums[reading.calls_field]!;
      if (calls === 0) return false;
      if (calls < reading.min_samples) return null;
      return compare(sums[reading.value_field]! / calls, reading.operator, reading.threshold);
    }
    case "quantile": {
      // Exact without a sketch: the q-quantile (nearest rank) of n calls exceeds T exactly when
      // fewer than ceil(q·n) calls took at most T.
      const calls = sums[reading.value_field]!;
      if (calls === 0) return false;
      if (calls < reading.min_samples) return null;
      const rank = Math.ceil(reading.quantile * calls);
      const atMost = sums[reading.at_most_field]!;
      const below = sums[reading.below_field]!;
      switch (reading.operator) {
        case ">":
          return atMost < rank;
        case ">=":
          return below < rank;
        case "<":
          return below >= rank;
        case "<=":
          return atMost >= rank;
        case "==":
          return below < rank && atMost >= rank;
        case "!=":
          return !(below < rank && atMost >= rank);
      }
    }
  }
}

/** The values behind a state change; `NaN` where there is nothing to report (the caller drops those). */
export function readingValues(reading: WindowedReading, group: SeriesGroup | undefined): Record<string, number> {
  const windowSeconds = reading.series.window_ms / 1000;
  if (group === undefined) return { threshold: reading.threshold, window_seconds: windowSeconds };
  const sums = group.window.sums;
  switch (reading.kind) {
    case "counter":
    case "findings":
      return { value: sums[reading.value_field]!, threshold: reading.threshold, window_seconds: windowSeconds };
    case "ratio": {
      const calls = sums[reading.calls_field]!;
      return {
        value: calls === 0 ? Number.NaN : sums[reading.value_field]! / calls,
        threshold: reading.threshold,
        [reading.input]: sums[reading.value_field]!,
        calls,
        window_seconds: windowSeconds,
      };
    }
    case "quantile": {
      const calls = sums[reading.value_field]!;
      const estimate = group.samples?.quantile(reading.quantile, group.window.startMs()) ?? {
        value: Number.NaN,
        samples: 0,
      };
      return {
        value: estimate.value,
        threshold: reading.threshold,
        calls,
        calls_above_threshold: calls - sums[reading.at_most_field]!,
        samples: estimate.samples,
        window_seconds: windowSeconds,
      };
    }
  }
}

/** Forgets the groups of `series` with nothing left in their window; keeps a few for reuse. */
export function collectGroups(series: Series, now: number): void {
  series.next_collection = now + Math.max(series.window_ms, 60_000);
  if (series.dimensions.length === 0) return;
  const emptyBefore = now - windowSpan(series.window_ms);
  for (const [key, group] of series.groups) {
    if (group.last_ms >= emptyBefore) continue;
    series.groups.delete(key);
    if (series.spare.length < SPARE_GROUPS) {
      group.window.reset();
      group.samples?.clear();
      series.spare.push(group);
    }
  }
}

export const GLOBAL_KEY = "";

/** How long after its last count a window of `window_ms` is certainly empty: its slices, plus one. */
export function windowSpan(window_ms: number): number {
  const sliceMs = sliceLength(window_ms);
  return (Math.ceil(window_ms / sliceMs) + 1) * sliceMs;
}
