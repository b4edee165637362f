/**
 * The alert engine: rules compiled into windowed aggregators, fed by the pipeline as an exchange
 * observer and a finding sink, evaluated on event time, with a pending → firing → resolved
 * lifecycle per (rule, group), silences, repeats and notifier routing.
 *
 * Hot path: each exchange computes its signals once; only the aggregators ("series", see
 * alert-series.ts) that it contributes to are touched, once each, and only the rules whose reading
 * it can change are evaluated, for the one group it changed. Pending and firing alerts are also
 * re-evaluated at every evaluation interval of event time, so they resolve when traffic stops (in
 * replay too). A live caller drives quiet periods with `tick(Date.now())`.
 */
import type { ExchangeObserver, ExchangePosition, FindingSink } from "../core/detector.js";
import type { CapturedExchange } from "../core/exchange.js";
import type { Finding } from "../core/finding.js";
import type { AlertEvent, AlertState, ExportResult, Notifier } from "../core/notifier.js";
import { exchangeSignals } from "../metrics/exchange-signals.js";
import { metricDefinition } from "./alert-metrics.js";
import {
  addGroup,
  CHANGED,
  collectGroups,
  compare,
  countCall,
  GLOBAL_KEY,
  groupFor,
  groupKeyOf,
  matchesLabels,
  readingHolds,
  readingValues,
  type Series,
  type SeriesGroup,
  SeriesPlanner,
  type WindowedReading,
} from "./alert-series.js";
import { type ConditionSpec, formatThreshold } from "./condition-parser.js";
import { type AlertRule, type AlertSettings, DEFAULT_ALERT_SETTINGS, type RuleSet } from "./rules-file.js";
import {
  BaselineBook,
  BaselineLearner,
  type SessionMetric,
  type SessionRecord,
  SessionTracker,
} from "./session-baseline.js";
import { createSilence, isSilenceActive, type Silence, type SilenceRequest, silenceMatches } from "./silences.js";

/** Optional properties a notifier may carry; the notifiers of this module all do. */
export interface NotifierRouting {
  /** Re-notify this notifier at this interval while firing, instead of the rule's. */
  readonly repeat_interval_ms?: number;
  /** `false` keeps `resolved` from this notifier. */
  readonly send_resolved?: boolean;
  counters?(): Record<string, number>;
}

export interface AlertEngineOptions {
  /** A parsed rules file, or rules built in code (then `settings` apply on top of the defaults). */
  rules: RuleSet | readonly AlertRule[];
  /** Where firing and resolved alerts go; the engine owns them and shuts them down. */
  notifiers?: readonly (Notifier & NotifierRouting)[];
  /** Receives every state change, synchronously, before any delivery: the record of the alert. */
  onEvent?: (event: AlertEvent) => void;
  /** Overrides of the rules file's `settings`. */
  settings?: Partial<AlertSettings>;
  /** When false, silences are ignored (backtests). Default true. */
  apply_silences?: boolean;
  /** Told once per burst when `onEvent` throws or a delivery fails; stderr by default. */
  onError?: (message: string) => void;
}

/** An alert that is pending or firing now. */
export interface ActiveAlert {
  rule: string;
  group_key: string;
  state: "pending" | "firing";
  active_since: string;
  labels: Record<string, string>;
}

export interface AlertEngineCounters {
  exchanges: number;
  findings: number;
  learned: number;
  state_changes: number;
  /** Deliveries handed to notifiers (each notifier counts once). */
  notifications: number;
  /** Deliveries that ended in failure after the notifier's retries. */
  notification_failures: number;
  /** Firing alerts held back by a silence. */
  silenced: number;
  /** Exchanges or findings not tracked because a rule reached its group cap. */
  group_overflow: number;
  /** Exchanges older than a rule's window when they arrived. */
  late: number;
  on_event_errors: number;
  sessions_open: number;
  /** Per-notifier delivery counters, where the notifier reports them. */
  notifiers: Record<string, Record<string, number>>;
}

/** What `createAlertEngine` returns: the pipeline stages and the controls of the engine. */
export interface AlertEngine {
  /** Add to `PipelineOptions.observers`: it scores live traffic and learns session baselines from known-normal traffic. */
  readonly observer: ExchangeObserver;
  /** Add to `PipelineOptions.findingSinks`. */
  readonly findingSink: FindingSink;
  /** Known-normal traffic for the session baselines (`replay --baseline`); raises no alert. */
  learn(exchange: CapturedExchange, position?: ExchangePosition): void;
  /** Advances the clock to `now_ms` (wall time in live use) and evaluates what is due. */
  tick(now_ms: number): void;
  /** Ends every open session at the engine's clock, resolving session alerts (end of a replay). */
  finish(): void;
  silence(request: SilenceRequest): Silence;
  unsilence(id: string): boolean;
  /** Silences added through the API and from a file, expired ones left out. */
  silences(): Silence[];
  /** Replaces the silences that came from the silences file (see `createSilenceFileWatcher`). */
  replaceSilences(silences: readonly Silence[]): void;
  active(): ActiveAlert[];
  /** Median and session count of each baseline. */
  baselines(): Record<string, unknown>;
  counters(): AlertEngineCounters;
  /** The engine's clock: the latest event (or tick) time, ms since the epoch. */
  readonly now: number;
  forceFlush(): Promise<void>;
  /** Flushes and shuts the notifiers down. Idempotent. */
  shutdown(): Promise<void>;
}

