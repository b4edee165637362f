import type { ExchangeObserver, ExchangePosition } from "../core/detector.js";
import type { CapturedExchange } from "../core/exchange.js";
import type { Finding } from "../core/finding.js";
import { type CrossToolFlowOptions, type FlowLimits, flowLimits, SessionFlow } from "./cross-tool-flow.js";
import { DDSketch } from "./dd-sketch.js";
import { EventTimeWindows, type WindowCoverage, windowCoverage } from "./event-time-windows.js";
import { type ExchangeSignals, exchangeSignals } from "./exchange-signals.js";
import {
  FixedHistogram,
  FLOW_BYTES_BOUNDARIES,
  MCP_DURATION_BOUNDARIES,
  SESSION_CALLS_BOUNDARIES,
  UNIQUE_TOOLS_BOUNDARIES,
} from "./fixed-histogram.js";
import { LabelValues, OTHER_LABEL_VALUE } from "./label-values.js";
import { nameHash } from "./name-hash.js";
import { OperationStats } from "./operation-stats.js";

/** The `error.type` value past the cap of distinct error types of a series (the semantic conventions' fallback). */
export const OTHER_ERROR_TYPE = "_OTHER";

/** Caps that bound the observer's memory and the exported label values, and the flow limits. */
export interface MetricsObserverOptions {
  /** Distinct (server, tool) pairs kept before further tools of a server fold into `_other`. Default 1,000. */
  maximum_tools?: number;
  /** Distinct servers kept before further ones fold into `_other`. Default 100. */
  maximum_servers?: number;
  /** Distinct methods kept before further ones fold into `_other`. Default 64. */
  maximum_methods?: number;
  /** Distinct `error.type` values per series before further ones fold into `_OTHER`. Default 16. */
  maximum_error_types?: number;
  /** Distinct agent types with a baseline before further ones fold into `_other`. Default 100. */
  maximum_agents?: number;
  /** Sessions tracked at once; exchanges of further sessions still count, but not per session. Default 100,000. */
  maximum_open_sessions?: number;
  /** Distinct tools counted per session; the count stops growing there. Default 1,024. */
  maximum_tools_per_session?: number;
  /** Cross-tool flow limits, or `false` to not measure flow. */
  flow?: CrossToolFlowOptions | false;
}

/** One `tools/call` tool, one other method, one server or everything, over a window or since the start. */
export interface OperationRow {
  server: string;
  /** `tools/call` for tool and server rows, the method for method rows, `*` for the total. */
  method: string;
  tool: string | null;
  /** Exchanges of any kind. */
  requests: number;
  /** `tools/call` exchanges. */
  calls: number;
  calls_per_minute: number;
  errors: number;
  /** The tool said it failed (`isError: true`). */
  tool_errors: number;
  /** JSON-RPC errors, timeouts, transport failures, cancellations. */
  server_errors: number;
  protocol_errors: number;
  /** `errors / requests`; 0 without requests. */
  error_rate: number;
  tool_error_rate: number;
  server_error_rate: number;
  /** Exchanges with a duration (the latency quantiles are over these). */
  latency_count: number;
  latency_p50_seconds: number | null;
  latency_p95_seconds: number | null;
  latency_p99_seconds: number | null;
  latency_max_seconds: number | null;
  dlp_blocks: number;
  dlp_blocks_per_minute: number;
  dlp_redactions: number;
  policy_denials: number;
  /** `policy_denials / requests`; 0 without requests. */
  policy_denial_rate: number;
  auth_failures: number;
  /** Bytes of other tools' output found in these exchanges' arguments. */
  flow_bytes: number;
}

/** p50 / p95 / p99 of a distribution; `null`s when nothing was measured. */
export interface Quantiles {
  count: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
  sum: number;
}

/** The learned distribution of distinct tools per session for one agent type. */
export interface AgentBaseline {
  /** The agent type (`agent` of the exchanges); `""` for sessions without one. */
  agent: string;
  sessions: number;
  unique_tools_p50: number;
  unique_tools_p95: number;
  unique_tools_max: number;
}

