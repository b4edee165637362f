import type { ToolwatchConfig } from "../config/config.js";
import type { Detector } from "../core/detector.js";
import type { InlineGuard } from "../core/guard.js";
import type { Store } from "../core/store.js";
import type { OtlpTraceObserver } from "../metrics/otlp-trace-exporter.js";
import { Pipeline } from "../pipeline/pipeline.js";
import { type Analysis, createAnalysis } from "./analysis.js";

/** What a live capture process (stdio proxy, gateway) runs: the store and the pipeline in front of it. */
export interface LiveRuntime {
  config: ToolwatchConfig;
  store: Store | null;
  pipeline: Pipeline;
  analysis: Analysis;
  /** Inline defence applied to every session, or `null` to only watch. */
  guard: InlineGuard | null;
  /** Flushes the pipeline, then the analysis (alerts, traces), then the store, and closes them. Idempotent. */
  shutdown(): Promise<void>;
}

export interface LiveRuntimeOptions {
  config: ToolwatchConfig;
  store: Store | null;
  /**
   * Metrics, detectors and alerts; built from the configuration when absent (notifiers and traces on, and every
   * alert state change kept in `store`). A caller passing its own analysis decides where its alerts go.
   */
  analysis?: Analysis;
  /** The span exporter for `export.otlp` (see `loadTraceExporter`); none when absent. */
  traces?: OtlpTraceObserver | null;
  /** Replaces the analysis' detectors (tests). */
  detectors?: Detector[];
  /** Inline defence (see `createDefence`); none when absent. */
  guard?: InlineGuard | null;
  /** Called at shutdown after the pipeline has drained: closes what the guard holds (policy watcher, pin store). */
  closeGuard?: () => void;
}

export function createLiveRuntime(options: LiveRuntimeOptions): LiveRuntime {
  const { config } = options;
  const analysis =
    options.analysis ??
    createAnalysis({
      config,
      notify: true,
      traces: options.traces ?? null,
      onAlert: (event) => options.store?.appendAlert(event),
    });
  const pipeline = new Pipeline({
    store: options.store,
    observers: analysis.observers,
    detectors: options.detectors ?? analysis.detectors,
    findingSinks: analysis.findingSinks,
    session_idle_ms: config.gateway.session_idle_timeout,
  });
  // Quiet periods move no event clock, yet alerts must still resolve and repeat: tick on the wall clock.
  const alerts = analysis.alerts;
  const ticker =
    alerts === null ? null : setInterval(() => alerts.tick(Date.now()), config.alerts.evaluation_interval).unref();
  let closing: Promise<void> | undefined;
  return {
    config,
    store: options.store,
    pipeline,
    analysis,
    guard: options.guard ?? null,
    shutdown() {
      closing ??= (async () => {
        if (ticker !== null) clearInterval(ticker);
        await pipeline.shutdown();
        options.closeGuard?.();
        await analysis.shutdown();
        await options.store?.shutdown();
      })();
      return closing;
    },
  };
}
