/**
 * The alert condition language: a recursive-descent parser over the tokens of
 * condition-tokenizer.ts, then a check of what the metric allows. The grammar, in EBNF, is in
 * docs/alert-rules.md; each `parse*` method below is one of its productions.
 */
import { FINDING_CATEGORIES, SEVERITIES } from "../core/finding.js";
import {
  ALERT_METRIC_NAMES,
  type AlertMetricName,
  isAlertMetricName,
  type MetricKind,
  metricDefinition,
} from "./alert-metrics.js";
import { type ConditionError, describeToken, type NumberUnit, type Token, tokenize } from "./condition-tokenizer.js";

export type { ConditionError } from "./condition-tokenizer.js";

/** What a group of an alert is keyed by. `agent` is the session type. */
export type Dimension = "tool" | "server" | "source" | "session" | "user" | "agent";

export const DIMENSIONS: readonly Dimension[] = ["tool", "server", "source", "session", "user", "agent"];

export type ComparisonOperator = ">" | ">=" | "<" | "<=" | "==" | "!=";

export type MatchOperator = "=" | "!=" | ">=" | ">" | "<=" | "<";

/** `label op value` inside `metric{...}`, or the filter that `for tool X` implies. */
export interface LabelMatcher {
  label: string;
  operator: MatchOperator;
  value: string;
}

export type Threshold =
  | { kind: "number"; value: number }
  /** `20%`: `value` is the ratio, 0.2. */
  | { kind: "percent"; value: number }
  /** `2s`: `value` is in seconds. */
  | { kind: "duration"; value: number }
  /** `3x baseline`: the session's learned baseline times `multiplier`. */
  | { kind: "baseline"; multiplier: number };

/** A checked condition: everything the engine and the Prometheus export need. */
export interface ConditionSpec {
  /** The condition as written. */
  text: string;
  metric: AlertMetricName;
  kind: MetricKind;
  matchers: LabelMatcher[];
  operator: ComparisonOperator;
  threshold: Threshold;
  /** Sliding window length; `null` for session metrics, which cover the whole session. */
  window_ms: number | null;
  /** True when the window was written (`in 60s`, `over 5m`) rather than defaulted. */
  window_explicit: boolean;
  /** `for 2m`: how long the condition must hold before the alert fires (pending until then). */
  hold_ms: number;
  /** The grouping, in the order written; session metrics always include `session`. */
  dimensions: Dimension[];
  /** Ratio and quantile metrics: calls needed in the window; baselines: sessions needed in the baseline. */
  min_samples: number | null;
}

export type ParseConditionResult = { ok: true; condition: ConditionSpec } | { ok: false; error: ConditionError };

/** Windows not written in the condition. */
export const DEFAULT_WINDOW_MS = 60_000;
/** Ratios and quantiles of fewer calls than this are not judged: one failed call is not a 100% error rate. */
export const DEFAULT_MIN_CALLS = 10;

const DURATION_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

const DIMENSION_WORDS = new Set<string>(DIMENSIONS);

const FINDING_LABELS = ["category", "severity", "detector", "tool", "server", "agent", "user", "session"];
const EXCHANGE_LABELS = ["tool", "server", "agent", "user", "source", "session"];

class ParseFailure extends Error {
  constructor(readonly error: ConditionError) {
    super(error.message);
  }
}

function fail(start: number, end: number, message: string): never {
  throw new ParseFailure({ start, end, message });
}

function durationOf(token: Token): number | null {
  if (token.kind !== "number") return null;
  const unit = DURATION_MS[token.unit];
  return unit === undefined ? null : token.value * unit;
}

function quoteList(words: readonly string[]): string {
  const quoted = words.map((word) => `\`${word}\``);
  if (quoted.length <= 1) return quoted.join("");
  return `${quoted.slice(0, -1).join(", ")} or ${quoted.at(-1)}`;
}

