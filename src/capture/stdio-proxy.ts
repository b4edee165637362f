import type { Readable, Writable } from "node:stream";
import type { CaptureLimits } from "../config/config.js";
import { JsonRpcErrorCode } from "../core/errors.js";
import type { InlineGuard } from "../core/guard.js";
import type { InboundFrame, JsonRpcMessage, RequestId, TransportClose } from "../core/transport.js";
import type { Pipeline } from "../pipeline/pipeline.js";
import { LineSplitter, type SplitLine } from "../protocol/line-splitter.js";
import { errorResponse, type MessageLimits, oversizedFrame, parseMessage } from "../protocol/parse-message.js";
import { DeferredSink } from "./deferred-sink.js";
import { DEFAULT_RECORDER_OPTIONS, ExchangeRecorder, type SessionIdentity } from "./exchange-recorder.js";
import { FrameGuard, type GuardedFrame } from "./frame-guard.js";
import { exitStatus, type StdioUpstream, spawnFailureExitStatus } from "./stdio-upstream.js";

export interface StdioProxyOptions {
  /** The MCP server, not yet started: `run` starts it. */
  upstream: StdioUpstream;
  /** Receives every recorded exchange. */
  pipeline: Pipeline;
  identity: SessionIdentity;
  capture: Pick<CaptureLimits, "max_message_bytes" | "max_depth" | "max_text_bytes" | "request_timeout">;
  /** The client's side; defaults to this process's stdin and stdout. */
  input?: Readable;
  output?: Writable;
  /** Where the proxy reports its own troubles; defaults to stderr. Never the client's channel. */
  log?: (message: string) => void;
  /** Client requests allowed to wait for the server at once; more are refused, so memory stays bounded. */
  max_pending_requests?: number;
  /** How often pending requests are checked against `capture.request_timeout`. */
  sweep_interval_ms?: number;
  /** Longest wait for the client to take the last answers before the proxy gives up on it. */
  flush_timeout_ms?: number;
  /** Inline defence: decides on every request and answer before it is passed on. */
  guard?: InlineGuard;
}

/** What the proxy did with every line, so that nothing is lost silently. */
export interface StdioProxyCounters {
  /** Lines read from the client. */
  client_lines: number;
  /** Client lines written to the server. */
  client_forwarded: number;
  /** Client lines refused: answered with a JSON-RPC error and recorded as protocol errors. */
  client_refused: number;
  /** Lines read from the server. */
  server_lines: number;
  /** Server lines written to the client (a batch stripped of late responses counts here). */
  server_forwarded: number;
  /** Server lines refused as malformed: recorded as protocol errors, not forwarded. */
  server_refused: number;
  /** Server responses swallowed because toolwatch had already answered their request (timeout, failure). */
  server_late: number;
  /** Errors the proxy sent to the client itself: refusals, timeouts, invalid responses, upstream exit. */
  answered: number;
  /** Exchanges the recorder or pipeline failed on (the traffic still flowed). */
  record_errors: number;
  /** Client requests inline defence refused (answered with a neutral error, never forwarded). */
  guard_refused: number;
  /** Times the inline guard threw; the message was refused (fail closed). */
  guard_errors: number;
}

type RefusedFrame = Extract<InboundFrame, { ok: false }>;

const DEFAULT_MAX_PENDING = 10_000;
const NEWLINE = Buffer.from("\n");

/**
 * The drop-in stdio proxy: an MCP client talks to it as it would to the server, and it relays
 * every valid message unchanged and in order while recording each exchange.
 *
 * Per line the hot path is: frame → parse (the validity check decides whether the line may pass)
 * → write to the other side → record. Recording never runs before the write it describes: the recorder
 * pairs the message at once (its state decides what may pass next: pending limit, late responses), and
 * the exchange it completes goes down the pipeline a moment later, off the path of the next message.
 * Invalid lines are answered (client) or dropped (server) and recorded as protocol errors.
 */
export class StdioProxy {
  private readonly upstream: StdioUpstream;
  private readonly pipeline: Pipeline;
  private readonly recorder: ExchangeRecorder;
  private readonly deferred: DeferredSink;
  private readonly input: Readable;
  private readonly output: Writable;
  private readonly log: (message: string) => void;
  private readonly limits: MessageLimits;
  private readonly timeoutMs: number;
  private readonly sweepMs: number;
  private readonly maxPending: number;
  private readonly flushTimeoutMs: number;
  private readonly clientSplitter: LineSplitter;
  private readonly counts: StdioProxyCounters = {
    client_lines: 0,
    client_forwarded: 0,
    client_refused: 0,
    server_lines: 0,
    server_forwarded: 0,
    server_refused: 0,
    server_late: 0,
    answered: 0,
    record_errors: 0,
    guard_refused: 0,
    guard_errors: 0,
  };
  private readonly guard: FrameGuard | undefined;
  private readonly inlineGuard: InlineGuard | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private started = false;
  private clientGone = false;
  private outputBroken = false;
  private outputBacklogged = false;
  private upstreamBacklogged = false;
  private inputHeld = false;
  private upstreamHeld = false;
  private stopSignals = 0;
  private finishing = false;
  private lastInternalReport = 0;
  private readonly finished: Promise<number>;
  private resolveFinished!: (code: number) => void;

