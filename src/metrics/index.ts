/**
 * Metrics: in-stream figures on event time, their Prometheus exposition and OTLP trace export.
 * See docs/metrics.md.
 */
export {
  type CrossToolFlowOptions,
  DEFAULT_FLOW_MAXIMUM_PROBES,
  DEFAULT_FLOW_WINDOW_CHARACTERS,
  MINIMUM_PROBE_CHARACTERS,
  SessionFlow,
} from "./cross-tool-flow.js";
export { DDSketch, type DDSketchOptions, DEFAULT_RELATIVE_ACCURACY } from "./dd-sketch.js";
export { LONGEST_WINDOW_MS, WINDOW_RESOLUTIONS, type WindowCoverage, windowCoverage } from "./event-time-windows.js";
export { type ExchangeSignals, exchangeSignals } from "./exchange-signals.js";
export { MCP_DURATION_BOUNDARIES } from "./fixed-histogram.js";
export { OTHER_LABEL_VALUE } from "./label-values.js";
export {
  type AgentBaseline,
  type MetricsCounters,
  MetricsObserver,
  type MetricsObserverOptions,
  type MetricsSnapshot,
  type OperationRow,
  OTHER_ERROR_TYPE,
  type Quantiles,
  type SessionRow,
  type SessionsSummary,
} from "./metrics-observer.js";
export { OperationStats } from "./operation-stats.js";
export {
  createOtlpTraceExporter,
  type OtlpTraceCounters,
  type OtlpTraceExporterOptions,
  type OtlpTraceObserver,
} from "./otlp-trace-exporter.js";
export {
  createMetricsHttpHandler,
  createMetricsRegistry,
  type MetricsHttpHandler,
  type MetricsRegistryOptions,
  type MetricsServer,
  type MetricsServerOptions,
  startMetricsServer,
} from "./prometheus.js";