/** Levenshtein distance, for "did you mean" on misspelt metric names. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
    }
    previous = current;
  }
  return previous[b.length]!;
}

function suggestion(word: string, candidates: readonly string[]): string {
  let best: string | null = null;
  let bestDistance = 3;
  for (const candidate of candidates) {
    const distance = editDistance(word, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best === null ? "" : ` (did you mean \`${best}\`?)`;
}

interface Span {
  start: number;
  end: number;
}

interface GroupingClause {
  dimension: Dimension;
  span: Span;
}

/** The syntax tree, before the metric's rules are checked. */
interface ConditionTree {
  metric: { name: string; span: Span };
  matchers: Array<LabelMatcher & { span: Span; valueSpan: Span }>;
  operator: ComparisonOperator;
  threshold: { unit: NumberUnit; value: number; baseline: boolean; span: Span };
  window: { ms: number; span: Span } | null;
  hold: { ms: number; span: Span } | null;
  groupings: GroupingClause[];
  minimum: { count: number; noun: "calls" | "sessions"; span: Span } | null;
}

class ConditionParser {
  private index = 0;

  constructor(private readonly tokens: Token[]) {}

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.index + offset, this.tokens.length - 1)]!;
  }

  private next(): Token {
    const token = this.peek();
    if (token.kind !== "end") this.index++;
    return token;
  }

  private isWord(token: Token, ...words: string[]): boolean {
    return token.kind === "word" && words.includes(token.text.toLowerCase());
  }

  private expected(what: string, token: Token = this.peek()): never {
    fail(token.start, Math.max(token.end, token.start + 1), `expected ${what}, found ${describeToken(token)}`);
  }

  private expectWord(...words: string[]): Token {
    const token = this.peek();
    if (!this.isWord(token, ...words)) this.expected(quoteList(words));
    return this.next();
  }

  /** condition = metric , comparison , threshold , { clause } ; */
  parseCondition(): ConditionTree {
    const tree: ConditionTree = {
      ...this.parseMetric(),
      operator: this.parseComparison(),
      threshold: this.parseThreshold(),
      window: null,
      hold: null,
      groupings: [],
      minimum: null,
    };
    while (this.peek().kind !== "end") this.parseClause(tree);
    return tree;
  }

  /** metric = name , [ "{" , matcher , { "," , matcher } , "}" ] ; */
  private parseMetric(): Pick<ConditionTree, "metric" | "matchers"> {
    const token = this.peek();
    if (token.kind !== "word") this.expected("a metric name such as `dlp_blocks` or `error_rate`");
    this.next();
    const matchers: ConditionTree["matchers"] = [];
    if (this.peek().kind === "punctuation" && this.peek().text === "{") {
      this.next();
      if (this.peek().text === "}" && this.peek().kind === "punctuation") {
        this.next();
      } else {
        for (;;) {
          matchers.push(this.parseMatcher());
          const separator = this.peek();
          if (separator.kind === "punctuation" && separator.text === ",") {
            this.next();
            continue;
          }
          if (separator.kind === "punctuation" && separator.text === "}") {
            this.next();
            break;
          }
          this.expected("`,` or `}`");
        }
      }
    }
    return { metric: { name: token.text, span: { start: token.start, end: token.end } }, matchers };
  }

  /** matcher = label , ( "=" | "!=" | ">=" | ">" | "<=" | "<" ) , value ; */
  private parseMatcher(): ConditionTree["matchers"][number] {
    const label = this.peek();
    if (label.kind !== "word") this.expected("a label such as `category`");
    this.next();
    const operator = this.peek();
    if (operator.kind !== "operator" || operator.text === "==") this.expected("`=` or `!=`");
    this.next();
    const value = this.peek();
    if (value.kind !== "word" && value.kind !== "string" && value.kind !== "number") {
      this.expected("a label value");
    }
    this.next();
    return {
      label: label.text,
      operator: operator.text as MatchOperator,
      value: value.kind === "string" ? value.value : value.text,
      span: { start: label.start, end: value.end },
      valueSpan: { start: value.start, end: value.end },
    };
  }

  /** comparison = ">" | ">=" | "<" | "<=" | "==" | "!=" ; */
  private parseComparison(): ComparisonOperator {
    const token = this.peek();
    if (token.kind !== "operator" || token.text === "=") {
      this.expected("a comparison (`>`, `>=`, `<`, `<=`, `==` or `!=`)");
    }
    this.next();
    return token.text as ComparisonOperator;
  }

  /** threshold = number | percentage | duration | number , "x" , "baseline" ; */
  private parseThreshold(): ConditionTree["threshold"] {
    const token = this.peek();
    if (token.kind !== "number") this.expected("a threshold such as `10`, `20%`, `2s` or `3x baseline`");
    this.next();
    if (token.unit === "x") {
      const baseline = this.expectWord("baseline");
      return { unit: "x", value: token.value, baseline: true, span: { start: token.start, end: baseline.end } };
    }
    return { unit: token.unit, value: token.value, baseline: false, span: { start: token.start, end: token.end } };
  }

  /** clause = window | hold | grouping | minimum ; */
  private parseClause(tree: ConditionTree): void {
    const token = this.peek();
    if (this.isWord(token, "in", "over")) {
      this.next();
      const ms = this.parseDuration(`a window such as \`60s\` or \`5m\` after \`${token.text}\``);
      if (tree.window !== null) fail(token.start, this.tokens[this.index - 1]!.end, "the window is given twice");
      tree.window = { ms, span: { start: token.start, end: this.tokens[this.index - 1]!.end } };
      return;
    }
    if (this.isWord(token, "for")) {
      this.next();
      const after = this.peek();
      if (after.kind === "number") {
        const ms = this.parseDuration("a duration such as `2m` after `for`");
        if (tree.hold !== null) fail(token.start, after.end, "the `for` duration is given twice");
        tree.hold = { ms, span: { start: token.start, end: after.end } };
        return;
      }
      this.addGrouping(tree, this.parseForGrouping(token));
      return;
    }
    if (this.isWord(token, "from")) {
      this.next();
      this.expectWord("same");
      const dimension = this.parseDimension();
      this.addGrouping(tree, { dimension, span: { start: token.start, end: this.tokens[this.index - 1]!.end } });
      return;
    }
    if (this.isWord(token, "per")) {
      this.next();
      let dimension = this.parseDimension();
      if (dimension === "session" && this.isWord(this.peek(), "type")) {
        this.next();
        dimension = "agent";
      }
      this.addGrouping(tree, { dimension, span: { start: token.start, end: this.tokens[this.index - 1]!.end } });
      return;
    }
    if (this.isWord(token, "with")) {
      this.next();
      this.expectWord("at");
      this.expectWord("least");
      const count = this.peek();
      if (count.kind !== "number" || count.unit !== "" || !Number.isInteger(count.value)) {
        this.expected("a whole number after `with at least`");
      }
      this.next();
      const noun = this.expectWord("calls", "call", "sessions", "session");
      if (tree.minimum !== null) fail(token.start, noun.end, "`with at least` is given twice");
      tree.minimum = {
        count: count.value,
        noun: noun.text.toLowerCase().startsWith("call") ? "calls" : "sessions",
        span: { start: token.start, end: noun.end },
      };
      return;
    }
    this.expected("`in`, `over`, `for`, `from`, `per`, `with` or the end of the condition");
  }

  /** After `for`: `any|each DIMENSION`, `session type`, or `DIMENSION NAME` (a filter on one value). */
  private parseForGrouping(forToken: Token): GroupingClause & { filter?: { value: string; span: Span } } {
    const token = this.peek();
    if (this.isWord(token, "any", "each")) {
      this.next();
      const dimension = this.parseDimension();
      return { dimension, span: { start: forToken.start, end: this.tokens[this.index - 1]!.end } };
    }
    if (this.isWord(token, "session")) {
      this.next();
      this.expectWord("type");
      return { dimension: "agent", span: { start: forToken.start, end: this.tokens[this.index - 1]!.end } };
    }
    if (token.kind === "word" && DIMENSION_WORDS.has(token.text.toLowerCase())) {
      this.next();
      const name = this.peek();
      if (name.kind === "end" || name.kind === "operator" || name.kind === "punctuation") {
        this.expected(`a ${token.text.toLowerCase()} name after \`for ${token.text}\` (or \`for each ${token.text}\`)`);
      }
      this.next();
      return {
        dimension: token.text.toLowerCase() as Dimension,
        span: { start: forToken.start, end: name.end },
        filter: { value: name.kind === "string" ? name.value : name.text, span: { start: name.start, end: name.end } },
      };
    }
    this.expected(
      "a duration (`for 2m`), `any`, `each`, `session type`, or a dimension and name (`for tool read_file`) after `for`",
    );
  }

  private parseDimension(): Dimension {
    const token = this.peek();
    if (token.kind !== "word" || !DIMENSION_WORDS.has(token.text.toLowerCase())) {
      this.expected(quoteList(DIMENSIONS));
    }
    this.next();
    return token.text.toLowerCase() as Dimension;
  }

  private parseDuration(what: string): number {
    const token = this.peek();
    const ms = durationOf(token);
    if (ms === null) this.expected(what);
    this.next();
    if (ms <= 0) fail(token.start, token.end, "a duration must be greater than zero");
    return ms;
  }

  private addGrouping(tree: ConditionTree, clause: GroupingClause & { filter?: { value: string; span: Span } }): void {
    if (tree.groupings.some((existing) => existing.dimension === clause.dimension)) {
      fail(clause.span.start, clause.span.end, `the condition is already grouped by ${clause.dimension}`);
    }
    tree.groupings.push({ dimension: clause.dimension, span: clause.span });
    if (clause.filter !== undefined) {
      tree.matchers.push({
        label: clause.dimension,
        operator: "=",
        value: clause.filter.value,
        span: clause.span,
        valueSpan: clause.filter.span,
      });
    }
  }
}

