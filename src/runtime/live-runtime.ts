import type { ActiveAlert } from "../alerts/alert-engine.js";
import {
  addSilenceToFile,
  createSilence,
  createSilenceFileWatcher,
  readSilences,
  removeSilenceFromFile,
  type Silence,
  type SilenceRequest,
} from "../alerts/silences.js";
import type { ToolwatchConfig } from "../config/config.js";
import type { Detector } from "../core/detector.js";
import type { InlineGuard } from "../core/guard.js";
import type { AlertEvent } from "../core/notifier.js";
import type { Store } from "../core/store.js";
import type { PoisoningClassifier } from "../defence/poisoning/poisoning-classifier.js";
import type { RequestSources } from "../detectors/flow/request-sources.js";
import type { OtlpTraceObserver } from "../metrics/otlp-trace-exporter.js";
import { Pipeline } from "../pipeline/pipeline.js";
import { type Analysis, createAnalysis } from "./analysis.js";

export type { ActiveAlert, Silence, SilenceRequest };

/**
 * The silences of a live process, kept in the same file `toolwatch alerts silence` writes, so the CLI, other
 * processes on the same database and this one agree. Changes apply to this process at once.
 */
export interface LiveSilences {
  /** The file, for messages. */
  readonly file: string;
  /** Silences not yet expired, as the file holds them. */
  list(): Silence[];
  /** Adds a silence (starting now unless the request says otherwise) and returns it. */
  add(request: SilenceRequest): Silence;
  /** Removes a silence; `false` when the file holds none with this id. */
  remove(id: string): boolean;
}

/** What a live capture process (stdio proxy, gateway) runs: the store and the pipeline in front of it. */
export interface LiveRuntime {
  config: ToolwatchConfig;
  store: Store | null;
  pipeline: Pipeline;
  analysis: Analysis;
  /** Inline defence applied to every session, or `null` to only watch. */
  guard: InlineGuard | null;
  /**
   * Settles once the runtime may take traffic: with `detectors.learning_period`, after what the store already holds
   * of the learning period has been learned again. Never rejects; a store that cannot be read is logged.
   */
  ready: Promise<void>;
  /** Silences through the silences file; `null` without alert rules or without a silences file. */
  silences: LiveSilences | null;
  /** Alerts pending or firing now; empty without alert rules. */
  activeAlerts(): ActiveAlert[];
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
  /** The poisoning classifier inline defence uses, so the analysis shares its verdicts (see `createDefence`). */
  classifier?: PoisoningClassifier;
  /** The request sources inline defence reads, so that what the detectors learn reaches it (see `createDefence`). */
  requestSources?: RequestSources;
  /**
   * Where alert state changes go instead of the configured notifiers and `store` (the demo collects them for its
   * report); ignored when `analysis` is given.
   */
  onAlert?: (event: AlertEvent) => void;
  /** Where the runtime reports its own troubles (a store it cannot read back); stderr by default. */
  log?: (line: string) => void;
  /**
   * The silences file `toolwatch alerts silence` writes (next to the database, see `silencesPathFor`): read at
   * start and again on every alert tick when it has changed, so a silence holds notifications back within one
   * `alerts.evaluation_interval`. None when absent.
   */
  silencesFile?: string;
}

/** Stored exchanges learned again at start, at most; older deployments learn from their most recent history. */
const MAX_RELEARNED = 500_000;

function stderrLine(line: string): void {
  process.stderr.write(`toolwatch: ${line}\n`);
}

/**
 * The learning period starts at the first exchange the store holds (now, for an empty store). What the store
 * holds of it is learned again, so a restart keeps the baseline; live traffic inside it is learned as it comes.
 */
async function relearn(
  pipeline: Pipeline,
  store: Store,
  period_ms: number,
  log: (line: string) => void,
): Promise<void> {
  try {
    const [first] = await store.exchanges({ limit: 1 });
    const start = first === undefined ? Date.now() : Date.parse(first.exchange.time);
    const until = start + period_ms;
    let learned = 0;
    let after: number | undefined;
    while (learned < MAX_RELEARNED) {
      const page = await store.exchanges({
        until_ms: until,
        limit: 5_000,
        ...(after === undefined ? {} : { after_seq: after }),
      });
      if (page.length === 0) break;
      for (const stored of page) pipeline.learn(stored.exchange);
      learned += page.length;
      after = page[page.length - 1]!.seq;
    }
    if (Date.now() < until) pipeline.learnUntil(until);
    else pipeline.finishLearning();
  } catch (error) {
    log(
      `learning period: could not read the store back, scoring without a baseline: ${(error as Error)?.message ?? String(error)}`,
    );
  }
}

export function createLiveRuntime(options: LiveRuntimeOptions): LiveRuntime {
  const { config } = options;
  const analysis =
    options.analysis ??
    createAnalysis({
      config,
      notify: options.onAlert === undefined,
      traces: options.traces ?? null,
      onAlert: options.onAlert ?? ((event) => options.store?.appendAlert(event)),
      log: options.log ?? stderrLine,
      ...(options.classifier === undefined ? {} : { classifier: options.classifier }),
      ...(options.requestSources === undefined ? {} : { requestSources: options.requestSources }),
    });
  const pipeline = new Pipeline({
    store: options.store,
    observers: analysis.observers,
    detectors: options.detectors ?? analysis.detectors,
    findingSinks: analysis.findingSinks,
    session_idle_ms: config.gateway.session_idle_timeout,
  });
  const ready =
    config.detectors.learning_period === undefined || options.store === null
      ? Promise.resolve()
      : relearn(pipeline, options.store, config.detectors.learning_period, options.log ?? stderrLine);
  const log = options.log ?? stderrLine;
  const alerts = analysis.alerts;
  const silences =
    alerts === null || options.silencesFile === undefined
      ? null
      : createSilenceFileWatcher(options.silencesFile, (error) =>
          log(`silences: ${error.message}; the silences read before stay in force`),
        );
  const refreshSilences = (): void => {
    const changed = silences?.poll();
    if (changed) alerts?.replaceSilences(changed);
  };
  refreshSilences();
  const silencesFile = options.silencesFile;
  const liveSilences: LiveSilences | null =
    alerts === null || silencesFile === undefined
      ? null
      : {
          file: silencesFile,
          list: () => readSilences(silencesFile).filter((silence) => Date.parse(silence.ends_at) > Date.now()),
          add(request) {
            const now = Date.now();
            const silence = createSilence(request, now);
            alerts.replaceSilences(addSilenceToFile(silencesFile, silence, now));
            return silence;
          },
          remove(id) {
            const kept = removeSilenceFromFile(silencesFile, id);
            if (kept === null) return false;
            alerts.replaceSilences(kept);
            return true;
          },
        };
  // Quiet periods move no event clock, yet alerts must still resolve and repeat: tick on the wall clock.
  const ticker =
    alerts === null
      ? null
      : setInterval(() => {
          refreshSilences();
          alerts.tick(Date.now());
        }, config.alerts.evaluation_interval).unref();
  let closing: Promise<void> | undefined;
  return {
    config,
    store: options.store,
    pipeline,
    analysis,
    guard: options.guard ?? null,
    ready,
    silences: liveSilences,
    activeAlerts: () => alerts?.active() ?? [],
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
