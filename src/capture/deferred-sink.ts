import type { CapturedExchange } from "../core/exchange.js";

export interface DeferredSinkOptions {
  /** How long the first exchange of a quiet spell waits before the queue is drained, in ms; 0 drains on the next turn. */
  delay_ms?: number;
  /** Exchanges handed on per turn of the event loop while draining; more while a backlog lasts. */
  slice?: number;
  /** Past this many waiting exchanges the queue is drained at once, which bounds memory. */
  max_waiting?: number;
  /** Told when the sink throws; the queue goes on with the next exchange. */
  onError?: (error: unknown) => void;
}

/**
 * Hands exchanges to a sink (the pipeline: store, metrics, detectors, alerts) in the order they were
 * recorded, but a moment later rather than in the tick that forwarded their message.
 *
 * The analysis of an exchange costs the proxy more CPU than forwarding its message. Run in the same tick
 * as the forward, it competes for the CPU with the peers the forward has just woken (the next steps of
 * the call), and a message that arrives meanwhile waits for it. Deferred by a timer, it runs once the
 * proxy has gone quiet; drained in slices with the event loop polling in between, a message arriving
 * during a drain waits for one slice. Nothing is lost or reordered: exchanges carry the times taken when
 * their messages were seen, and the queue is drained at once when it grows long and on `flush`.
 */
export class DeferredSink {
  private readonly sink: (exchange: CapturedExchange) => void;
  private readonly delayMs: number;
  private readonly slice: number;
  private readonly maxWaiting: number;
  private readonly onError: (error: unknown) => void;
  private queue: CapturedExchange[] = [];
  /** Index of the oldest exchange not yet handed on while draining, so a slice shifts the array once, not per exchange. */
  private head = 0;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;

  constructor(sink: (exchange: CapturedExchange) => void, options: DeferredSinkOptions = {}) {
    // 5 ms: long enough that the exchanges of back-to-back calls are analysed together, between calls,
    // rather than each one inside the next call; short next to any alert or query that reads them.
    const { delay_ms = 5, slice = 16, max_waiting = 1024, onError = () => {} } = options;
    this.sink = sink;
    this.delayMs = Math.max(0, delay_ms);
    this.slice = Math.max(1, slice);
    this.maxWaiting = Math.max(1, max_waiting);
    this.onError = onError;
  }

  /** Exchanges recorded and not yet handed on. */
  get waiting(): number {
    return this.queue.length - this.head;
  }

  push(exchange: CapturedExchange): void {
    this.queue.push(exchange);
    if (this.waiting >= this.maxWaiting) {
      this.flush();
    } else if (this.timer === undefined && this.immediate === undefined) {
      if (this.delayMs === 0) this.immediate = setImmediate(this.onSlice);
      else this.timer = setTimeout(this.onTimer, this.delayMs);
    }
  }

  /** Hands on everything waiting, now. */
  flush(): void {
    this.cancel();
    this.drain(Number.POSITIVE_INFINITY);
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.onSlice();
  };

  private readonly onSlice = (): void => {
    this.immediate = undefined;
    // A quarter of a backlog per turn: under sustained load the queue settles instead of growing to the cap.
    this.drain(Math.max(this.slice, Math.ceil(this.waiting / 4)));
    // setImmediate runs after the event loop has polled for input, so traffic that arrived goes first.
    if (this.waiting > 0 && this.timer === undefined) this.immediate = setImmediate(this.onSlice);
  };

  private drain(limit: number): void {
    let handed = 0;
    while (this.head < this.queue.length && handed < limit) {
      const exchange = this.queue[this.head]!;
      this.head++;
      handed++;
      try {
        this.sink(exchange);
      } catch (error) {
        this.onError(error);
      }
    }
    if (this.head === this.queue.length) this.queue = [];
    else this.queue.splice(0, this.head);
    this.head = 0;
  }

  private cancel(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
  }
}