/** Distributions over ended sessions, since the observer started. */
export interface SessionsSummary {
  open: number;
  ended: number;
  duration_seconds: Quantiles;
  calls: Quantiles;
  unique_tools: Quantiles;
  flow_bytes: Quantiles;
  baselines: AgentBaseline[];
}

/** What metrics hold about one open session. */
export interface SessionRow {
  session: string;
  server: string;
  agent: string | null;
  user: string | null;
  source: string | null;
  start_ms: number;
  /** Time of the latest response (or message) of the session. */
  last_ms: number;
  duration_seconds: number;
  exchanges: number;
  calls: number;
  unique_tools: number;
  errors: number;
  dlp_blocks: number;
  policy_denials: number;
  auth_failures: number;
  flow_bytes: number;
}

/** Rows over one window (or since the start), built by {@link MetricsObserver.snapshot}. */
export interface MetricsSnapshot {
  now_ms: number;
  /** The window answered, or `null` for everything since the start. */
  window_ms: number | null;
  /** Start of the event time counted: the oldest bucket of the window, or the first exchange. */
  from_ms: number;
  /** One row per (server, tool) of `tools/call`, by server then tool. */
  tools: OperationRow[];
  /** One row per (server, method) for the methods other than `tools/call`. */
  methods: OperationRow[];
  /** One row per server over its `tools/call` exchanges. */
  servers: OperationRow[];
  /** Every exchange of every server and method. */
  total: OperationRow;
  sessions: SessionsSummary;
}

/** Counts about the metrics themselves. */
export interface MetricsCounters {
  exchanges: number;
  /** Exchanges too old for at least one window ring when they arrived (still in the cumulative figures). */
  late_exchanges: number;
  sessions_open: number;
  sessions_ended: number;
  /** Exchanges of sessions past `maximum_open_sessions`, counted without per-session figures. */
  untracked_session_exchanges: number;
  /** Values folded into `_other` / `_OTHER` by label: exchanges for server, tool, method and error type; ended sessions for agent. */
  label_overflow: Record<"server" | "tool" | "method" | "error_type" | "agent", number>;
}

/** One (server, method, tool) with its cumulative figures, windows and Prometheus histograms. */
export class OperationSeries {
  readonly server: string;
  readonly method: string;
  readonly tool: string | null;
  /** {@link nameHash} of {@link tool} (0 without one), so that each call does not hash its tool's name again. */
  readonly toolHash: number;
  readonly total = new OperationStats();
  readonly windows = new EventTimeWindows();
  /** `mcp.server.operation.duration` by `error.type` (`""` on success). */
  readonly durations = new Map<string, FixedHistogram>();

  constructor(server: string, method: string, tool: string | null) {
    this.server = server;
    this.method = method;
    this.tool = tool;
    this.toolHash = tool === null ? 0 : nameHash(tool);
  }
}

/**
 * {@link nameHash} of `tool`, taken from its series when the series is named by exactly that tool
 * (not truncated or folded into the overflow label): hashing the name anew costs more than comparing it.
 */
function toolHashOf(series: OperationSeries, tool: string): number {
  return series.tool === tool ? series.toolHash : nameHash(tool);
}

/** Per-server Prometheus histograms of ended sessions. */
export interface ServerSessionHistograms {
  readonly server: string;
  readonly duration_seconds: FixedHistogram;
  readonly calls: FixedHistogram;
  readonly flow_bytes: FixedHistogram;
}

/** Per-agent distribution of distinct tools per session. */
export interface AgentHistograms {
  readonly agent: string;
  readonly unique_tools: FixedHistogram;
  readonly sketch: DDSketch;
}

interface ServerEntry {
  name: string;
  calls: Map<string, OperationSeries>;
  methods: Map<string, OperationSeries>;
}

interface SessionState {
  session: string;
  server: string;
  agent: string | null;
  user: string | null;
  source: string | null;
  start_ms: number;
  last_ms: number;
  exchanges: number;
  calls: number;
  errors: number;
  /** {@link nameHash} of each distinct tool called. */
  tools: Set<number>;
  dlp_blocks: number;
  policy_denials: number;
  auth_failures: number;
  flow_bytes: number;
  flow: SessionFlow | null;
}

const NO_TOOL = "";

