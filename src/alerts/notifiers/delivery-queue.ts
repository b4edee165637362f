/**
 * The delivery queue every network notifier sits behind: bounded, one delivery at a time (so a
 * `resolved` never overtakes its `firing`), retries with exponential backoff and jitter, and
 * never a throw or a wait for the caller. The alert record is kept by the engine before it
 * gets here, so a full queue or a dead receiver loses a delivery, counted, never the record.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { AlertEvent, ExportResult, Notifier } from "../../core/notifier.js";

export interface DeliveryQueueOptions {
  /** Deliveries waiting; past this, new ones are dropped and counted. */
  queue_size?: number;
  /** Attempts per delivery, the first included. */
  max_attempts?: number;
  initial_backoff_ms?: number;
  max_backoff_ms?: number;
  /** Per attempt. */
  timeout_ms?: number;
  /** How long `shutdown` waits for the queue to drain before giving up on what is left. */
  shutdown_timeout_ms?: number;
  /** Re-notify this notifier at this interval while an alert fires (see `NotifierRouting`). */
  repeat_interval_ms?: number;
  send_resolved?: boolean;
  /** For tests: the source of jitter. */
  random?: () => number;
}

export interface DeliveryCounters {
  /** Waiting or in flight now. */
  queued: number;
  delivered: number;
  /** Given up after the last attempt, or refused by the receiver (4xx). */
  failed: number;
  /** Not queued: the queue was full or the notifier shut down. */
  dropped: number;
  /** Attempts after the first. */
  retries: number;
}

/** A failed attempt; `retry_after_ms` honours a receiver's `Retry-After`. */
export class DeliveryError extends Error {
  readonly status: number | undefined;
  readonly retry_after_ms: number | undefined;
  constructor(message: string, options: { status?: number; retry_after_ms?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "DeliveryError";
    this.status = options.status;
    this.retry_after_ms = options.retry_after_ms;
  }
}

/** One attempt at delivering one event. Must not throw; the queue treats a throw as a retryable failure. */
export type DeliveryAttempt = (event: AlertEvent, signal: AbortSignal) => Promise<ExportResult>;

interface Pending {
  event: AlertEvent;
  resolve: (result: ExportResult) => void;
}

/** A `Notifier` that queues events and hands them, one by one, to `attempt`. */
export class QueuedNotifier implements Notifier {
  readonly repeat_interval_ms: number | undefined;
  readonly send_resolved: boolean;
  private readonly queue: Pending[] = [];
  private readonly options: Required<Omit<DeliveryQueueOptions, "repeat_interval_ms" | "send_resolved">>;
  private readonly stopping = new AbortController();
  private readonly idleWaiters: Array<() => void> = [];
  private running = false;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly counts = { delivered: 0, failed: 0, dropped: 0, retries: 0 };

  constructor(
    readonly name: string,
    private readonly attempt: DeliveryAttempt,
    options: DeliveryQueueOptions = {},
  ) {
    this.options = {
      queue_size: options.queue_size ?? 1_000,
      max_attempts: options.max_attempts ?? 6,
      initial_backoff_ms: options.initial_backoff_ms ?? 500,
      max_backoff_ms: options.max_backoff_ms ?? 30_000,
      timeout_ms: options.timeout_ms ?? 10_000,
      shutdown_timeout_ms: options.shutdown_timeout_ms ?? 5_000,
      random: options.random ?? Math.random,
    };
    this.repeat_interval_ms = options.repeat_interval_ms;
    this.send_resolved = options.send_resolved ?? true;
  }

  /** Queues the event; the promise settles with the final outcome and never rejects. */
  notify(event: AlertEvent): Promise<ExportResult> {
    if (this.closed || this.queue.length >= this.options.queue_size) {
      this.counts.dropped++;
      const reason = this.closed ? "notifier is shut down" : `queue full (${this.options.queue_size})`;
      return Promise.resolve({ code: "failed", error: new DeliveryError(`${this.name}: ${reason}`), retryable: false });
    }
    return new Promise((resolve) => {
      this.queue.push({ event, resolve });
      if (!this.running) void this.pump();
    });
  }

