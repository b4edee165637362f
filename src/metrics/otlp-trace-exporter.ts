import { type Attributes, SpanKind, SpanStatusCode, TraceFlags } from "@opentelemetry/api";
import { type ExportResult, ExportResultCode } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
} from "@opentelemetry/sdk-trace-base";
import type { ExchangeObserver, ExchangePosition } from "../core/detector.js";
import type { CapturedExchange } from "../core/exchange.js";
import { exchangeSignals } from "./exchange-signals.js";

/**
 * Attribute names of the OpenTelemetry MCP semantic conventions (development status). They live in
 * `@opentelemetry/semantic-conventions/incubating`, which OpenTelemetry asks users to copy rather
 * than import because it changes between minor versions.
 */
export const MCP_ATTRIBUTES = {
  method: "mcp.method.name",
  session: "mcp.session.id",
  protocolVersion: "mcp.protocol.version",
  resourceUri: "mcp.resource.uri",
  toolName: "gen_ai.tool.name",
  promptName: "gen_ai.prompt.name",
  operationName: "gen_ai.operation.name",
  errorType: "error.type",
  requestId: "jsonrpc.request.id",
  responseStatusCode: "rpc.response.status_code",
  networkTransport: "network.transport",
  clientAddress: "client.address",
} as const;

/** Where spans go and how they are batched. */
export interface OtlpTraceExporterOptions {
  /** OTLP/HTTP traces endpoint. Default `http://localhost:4318/v1/traces`. */
  url?: string;
  /** Sent with every export (an API key, for instance). */
  headers?: Record<string, string>;
  /** `service.name` of the resource. Default `toolwatch`. */
  service_name?: string;
  /** Spans waiting for export; past it, spans are dropped and counted. Default 2,048. */
  max_queue_size?: number;
  /** Spans per export request. Default 512. */
  max_export_batch_size?: number;
  /** How often a batch leaves. Default 1,000 ms. */
  scheduled_delay_ms?: number;
  /** How long one export may take. Default 10,000 ms. */
  export_timeout_ms?: number;
  /** Told once per burst of failed exports or drops; defaults to stderr. */
  onError?: (message: string) => void;
  /** Where spans go; defaults to the OTLP/HTTP (JSON) exporter for `url`. Tests and other protocols plug in here. */
  exporter?: SpanExporter;
}

/** What happened to the spans handed to the exporter. */
export interface OtlpTraceCounters {
  /** Spans queued for export (one per exchange, unless a sampler left it out). */
  spans: number;
  /** Spans the receiver accepted. */
  exported: number;
  /** Spans in export requests that failed. */
  failed: number;
  /** Spans dropped because the queue was full. */
  dropped: number;
}

/** An exchange observer that exports one span per exchange; flush and shut it down with the pipeline. */
export interface OtlpTraceObserver extends ExchangeObserver {
  counters(): OtlpTraceCounters;
  /** Exports whatever is queued; resolves (never rejects) once the exports have succeeded or failed. */
  forceFlush(): Promise<void>;
  /** Flushes and stops. Idempotent. */
  shutdown(): Promise<void>;
}

const REPORT_INTERVAL_MS = 10_000;

/**
 * One OpenTelemetry span per exchange, batched to an OTLP/HTTP receiver, following the MCP semantic
 * conventions: name `{mcp.method.name} {target}` (target: the tool or prompt name), start and end
 * from the record's `time` and `duration_ms`, status ERROR with `error.type` on failure.
 *
 * Never blocks or throws into the call: spans queue in memory (`max_queue_size`), a full queue drops
 * and counts, failed exports are counted, and both are reported once per burst.
 */
