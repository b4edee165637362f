import type { ToolwatchConfig } from "../config/config.js";
import type { AlertEvent } from "../core/notifier.js";
import type { Store } from "../core/store.js";
import { RequestSources } from "../detectors/flow/request-sources.js";
import type { OtlpTraceObserver } from "../metrics/otlp-trace-exporter.js";
import { loadTraceExporter } from "./analysis.js";
import { createDefence, createPoisoningClassifier, type Defence } from "./defence.js";
import { createLiveRuntime, type LiveRuntime } from "./live-runtime.js";

/** What a live process (the stdio proxy, the gateway, the demo) needs to watch and defend its sessions. */
export interface DefendedRuntimeOptions {
  config: ToolwatchConfig;
  store: Store | null;
  /** The database for pins and quarantined content; `null` keeps them in memory for this process. */
  database: string | null;
  /** Reports policy reloads and the runtime's own troubles. */
  log: (line: string) => void;
  /** The silences file `toolwatch alerts silence` writes (see `silencesPathFor`). */
  silencesFile?: string;
  /**
   * Where alert state changes go instead of the configured notifiers and the store (the demo collects them for its
   * report). Absent: notifiers on, every state change kept in `store`, as the proxy and the gateway run.
   */
  onAlert?: (event: AlertEvent) => void;
}

/**
 * The live runtime with inline defence, as `toolwatch proxy`, `toolwatch serve` and the demo run it. The guard and the
 * detectors share one poisoning classifier (a result the guard judged is a memo hit for the detectors) and one set
 * of request sources (what the detectors learn from a baseline file or a learning period is what the guard reads).
 * Resolves once a learning period's stored traffic has been learned again, so the first call is scored with it.
 * When it cannot start (a baseline file or policy it cannot use), it shuts `store` down as the runtime's shutdown
 * would have, and closes what it opened itself, before throwing.
 */
export async function startDefendedRuntime(options: DefendedRuntimeOptions): Promise<LiveRuntime> {
  const { config } = options;
  let defence: Defence | undefined;
  let traces: OtlpTraceObserver | null = null;
  try {
    const classifier = createPoisoningClassifier(config);
    const requestSources = new RequestSources();
    defence = createDefence(config, {
      classifier,
      requests: requestSources,
      database: options.database,
      log: options.log,
    });
    traces = await loadTraceExporter(config);
    const guarded = defence;
    const runtime = createLiveRuntime({
      config,
      store: options.store,
      traces,
      ...(options.onAlert === undefined ? {} : { onAlert: options.onAlert }),
      guard: guarded.guard,
      closeGuard: () => guarded.close(),
      classifier,
      requestSources,
      log: options.log,
      ...(options.silencesFile === undefined ? {} : { silencesFile: options.silencesFile }),
    });
    await runtime.ready;
    return runtime;
  } catch (error) {
    // The store's writer thread (and a policy watcher) would keep the process alive after the error is printed:
    // `toolwatch serve` and `toolwatch proxy` hung instead of exiting.
    defence?.close();
    await traces?.shutdown();
    await options.store?.shutdown();
    throw error;
  }
}