interface AlertInstance {
  key: string;
  /** The group's own labels. */
  labels: Record<string, string>;
  /** `alertname`, severity, the rule's labels and the group's, as events carry them. */
  event_labels: Record<string, string>;
  group_key: string;
  state: "pending" | "firing";
  active_since: number;
  /** Per route: when this notifier last received the alert firing; NaN when it never did. */
  sent: number[];
  /** When a delivery (first one after a silence, or a repeat) is next due. */
  next_delivery: number;
}

type Subject = SeriesGroup | SessionRecord | undefined;

interface CompiledRule {
  rule: AlertRule;
  condition: ConditionSpec;
  /** The threshold's number: a count, a ratio, seconds, or the baseline multiplier. */
  threshold: number;
  /** Windowed rules: how the rule reads its series. */
  reading: WindowedReading | null;
  session_metric: SessionMetric | null;
  /** Evaluated for every group at every evaluation: `<` and `==` can become true by time passing. */
  drain_sensitive: boolean;
  /** The window slice at the rule's last evaluation on the clock: until it moves, time alone changes nothing. */
  checked_slice: number;
  /** `tool_diversity >` rules: only a call with a new tool can change the outcome. */
  new_tool_only: boolean;
  routes: number[];
  route_repeat_ms: number[];
  alerts: Map<string, AlertInstance>;
  static_labels: Record<string, string>;
  runbook_url: string | undefined;
}

/** A series and the rules reading it. */
interface Feed {
  series: Series;
  rules: CompiledRule[];
}

function isSeriesGroup(subject: Subject): subject is SeriesGroup {
  return subject !== undefined && "window" in subject;
}

/** `{tool="read_file",source="10.0.0.7"}`: the group as a Prometheus-style label set. */
export function formatGroupKey(labels: Readonly<Record<string, string>>): string {
  const parts = Object.entries(labels).map(
    ([label, value]) => `${label}="${value.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`,
  );
  return `{${parts.join(",")}}`;
}

function thresholdValue(condition: ConditionSpec): number {
  const threshold = condition.threshold;
  return threshold.kind === "baseline" ? threshold.multiplier : threshold.value;
}

function formatValue(condition: ConditionSpec, value: number): string {
  if (Number.isNaN(value)) return "n/a";
  const unit = metricDefinition(condition.metric).unit;
  if (unit === "ratio") return `${Number((value * 100).toFixed(2))}%`;
  if (unit === "seconds") return `${Number(value.toFixed(3))}s`;
  return String(Number(value.toFixed(3)));
}

function resolveRunbook(runbook: string | undefined, base: string | null): string | undefined {
  if (runbook === undefined) return undefined;
  try {
    return new URL(runbook).href;
  } catch {
    if (base === null) return undefined;
    try {
      return new URL(runbook, base).href;
    } catch {
      return undefined;
    }
  }
}

/** `90s` → `90s`, `300000` → `5m`: the largest exact unit. */
export function formatDuration(ms: number): string {
  const units: Array<[string, number]> = [
    ["w", 604_800_000],
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1_000],
  ];
  for (const [unit, size] of units) if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

/**
 * Builds an engine. Feed it with `observer` and `findingSink` in a `Pipeline` (or call
 * `observer.observe` directly), call `tick(Date.now())` every few seconds in a live process, and
 * `shutdown()` at the end.
 */
export function createAlertEngine(options: AlertEngineOptions): AlertEngine {
  return new Engine(options).api();
}

class Engine {
  private readonly settings: AlertSettings;
  private readonly rules: CompiledRule[] = [];
  private readonly notifiers: readonly (Notifier & NotifierRouting)[];
  private readonly onEvent: ((event: AlertEvent) => void) | undefined;
  private readonly applySilences: boolean;
  private readonly reportError: (message: string) => void;

  /** Series fed by `tools/call` exchanges, by each decision signal, and by findings. */
  private readonly callFeeds: Feed[] = [];
  private readonly signalFeeds: Record<"dlp_blocks" | "dlp_redactions" | "policy_denials" | "auth_failures", Feed[]> = {
    dlp_blocks: [],
    dlp_redactions: [],
    policy_denials: [],
    auth_failures: [],
  };
  private readonly findingFeeds: Feed[] = [];
  private readonly allSeries: Series[] = [];
  private readonly sessionRules: CompiledRule[] = [];
  private readonly drainSensitive: CompiledRule[] = [];
  /** Rules with a pending or firing alert. */
  private readonly activeRules = new Set<CompiledRule>();

