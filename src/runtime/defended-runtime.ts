import type { ToolwatchConfig } from "../config/config.js";
import type { AlertEvent } from "../core/notifier.js";
import type { Store } from "../core/store.js";
import { RequestSources } from "../detectors/flow/request-sources.js";
import { loadTraceExporter } from "./analysis.js";
import { createDefence, createPoisoningClassifier } from "./defence.js";
import { createLiveRuntime, type LiveRuntime } from "./live-runtime.js";

/** What a live process (the stdio proxy, the gateway, the demo) needs to watch and defend its sessions. */
export interface DefendedRuntimeOptions {
  config: ToolwatchConfig;
  store: Store | null;
  /** The database for pins and quarantined content; `null` keeps them in memory for this process. */
  database: string | null;
  /** Reports policy reloads and the runtime's own troubles. */
  log: (line: string) => void;
  /** Folder of the configuration file, which relative paths in it are read from. */
  configDirectory?: string;
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
 */
export async function startDefendedRuntime(options: DefendedRuntimeOptions): Promise<LiveRuntime> {
  const { config } = options;
  const classifier = createPoisoningClassifier(config);
  const requestSources = new RequestSources();
  const defence = createDefence(config, {
    classifier,
    requests: requestSources,
    database: options.database,
    log: options.log,
    ...(options.configDirectory === undefined ? {} : { configDirectory: options.configDirectory }),
  });
  const runtime = createLiveRuntime({
    config,
    store: options.store,
    traces: await loadTraceExporter(config),
    ...(options.onAlert === undefined ? {} : { onAlert: options.onAlert }),
    guard: defence.guard,
    closeGuard: () => defence.close(),
    classifier,
    requestSources,
    log: options.log,
    ...(options.silencesFile === undefined ? {} : { silencesFile: options.silencesFile }),
  });
  await runtime.ready;
  return runtime;
}
