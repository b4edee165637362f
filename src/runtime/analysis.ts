import { type AlertEngine, createAlertEngine } from "../alerts/alert-engine.js";
import { createNotifiers } from "../alerts/notifiers/create-notifiers.js";
import { defaultRulesPath, loadRules, type RuleSet } from "../alerts/rules-file.js";
import type { ToolwatchConfig } from "../config/config.js";
import type { Detector, ExchangeObserver, FindingSink } from "../core/detector.js";
import { ToolwatchError } from "../core/errors.js";
import type { AlertEvent } from "../core/notifier.js";
import type { PoisoningClassifier } from "../defence/poisoning/poisoning-classifier.js";
import { RequestSources } from "../detectors/flow/request-sources.js";
import { defaultDetectors } from "../detectors/index.js";
import { MetricsObserver } from "../metrics/metrics-observer.js";
import type { OtlpTraceObserver } from "../metrics/otlp-trace-exporter.js";
import { loadBaselineInto, readBaselineFile } from "./baseline-file.js";
import { createPoisoningClassifier } from "./defence.js";

/**
 * Everything that watches the exchange stream after capture: metrics, detectors, the alert engine
 * and the optional trace export. Live processes and replay build it here, so they run the same stages.
 */
export interface Analysis {
  metrics: MetricsObserver;
  alerts: AlertEngine | null;
  detectors: Detector[];
  /** What the detectors learn of routine requests; inline defence reads the same object (`createDefence`). */
  requestSources: RequestSources;
  observers: ExchangeObserver[];
  findingSinks: FindingSink[];
  /** Flushes and stops the alert engine (and its notifiers) and the trace export. Idempotent. */
  shutdown(): Promise<void>;
}

export interface AnalysisOptions {
  config: ToolwatchConfig;
  /** Alert rules: a rules file to read, parsed rules, or `null` for none. Default: `alerts.rules` or the shipped rules. */
  rules?: string | RuleSet | null;
  /** Deliver alerts to the rules file's notifiers. Replay and backtests leave this off: old traffic pages nobody. */
  notify?: boolean;
  /** Receives every alert state change (the record of the alert). */
  onAlert?: (event: AlertEvent) => void;
  /** Told which baseline `detectors.baseline` loaded; nowhere when absent. */
  log?: (line: string) => void;
  /** The span exporter, when the configuration names an OTLP endpoint (see {@link loadTraceExporter}). */
  traces?: OtlpTraceObserver | null;
  /** The poisoning classifier, shared with inline defence; one from `config.poisoning` when absent. */
  classifier?: PoisoningClassifier;
  /** Request sources shared with inline defence; new ones when absent. */
  requestSources?: RequestSources;
}

/** Reads and checks a rules file, throwing one error that lists every problem with file:line:column. */
export function readRules(file: string): RuleSet {
  const parsed = loadRules(file);
  if (!parsed.ok) {
    const problems = parsed.errors.map((error) => `${error.file}:${error.line}:${error.column}: ${error.message}`);
    throw new ToolwatchError("config_invalid", problems.join("\n"));
  }
  return parsed.rules;
}

/**
 * Loads a saved baseline into the detectors; a missing or broken file is a `config_invalid` error naming it.
 * Returns one line for the operator: what the file was trained on and which detectors took their state from it,
 * so a process that scores against a baseline says which one.
 */
export function loadSavedBaseline(file: string, detectors: readonly Detector[]): string {
  const saved = readBaselineFile(file);
  if (!saved.ok) throw new ToolwatchError("config_invalid", saved.message);
  const loaded = loadBaselineInto(saved.value, detectors);
  if (!loaded.ok) throw new ToolwatchError("config_invalid", `${file}: ${loaded.message}`);
  const { created, trained_on: trained } = saved.value;
  const agents = trained.agents.length === 0 ? "no agent type" : `agent types ${trained.agents.join(", ")}`;
  const missing = loaded.missing.length === 0 ? "" : `; nothing in it for ${loaded.missing.join(", ")}`;
  return (
    `baseline ${file} (created ${created}, ${trained.sessions} sessions, ${agents}) loaded into ` +
    `${loaded.loaded.join(", ") || "no detector"}${missing}`
  );
}

export function createAnalysis(options: AnalysisOptions): Analysis {
  const { config } = options;
  const metrics = new MetricsObserver({ flow: config.metrics.flow ? {} : false });
  const rollout = config.detectors.rollout_sessions;
  const requestSources = options.requestSources ?? new RequestSources();
  const detectors = defaultDetectors({
    classifier: options.classifier ?? createPoisoningClassifier(config),
    request_sources: requestSources,
    ...(rollout === undefined ? {} : { baseline: { sequence: { rollout_sessions: rollout } } }),
  });
  if (config.detectors.baseline !== undefined) {
    // Loaded whether or not anyone is told: `log?.(load())` would skip the load without a log.
    const loaded = loadSavedBaseline(config.detectors.baseline, detectors);
    options.log?.(loaded);
  }
  let rules: RuleSet | null = null;
  if (config.alerts.enabled && options.rules !== null) {
    const source = options.rules ?? config.alerts.rules ?? defaultRulesPath();
    rules = typeof source === "string" ? readRules(source) : source;
  }
  const alerts =
    rules === null
      ? null
      : createAlertEngine({
          rules,
          notifiers: options.notify ? createNotifiers(rules.notifiers) : [],
          ...(options.onAlert ? { onEvent: options.onAlert } : {}),
        });
  const traces = options.traces ?? null;
  const observers: ExchangeObserver[] = [metrics];
  if (alerts !== null) observers.push(alerts.observer);
  if (traces !== null) observers.push(traces);
  let closing: Promise<void> | undefined;
  return {
    metrics,
    alerts,
    detectors,
    requestSources,
    observers,
    findingSinks: [(finding) => metrics.recordFinding(finding), ...(alerts === null ? [] : [alerts.findingSink])],
    shutdown() {
      closing ??= (async () => {
        alerts?.finish();
        await alerts?.shutdown();
        await traces?.shutdown();
      })();
      return closing;
    },
  };
}

/**
 * The OTLP span exporter for `export.otlp`, or `null` when none is configured. Loaded on demand: the
 * OpenTelemetry SDK is the slowest import toolwatch has, and every proxy start would pay for it.
 */
export async function loadTraceExporter(config: ToolwatchConfig): Promise<OtlpTraceObserver | null> {
  const otlp = config.export.otlp;
  if (otlp === undefined) return null;
  const { createOtlpTraceExporter } = await import("../metrics/otlp-trace-exporter.js");
  return createOtlpTraceExporter({ url: otlp.url, headers: otlp.headers });
}
