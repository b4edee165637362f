import type { Detector, ExchangeObserver, ExchangePosition, FindingSink } from "../core/detector.js";
import type { CapturedExchange } from "../core/exchange.js";
import type { Finding } from "../core/finding.js";
import type { Store } from "../core/store.js";

export interface PipelineOptions {
  /** Where exchanges and findings are kept; `null` runs without persistence. */
  store: Store | null;
  /** Stages that watch every exchange without raising findings (metrics). They run before the detectors. */
  observers?: ExchangeObserver[];
  detectors?: Detector[];
  /** Further receivers of every finding (a findings file, the alert engine). */
  findingSinks?: FindingSink[];
  /** A session with no exchange for this long (event time) is ended, so session-level detectors conclude. */
  session_idle_ms?: number;
  /** Told once per burst when a detector throws; defaults to stderr. */
  onDetectorError?: (detector: string, error: unknown) => void;
}

export interface PipelineCounters {
  exchanges: number;
  learned: number;
  findings: number;
  sessions_open: number;
  detector_errors: number;
}

interface SessionState {
  index: number;
  calls: number;
  last_ms: number;
}

/**
 * Capture → store → detectors → findings, the same in live traffic and in replay.
 *
 * Everything runs on event time (the exchange's own `time`), so a capture file replayed through a
 * pipeline yields the findings the live pipeline raised. `process` is synchronous and never throws.
 */
export class Pipeline {
  private readonly store: Store | null;
  private readonly observers: ExchangeObserver[];
  private readonly detectors: Detector[];
  private readonly sinks: FindingSink[];
  private readonly idleMs: number;
  private readonly sessions = new Map<string, SessionState>();
  private readonly reportError: (detector: string, error: unknown) => void;
  private readonly emit: FindingSink;
  private clock = 0;
  private nextSweep = 0;
  private readonly learnedSessions = new Map<string, SessionState>();
  private learnClock = 0;
  private nextLearnSweep = 0;
  private counts = { exchanges: 0, learned: 0, findings: 0, detector_errors: 0 };
  /** Live traffic before this event time is learned as known-normal rather than scored (a learning period). */
  private learningUntil = Number.NEGATIVE_INFINITY;
  private lastErrorReport = 0;
  private closed = false;

  constructor(options: PipelineOptions) {
    this.store = options.store;
    this.observers = options.observers ?? [];
    this.detectors = options.detectors ?? [];
    this.sinks = options.findingSinks ?? [];
    this.idleMs = options.session_idle_ms ?? 30 * 60_000;
    this.reportError =
      options.onDetectorError ??
      ((detector, error) =>
        process.stderr.write(
          `toolwatch: detector ${detector} failed: ${(error as Error)?.message ?? String(error)}\n`,
        ));
    this.emit = (finding) => this.routeFinding(finding);
  }

  /** The latest event time seen, ms since the epoch. */
  get now(): number {
    return this.clock;
  }

  counters(): PipelineCounters {
    return { ...this.counts, sessions_open: this.sessions.size };
  }

  /**
   * Starts a learning period: exchanges `process` receives with an event time before `until_ms` are stored and
   * measured as usual but learned by the detectors instead of scored. The first exchange at or after it settles
   * what was learned (`finishLearning`) and scoring begins.
   */
  learnUntil(until_ms: number): void {
    this.learningUntil = until_ms;
  }

  /** Whether live traffic is still being learned rather than scored. */
  get learning(): boolean {
    return this.learningUntil > Number.NEGATIVE_INFINITY;
  }

  /** Feeds known-normal traffic to detectors that learn; nothing is stored or scored. */
  learn(exchange: CapturedExchange): void {
    const position = this.learnPosition(exchange);
    this.counts.learned++;
    for (const observer of this.observers) {
      if (observer.learn === undefined) continue;
      try {
        observer.learn(exchange, position);
      } catch (error) {
        this.detectorFailed(observer, error);
      }
    }
    for (const detector of this.detectors) {
      if (detector.learn === undefined) continue;
      try {
        detector.learn(exchange, position);
      } catch (error) {
        this.detectorFailed(detector, error);
      }
    }
  }

  /** Ends the known-normal traffic: observers settle what they learned (baselines) before scoring starts. */
  finishLearning(): void {
    for (const observer of this.observers) {
      if (observer.finishLearning === undefined) continue;
      try {
        observer.finishLearning();
      } catch (error) {
        this.detectorFailed(observer, error);
      }
    }
  }

  /**
   * Stores one exchange and runs every detector on it.
   * @param text the exchange's JSON when the caller already has it (replay), as a string or its UTF-8 bytes, so the
   * store need not serialise it again.
   */
  process(exchange: CapturedExchange, text?: string | Uint8Array): void {
    if (this.closed) return;
    if (this.learningUntil > Number.NEGATIVE_INFINITY) {
      const time = Date.parse(exchange.time);
      if (!Number.isNaN(time) && time < this.learningUntil) {
        // Still stored and measured (metrics and alerts do not go blind while detectors learn), but not scored.
        const position = this.position(exchange);
        this.counts.exchanges++;
        this.store?.appendExchange(exchange, text);
        this.observeAll(exchange, position);
        this.learn(exchange);
        return;
      }
      this.learningUntil = Number.NEGATIVE_INFINITY;
      this.finishLearning();
    }
    const position = this.position(exchange);
    this.counts.exchanges++;
    this.store?.appendExchange(exchange, text);
    this.observeAll(exchange, position);
    for (const detector of this.detectors) {
      try {
        detector.observe(exchange, position, this.emit);
      } catch (error) {
        this.detectorFailed(detector, error);
      }
    }
  }

