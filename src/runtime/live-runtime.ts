import type { ToolwatchConfig } from "../config/config.js";
import type { Detector } from "../core/detector.js";
import type { Store } from "../core/store.js";
import { Pipeline } from "../pipeline/pipeline.js";

/** What a live capture process (stdio proxy, gateway) runs: the store and the pipeline in front of it. */
export interface LiveRuntime {
  config: ToolwatchConfig;
  store: Store | null;
  pipeline: Pipeline;
  /** Flushes the pipeline, then the store, then closes both. Idempotent. */
  shutdown(): Promise<void>;
}

export interface LiveRuntimeOptions {
  config: ToolwatchConfig;
  store: Store | null;
  detectors?: Detector[];
}

export function createLiveRuntime(options: LiveRuntimeOptions): LiveRuntime {
  const pipeline = new Pipeline({
    store: options.store,
    detectors: options.detectors ?? [],
    session_idle_ms: options.config.gateway.session_idle_timeout,
  });
  let closing: Promise<void> | undefined;
  return {
    config: options.config,
    store: options.store,
    pipeline,
    shutdown() {
      closing ??= (async () => {
        await pipeline.shutdown();
        await options.store?.shutdown();
      })();
      return closing;
    },
  };
}