/** Checks what the metric allows and fills in defaults. */
function checkTree(text: string, tree: ConditionTree): ConditionSpec {
  const metricName = tree.metric.name;
  if (!isAlertMetricName(metricName)) {
    fail(
      tree.metric.span.start,
      tree.metric.span.end,
      `unknown metric \`${metricName}\`${suggestion(metricName, ALERT_METRIC_NAMES)}; expected one of ${ALERT_METRIC_NAMES.join(", ")}`,
    );
  }
  const definition = metricDefinition(metricName);
  const kind = definition.kind;

  const labels = kind === "findings" ? FINDING_LABELS : EXCHANGE_LABELS;
  for (const matcher of tree.matchers) {
    if (!labels.includes(matcher.label)) {
      fail(
        matcher.span.start,
        matcher.span.end,
        `${metricName} has no label \`${matcher.label}\`; expected one of ${labels.join(", ")}`,
      );
    }
    const ordered = matcher.operator !== "=" && matcher.operator !== "!=";
    if (ordered && matcher.label !== "severity") {
      fail(
        matcher.span.start,
        matcher.span.end,
        `\`${matcher.operator}\` compares severities only; use \`=\` or \`!=\``,
      );
    }
    if (matcher.label === "category" && !(FINDING_CATEGORIES as readonly string[]).includes(matcher.value)) {
      fail(
        matcher.valueSpan.start,
        matcher.valueSpan.end,
        `unknown finding category \`${matcher.value}\`${suggestion(matcher.value, FINDING_CATEGORIES)}; expected one of ${FINDING_CATEGORIES.join(", ")}`,
      );
    }
    if (matcher.label === "severity" && !(SEVERITIES as readonly string[]).includes(matcher.value)) {
      fail(
        matcher.valueSpan.start,
        matcher.valueSpan.end,
        `unknown severity \`${matcher.value}\`; expected one of ${SEVERITIES.join(", ")}`,
      );
    }
  }

  const threshold = checkThreshold(metricName, kind, tree.threshold);

  let windowMs: number | null = tree.window?.ms ?? DEFAULT_WINDOW_MS;
  if (kind === "session") {
    if (tree.window !== null) {
      fail(
        tree.window.span.start,
        tree.window.span.end,
        `${metricName} covers the whole session and takes no window; remove this clause`,
      );
    }
    windowMs = null;
  }

  const dimensions: Dimension[] = [];
  if (kind === "session") dimensions.push("session");
  for (const grouping of tree.groupings) {
    if (kind === "findings" && grouping.dimension === "source") {
      fail(
        grouping.span.start,
        grouping.span.end,
        "findings carry no source address; group them by session, user, agent, tool or server",
      );
    }
    if (kind === "session" && grouping.dimension !== "agent" && grouping.dimension !== "session") {
      fail(
        grouping.span.start,
        grouping.span.end,
        `${metricName} is judged per session; it can only add \`for session type\` (the baseline per agent type)`,
      );
    }
    if (!dimensions.includes(grouping.dimension)) dimensions.push(grouping.dimension);
  }

  let minSamples: number | null = null;
  if (kind === "ratio" || kind === "quantile") minSamples = DEFAULT_MIN_CALLS;
  if (tree.minimum !== null) {
    const wantsCalls = kind === "ratio" || kind === "quantile";
    const wantsSessions = threshold.kind === "baseline";
    if (tree.minimum.noun === "calls" && !wantsCalls) {
      fail(
        tree.minimum.span.start,
        tree.minimum.span.end,
        "`with at least N calls` applies to rates and latencies only",
      );
    }
    if (tree.minimum.noun === "sessions" && !wantsSessions) {
      fail(
        tree.minimum.span.start,
        tree.minimum.span.end,
        "`with at least N sessions` applies to baseline thresholds only",
      );
    }
    minSamples = tree.minimum.count;
  }

  return {
    text,
    metric: metricName,
    kind,
    matchers: tree.matchers.map(({ label, operator, value }) => ({ label, operator, value })),
    operator: tree.operator,
    threshold,
    window_ms: windowMs,
    window_explicit: tree.window !== null,
    hold_ms: tree.hold?.ms ?? 0,
    dimensions,
    min_samples: minSamples,
  };
}