  constructor(options: StdioProxyOptions) {
    this.upstream = options.upstream;
    this.pipeline = options.pipeline;
    this.input = options.input ?? process.stdin;
    this.output = options.output ?? process.stdout;
    this.log = options.log ?? ((message) => process.stderr.write(`toolwatch: ${message}\n`));
    const capture = options.capture;
    this.limits = { max_message_bytes: capture.max_message_bytes, max_depth: capture.max_depth };
    this.timeoutMs = capture.request_timeout;
    this.sweepMs = options.sweep_interval_ms ?? Math.max(10, Math.min(1_000, Math.floor(this.timeoutMs / 10)));
    this.maxPending = options.max_pending_requests ?? DEFAULT_MAX_PENDING;
    this.flushTimeoutMs = options.flush_timeout_ms ?? 5_000;
    this.deferred = new DeferredSink((exchange) => this.pipeline.process(exchange), {
      onError: (error) => {
        this.counts.record_errors++;
        this.reportInternal("pipeline", error);
      },
    });
    this.recorder = new ExchangeRecorder(options.identity, (exchange) => this.deferred.push(exchange), {
      ...DEFAULT_RECORDER_OPTIONS,
      max_text_bytes: capture.max_text_bytes,
    });
    this.inlineGuard = options.guard;
    this.guard =
      options.guard === undefined
        ? undefined
        : new FrameGuard(options.guard, this.recorder, (error) => {
            this.counts.guard_errors++;
            this.reportInternal("inline defence", error);
          });
    this.clientSplitter = new LineSplitter(this.limits.max_message_bytes, (line) => this.onClientLine(line));
    this.finished = new Promise((resolve) => {
      this.resolveFinished = resolve;
    });
  }

  counters(): StdioProxyCounters {
    return { ...this.counts };
  }

  /** Requests still waiting for an answer, in either direction. */
  get pendingRequests(): number {
    return this.recorder.pendingCount;
  }

  /**
   * Starts the server and relays until the session ends: the server exits, or the client closes its
   * side and the server then exits. Resolves with the exit status the proxy should exit with (the
   * server's; 127 or 126 when it could not be started). Never rejects.
   */
  async run(): Promise<number> {
    if (this.started) return this.finished;
    this.started = true;
    const upstream = this.upstream;
    upstream.onmessage = (frame) => this.onServerFrame(frame);
    upstream.onclose = (close) => this.onUpstreamClose(close);
    upstream.onerror = (error) => this.reportInternal("upstream", error);
    upstream.ondrain = () => {
      this.upstreamBacklogged = false;
      this.updateFlow();
    };
    try {
      await upstream.start();
    } catch (error) {
      this.log((error as Error).message);
      this.finishing = true;
      this.resolveFinished(spawnFailureExitStatus(error));
      return this.finished;
    }
    this.output.on("error", this.onOutputError);
    this.input.on("data", this.onClientData);
    this.input.on("end", this.onClientEnd);
    this.input.on("error", this.onClientEnd);
    this.sweepTimer = setInterval(() => this.sweep(), this.sweepMs);
    this.sweepTimer.unref();
    return this.finished;
  }

  /**
   * Passes a termination signal on to the server; the session then ends when it exits. A second
   * call kills the server outright.
   */
  stop(signal: NodeJS.Signals = "SIGTERM"): void {
    this.stopSignals++;
    void this.upstream.stop(this.stopSignals > 1 ? "SIGKILL" : signal);
  }

  private readonly onClientData = (chunk: Buffer | string): void => {
    try {
      this.clientSplitter.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
    } catch (error) {
      this.reportInternal("client input", error);
    }
    if (this.upstream.backlogged && !this.upstreamBacklogged) {
      this.upstreamBacklogged = true;
      this.updateFlow();
    }
  };

  private readonly onClientEnd = (): void => {
    if (this.clientGone) return;
    this.clientGone = true;
    try {
      this.clientSplitter.end();
    } catch (error) {
      this.reportInternal("client input", error);
    }
    // The MCP way to end a stdio session: close the server's stdin and let it exit.
    void this.upstream.close();
  };