/**
 * In-stream metrics as an {@link ExchangeObserver}: every figure is computed on event time (the
 * position's `time_ms`) from {@link exchangeSignals}, so a replay reproduces what the live run showed.
 *
 * Keeps per (server, method, tool) series cumulative counts, a latency DDSketch (1% relative error),
 * rolling windows (1 s, 5 s and 1 min buckets answering windows up to 1 m, 5 m and 1 h) and fixed
 * histograms for Prometheus; per open session its counts, distinct tools and cross-tool flow; per
 * ended session distributions of duration, calls, distinct tools (with a baseline per agent type) and
 * flow bytes. Read it with {@link snapshot}, {@link openSessions}, {@link baseline}; `prometheus.ts`
 * exposes it. docs/metrics.md describes every figure.
 */
export class MetricsObserver implements ExchangeObserver {
  readonly name = "metrics";
  private readonly servers = new Map<string, ServerEntry>();
  private readonly allSeries: OperationSeries[] = [];
  private readonly serverLabels: LabelValues;
  private readonly methodLabels: LabelValues;
  private readonly agentLabels: LabelValues;
  private readonly maximumTools: number;
  private readonly maximumErrorTypes: number;
  private readonly maximumOpenSessions: number;
  private readonly maximumToolsPerSession: number;
  private readonly flowLimits: FlowLimits | null;
  private toolSeries = 0;
  private toolOverflow = 0;
  private errorTypeOverflow = 0;

  private readonly sessions = new Map<string, SessionState>();
  private readonly findingCounts = new Map<string, number>();
  private readonly learning = new Map<string, { agent: string | null; tools: Set<number> }>();
  private readonly sessionDurations = new DDSketch();
  private readonly sessionCalls = new DDSketch();
  private readonly sessionUniqueTools = new DDSketch();
  private readonly sessionFlowBytes = new DDSketch();
  private readonly serverSessions = new Map<string, ServerSessionHistograms>();
  private readonly agents = new Map<string, AgentHistograms>();

  private exchanges = 0;
  private lateExchanges = 0;
  private untrackedExchanges = 0;
  private endedSessions = 0;
  private firstMs = Number.POSITIVE_INFINITY;
  private lastMs = Number.NEGATIVE_INFINITY;

  constructor(options: MetricsObserverOptions = {}) {
    this.serverLabels = new LabelValues("mcp_server", options.maximum_servers ?? 100);
    this.methodLabels = new LabelValues("mcp_method_name", options.maximum_methods ?? 64);
    this.agentLabels = new LabelValues("agent", options.maximum_agents ?? 100);
    this.maximumTools = Math.max(0, options.maximum_tools ?? 1_000);
    this.maximumErrorTypes = Math.max(1, options.maximum_error_types ?? 16);
    this.maximumOpenSessions = Math.max(0, options.maximum_open_sessions ?? 100_000);
    this.maximumToolsPerSession = Math.max(1, options.maximum_tools_per_session ?? 1_024);
    this.flowLimits = options.flow === false ? null : flowLimits(options.flow);
  }

  /** The latest event time seen, ms since the epoch (`-Infinity` before the first exchange). */
  get now_ms(): number {
    return this.lastMs;
  }

  observe(exchange: CapturedExchange, position: ExchangePosition): void {
    const time_ms = position.time_ms;
    const signals = exchangeSignals(exchange);
    const series = this.seriesOf(exchange, signals);
    this.exchanges++;
    if (time_ms < this.firstMs) this.firstMs = time_ms;
    if (time_ms > this.lastMs) this.lastMs = time_ms;

    const session = this.sessionOf(exchange, series.server, time_ms);
    let flowBytes = 0;
    if (session !== null) {
      const toolHash = signals.is_call ? toolHashOf(series, exchange.tool ?? NO_TOOL) : 0;
      flowBytes = this.trackFlow(session, exchange, signals, toolHash);
      this.updateSession(session, exchange, signals, time_ms, flowBytes, toolHash);
    }

    const latency = signals.latency_seconds;
    const latencyKey = latency === null ? null : series.total.latency.keyOf(latency);
    series.total.add(signals, latencyKey, flowBytes);
    if (!series.windows.add(time_ms, signals, latencyKey, flowBytes)) this.lateExchanges++;
    if (latency !== null) this.durationHistogram(series, signals.error_type).add(latency);
  }