  private readonly sessions: SessionTracker;
  private readonly book = new BaselineBook();
  private readonly learner: BaselineLearner;
  private readonly tracksSessions: boolean;

  private apiSilences: Silence[] = [];
  private fileSilences: Silence[] = [];

  private nextCollection = 0;
  private clock = 0;
  private nextEvaluation = Number.NaN;
  private nextSessionSweep = 0;
  private lastErrorReport = 0;
  private closing: Promise<void> | undefined;
  private readonly counts = {
    exchanges: 0,
    findings: 0,
    learned: 0,
    state_changes: 0,
    notifications: 0,
    notification_failures: 0,
    silenced: 0,
    group_overflow: 0,
    late: 0,
    on_event_errors: 0,
  };

  constructor(options: AlertEngineOptions) {
    const fromFile = !Array.isArray(options.rules);
    const ruleList = fromFile ? (options.rules as RuleSet).rules : (options.rules as readonly AlertRule[]);
    this.settings = {
      ...(fromFile ? (options.rules as RuleSet).settings : DEFAULT_ALERT_SETTINGS),
      ...options.settings,
    };
    this.notifiers = options.notifiers ?? [];
    this.onEvent = options.onEvent;
    this.applySilences = options.apply_silences ?? true;
    this.reportError = options.onError ?? ((message) => process.stderr.write(`toolwatch: alerts: ${message}\n`));
    this.sessions = new SessionTracker(this.settings.max_groups_per_rule);
    this.learner = new BaselineLearner(this.book, this.settings.session_idle_ms);

    const planner = new SeriesPlanner();
    const feeds = new Map<Series, Feed>();
    for (const rule of ruleList) {
      const compiled = this.compile(rule, planner);
      this.rules.push(compiled);
      if (compiled.session_metric !== null) this.sessionRules.push(compiled);
      if (compiled.drain_sensitive) this.drainSensitive.push(compiled);
      const series = compiled.reading?.series;
      if (series === undefined) continue;
      let feed = feeds.get(series);
      if (feed === undefined) {
        feed = { series, rules: [] };
        feeds.set(series, feed);
        if (series.source === "calls") this.callFeeds.push(feed);
        else if (series.source === "findings") this.findingFeeds.push(feed);
        else this.signalFeeds[series.source].push(feed);
      }
      feed.rules.push(compiled);
    }
    // Fields are laid out once every rule is known; only then can windows be made.
    for (const series of planner.series()) {
      this.allSeries.push(series);
      // The ungrouped series always has its one group, so `calls < 1 in 5m` can fire on silence.
      if (series.dimensions.length === 0) addGroup(series, GLOBAL_KEY, {});
    }
    this.tracksSessions = this.sessionRules.length > 0;
  }

  private compile(rule: AlertRule, planner: SeriesPlanner): CompiledRule {
    const condition = rule.condition;
    const notifierIndex = new Map(this.notifiers.map((notifier, index) => [notifier.name, index]));
    const routeNames = rule.notify ?? this.settings.notify ?? this.notifiers.map((notifier) => notifier.name);
    const routes: number[] = [];
    for (const name of routeNames) {
      const index = notifierIndex.get(name);
      if (index !== undefined && !routes.includes(index)) routes.push(index);
    }
    const ruleRepeat = rule.repeat_interval_ms ?? this.settings.repeat_interval_ms;
    const threshold = thresholdValue(condition);
    let reading: WindowedReading | null = null;
    if (condition.kind !== "session") reading = planner.reading(condition, planner.seriesFor(condition), threshold);
    return {
      rule,
      condition,
      threshold,
      reading,
      session_metric: condition.kind === "session" ? (condition.metric as SessionMetric) : null,
      drain_sensitive: condition.operator !== ">" && condition.operator !== ">=" && condition.kind !== "session",
      checked_slice: Number.NaN,
      new_tool_only:
        condition.metric === "tool_diversity" && (condition.operator === ">" || condition.operator === ">="),
      routes,
      route_repeat_ms: routes.map((index) => this.notifiers[index]!.repeat_interval_ms ?? ruleRepeat),
      alerts: new Map(),
      static_labels: { alertname: rule.name, severity: rule.severity, ...rule.labels },
      runbook_url: resolveRunbook(rule.runbook, this.settings.runbook_base_url),
    };
  }

  // ---- feeding -------------------------------------------------------------------------------