function checkThreshold(metric: AlertMetricName, kind: MetricKind, threshold: ConditionTree["threshold"]): Threshold {
  const { span, unit, value } = threshold;
  if (threshold.baseline) {
    if (kind !== "session") {
      fail(span.start, span.end, `\`${value}x baseline\` needs a per-session metric (tool_diversity, session_calls)`);
    }
    return { kind: "baseline", multiplier: value };
  }
  const durationUnit = DURATION_MS[unit];
  if (kind === "ratio") {
    if (unit !== "%") fail(span.start, span.end, `${metric} is a ratio: expected a percentage such as 20%`);
    return { kind: "percent", value: value / 100 };
  }
  if (kind === "quantile") {
    if (durationUnit === undefined) {
      fail(span.start, span.end, `${metric} is a latency: expected a duration such as 2s or 500ms`);
    }
    return { kind: "duration", value: (value * durationUnit) / 1000 };
  }
  if (unit !== "") {
    fail(span.start, span.end, `${metric} is a count: expected a plain number such as 10, found \`${value}${unit}\``);
  }
  return { kind: "number", value };
}

/** Parses and checks one condition. Errors carry offsets into `text`. */
export function parseCondition(text: string): ParseConditionResult {
  const tokens = tokenize(text);
  if (!tokens.ok) return tokens;
  try {
    const tree = new ConditionParser(tokens.tokens).parseCondition();
    return { ok: true, condition: checkTree(text, tree) };
  } catch (error) {
    if (error instanceof ParseFailure) return { ok: false, error: error.error };
    throw error;
  }
}

/** `20%`, `2s`, `3x baseline`, `10`: the threshold as a person writes it. */
export function formatThreshold(threshold: Threshold): string {
  switch (threshold.kind) {
    case "number":
      return String(threshold.value);
    case "percent":
      return `${Number((threshold.value * 100).toPrecision(6))}%`;
    case "duration":
      return `${threshold.value}s`;
    case "baseline":
      return `${threshold.multiplier}x baseline`;
  }
}