  endSession(session: string, _time_ms: number): void {
    const state = this.sessions.get(session);
    if (state === undefined) return;
    this.sessions.delete(session);
    this.endedSessions++;
    // From the first message to the last answer: the idle time before an idle session is ended is not the session's.
    const duration = Math.max(0, state.last_ms - state.start_ms) / 1000;
    this.sessionDurations.add(duration);
    this.sessionCalls.add(state.calls);
    this.sessionUniqueTools.add(state.tools.size);
    this.sessionFlowBytes.add(state.flow_bytes);
    const server = this.serverSessionHistograms(state.server);
    server.duration_seconds.add(duration);
    server.calls.add(state.calls);
    server.flow_bytes.add(state.flow_bytes);
    this.recordBaseline(state.agent, state.tools.size);
  }

  /** Ends every open session (end of a replay or of `toolwatch stats`), as the pipeline's `finish` does. */
  endAllSessions(time_ms = this.lastMs): void {
    for (const session of [...this.sessions.keys()]) this.endSession(session, time_ms);
  }

  /**
   * Learns the baseline of distinct tools per session from known-normal traffic (`replay --baseline`):
   * nothing else is counted. The sessions learned enter the baseline at {@link finishLearning}.
   */
  learn(exchange: CapturedExchange): void {
    let state = this.learning.get(exchange.session);
    if (state === undefined) {
      if (this.learning.size >= this.maximumOpenSessions) return;
      state = { agent: exchange.agent, tools: new Set() };
      this.learning.set(exchange.session, state);
    }
    if (
      exchange.method === "tools/call" &&
      exchange.kind !== "protocol_error" &&
      state.tools.size < this.maximumToolsPerSession
    ) {
      state.tools.add(nameHash(exchange.tool ?? NO_TOOL));
    }
  }

  /** Adds every session given to {@link learn} to the baselines. */
  finishLearning(): void {
    for (const state of this.learning.values()) this.recordBaseline(state.agent, state.tools.size);
    this.learning.clear();
  }

  /**
   * The rows over the window of `window_ms` ending at `now_ms` (event time), or since the start when
   * `window_ms` is omitted. Windows longer than an hour are answered for an hour; see
   * {@link windowCoverage} for how a window falls on buckets. Rates are per minute of the window
   * (since the start: of the span from the first exchange to `now_ms`, at least one minute).
   * Costs a merge of every series' buckets: take one snapshot per evaluation and read it many times.
   */
  snapshot(now_ms: number = Number.isFinite(this.lastMs) ? this.lastMs : 0, window_ms?: number): MetricsSnapshot {
    const coverage = window_ms === undefined ? null : windowCoverage(now_ms, window_ms);
    const minutes = coverage === null ? Math.max(1, (now_ms - this.firstMs) / 60_000) : coverage.window_ms / 60_000;
    const tools: OperationRow[] = [];
    const methods: OperationRow[] = [];
    const servers: OperationRow[] = [];
    const total = new OperationStats();
    const serverNames = [...this.servers.keys()].sort();
    for (const serverName of serverNames) {
      const entry = this.servers.get(serverName)!;
      const serverStats = new OperationStats();
      for (const toolName of [...entry.calls.keys()].sort()) {
        const stats = this.statsOf(entry.calls.get(toolName)!, now_ms, coverage);
        tools.push(operationRow(serverName, "tools/call", toolName, stats, minutes));
        serverStats.merge(stats);
      }
      for (const methodName of [...entry.methods.keys()].sort()) {
        const stats = this.statsOf(entry.methods.get(methodName)!, now_ms, coverage);
        methods.push(operationRow(serverName, methodName, null, stats, minutes));
        total.merge(stats);
      }
      if (entry.calls.size > 0) servers.push(operationRow(serverName, "tools/call", null, serverStats, minutes));
      total.merge(serverStats);
    }
    return {
      now_ms,
      window_ms: coverage === null ? null : coverage.window_ms,
      from_ms: coverage === null ? (Number.isFinite(this.firstMs) ? this.firstMs : now_ms) : coverage.counts.from_ms,
      tools,
      methods,
      servers,
      total: operationRow("*", "*", null, total, minutes),
      sessions: this.sessionsSummary(),
    };
  }