  private readonly onOutputError = (): void => {
    // The client stopped reading (EPIPE): nobody is left to answer, so end the session. What the server
    // still writes is read and dropped, or it could block on a full pipe and never exit.
    this.outputBroken = true;
    this.outputBacklogged = false;
    this.updateFlow();
    this.onClientEnd();
  };

  private readonly onOutputDrain = (): void => {
    this.outputBacklogged = false;
    this.updateFlow();
  };

  private onClientLine(line: SplitLine): void {
    this.counts.client_lines++;
    const now = Date.now();
    const frame = line.kind === "line" ? parseMessage(line.line, this.limits) : oversizedFrame(line.bytes, this.limits);
    if (!frame.ok) {
      this.refuse(frame, now);
      return;
    }
    const refusal = this.admit(frame);
    if (refusal !== null) {
      this.refuse(refusal, now);
      return;
    }
    const guarded = this.guard === undefined ? null : this.guard.fromClient(frame, now);
    if (guarded !== null) {
      this.forwardGuarded(guarded, frame.message === undefined, now);
      return;
    }
    this.upstream.send(frame.batch ?? frame.message, frame.raw);
    this.counts.client_forwarded++;
    this.record("client", frame, now);
  }

  /** Passes on what inline defence let through, answers what it refused, then records. */
  private forwardGuarded(guarded: GuardedFrame, batch: boolean, now: number): void {
    const forward = guarded.forward;
    if (forward.length > 0) {
      if (!batch) {
        this.upstream.send(forward[0]!.message, forward[0]!.raw);
      } else {
        const messages = forward.map((item) => item.message);
        this.upstream.send(messages, JSON.stringify(messages));
      }
      this.counts.client_forwarded++;
    }
    for (const answer of guarded.answers) {
      this.counts.guard_refused++;
      this.counts.answered++;
      this.writeToClient(`${answer.raw}\n`);
    }
    try {
      guarded.record(now);
    } catch (error) {
      this.counts.record_errors++;
      this.reportInternal("recorder", error);
    }
  }

  /** Answers a client line that may not pass, and records it. */
  private refuse(frame: RefusedFrame, now: number): void {
    this.counts.client_refused++;
    this.answer(frame.id, frame.code, frame.reason);
    this.record("client", frame, now);
  }

  /** Refuses requests beyond the pending limit; `null` lets the frame pass. */
  private admit(frame: InboundFrame & { ok: true }): RefusedFrame | null {
    let requests = 0;
    if (frame.message !== undefined) {
      if ("method" in frame.message && "id" in frame.message) requests = 1;
    } else {
      for (const message of frame.batch) if ("method" in message && "id" in message) requests++;
    }
    if (requests === 0 || this.recorder.pendingCount + requests <= this.maxPending) return null;
    const id = frame.message !== undefined && "id" in frame.message ? frame.message.id : null;
    return {
      ok: false,
      code: JsonRpcErrorCode.UpstreamUnavailable,
      reason: `too many requests waiting for the upstream MCP server (limit ${this.maxPending})`,
      bytes: frame.bytes,
      id,
    };
  }

  private onServerFrame(frame: InboundFrame): void {
    this.counts.server_lines++;
    const now = Date.now();
    try {
      if (!frame.ok) {
        this.counts.server_refused++;
        this.record("server", frame, now);
        const id = frame.id;
        // The client is waiting for this answer and would never get it: tell it what happened. (A broken
        // server request that happens to carry the id of a pending client request fails that request too.)
        if (id !== null) {
          const message = `upstream MCP server sent an invalid response: ${frame.reason}`;
          const code = JsonRpcErrorCode.InternalError;
          if (this.recorder.fail("client", id, { type: String(code), message, code })) this.answer(id, code, message);
        }
        return;
      }
      const guarded = this.guard === undefined ? null : this.guard.fromServer(frame, now);
      if (guarded !== null) {
        this.forwardGuardedAnswers(guarded, frame.message === undefined, now);
        return;
      }
      const message = frame.message;
      if (message !== undefined) {
        if (!("method" in message) && this.recorder.isLateResponse("server", message.id)) {
          this.counts.server_late++;
        } else {
          this.writeToClient(withNewline(frame.raw));
          this.counts.server_forwarded++;
        }
      } else {
        const kept = frame.batch.filter((item) => "method" in item || !this.recorder.isLateResponse("server", item.id));
        if (kept.length === 0) {
          this.counts.server_late++;
        } else {
          this.writeToClient(kept.length === frame.batch.length ? withNewline(frame.raw) : `${JSON.stringify(kept)}\n`);
          this.counts.server_forwarded++;
        }
      }
      this.record("server", frame, now);
    } catch (error) {
      this.reportInternal("server output", error);
    }
  }

