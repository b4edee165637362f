import type { CapturedExchange } from "./exchange.js";
import type { Finding } from "./finding.js";

/** Where an exchange stands in its session, worked out once by the pipeline for every detector. */
export interface ExchangePosition {
  /** 0-based index among all exchanges of the session. */
  index: number;
  /** 0-based index among the session's `tools/call` exchanges; `null` for other methods. */
  call_index: number | null;
  /** Event time in milliseconds since the epoch (the pipeline's clock). */
  time_ms: number;
}

/**
 * Sees every processed exchange after the store and before the detectors (metrics, flow tracking).
 * Synchronous and cheap, like a detector's `observe`, but raises no findings.
 */
export interface ExchangeObserver {
  readonly name: string;
  observe(exchange: CapturedExchange, position: ExchangePosition): void;
  /** Called when a session ends, on event time. */
  endSession?(session: string, time_ms: number): void;
  /** Learns from known-normal traffic (baselines); counts nothing. */
  learn?(exchange: CapturedExchange, position: ExchangePosition): void;
  /** Called once when the known-normal traffic is over, so learned state can be settled. */
  finishLearning?(): void;
}

/** Receives findings; detectors call it synchronously, the pipeline routes them on. */
export type FindingSink = (finding: Finding) => void;

/**
 * A detector observes exchanges in event-time order and emits findings.
 *
 * Detectors run on the capture path, so `observe` must be synchronous, cheap and must never
 * throw (the pipeline isolates and counts a detector that does). Live and replay call the
 * same methods in the same order, so a detector's output is reproducible from a capture file.
 */
export interface Detector {
  /** Stable name, written into every finding it raises. */
  readonly name: string;
  /** Learns from known-normal traffic (`replay --baseline`, baseline training). Optional. */
  learn?(exchange: CapturedExchange, position: ExchangePosition): void;
  /** Inspects one exchange and emits any findings about it. */
  observe(exchange: CapturedExchange, position: ExchangePosition, emit: FindingSink): void;
  /** Called when a session ends (closed, or idle past the pipeline's timeout) so session-level detectors can conclude. */
  endSession?(session: string, time_ms: number, emit: FindingSink): void;
  /** Emits whatever is held back and completes pending work. */
  forceFlush?(emit: FindingSink): Promise<void>;
  /** Releases resources. Idempotent. */
  shutdown(): Promise<void>;
  /**
   * What the detector learned, as plain JSON, for `toolwatch baseline train -o FILE`. The detector versions
   * its own state (put a `version` field in it). Optional: detectors that learn nothing omit it.
   */
  saveBaseline?(): unknown;
  /**
   * Fits a model on what `learn` collected, when fitting is too slow for the capture path (the sequence
   * autoencoder). `toolwatch baseline train` awaits it before `saveBaseline`. Optional.
   */
  train?(): Promise<void>;
  /** Restores state from `saveBaseline`; returns why it cannot (another version, a broken file), or `null` when loaded. */
  loadBaseline?(state: unknown): string | null;
}