  /** Distributions over the sessions ended so far and the baselines. */
  sessionsSummary(): SessionsSummary {
    return {
      open: this.sessions.size,
      ended: this.endedSessions,
      duration_seconds: quantiles(this.sessionDurations, false),
      calls: quantiles(this.sessionCalls, true),
      unique_tools: quantiles(this.sessionUniqueTools, true),
      flow_bytes: quantiles(this.sessionFlowBytes, false),
      baselines: [...this.agents.keys()].sort().map((agent) => this.baseline(agent)!),
    };
  }

  /** The open sessions, as metrics see them. */
  openSessions(): SessionRow[] {
    return [...this.sessions.values()].map(sessionRow);
  }

  /** One open session, or `null` when it is not open (or not tracked). */
  session(session: string): SessionRow | null {
    const state = this.sessions.get(session);
    return state === undefined ? null : sessionRow(state);
  }

  /**
   * The baseline of distinct tools per session for an agent type (`null` agent: sessions without
   * one), or `null` before any session of that type ended or was learned. Quantiles are rounded to
   * whole tools; the sketch's 1% error makes them exact below 50 tools.
   */
  baseline(agent: string | null): AgentBaseline | null {
    const key = agent ?? "";
    const folded = this.agentLabels.size >= this.agentLabels.maximum;
    const histograms = this.agents.get(key) ?? (folded ? this.agents.get(OTHER_LABEL_VALUE) : undefined);
    if (histograms === undefined || histograms.sketch.count === 0) return null;
    return {
      agent: histograms.agent,
      sessions: histograms.sketch.count,
      unique_tools_p50: Math.round(histograms.sketch.quantile(0.5)),
      unique_tools_p95: Math.round(histograms.sketch.quantile(0.95)),
      unique_tools_max: histograms.sketch.max,
    };
  }

  /** Counts about the metrics themselves: late exchanges, sessions, label values folded by the caps. */
  /**
   * Counts a finding for `toolwatch_findings_total` (add to the pipeline's finding sinks). The labels are
   * bounded: categories and severities are fixed sets, and detectors are few and named in code.
   */
  recordFinding(finding: Finding): void {
    const key = `${finding.category}\u0000${finding.severity}\u0000${finding.detector}`;
    this.findingCounts.set(key, (this.findingCounts.get(key) ?? 0) + 1);
  }

  /** Findings seen so far by category, severity and detector. */
  findings(): Array<{ category: string; severity: string; detector: string; count: number }> {
    return [...this.findingCounts].map(([key, count]) => {
      const [category = "", severity = "", detector = ""] = key.split("\u0000");
      return { category, severity, detector, count };
    });
  }

  counters(): MetricsCounters {
    return {
      exchanges: this.exchanges,
      late_exchanges: this.lateExchanges,
      sessions_open: this.sessions.size,
      sessions_ended: this.endedSessions,
      untracked_session_exchanges: this.untrackedExchanges,
      label_overflow: {
        server: this.serverLabels.overflow,
        tool: this.toolOverflow,
        method: this.methodLabels.overflow,
        error_type: this.errorTypeOverflow,
        agent: this.agentLabels.overflow,
      },
    };
  }

  /** Every series, for exporters. */
  series(): readonly OperationSeries[] {
    return this.allSeries;
  }

  /** Histograms of ended sessions per server, for exporters. */
  serverSessionHistogramList(): ServerSessionHistograms[] {
    return [...this.serverSessions.values()];
  }

  /** Distinct tools per session per agent type, for exporters. */
  agentHistogramList(): AgentHistograms[] {
    return [...this.agents.values()];
  }

  private statsOf(series: OperationSeries, now_ms: number, coverage: WindowCoverage | null): OperationStats {
    if (coverage === null) return series.total;
    const stats = new OperationStats();
    series.windows.collect(now_ms, coverage, stats);
    return stats;
  }