  /** Writes the server's answers as inline defence rewrote them (redacted, filtered, refused), then records. */
  private forwardGuardedAnswers(guarded: GuardedFrame, batch: boolean, now: number): void {
    // A guarded answer was pending, so only other batch members can be late.
    const kept = guarded.forward.filter(
      (item) => "method" in item.message || !this.recorder.isLateResponse("server", item.message.id),
    );
    if (kept.length === 0) {
      this.counts.server_late++;
    } else {
      this.writeToClient(batch ? `${JSON.stringify(kept.map((item) => item.message))}\n` : withNewline(kept[0]!.raw));
      this.counts.server_forwarded++;
    }
    guarded.record(now);
  }

  private onUpstreamClose(close: TransportClose): void {
    try {
      for (const request of this.recorder.failAll(close.reason)) {
        this.answer(request.id, JsonRpcErrorCode.UpstreamUnavailable, close.reason);
      }
    } catch (error) {
      this.reportInternal("recorder", error);
    }
    void this.finish(exitStatus(close));
  }

  /**
   * Answers the client's requests that waited longer than the timeout, and tells the server they are
   * cancelled (as the HTTP gateway does), since toolwatch has answered them in its place.
   */
  private sweep(): void {
    try {
      const now = Date.now();
      for (const request of this.recorder.expire(this.timeoutMs, now)) {
        this.answer(
          request.id,
          JsonRpcErrorCode.UpstreamTimeout,
          `upstream MCP server did not answer ${request.method} within ${this.timeoutMs} ms`,
        );
        const cancel: JsonRpcMessage = {
          jsonrpc: "2.0",
          method: "notifications/cancelled",
          params: { requestId: request.id, reason: `toolwatch: no answer within ${this.timeoutMs} ms` },
        };
        const raw = JSON.stringify(cancel);
        this.upstream.send(cancel, raw);
        this.record("client", { ok: true, message: cancel, bytes: Buffer.byteLength(raw), raw }, now);
      }
    } catch (error) {
      this.reportInternal("timeout sweep", error);
    }
  }

  private record(from: "client" | "server", frame: InboundFrame, now: number): void {
    try {
      this.recorder.observe(from, frame, now);
    } catch (error) {
      this.counts.record_errors++;
      this.reportInternal("recorder", error);
    }
  }

  private answer(id: RequestId | null, code: number, message: string): void {
    this.counts.answered++;
    this.writeToClient(`${errorResponse(id, code, message)}\n`);
  }

  private writeToClient(data: Buffer | string): void {
    if (this.outputBroken) return;
    if (this.output.write(data) || this.outputBacklogged) return;
    this.outputBacklogged = true;
    this.output.once("drain", this.onOutputDrain);
    this.updateFlow();
  }

  /**
   * Backpressure end to end, so memory stays bounded whoever stops reading: a slow client holds back
   * both the server's output and the client's own input (whose refusals it would have to read); a slow
   * server holds back the client's input.
   */
  private updateFlow(): void {
    if (this.finishing) return;
    const holdInput = this.outputBacklogged || this.upstreamBacklogged;
    if (holdInput !== this.inputHeld) {
      this.inputHeld = holdInput;
      if (holdInput) this.input.pause();
      else this.input.resume();
    }
    const holdUpstream = this.outputBacklogged;
    if (holdUpstream !== this.upstreamHeld) {
      this.upstreamHeld = holdUpstream;
      if (holdUpstream) this.upstream.pause();
      else this.upstream.resume();
    }
  }

  private async finish(code: number): Promise<void> {
    if (this.finishing) return;
    this.finishing = true;
    if (this.sweepTimer !== undefined) clearInterval(this.sweepTimer);
    this.input.off("data", this.onClientData);
    this.input.pause();
    try {
      this.deferred.flush();
      this.pipeline.endSession(this.recorder.identity.session);
      this.inlineGuard?.endSession(this.recorder.identity.session);
    } catch (error) {
      this.reportInternal("pipeline", error);
    }
    await this.flushOutput();
    this.resolveFinished(code);
  }

  /** Waits until the client's channel has taken every answer written so far, or gives up after the flush timeout. */
  private flushOutput(): Promise<void> {
    if (this.outputBroken || this.output.writableLength === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, this.flushTimeoutMs);
      timer.unref();
      this.output.write("", () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private reportInternal(where: string, error: unknown): void {
    // Bursts of the same failure must not flood stderr, which the MCP client may be showing a user.
    const now = Date.now();
    if (now - this.lastInternalReport < 10_000) return;
    this.lastInternalReport = now;
    this.log(`${where}: ${(error as Error)?.message ?? String(error)}`);
  }
}

function withNewline(raw: Buffer | string): Buffer | string {
  return typeof raw === "string" ? `${raw}\n` : Buffer.concat([raw, NEWLINE], raw.length + 1);
}
