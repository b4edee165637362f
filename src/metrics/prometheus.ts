import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { collectDefaultMetrics, type Metric, Registry } from "prom-client";
import type { FixedHistogram } from "./fixed-histogram.js";
import type { MetricsObserver, OperationSeries } from "./metrics-observer.js";
import type { OperationStats } from "./operation-stats.js";

/** What a metrics registry exposes besides the observer's figures. */
export interface MetricsRegistryOptions {
  /**
   * Counts of events lost elsewhere, exposed as `toolwatch_dropped_events_total{component}` and read at
   * scrape time: e.g. `{ store: () => store.counters().dropped, otlp: () => exporter.counters().dropped }`.
   */
  dropped?: Record<string, () => number>;
  /** Also expose the Node.js process metrics (`process_*`, `nodejs_*`). Default false. */
  process_metrics?: boolean;
  /** Register into this registry instead of a new one (to share `/metrics` with other collectors). */
  registry?: Registry;
}

type MetricKind = "counter" | "gauge" | "histogram";

interface Sample {
  metricName?: string;
  labels: Record<string, string | number>;
  value: number;
}

type Labels = Record<string, string>;

/**
 * A metric whose samples are read from toolwatch's own state when Prometheus scrapes, in the shape
 * prom-client's `Registry` formats. prom-client's own classes keep their state themselves and update
 * it on every observation (a label lookup per call), which the capture path cannot afford; reading
 * at scrape time costs nothing between scrapes.
 */
class ScrapedMetric {
  readonly name: string;
  readonly help: string;
  readonly type: MetricKind;
  readonly aggregator = "sum";
  private readonly read: () => Sample[];

  constructor(name: string, help: string, type: MetricKind, read: () => Sample[]) {
    this.name = name;
    this.help = help;
    this.type = type;
    this.read = read;
  }

  async get(): Promise<{ name: string; help: string; type: MetricKind; aggregator: string; values: Sample[] }> {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.read() };
  }

  /** The state is the observer's; a registry reset leaves it alone. */
  reset(): void {}

  collect(): void {}
}

function histogramSamples(name: string, labels: Labels, histogram: FixedHistogram, into: Sample[]): void {
  const cumulative = histogram.cumulative();
  histogram.boundaries.forEach((bound, index) => {
    into.push({ metricName: `${name}_bucket`, labels: { ...labels, le: bound }, value: cumulative[index]! });
  });
  into.push({ metricName: `${name}_bucket`, labels: { ...labels, le: "+Inf" }, value: histogram.count });
  into.push({ metricName: `${name}_sum`, labels, value: histogram.sum });
  into.push({ metricName: `${name}_count`, labels, value: histogram.count });
}

function seriesLabels(series: OperationSeries): Labels {
  return { mcp_server: series.server, mcp_method_name: series.method, gen_ai_tool_name: series.tool ?? "" };
}

/**
 * A prom-client `Registry` whose metrics read `observer` at scrape time. Names follow the OpenTelemetry
 * MCP semantic conventions (`mcp.server.operation.duration` → `mcp_server_operation_duration_seconds`)
 * and `toolwatch_*` for the rest; docs/metrics.md lists them. Label values are capped by the observer,
 * and session ids never become labels.
 */