  private observeAll(exchange: CapturedExchange, position: ExchangePosition): void {
    for (const observer of this.observers) {
      try {
        observer.observe(exchange, position);
      } catch (error) {
        this.detectorFailed(observer, error);
      }
    }
  }

  /** Ends a session explicitly (its transport closed). */
  endSession(session: string, time_ms = this.clock): void {
    if (!this.sessions.delete(session)) return;
    for (const observer of this.observers) {
      try {
        observer.endSession?.(session, time_ms);
      } catch (error) {
        this.detectorFailed(observer, error);
      }
    }
    for (const detector of this.detectors) {
      if (detector.endSession === undefined) continue;
      try {
        detector.endSession(session, time_ms, this.emit);
      } catch (error) {
        this.detectorFailed(detector, error);
      }
    }
  }

  /** Ends every open session (end of a replay) and flushes detectors and the store. */
  async finish(): Promise<void> {
    for (const session of [...this.sessions.keys()]) this.endSession(session);
    await this.forceFlush();
  }

  async forceFlush(): Promise<void> {
    for (const detector of this.detectors) {
      if (detector.forceFlush === undefined) continue;
      try {
        await detector.forceFlush(this.emit);
      } catch (error) {
        this.detectorFailed(detector, error);
      }
    }
    await this.store?.forceFlush();
  }

  /** Flushes, then shuts detectors down. The store is the caller's: it may outlive the pipeline. Idempotent. */
  async shutdown(): Promise<void> {
    if (this.closed) return;
    await this.finish();
    this.closed = true;
    for (const detector of this.detectors) {
      try {
        await detector.shutdown();
      } catch (error) {
        this.detectorFailed(detector, error);
      }
    }
  }

  private position(exchange: CapturedExchange): ExchangePosition {
    const parsed = Date.parse(exchange.time);
    // Out-of-order or unreadable times never move the clock backwards.
    const time_ms = Number.isNaN(parsed) ? this.clock : parsed;
    if (time_ms > this.clock) this.clock = time_ms;
    if (this.clock >= this.nextSweep) this.sweepIdle();
    return advanceSession(this.sessions, exchange, time_ms);
  }

  /**
   * Positions baseline traffic apart from scored traffic: learning must neither move the scoring clock nor
   * open sessions that the scoring side would later end (and so ask detectors to conclude, and emit, about).
   */
  private learnPosition(exchange: CapturedExchange): ExchangePosition {
    const parsed = Date.parse(exchange.time);
    const time_ms = Number.isNaN(parsed) ? this.learnClock : parsed;
    if (time_ms > this.learnClock) this.learnClock = time_ms;
    if (this.learnClock >= this.nextLearnSweep) {
      this.nextLearnSweep = this.learnClock + Math.max(1_000, Math.floor(this.idleMs / 4));
      const cutoff = this.learnClock - this.idleMs;
      for (const [session, state] of this.learnedSessions) {
        if (state.last_ms < cutoff) this.learnedSessions.delete(session);
      }
    }
    return advanceSession(this.learnedSessions, exchange, time_ms);
  }

  private sweepIdle(): void {
    this.nextSweep = this.clock + Math.max(1_000, Math.floor(this.idleMs / 4));
    const cutoff = this.clock - this.idleMs;
    for (const [session, state] of this.sessions) {
      if (state.last_ms < cutoff) this.endSession(session, state.last_ms + this.idleMs);
    }
  }

  private routeFinding(finding: Finding): void {
    this.counts.findings++;
    this.store?.appendFinding(finding);
    for (const sink of this.sinks) {
      try {
        sink(finding);
      } catch (error) {
        this.detectorFailed({ name: "finding-sink" }, error);
      }
    }
  }

  private detectorFailed(detector: { name: string }, error: unknown): void {
    this.counts.detector_errors++;
    const now = Date.now();
    if (now - this.lastErrorReport < 10_000) return;
    this.lastErrorReport = now;
    this.reportError(detector.name, error);
  }
}

/** Gives the exchange its place in its session and counts it. */
function advanceSession(
  sessions: Map<string, SessionState>,
  exchange: CapturedExchange,
  time_ms: number,
): ExchangePosition {
  let state = sessions.get(exchange.session);
  if (state === undefined) {
    state = { index: 0, calls: 0, last_ms: time_ms };
    sessions.set(exchange.session, state);
  }
  const isCall = exchange.method === "tools/call" && exchange.kind !== "protocol_error";
  const position: ExchangePosition = { index: state.index, call_index: isCall ? state.calls : null, time_ms };
  state.index++;
  if (isCall) state.calls++;
  if (time_ms > state.last_ms) state.last_ms = time_ms;
  return position;
}