  counters(): DeliveryCounters & Record<string, number> {
    return { queued: this.queue.length, ...this.counts };
  }

  /** Resolves once every queued delivery has succeeded or been given up. */
  forceFlush(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  shutdown(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.options.shutdown_timeout_ms);
      });
      await Promise.race([this.forceFlush(), timedOut]);
      clearTimeout(timer);
      // Whatever is left will not be delivered: stop the attempt in flight and count the rest.
      this.stopping.abort();
      await this.forceFlush();
    })();
    return this.closing;
  }

  private async pump(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const item = this.queue[0]!;
        let result: ExportResult;
        try {
          result = await this.deliver(item.event);
        } catch (error) {
          result = { code: "failed", error: error as Error, retryable: false };
        }
        this.queue.shift();
        if (result.code === "success") this.counts.delivered++;
        else this.counts.failed++;
        item.resolve(result);
      }
    } finally {
      this.running = false;
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  private async deliver(event: AlertEvent): Promise<ExportResult> {
    let last: ExportResult = { code: "failed", error: new DeliveryError("not attempted"), retryable: false };
    for (let attempt = 1; attempt <= this.options.max_attempts; attempt++) {
      if (this.stopping.signal.aborted) {
        return {
          code: "failed",
          error: new DeliveryError(`${this.name}: shut down before delivery`),
          retryable: false,
        };
      }
      const signal = AbortSignal.any([this.stopping.signal, AbortSignal.timeout(this.options.timeout_ms)]);
      try {
        last = await this.attempt(event, signal);
      } catch (error) {
        last = { code: "failed", error: error as Error, retryable: true };
      }
      if (last.code === "success" || !last.retryable || attempt === this.options.max_attempts) return last;
      if (this.stopping.signal.aborted) return last;
      this.counts.retries++;
      try {
        await sleep(this.backoff(attempt, last.error), undefined, { signal: this.stopping.signal });
      } catch {
        return last;
      }
    }
    return last;
  }

  /** Exponential with "equal jitter": half the delay fixed, half random, so retries spread out. */
  private backoff(attempt: number, error: Error): number {
    const exponential = Math.min(this.options.max_backoff_ms, this.options.initial_backoff_ms * 2 ** (attempt - 1));
    const jittered = exponential / 2 + (this.options.random() * exponential) / 2;
    const asked = error instanceof DeliveryError ? error.retry_after_ms : undefined;
    return asked === undefined ? jittered : Math.min(this.options.max_backoff_ms, Math.max(jittered, asked));
  }
}

const MAX_RETRY_AFTER_SECONDS = 3_600;

/**
 * POSTs JSON and turns the outcome into a value: 2xx succeeds; 408, 429 and 5xx and network
 * errors are retryable; other statuses are not. Messages never include the URL, which often
 * holds a secret (Slack and webhook tokens).
 */
export async function postJson(
  url: string,
  body: unknown,
  headers: Readonly<Record<string, string>>,
  signal: AbortSignal,
): Promise<ExportResult> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", "user-agent": "toolwatch", ...headers },
      body: JSON.stringify(body),
      signal,
    });
  } catch (error) {
    const reason =
      (error as Error).name === "TimeoutError"
        ? "timed out"
        : (((error as Error).cause as Error | undefined)?.message ?? (error as Error).message);
    return { code: "failed", error: new DeliveryError(`request failed: ${reason}`, { cause: error }), retryable: true };
  }
  // Read the body so the connection can be reused; its content does not matter.
  await response.arrayBuffer().catch(() => undefined);
  if (response.ok) return { code: "success" };
  const status = response.status;
  const retryAfter = Number(response.headers.get("retry-after"));
  const retryAfterMs =
    Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter, MAX_RETRY_AFTER_SECONDS) * 1000 : undefined;
  return {
    code: "failed",
    error: new DeliveryError(`HTTP ${status}`, {
      status,
      ...(retryAfterMs === undefined ? {} : { retry_after_ms: retryAfterMs }),
    }),
    retryable: status === 408 || status === 429 || status >= 500,
  };
}