  observe(exchange: CapturedExchange, position: ExchangePosition): void {
    const time = Number.isFinite(position.time_ms) ? position.time_ms : this.clock;
    this.advance(time);
    this.counts.exchanges++;
    const signals = exchangeSignals(exchange);
    const item = { exchange };
    if (signals.is_call) {
      const feeds = this.callFeeds;
      for (let index = 0; index < feeds.length; index++) {
        const feed = feeds[index]!;
        const series = feed.series;
        if (series.matchers.length > 0 && !matchesLabels(series.matchers, item)) continue;
        const group = this.groupOf(series, item);
        if (group === null) continue;
        const slot = group.window.slot(time);
        if (slot < 0) {
          this.counts.late++;
          continue;
        }
        const changed = countCall(series, group, slot, signals, time);
        this.counted(series, group, time);
        this.evaluateFeed(feed, group, changed);
      }
    }
    if (signals.dlp_blocks > 0) this.feedCount(this.signalFeeds.dlp_blocks, item, signals.dlp_blocks, time);
    if (signals.dlp_redactions > 0) this.feedCount(this.signalFeeds.dlp_redactions, item, signals.dlp_redactions, time);
    if (signals.policy_denials > 0) this.feedCount(this.signalFeeds.policy_denials, item, signals.policy_denials, time);
    if (signals.auth_failures > 0) this.feedCount(this.signalFeeds.auth_failures, item, signals.auth_failures, time);
    if (this.tracksSessions) {
      const session = signals.is_call ? this.sessions.observeCall(exchange, time) : this.sessions.touch(exchange, time);
      if (session !== null && signals.is_call) {
        for (const rule of this.sessionRules) {
          // Unique tools only grow with a new tool: `>` needs no look otherwise (repeats run on ticks).
          if (rule.new_tool_only && !session.new_tool) continue;
          this.transition(rule, session.id, this.sessionHolds(rule, session), session, this.clock);
        }
      }
    }
  }

  observeFinding(finding: Finding): void {
    const parsed = Date.parse(finding.time);
    const time = Number.isNaN(parsed) ? this.clock : parsed;
    this.advance(time);
    this.counts.findings++;
    this.feedCount(this.findingFeeds, { finding }, 1, time);
  }

  learn(exchange: CapturedExchange, position?: ExchangePosition): void {
    const time = position?.time_ms ?? Date.parse(exchange.time);
    if (!Number.isFinite(time)) return;
    this.counts.learned++;
    this.learner.learn(exchange, time);
  }

  private groupOf(series: Series, item: Parameters<typeof groupKeyOf>[1]): SeriesGroup | null {
    if (series.only !== null) return series.only;
    const group = groupFor(series, groupKeyOf(series.dimensions, item), item, this.settings.max_groups_per_rule);
    if (group === null) this.counts.group_overflow++;
    return group;
  }

  private counted(series: Series, group: SeriesGroup, time: number): void {
    if (time > series.last_fed) series.last_fed = time;
    if (time > group.last_ms) group.last_ms = time;
  }

  private feedCount(feeds: Feed[], item: Parameters<typeof groupKeyOf>[1], amount: number, time: number): void {
    for (const feed of feeds) {
      const series = feed.series;
      if (series.matchers.length > 0 && !matchesLabels(series.matchers, item)) continue;
      const group = this.groupOf(series, item);
      if (group === null) continue;
      const slot = group.window.slot(time);
      if (slot < 0) {
        this.counts.late++;
        continue;
      }
      group.window.add(slot, series.field.count, amount);
      this.counted(series, group, time);
      this.evaluateFeed(feed, group, CHANGED.count);
    }
  }

  /** Evaluates, for the group just changed, the rules whose reading the change can move. */
  private evaluateFeed(feed: Feed, group: SeriesGroup, changed: number): void {
    const now = this.clock;
    group.window.advance(now);
    const rules = feed.rules;
    for (let index = 0; index < rules.length; index++) {
      const rule = rules[index]!;
      if ((rule.reading!.trigger & changed) === 0) continue;
      this.transition(rule, group.key, readingHolds(rule.reading!, group), group, now);
    }
  }

  // ---- session rules -----------------------------------------------------------------------

  private sessionThreshold(
    rule: CompiledRule,
    session: SessionRecord,
  ): { threshold: number; baseline: number; sessions: number } | null {
    const condition = rule.condition;
    if (condition.threshold.kind !== "baseline")
      return { threshold: rule.threshold, baseline: Number.NaN, sessions: 0 };
    const agent = condition.dimensions.includes("agent") ? session.agent : null;
    const baseline = this.book.baseline(agent, rule.session_metric!);
    const minimum = condition.min_samples ?? this.settings.baseline_min_sessions;
    if (baseline.median === null || baseline.sessions < minimum) return null;
    return { threshold: rule.threshold * baseline.median, baseline: baseline.median, sessions: baseline.sessions };
  }

  private sessionValue(rule: CompiledRule, session: SessionRecord): number {
    return rule.session_metric === "tool_diversity" ? session.tools.size : session.calls;
  }