  private seriesOf(exchange: CapturedExchange, signals: ExchangeSignals): OperationSeries {
    let server = this.servers.get(exchange.server);
    if (server === undefined) {
      const name = this.serverLabels.admit(exchange.server);
      server = this.servers.get(name);
      if (server === undefined) {
        server = { name, calls: new Map(), methods: new Map() };
        this.servers.set(name, server);
      }
    }
    if (signals.is_call) {
      const tool = exchange.tool ?? NO_TOOL;
      const series = server.calls.get(tool);
      return series ?? this.newToolSeries(server, tool);
    }
    const method = exchange.method ?? "";
    let series = server.methods.get(method);
    if (series === undefined) {
      const name = this.methodLabels.admit(method);
      series = server.methods.get(name);
      if (series === undefined) {
        series = new OperationSeries(server.name, name, null);
        server.methods.set(name, series);
        this.allSeries.push(series);
      }
    }
    return series;
  }

  private newToolSeries(server: ServerEntry, tool: string): OperationSeries {
    let name = tool.length > 128 ? tool.slice(0, 128) : tool;
    let series = server.calls.get(name);
    if (series !== undefined) return series;
    if (this.toolSeries >= this.maximumTools) {
      this.toolOverflow++;
      name = OTHER_LABEL_VALUE;
      series = server.calls.get(name);
      if (series !== undefined) return series;
    } else {
      this.toolSeries++;
    }
    series = new OperationSeries(server.name, "tools/call", name);
    server.calls.set(name, series);
    this.allSeries.push(series);
    return series;
  }

  private durationHistogram(series: OperationSeries, errorType: string): FixedHistogram {
    let histogram = series.durations.get(errorType);
    if (histogram !== undefined) return histogram;
    let key = errorType;
    if (series.durations.size >= this.maximumErrorTypes) {
      this.errorTypeOverflow++;
      key = OTHER_ERROR_TYPE;
      histogram = series.durations.get(key);
      if (histogram !== undefined) return histogram;
    }
    histogram = new FixedHistogram(MCP_DURATION_BOUNDARIES);
    series.durations.set(key, histogram);
    return histogram;
  }

  /** @param server the exchange's server as admitted under the label cap. */
  private sessionOf(exchange: CapturedExchange, server: string, time_ms: number): SessionState | null {
    const existing = this.sessions.get(exchange.session);
    if (existing !== undefined) return existing;
    if (this.sessions.size >= this.maximumOpenSessions) {
      this.untrackedExchanges++;
      return null;
    }
    const state: SessionState = {
      session: exchange.session,
      server,
      agent: exchange.agent,
      user: exchange.user,
      source: exchange.source ?? null,
      start_ms: time_ms,
      last_ms: time_ms,
      exchanges: 0,
      calls: 0,
      errors: 0,
      tools: new Set(),
      dlp_blocks: 0,
      policy_denials: 0,
      auth_failures: 0,
      flow_bytes: 0,
      flow: null,
    };
    this.sessions.set(exchange.session, state);
    return state;
  }

  /** @param toolHash {@link nameHash} of the exchange's tool. */
  private trackFlow(
    session: SessionState,
    exchange: CapturedExchange,
    signals: ExchangeSignals,
    toolHash: number,
  ): number {
    if (this.flowLimits === null || !signals.is_call) return 0;
    let bytes = 0;
    const argumentsObject = exchange.arguments;
    if (
      session.flow !== null &&
      argumentsObject !== null &&
      argumentsObject !== undefined &&
      typeof argumentsObject === "object"
    ) {
      bytes = session.flow.measureArgumentsOfTool(toolHash, argumentsObject);
    }
    const result = exchange.result;
    if (!signals.is_error && typeof result === "string") {
      session.flow ??= new SessionFlow(this.flowLimits);
      session.flow.addResultOfTool(toolHash, result);
    }
    return bytes;
  }