export function createOtlpTraceExporter(options: OtlpTraceExporterOptions = {}): OtlpTraceObserver {
  const {
    url = "http://localhost:4318/v1/traces",
    headers = {},
    service_name = "toolwatch",
    max_queue_size = 2048,
    max_export_batch_size = 512,
    scheduled_delay_ms = 1_000,
    export_timeout_ms = 10_000,
    onError = (message: string) => process.stderr.write(`toolwatch: ${message}\n`),
  } = options;
  const counts: OtlpTraceCounters = { spans: 0, exported: 0, failed: 0, dropped: 0 };
  let handedToExporter = 0;
  let lastReport = 0;
  let unreported = 0;
  const report = (message: string): void => {
    const now = Date.now();
    if (now - lastReport < REPORT_INTERVAL_MS) {
      unreported++;
      return;
    }
    lastReport = now;
    onError(unreported > 0 ? `${message} (and ${unreported} more problems since the last report)` : message);
    unreported = 0;
  };

  const target = options.exporter ?? new OTLPTraceExporter({ url, headers, timeoutMillis: export_timeout_ms });
  // Counting at the exporter tells how many spans still wait in the processor's queue, so a full queue
  // is caught (and counted) here rather than dropped silently inside the processor.
  const counting: SpanExporter = {
    export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
      handedToExporter += spans.length;
      target.export(spans, (result) => {
        if (result.code === ExportResultCode.SUCCESS) {
          counts.exported += spans.length;
        } else {
          counts.failed += spans.length;
          report(
            `OTLP trace export to ${url} failed (${spans.length} spans): ${result.error?.message ?? "unknown error"}`,
          );
        }
        done(result);
      });
    },
    shutdown: () => target.shutdown(),
    forceFlush: () => target.forceFlush?.() ?? Promise.resolve(),
  };
  const processor = new BatchSpanProcessor(counting, {
    maxQueueSize: max_queue_size,
    maxExportBatchSize: Math.min(max_export_batch_size, max_queue_size),
    scheduledDelayMillis: scheduled_delay_ms,
    exportTimeoutMillis: export_timeout_ms,
  });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": service_name }),
    spanProcessors: [processor],
  });
  const tracer = provider.getTracer("toolwatch");
  let closed = false;
  let shuttingDown: Promise<void> | null = null;

  return {
    name: "otlp-traces",
    observe(exchange: CapturedExchange, position: ExchangePosition): void {
      if (closed) return;
      if (counts.spans - handedToExporter >= max_queue_size) {
        counts.dropped++;
        report(`OTLP trace queue full (${max_queue_size} spans): dropping spans`);
        return;
      }
      try {
        const start = position.time_ms;
        const span = tracer.startSpan(spanName(exchange), {
          kind: exchange.direction === "server_to_client" ? SpanKind.CLIENT : SpanKind.SERVER,
          startTime: start,
          attributes: spanAttributes(exchange),
        });
        if (exchange.error !== null) span.setStatus({ code: SpanStatusCode.ERROR, message: exchange.error.message });
        // A sampler (OTEL_TRACES_SAMPLER) may leave spans out; only sampled ones reach the queue.
        if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) !== 0) counts.spans++;
        span.end(start + Math.max(0, exchange.duration_ms ?? 0));
      } catch (error) {
        report(`OTLP span for an exchange failed: ${(error as Error)?.message ?? String(error)}`);
      }
    },
    counters(): OtlpTraceCounters {
      return { ...counts };
    },
    async forceFlush(): Promise<void> {
      if (closed) return;
      // A failed export is already counted and reported by the counting exporter; flushing never throws.
      await provider.forceFlush().catch(() => undefined);
    },
    shutdown(): Promise<void> {
      closed = true;
      shuttingDown ??= provider.shutdown().catch((error: unknown) => {
        report(`OTLP trace exporter shutdown failed: ${(error as Error)?.message ?? String(error)}`);
      });
      return shuttingDown;
    },
  };
}

/** `{mcp.method.name} {target}`, the target being the tool or prompt name (low cardinality); the method alone otherwise. */
export function spanName(exchange: CapturedExchange): string {
  const method = exchange.method ?? "protocol_error";
  const target = exchange.tool ?? exchange.prompt ?? null;
  return target ? `${method} ${target}` : method;
}

/** The semantic-convention attributes of an exchange's span, plus `toolwatch.*` for what only toolwatch knows. */
export function spanAttributes(exchange: CapturedExchange): Attributes {
  const attributes: Attributes = {};
  if (exchange.method !== null) attributes[MCP_ATTRIBUTES.method] = exchange.method;
  if (exchange.tool) {
    attributes[MCP_ATTRIBUTES.toolName] = exchange.tool;
    attributes[MCP_ATTRIBUTES.operationName] = "execute_tool";
  }
  if (exchange.prompt) attributes[MCP_ATTRIBUTES.promptName] = exchange.prompt;
  if (exchange.uri) attributes[MCP_ATTRIBUTES.resourceUri] = exchange.uri;
  if (exchange.error !== null) {
    attributes[MCP_ATTRIBUTES.errorType] = exchange.error.type;
    if (exchange.error.code !== undefined) attributes[MCP_ATTRIBUTES.responseStatusCode] = String(exchange.error.code);
  }
  if (exchange.request_id !== undefined && exchange.request_id !== null) {
    attributes[MCP_ATTRIBUTES.requestId] = String(exchange.request_id);
  }
  attributes[MCP_ATTRIBUTES.session] = exchange.session;
  if (exchange.protocol_version) attributes[MCP_ATTRIBUTES.protocolVersion] = exchange.protocol_version;
  if (exchange.transport === "stdio") attributes[MCP_ATTRIBUTES.networkTransport] = "pipe";
  else if (exchange.transport === "http") attributes[MCP_ATTRIBUTES.networkTransport] = "tcp";
  if (exchange.source) attributes[MCP_ATTRIBUTES.clientAddress] = exchange.source;
  attributes["toolwatch.server"] = exchange.server;
  if (exchange.agent !== null) attributes["toolwatch.agent"] = exchange.agent;
  if (exchange.user !== null) attributes["toolwatch.user"] = exchange.user;
  const signals = exchangeSignals(exchange);
  if (signals.dlp_blocks > 0) attributes["toolwatch.dlp_blocks"] = signals.dlp_blocks;
  if (signals.policy_denials > 0) attributes["toolwatch.policy_denials"] = signals.policy_denials;
  if (signals.auth_failures > 0) attributes["toolwatch.auth_failures"] = signals.auth_failures;
  return attributes;
}