export function createMetricsRegistry(observer: MetricsObserver, options: MetricsRegistryOptions = {}): Registry {
  const registry = options.registry ?? new Registry();
  if (options.process_metrics) collectDefaultMetrics({ register: registry });
  const add = (name: string, help: string, type: MetricKind, read: () => Sample[]): void => {
    // prom-client types registerMetric for its own classes; the registry itself only calls get() and reset().
    registry.registerMetric(new ScrapedMetric(name, help, type, read) as unknown as Metric);
  };

  add(
    "mcp_server_operation_duration_seconds",
    "MCP request duration as toolwatch saw it, from request to response (OpenTelemetry mcp.server.operation.duration).",
    "histogram",
    () => {
      const samples: Sample[] = [];
      for (const series of observer.series()) {
        for (const [errorType, histogram] of series.durations) {
          histogramSamples(
            "mcp_server_operation_duration_seconds",
            { ...seriesLabels(series), error_type: errorType },
            histogram,
            samples,
          );
        }
      }
      return samples;
    },
  );

  const counter = (name: string, help: string, field: keyof OperationStats): void => {
    add(name, help, "counter", () =>
      observer.series().map((series) => ({ labels: seriesLabels(series), value: series.total[field] as number })),
    );
  };
  counter("toolwatch_requests_total", "Exchanges seen (requests, notifications, protocol errors).", "requests");
  counter("toolwatch_tool_errors_total", "Exchanges whose tool reported failure (isError: true).", "tool_errors");
  counter(
    "toolwatch_server_errors_total",
    "Exchanges that failed at the server: JSON-RPC errors, timeouts, transport failures, cancellations.",
    "server_errors",
  );
  counter("toolwatch_protocol_errors_total", "Messages that broke the protocol.", "protocol_errors");
  counter("toolwatch_dlp_blocks_total", "DLP decisions that blocked or denied an exchange.", "dlp_blocks");
  counter("toolwatch_dlp_redactions_total", "DLP decisions that redacted part of an exchange.", "dlp_redactions");
  counter("toolwatch_policy_denials_total", "Policy decisions that denied or blocked an exchange.", "policy_denials");
  counter("toolwatch_auth_failures_total", "Authentication denials.", "auth_failures");
  counter(
    "toolwatch_cross_tool_flow_bytes_total",
    "Bytes of another tool's earlier output found in the arguments of calls to this tool, same session.",
    "flow_bytes",
  );

  const sessionHistogram = (
    name: string,
    help: string,
    pick: (histograms: ReturnType<MetricsObserver["serverSessionHistogramList"]>[number]) => FixedHistogram,
  ): void => {
    add(name, help, "histogram", () => {
      const samples: Sample[] = [];
      for (const histograms of observer.serverSessionHistogramList()) {
        histogramSamples(name, { mcp_server: histograms.server }, pick(histograms), samples);
      }
      return samples;
    });
  };
  sessionHistogram(
    "mcp_server_session_duration_seconds",
    "Duration of ended sessions, first request to last response (OpenTelemetry mcp.server.session.duration).",
    (histograms) => histograms.duration_seconds,
  );
  sessionHistogram(
    "toolwatch_session_calls",
    "tools/call exchanges per ended session.",
    (histograms) => histograms.calls,
  );
  sessionHistogram(
    "toolwatch_session_flow_bytes",
    "Cross-tool flow bytes per ended session.",
    (histograms) => histograms.flow_bytes,
  );
  add("toolwatch_session_unique_tools", "Distinct tools called per ended session, by agent type.", "histogram", () => {
    const samples: Sample[] = [];
    for (const agent of observer.agentHistogramList()) {
      histogramSamples("toolwatch_session_unique_tools", { agent: agent.agent }, agent.unique_tools, samples);
    }
    return samples;
  });
  add(
    "toolwatch_session_unique_tools_baseline",
    "Learned distribution of distinct tools per session by agent type (quantile 0.5 and 0.95).",
    "gauge",
    () =>
      observer.sessionsSummary().baselines.flatMap((baseline) => [
        { labels: { agent: baseline.agent, quantile: "0.5" }, value: baseline.unique_tools_p50 },
        { labels: { agent: baseline.agent, quantile: "0.95" }, value: baseline.unique_tools_p95 },
      ]),
  );
  add("toolwatch_findings_total", "Findings raised by the detectors.", "counter", () =>
    observer.findings().map(({ category, severity, detector, count }) => ({
      labels: { category, severity, detector },
      value: count,
    })),
  );
  add("toolwatch_sessions_open", "Sessions open now.", "gauge", () => [
    { labels: {}, value: observer.counters().sessions_open },
  ]);
  add(
    "toolwatch_label_overflow_total",
    "Values folded into _other because a label reached its cap of distinct values.",
    "counter",
    () => Object.entries(observer.counters().label_overflow).map(([label, value]) => ({ labels: { label }, value })),
  );
  add(
    "toolwatch_metrics_late_exchanges_total",
    "Exchanges that arrived too late for a window bucket (still in the cumulative counters).",
    "counter",
    () => [{ labels: {}, value: observer.counters().late_exchanges }],
  );
  const dropped = options.dropped ?? {};
  add(
    "toolwatch_dropped_events_total",
    "Events lost by a component (full queue, failed write or export), by component.",
    "counter",
    () =>
      Object.entries(dropped).map(([component, read]) => {
        let value = 0;
        try {
          value = read();
        } catch {
          // A source that cannot answer shows 0 rather than failing the whole scrape.
        }
        return { labels: { component }, value };
      }),
  );
  return registry;
}

/** Handles one HTTP request for the metrics; the caller decides which path routes here. */
export type MetricsHttpHandler = (request: IncomingMessage, response: ServerResponse) => void;

/**
 * A node:http handler answering `GET` (and `HEAD`) with the Prometheus exposition of `source`; other
 * methods get 405. Never throws: a failed scrape answers 500.
 */
export function createMetricsHttpHandler(
  source: MetricsObserver | Registry,
  options: MetricsRegistryOptions = {},
): MetricsHttpHandler {
  const registry = source instanceof Registry ? source : createMetricsRegistry(source, options);
  return (request, response) => {
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" });
      response.end("method not allowed\n");
      return;
    }
    registry.metrics().then(
      (text) => {
        response.writeHead(200, { "content-type": registry.contentType, "cache-control": "no-store" });
        response.end(request.method === "HEAD" ? undefined : text);
      },
      (error: unknown) => {
        response.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
        response.end(`metrics unavailable: ${(error as Error)?.message ?? String(error)}\n`);
      },
    );
  };
}

/** What {@link startMetricsServer} serves, and where. */
export interface MetricsServerOptions extends MetricsRegistryOptions {
  /** What to expose: an observer (a registry is made for it) or a ready registry. */
  source: MetricsObserver | Registry;
  /** Default 127.0.0.1: metrics reveal tool names and traffic, so they stay local unless asked. */
  host?: string;
  /** 0 picks a free port. */
  port: number;
}

/** A running metrics endpoint. */
export interface MetricsServer {
  /** `http://host:port/metrics`. */
  readonly url: string;
  readonly port: number;
  /** Stops listening and closes open connections. Idempotent. */
  close(): Promise<void>;
}

/**
 * Serves `GET /metrics` on its own port, for the stdio proxy's `--metrics-port` (the gateway mounts
 * {@link createMetricsHttpHandler} on its own server instead). Other paths answer 404.
 */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const { source, host = "127.0.0.1", port, ...registryOptions } = options;
  const handler = createMetricsHttpHandler(source, { process_metrics: true, ...registryOptions });
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    if (path !== "/metrics") {
      response.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
      response.end("not found: the metrics are at /metrics\n");
      return;
    }
    handler(request, response);
  });
  server.listen(port, host);
  await once(server, "listening");
  const address = server.address() as AddressInfo;
  const shownHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${shownHost}:${address.port}/metrics`,
    port: address.port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