  private updateSession(
    session: SessionState,
    exchange: CapturedExchange,
    signals: ExchangeSignals,
    time_ms: number,
    flowBytes: number,
    toolHash: number,
  ): void {
    session.exchanges++;
    if (time_ms < session.start_ms) session.start_ms = time_ms;
    const end = time_ms + (exchange.duration_ms ?? 0);
    if (end > session.last_ms) session.last_ms = end;
    if (session.agent === null && exchange.agent !== null) session.agent = exchange.agent;
    if (session.user === null && exchange.user !== null) session.user = exchange.user;
    if (session.source === null && typeof exchange.source === "string") session.source = exchange.source;
    if (signals.is_call) {
      session.calls++;
      if (session.tools.size < this.maximumToolsPerSession) session.tools.add(toolHash);
    }
    if (signals.is_error) session.errors++;
    session.dlp_blocks += signals.dlp_blocks;
    session.policy_denials += signals.policy_denials;
    session.auth_failures += signals.auth_failures;
    session.flow_bytes += flowBytes;
  }

  private serverSessionHistograms(server: string): ServerSessionHistograms {
    let histograms = this.serverSessions.get(server);
    if (histograms === undefined) {
      histograms = {
        server,
        duration_seconds: new FixedHistogram(MCP_DURATION_BOUNDARIES),
        calls: new FixedHistogram(SESSION_CALLS_BOUNDARIES),
        flow_bytes: new FixedHistogram(FLOW_BYTES_BOUNDARIES),
      };
      this.serverSessions.set(server, histograms);
    }
    return histograms;
  }

  private recordBaseline(agent: string | null, uniqueTools: number): void {
    const name = this.agentLabels.admit(agent ?? "");
    let histograms = this.agents.get(name);
    if (histograms === undefined) {
      histograms = { agent: name, unique_tools: new FixedHistogram(UNIQUE_TOOLS_BOUNDARIES), sketch: new DDSketch() };
      this.agents.set(name, histograms);
    }
    histograms.unique_tools.add(uniqueTools);
    histograms.sketch.add(uniqueTools);
  }
}

function rate(part: number, whole: number): number {
  return whole > 0 ? part / whole : 0;
}

function finiteOrNull(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}

function operationRow(
  server: string,
  method: string,
  tool: string | null,
  stats: OperationStats,
  minutes: number,
): OperationRow {
  const latency = stats.latency;
  return {
    server,
    method,
    tool,
    requests: stats.requests,
    calls: stats.calls,
    calls_per_minute: stats.calls / minutes,
    errors: stats.errors,
    tool_errors: stats.tool_errors,
    server_errors: stats.server_errors,
    protocol_errors: stats.protocol_errors,
    error_rate: rate(stats.errors, stats.requests),
    tool_error_rate: rate(stats.tool_errors, stats.requests),
    server_error_rate: rate(stats.server_errors, stats.requests),
    latency_count: latency.count,
    latency_p50_seconds: finiteOrNull(latency.quantile(0.5)),
    latency_p95_seconds: finiteOrNull(latency.quantile(0.95)),
    latency_p99_seconds: finiteOrNull(latency.quantile(0.99)),
    latency_max_seconds: finiteOrNull(latency.max),
    dlp_blocks: stats.dlp_blocks,
    dlp_blocks_per_minute: stats.dlp_blocks / minutes,
    dlp_redactions: stats.dlp_redactions,
    policy_denials: stats.policy_denials,
    policy_denial_rate: rate(stats.policy_denials, stats.requests),
    auth_failures: stats.auth_failures,
    flow_bytes: stats.flow_bytes,
  };
}

function quantiles(sketch: DDSketch, whole: boolean): Quantiles {
  const read = (q: number): number | null => {
    const value = sketch.quantile(q);
    if (!Number.isFinite(value)) return null;
    return whole ? Math.round(value) : value;
  };
  return {
    count: sketch.count,
    p50: read(0.5),
    p95: read(0.95),
    p99: read(0.99),
    max: finiteOrNull(sketch.max),
    sum: sketch.sum,
  };
}

function sessionRow(state: SessionState): SessionRow {
  return {
    session: state.session,
    server: state.server,
    agent: state.agent,
    user: state.user,
    source: state.source,
    start_ms: state.start_ms,
    last_ms: state.last_ms,
    duration_seconds: Math.max(0, state.last_ms - state.start_ms) / 1000,
    exchanges: state.exchanges,
    calls: state.calls,
    unique_tools: state.tools.size,
    errors: state.errors,
    dlp_blocks: state.dlp_blocks,
    policy_denials: state.policy_denials,
    auth_failures: state.auth_failures,
    flow_bytes: state.flow_bytes,
  };
}