  /** `null` while the baseline has too few sessions to judge. */
  private sessionHolds(rule: CompiledRule, session: SessionRecord | undefined): boolean | null {
    if (session === undefined) return false;
    const threshold = this.sessionThreshold(rule, session);
    if (threshold === null) return null;
    return compare(this.sessionValue(rule, session), rule.condition.operator, threshold.threshold);
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  /** The lifecycle of one (rule, group): inactive → pending → firing → resolved. */
  private transition(rule: CompiledRule, key: string, holds: boolean | null, subject: Subject, now: number): void {
    let instance = rule.alerts.size === 0 ? undefined : rule.alerts.get(key);
    if (holds === null) {
      // Too little data to judge: nothing starts, nothing ends, a firing alert still repeats.
      if (instance?.state === "firing" && now >= instance.next_delivery) this.redeliver(rule, instance, subject, now);
      return;
    }
    if (!holds) {
      if (instance === undefined) return;
      this.forget(rule, key);
      this.change(rule, instance, "resolved", instance.state, subject, now);
      return;
    }
    if (instance === undefined) {
      const labels = this.groupLabels(rule, subject);
      instance = {
        key,
        labels,
        event_labels: { ...rule.static_labels, ...labels },
        group_key: formatGroupKey(labels),
        state: rule.rule.hold_ms > 0 ? "pending" : "firing",
        active_since: now,
        sent: rule.routes.map(() => Number.NaN),
        next_delivery: now,
      };
      rule.alerts.set(key, instance);
      this.activeRules.add(rule);
      this.change(rule, instance, instance.state, "inactive", subject, now);
      return;
    }
    if (instance.state === "pending") {
      if (now - instance.active_since >= rule.rule.hold_ms) {
        instance.state = "firing";
        this.change(rule, instance, "firing", "pending", subject, now);
      }
      return;
    }
    if (now >= instance.next_delivery) this.redeliver(rule, instance, subject, now);
  }

  private forget(rule: CompiledRule, key: string): void {
    rule.alerts.delete(key);
    if (rule.alerts.size === 0) this.activeRules.delete(rule);
  }

  private groupLabels(rule: CompiledRule, subject: Subject): Record<string, string> {
    if (subject === undefined) return {};
    if (isSeriesGroup(subject)) return subject.labels;
    const labels: Record<string, string> = { session: subject.id };
    if (rule.condition.dimensions.includes("agent")) labels.agent = subject.agent;
    return labels;
  }

  /** The values behind a state change; numbers that do not exist (no calls, no samples) are left out. */
  private valuesOf(rule: CompiledRule, subject: Subject, now: number): Record<string, number> {
    let values: Record<string, number>;
    if (rule.reading !== null) {
      const group = subject as SeriesGroup | undefined;
      group?.window.advance(now);
      values = readingValues(rule.reading, group);
    } else {
      values = this.sessionValues(rule, subject as SessionRecord | undefined);
    }
    for (const [name, value] of Object.entries(values)) if (!Number.isFinite(value)) delete values[name];
    return values;
  }

  private sessionValues(rule: CompiledRule, session: SessionRecord | undefined): Record<string, number> {
    if (session === undefined) return { threshold: rule.threshold };
    const values: Record<string, number> = { value: this.sessionValue(rule, session), calls: session.calls };
    const threshold = this.sessionThreshold(rule, session);
    if (threshold !== null) {
      values.threshold = threshold.threshold;
      if (rule.condition.threshold.kind === "baseline") {
        values.baseline = threshold.baseline;
        values.baseline_sessions = threshold.sessions;
        values.multiplier = rule.threshold;
      }
    }
    return values;
  }

  private summary(
    rule: CompiledRule,
    instance: AlertInstance,
    state: AlertState,
    values: Record<string, number>,
    reason: string | undefined,
  ): string {
    const condition = rule.condition;
    const labels = Object.entries(instance.labels)
      .map(([label, value]) => `${label}=${value}`)
      .join(", ");
    const scope = labels === "" ? "" : ` for ${labels}`;
    const threshold =
      condition.threshold.kind === "baseline" && values.threshold !== undefined
        ? `${formatValue(condition, values.threshold)}, ${formatThreshold(condition.threshold)} ${formatValue(condition, values.baseline ?? Number.NaN)}`
        : formatThreshold(condition.threshold);
    const window = condition.window_ms === null ? " in the session" : ` over ${formatDuration(condition.window_ms)}`;
    const criterion = `${condition.operator} ${threshold}${window}`;
    const measured =
      values.value === undefined
        ? `no data for ${condition.metric}${scope}`
        : `${condition.metric}${scope} is ${formatValue(condition, values.value)}`;
    if (state === "resolved") {
      return `${rule.rule.name} resolved${reason === undefined ? "" : ` (${reason})`}: ${measured} (alert at ${criterion})`;
    }
    return `${rule.rule.name}: ${measured} (${criterion})`;
  }

  private buildEvent(
    rule: CompiledRule,
    instance: AlertInstance,
    state: AlertState,
    previous: AlertEvent["previous_state"],
    values: Record<string, number>,
    now: number,
    reason?: string,
  ): AlertEvent {
    const event: AlertEvent = {
      rule: rule.rule.name,
      group_key: instance.group_key,
      state,
      previous_state: previous,
      severity: rule.rule.severity,
      time: new Date(now).toISOString(),
      active_since: new Date(instance.active_since).toISOString(),
      summary: this.summary(rule, instance, state, values, reason),
      condition: rule.condition.text,
      labels: { ...instance.event_labels },
      values,
    };
    if (rule.rule.action !== undefined) event.action = rule.rule.action;
    if (rule.rule.runbook !== undefined) event.runbook = rule.rule.runbook;
    if (rule.runbook_url !== undefined) event.runbook_url = rule.runbook_url;
    return event;
  }

  private change(
    rule: CompiledRule,
    instance: AlertInstance,
    state: AlertState,
    previous: AlertEvent["previous_state"],
    subject: Subject,
    now: number,
    reason?: string,
  ): void {
    this.counts.state_changes++;
    const event = this.buildEvent(rule, instance, state, previous, this.valuesOf(rule, subject, now), now, reason);
    let silence: Silence | null = null;
    if (state === "firing") {
      silence = this.silenceFor(rule, instance.event_labels, now);
      if (silence !== null) {
        event.silenced_by = silence.id;
        this.counts.silenced++;
      }
      // A session an alert fired for stays out of the baseline.
      const session = instance.labels.session;
      if (session !== undefined) {
        const record = this.sessions.sessions.get(session);
        if (record !== undefined) record.alerted = true;
      }
    }
    // The record first: whatever happens to delivery, the state change is kept.
    if (this.onEvent !== undefined) {
      try {
        this.onEvent(event);
      } catch (error) {
        this.counts.on_event_errors++;
        this.failed(`recording an alert failed: ${(error as Error)?.message ?? String(error)}`);
      }
    }
    if (state === "firing") {
      if (silence === null) this.deliverFiring(rule, instance, event, now);
      else instance.next_delivery = now + this.settings.evaluation_interval_ms;
    } else if (state === "resolved") {
      for (let route = 0; route < rule.routes.length; route++) {
        if (Number.isNaN(instance.sent[route]!)) continue;
        const notifier = this.notifiers[rule.routes[route]!]!;
        if (notifier.send_resolved === false) continue;
        this.send(notifier, event);
      }
    }
  }

  /** Delivers to every route that is due (never sent, or past its repeat interval). */
  private deliverFiring(rule: CompiledRule, instance: AlertInstance, event: AlertEvent, now: number): void {
    let next = Number.POSITIVE_INFINITY;
    for (let route = 0; route < rule.routes.length; route++) {
      const last = instance.sent[route]!;
      const interval = rule.route_repeat_ms[route]!;
      if (Number.isNaN(last) || now - last >= interval) {
        this.send(this.notifiers[rule.routes[route]!]!, event);
        instance.sent[route] = now;
        next = Math.min(next, now + interval);
      } else {
        next = Math.min(next, last + interval);
      }
    }
    instance.next_delivery = next;
  }

  /** A firing alert whose delivery is due: a repeat, or the first delivery after a silence ended. */
  private redeliver(rule: CompiledRule, instance: AlertInstance, subject: Subject, now: number): void {
    if (rule.routes.length === 0) {
      instance.next_delivery = Number.POSITIVE_INFINITY;
      return;
    }
    if (this.silenceFor(rule, instance.event_labels, now) !== null) {
      instance.next_delivery = now + this.settings.evaluation_interval_ms;
      return;
    }
    const event = this.buildEvent(rule, instance, "firing", "firing", this.valuesOf(rule, subject, now), now);
    if (instance.sent.some((sent) => !Number.isNaN(sent))) event.repeat = true;
    this.deliverFiring(rule, instance, event, now);
  }

  private send(notifier: Notifier, event: AlertEvent): void {
    this.counts.notifications++;
    let pending: Promise<ExportResult>;
    try {
      pending = notifier.notify(event);
    } catch (error) {
      this.counts.notification_failures++;
      this.failed(`notifier ${notifier.name} threw: ${(error as Error)?.message ?? String(error)}`);
      return;
    }
    pending.then(
      (result) => {
        if (result.code === "failed") {
          this.counts.notification_failures++;
          this.failed(`notifier ${notifier.name} failed: ${result.error.message}`);
        }
      },
      (error: unknown) => {
        this.counts.notification_failures++;
        this.failed(`notifier ${notifier.name} failed: ${(error as Error)?.message ?? String(error)}`);
      },
    );
  }

  private failed(message: string): void {
    const now = Date.now();
    if (now - this.lastErrorReport < 10_000) return;
    this.lastErrorReport = now;
    this.reportError(message);
  }

  private silenceFor(rule: CompiledRule, labels: Record<string, string>, now: number): Silence | null {
    if (!this.applySilences) return null;
    for (const list of [this.apiSilences, this.fileSilences]) {
      for (const silence of list) if (silenceMatches(silence, rule.rule.name, labels, now)) return silence;
    }
    return null;
  }

  // ---- time --------------------------------------------------------------------------------

  /**
   * Moves the clock forward, running the evaluations that fall due on the way. Evaluations sit on
   * the grid of `evaluation_interval`, but only where something can change without new data: a
   * window slice leaving a window an alert (or a `<` rule) watches, a hold ending, a delivery due,
   * a session idling out, quiet groups to forget. Long gaps in replay therefore cost nothing.
   */
  advance(time: number): void {
    if (!(time > this.clock)) return;
    const interval = this.settings.evaluation_interval_ms;
    if (Number.isNaN(this.nextEvaluation)) this.nextEvaluation = (Math.floor(time / interval) + 1) * interval;
    while (this.nextEvaluation <= time) {
      const due = Math.max(
        this.nextEvaluation,
        Math.ceil(this.nextDeadline(this.nextEvaluation) / interval) * interval,
      );
      if (due > time) {
        this.nextEvaluation = due;
        break;
      }
      this.clock = Math.max(this.clock, due);
      this.evaluateAll(due);
      this.nextEvaluation = due + interval;
    }
    this.clock = time;
  }

  /** The earliest time at or after `from` when something can change without new data. */
  private nextDeadline(from: number): number {
    let deadline = this.nextCollection;
    if (this.tracksSessions && this.sessions.sessions.size > 0) deadline = Math.min(deadline, this.nextSessionSweep);
    for (const rule of this.drainSensitive) deadline = Math.min(deadline, this.ruleDeadline(rule, from));
    for (const rule of this.activeRules) {
      if (!rule.drain_sensitive) deadline = Math.min(deadline, this.ruleDeadline(rule, from));
    }
    return deadline;
  }

  /** When `rule` next needs a look: its window moving on (while it holds data), or an alert's hold or delivery. */
  private ruleDeadline(rule: CompiledRule, from: number): number {
    let deadline = Number.POSITIVE_INFINITY;
    const reading = rule.reading;
    if (reading !== null && from <= reading.series.last_fed + reading.span_ms) {
      const nextSlice = rule.checked_slice + 1;
      deadline = Number.isNaN(nextSlice) ? from : Math.max(from, nextSlice * reading.slice_ms);
    }
    for (const instance of rule.alerts.values()) {
      const due = instance.state === "pending" ? instance.active_since + rule.rule.hold_ms : instance.next_delivery;
      if (due < deadline) deadline = due;
    }
    return deadline;
  }

  private hasDueInstance(rule: CompiledRule, now: number): boolean {
    for (const instance of rule.alerts.values()) {
      const due = instance.state === "pending" ? instance.active_since + rule.rule.hold_ms : instance.next_delivery;
      if (due <= now) return true;
    }
    return false;
  }

  /** One evaluation at `now`: alerts that are pending or firing, `<` rules, forgetting quiet groups, idle sessions. */
  private evaluateAll(now: number): void {
    for (const rule of this.drainSensitive) {
      const reading = rule.reading!;
      // A window's value changes with time only when a slice leaves it; between, new exchanges
      // evaluate the rule themselves. Deliveries and holds still need their own moments.
      const slice = Math.floor(now / reading.slice_ms);
      if (slice === rule.checked_slice && (rule.alerts.size === 0 || !this.hasDueInstance(rule, now))) continue;
      rule.checked_slice = slice;
      const groups = reading.series.groups;
      for (const group of groups.values()) {
        group.window.advance(now);
        this.transition(rule, group.key, readingHolds(reading, group), group, now);
      }
      for (const instance of rule.alerts.values()) {
        if (!groups.has(instance.key)) this.transition(rule, instance.key, false, undefined, now);
      }
    }
    // Evaluating an alert can resolve it (deleting from the set, which iteration tolerates) but never
    // starts one for another rule.
    for (const rule of this.activeRules) {
      if (rule.drain_sensitive) continue;
      const reading = rule.reading;
      if (reading === null) {
        // A session's value changes only with its own exchanges and it resolves when the session
        // ends: time alone moves only holds and deliveries.
        for (const instance of rule.alerts.values()) {
          const due = instance.state === "pending" ? instance.active_since + rule.rule.hold_ms : instance.next_delivery;
          if (due > now) continue;
          const session = this.sessions.sessions.get(instance.key);
          this.transition(rule, instance.key, this.sessionHolds(rule, session), session, now);
        }
        continue;
      }
      const slice = Math.floor(now / reading.slice_ms);
      if (slice === rule.checked_slice && !this.hasDueInstance(rule, now)) continue;
      rule.checked_slice = slice;
      const groups = reading.series.groups;
      for (const instance of rule.alerts.values()) {
        const group = groups.get(instance.key);
        group?.window.advance(now);
        this.transition(rule, instance.key, readingHolds(reading, group), group, now);
      }
    }
    if (now >= this.nextCollection) {
      let next = Number.POSITIVE_INFINITY;
      for (const series of this.allSeries) {
        if (now >= series.next_collection) collectGroups(series, now);
        next = Math.min(next, series.next_collection);
      }
      this.nextCollection = next;
    }
    if (this.tracksSessions && now >= this.nextSessionSweep) {
      const idle = this.settings.session_idle_ms;
      this.nextSessionSweep = now + Math.max(1_000, Math.floor(idle / 4));
      for (const session of [...this.sessions.sessions.values()]) {
        if (session.last_ms + idle <= now) this.endSession(session.id, session.last_ms + idle);
      }
    }
  }

  endSession(id: string, time_ms: number): void {
    const session = this.sessions.sessions.get(id);
    if (session === undefined) return;
    this.sessions.sessions.delete(id);
    for (const rule of this.sessionRules) {
      const instance = rule.alerts.get(id);
      if (instance === undefined) continue;
      this.forget(rule, id);
      this.change(
        rule,
        instance,
        "resolved",
        instance.state,
        session,
        Math.max(time_ms, instance.active_since),
        "session ended",
      );
    }
    if (this.settings.baseline_from_sessions && !session.alerted && session.calls > 0) {
      this.book.move(session.agent, "tool_diversity", 0, session.tools.size);
      this.book.move(session.agent, "session_calls", 0, session.calls);
    }
  }

  finish(): void {
    for (const id of [...this.sessions.sessions.keys()]) this.endSession(id, this.clock);
  }

  // ---- controls ----------------------------------------------------------------------------

  silence(request: SilenceRequest): Silence {
    const silence = createSilence(request, this.clock > 0 ? this.clock : Date.now());
    this.apiSilences.push(silence);
    return silence;
  }

  unsilence(id: string): boolean {
    const before = this.apiSilences.length + this.fileSilences.length;
    this.apiSilences = this.apiSilences.filter((silence) => silence.id !== id);
    this.fileSilences = this.fileSilences.filter((silence) => silence.id !== id);
    return this.apiSilences.length + this.fileSilences.length < before;
  }

  listSilences(): Silence[] {
    const now = this.clock > 0 ? this.clock : Date.now();
    this.apiSilences = this.apiSilences.filter((silence) => isSilenceActive(silence, now));
    return [...this.apiSilences, ...this.fileSilences.filter((silence) => isSilenceActive(silence, now))];
  }

  replaceSilences(silences: readonly Silence[]): void {
    this.fileSilences = [...silences];
  }

  active(): ActiveAlert[] {
    const result: ActiveAlert[] = [];
    for (const rule of this.rules) {
      for (const instance of rule.alerts.values()) {
        result.push({
          rule: rule.rule.name,
          group_key: instance.group_key,
          state: instance.state,
          active_since: new Date(instance.active_since).toISOString(),
          labels: { ...instance.event_labels },
        });
      }
    }
    return result;
  }

  countersSnapshot(): AlertEngineCounters {
    const notifiers: Record<string, Record<string, number>> = {};
    for (const notifier of this.notifiers) {
      if (notifier.counters !== undefined) notifiers[notifier.name] = notifier.counters();
    }
    return { ...this.counts, sessions_open: this.sessions.sessions.size, notifiers };
  }

  async forceFlush(): Promise<void> {
    await Promise.all(this.notifiers.map((notifier) => notifier.forceFlush().catch(() => undefined)));
  }

  shutdown(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all(this.notifiers.map((notifier) => notifier.shutdown().catch(() => undefined)));
    })();
    return this.closing;
  }

  api(): AlertEngine {
    const engine = this;
    const observer: ExchangeObserver = {
      name: "alerts",
      observe: (exchange, position) => engine.observe(exchange, position),
      endSession: (session, time_ms) => engine.endSession(session, time_ms),
      learn: (exchange, position) => engine.learn(exchange, position),
    };
    return {
      observer,
      findingSink: (finding) => engine.observeFinding(finding),
      learn: (exchange, position) => engine.learn(exchange, position),
      tick: (now_ms) => engine.advance(now_ms),
      finish: () => engine.finish(),
      silence: (request) => engine.silence(request),
      unsilence: (id) => engine.unsilence(id),
      silences: () => engine.listSilences(),
      replaceSilences: (silences) => engine.replaceSilences(silences),
      active: () => engine.active(),
      baselines: () => engine.book.snapshot(),
      counters: () => engine.countersSnapshot(),
      get now() {
        return engine.clock;
      },
      forceFlush: () => engine.forceFlush(),
      shutdown: () => engine.shutdown(),
    };
  }
}
