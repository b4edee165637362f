import type { ServerResponse } from "node:http";
import { JsonRpcErrorCode } from "../core/errors.js";
import type { CapturedExchange, ExchangeError, InlineDecision } from "../core/exchange.js";
import type { InlineGuard } from "../core/guard.js";
import type { InboundFrame, JsonRpcMessage, RequestId, Transport, TransportClose } from "../core/transport.js";
import type { Pipeline } from "../pipeline/pipeline.js";
import { errorResponse } from "../protocol/parse-message.js";
import { ExchangeRecorder, type RecorderOptions, type SessionIdentity } from "./exchange-recorder.js";
import { FrameGuard } from "./frame-guard.js";
import type { Principal } from "./gateway-auth.js";
import { UpstreamRequestError } from "./http-upstream.js";
import { openEventStream, SSE_KEEP_ALIVE, sseEvent } from "./sse-writer.js";

/** Why a session ended; decides the error pending requests are answered with. */
export type SessionEnd =
  | "deleted"
  | "idle"
  | "evicted"
  | "upstream_closed"
  | "upstream_hung"
  | "shutdown"
  | "start_failed";

export interface GatewaySessionOptions {
  identity: SessionIdentity;
  principal: Principal;
  upstream: Transport;
  pipeline: Pipeline;
  recorder: RecorderOptions;
  /** Server messages held for a GET stream that is not open yet; beyond this the oldest are dropped. */
  max_buffered_messages: number;
  /** Interval of the comment that keeps an idle GET stream open through proxies. */
  keep_alive_ms: number;
  /** Told once when the session has ended, so the gateway forgets it. */
  onEnded: (session: GatewaySession, reason: SessionEnd) => void;
  log: (line: string) => void;
  /** Inline defence: decides on every request and answer before it is passed on. */
  guard?: InlineGuard;
}

/** Fields of a protocol-error record that toolwatch writes about HTTP traffic it refused. */
export interface RefusalRecord {
  session: string;
  user: string | null;
  agent: string | null;
  server: string;
  source: string | null;
  method: string | null;
  error: ExchangeError;
  request_bytes: number;
  request_id?: RequestId | null;
  /** The inline decision behind the refusal (a failed authentication), for metrics and alerts. */
  decisions?: InlineDecision[];
}

/** A `protocol_error` exchange for something the gateway refused; it never carries credentials. */
export function refusalExchange(record: RefusalRecord, now = Date.now()): CapturedExchange {
  const exchange: CapturedExchange = {
    time: new Date(now).toISOString(),
    session: record.session,
    user: record.user,
    agent: record.agent,
    server: record.server,
    method: record.method,
    error: record.error,
    duration_ms: null,
    kind: "protocol_error",
    direction: "client_to_server",
    transport: "http",
    request_bytes: record.request_bytes,
    source: record.source,
  };
  if (record.request_id !== undefined && record.request_id !== null) exchange.request_id = record.request_id;
  if (record.decisions !== undefined) exchange.decisions = record.decisions;
  return exchange;
}

const JSON_HEADERS = "application/json";

/**
 * One POST waiting for the answers to the requests it carried. It answers `application/json` when the
 * answers come with nothing before them, and switches to an event stream the moment a related message
 * (progress, a sampling or elicitation request) has to go out first.
 */
class PostReply {
  /** Answers still owed. */
  remaining: number;
  /** Whether the response has switched to `text/event-stream`. */
  private streaming = false;
  /** Answers held while a batch is still incomplete (JSON mode only). */
  private collected: string[] | null;
  /** The response is complete. */
  private done = false;

  constructor(
    private readonly response: ServerResponse,
    requests: number,
    private readonly batch: boolean,
    private readonly headers: Record<string, string> | null,
  ) {
    this.remaining = requests;
    this.collected = batch ? [] : null;
  }

  /** Whether a message can still be written: the response is not complete and the client has not gone. */
  get open(): boolean {
    return !this.done && !this.response.destroyed;
  }

  answer(raw: Buffer | string): void {
    this.remaining--;
    if (!this.open) return;
    if (this.streaming) {
      this.response.write(sseEvent(text(raw)));
      if (this.remaining === 0) this.finish();
      return;
    }
    if (!this.batch) {
      this.writeJson(raw);
      return;
    }
    this.collected!.push(text(raw));
    if (this.remaining === 0) this.writeJson(`[${this.collected!.join(",")}]`);
  }

  /** Sends a related message ahead of the answers, switching to an event stream if need be. */
  relate(raw: Buffer | string): void {
    if (!this.open) return;
    if (!this.streaming) {
      this.streaming = true;
      openEventStream(this.response, this.headers ?? undefined);
      if (this.collected !== null) {
        for (const answer of this.collected) this.response.write(sseEvent(answer));
        this.collected = null;
      }
    }
    this.response.write(sseEvent(text(raw)));
  }

  private writeJson(body: Buffer | string): void {
    const length = typeof body === "string" ? Buffer.byteLength(body) : body.length;
    const headers: Record<string, string | number> = { "content-type": JSON_HEADERS, "content-length": length };
    if (this.headers !== null) Object.assign(headers, this.headers);
    this.response.writeHead(200, headers);
    this.response.end(body);
    this.done = true;
  }

  private finish(): void {
    this.response.end();
    this.done = true;
  }
}

function text(raw: Buffer | string): string {
  return typeof raw === "string" ? raw : raw.toString("utf8");
}

/**
 * A gateway session: one client, one upstream, one recorder.
 *
 * It routes every upstream message to where the client expects it: an answer to the POST that carried its
 * request, a progress notification to the POST that asked for it, any other server message to the oldest
 * POST still open, else to the GET stream, else to a bounded buffer that the next GET stream drains.
 */
export class GatewaySession {
  readonly id: string;
  readonly principal: Principal;
  readonly recorder: ExchangeRecorder;
  /** Id of the `initialize` request that opened the session. */
  initializeId: RequestId | null = null;
  /** Last time the client did something or was answered (ms since the epoch); drives idle reaping. */
  lastActivity = Date.now();
  /** Server messages dropped because no stream was open and the buffer was full. */
  dropped = 0;
  private readonly upstream: Transport;
  private readonly pipeline: Pipeline;
  private readonly options: GatewaySessionOptions;
  private readonly guard: FrameGuard | undefined;
  /** Client request id → the POST that awaits its answer. Insertion order is age order. */
  private readonly inFlight = new Map<RequestId, PostReply>();
  private readonly progress = new Map<string | number, PostReply>();
  private readonly progressByRequest = new Map<RequestId, string | number>();
  private serverStream: ServerResponse | null = null;
  private keepAlive: NodeJS.Timeout | null = null;
  private buffered: string[] = [];
  private lastUpstreamMessage = Date.now();
  private endedReason: SessionEnd | null = null;
  /** Settles once the upstream has stopped, after `end`. */
  closed: Promise<void> = Promise.resolve();

  constructor(options: GatewaySessionOptions) {
    this.options = options;
    this.id = options.identity.session;
    this.principal = options.principal;
    this.upstream = options.upstream;
    this.pipeline = options.pipeline;
    this.recorder = new ExchangeRecorder(
      options.identity,
      (exchange) => this.pipeline.process(exchange),
      options.recorder,
    );
    const guard = options.guard;
    this.guard =
      guard === undefined
        ? undefined
        : new FrameGuard(guard, this.recorder, (error) =>
            options.log(`session ${this.id}: inline defence failed: ${(error as Error)?.message ?? String(error)}`),
          );
    this.upstream.onmessage = (frame) => this.fromUpstream(frame);
    this.upstream.onclose = (close) => this.upstreamClosed(close);
    this.upstream.onerror = (error) => this.upstreamError(error);
  }

  get ended(): boolean {
    return this.endedReason !== null;
  }

  get identity(): SessionIdentity {
    return this.recorder.identity;
  }

  /** Requests of the client still waiting for the upstream. */
  get pendingRequests(): number {
    return this.inFlight.size;
  }

  /** Records something the gateway refused within this session. */
  refuse(method: string | null, error: ExchangeError, bytes: number, requestId: RequestId | null = null): void {
    const identity = this.identity;
    this.pipeline.process(
      refusalExchange({
        session: identity.session,
        user: identity.user,
        agent: identity.agent,
        server: identity.server,
        source: identity.source,
        method,
        error,
        request_bytes: bytes,
        request_id: requestId,
      }),
    );
  }

  /**
   * Forwards the messages of one POST and answers it: 202 when it carried no request, else the
   * upstream's answers. `headers` go on the answer (the new session's id after `initialize`).
   */
  post(frame: InboundFrame & { ok: true }, response: ServerResponse, headers: Record<string, string> | null): void {
    this.lastActivity = Date.now();
    const messages: JsonRpcMessage[] = frame.message !== undefined ? [frame.message] : frame.batch;
    let requests = 0;
    let duplicate: RequestId | null = null;
    let duplicateMethod: string | null = null;
    const batchIds = messages.length > 1 ? new Set<RequestId>() : null;
    for (const message of messages) {
      if (!("method" in message && "id" in message)) continue;
      requests++;
      if (this.inFlight.has(message.id) || batchIds?.has(message.id)) {
        duplicate = message.id;
        duplicateMethod = message.method;
        break;
      }
      batchIds?.add(message.id);
    }
    if (duplicate !== null) {
      const reason = `duplicate request id ${JSON.stringify(duplicate)} while the first is still pending`;
      this.refuse(
        duplicateMethod,
        { type: "-32600", message: reason, code: JsonRpcErrorCode.InvalidRequest },
        frame.bytes,
        duplicate,
      );
      const body = errorResponse(duplicate, JsonRpcErrorCode.InvalidRequest, reason);
      response.writeHead(400, { "content-type": JSON_HEADERS, "content-length": Buffer.byteLength(body) });
      response.end(body);
      return;
    }
    const now = Date.now();
    // After the duplicate check: a guard counts what it lets through against rate limits.
    const guarded = this.guard === undefined ? null : this.guard.fromClient(frame, now);
    const forwarded = guarded === null ? messages : guarded.forward.map((item) => item.message);
    let reply: PostReply | null = null;
    if (requests > 0) {
      reply = new PostReply(response, requests, frame.message === undefined, headers);
      for (const message of forwarded) {
        if (!("method" in message && "id" in message)) continue;
        this.inFlight.set(message.id, reply);
        const token = (message.params?._meta as Record<string, unknown> | undefined)?.progressToken;
        if (typeof token === "string" || typeof token === "number") {
          this.progress.set(token, reply);
          this.progressByRequest.set(message.id, token);
        }
      }
    } else {
      response.writeHead(202, headers ?? undefined);
      response.end();
    }
    if (guarded !== null) {
      for (const item of guarded.forward) this.upstream.send(item.message, item.raw);
      for (const answer of guarded.answers) reply?.answer(answer.raw);
      guarded.record(now);
      return;
    }
    if (frame.message !== undefined) {
      this.upstream.send(frame.message, frame.raw);
    } else {
      for (const message of messages) this.upstream.send(message, JSON.stringify(message));
    }
    // Forwarding comes first: recording must not add to the call's latency.
    this.recorder.observe("client", frame, now);
  }

  /** Records a malformed message the client sent within this session. */
  malformed(frame: InboundFrame & { ok: false }): void {
    this.lastActivity = Date.now();
    this.recorder.observe("client", frame);
  }

  /** Attaches the client's GET stream for messages the upstream sends on its own. */
  attachServerStream(response: ServerResponse): boolean {
    if (this.serverStream !== null) return false;
    this.lastActivity = Date.now();
    openEventStream(response);
    this.serverStream = response;
    for (const raw of this.buffered) response.write(sseEvent(raw));
    this.buffered = [];
    const keepAlive = setInterval(() => response.write(SSE_KEEP_ALIVE), this.options.keep_alive_ms);
    keepAlive.unref();
    this.keepAlive = keepAlive;
    response.once("close", () => {
      clearInterval(keepAlive);
      if (this.serverStream === response) {
        this.serverStream = null;
        this.keepAlive = null;
      }
    });
    return true;
  }

  /**
   * Answers requests the upstream left waiting longer than `timeoutMs` with a JSON-RPC error, and tells
   * the upstream they are cancelled. An upstream that said nothing at all in that time is taken as hung
   * and the session ends.
   */
  expire(timeoutMs: number, now = Date.now()): void {
    if (this.recorder.pendingCount === 0 || this.ended) return;
    const expired = this.recorder.expire(timeoutMs, now);
    if (expired.length === 0) return;
    let oldest = now;
    for (const request of expired) {
      if (request.time_ms < oldest) oldest = request.time_ms;
      this.answerError(
        request.id,
        JsonRpcErrorCode.UpstreamTimeout,
        `the upstream did not answer within ${timeoutMs} ms`,
      );
      const cancel: JsonRpcMessage = {
        jsonrpc: "2.0",
        method: "notifications/cancelled",
        params: { requestId: request.id, reason: `toolwatch: no answer within ${timeoutMs} ms` },
      };
      const raw = JSON.stringify(cancel);
      this.upstream.send(cancel, raw);
      this.recorder.observe("client", { ok: true, message: cancel, bytes: Buffer.byteLength(raw), raw }, now);
    }
    // Request times are taken just after forwarding, so a message in the same millisecond came after it.
    if (this.lastUpstreamMessage < oldest) this.end("upstream_hung");
  }

  /** Ends the session: pending requests are answered with errors, streams closed, the upstream stopped. */
  end(reason: SessionEnd, detail?: string): void {
    if (this.endedReason !== null) return;
    this.endedReason = reason;
    const message = detail ?? describeEnd(reason);
    const code = reason === "upstream_hung" ? JsonRpcErrorCode.UpstreamTimeout : JsonRpcErrorCode.UpstreamUnavailable;
    this.recorder.failAll(message);
    for (const [id, reply] of this.inFlight) reply.answer(errorResponse(id, code, message));
    this.inFlight.clear();
    this.progress.clear();
    this.progressByRequest.clear();
    if (this.keepAlive !== null) clearInterval(this.keepAlive);
    this.serverStream?.end();
    this.serverStream = null;
    this.buffered = [];
    if (this.dropped > 0)
      this.options.log(`session ${this.id}: ${this.dropped} server messages had no stream and were dropped`);
    // The upstream's own close report arrives after `endedReason` is set and is ignored.
    this.closed = this.upstream
      .close()
      .catch((error: unknown) => this.options.log(`session ${this.id}: closing the upstream failed: ${String(error)}`));
    this.pipeline.endSession(this.id);
    this.options.guard?.endSession(this.id);
    this.options.onEnded(this, reason);
  }

  private fromUpstream(frame: InboundFrame): void {
    this.lastUpstreamMessage = Date.now();
    if (!frame.ok) {
      this.recorder.observe("server", frame);
      if (frame.id !== null && this.inFlight.has(frame.id)) {
        const reason = `the upstream sent an invalid answer: ${frame.reason}`;
        this.answerError(frame.id, JsonRpcErrorCode.InternalError, reason);
        this.recorder.fail("client", frame.id, { type: "transport", message: reason });
      }
      return;
    }
    const now = Date.now();
    const guarded = this.guard === undefined ? null : this.guard.fromServer(frame, now);
    if (guarded !== null) {
      for (const item of guarded.forward) this.route(item.message, item.raw);
      guarded.record(now);
      return;
    }
    if (frame.message !== undefined) {
      this.route(frame.message, frame.raw);
    } else {
      for (const message of frame.batch) this.route(message, JSON.stringify(message));
    }
    this.recorder.observe("server", frame, now);
  }

  private route(message: JsonRpcMessage, raw: Buffer | string): void {
    if (!("method" in message)) {
      const id = message.id;
      if (id === null) return;
      const reply = this.inFlight.get(id);
      // A late or unknown answer has nowhere to go; the recorder notes it.
      if (reply === undefined) return;
      this.settle(id);
      reply.answer(raw);
      // Idle time counts from the last answer: a slow call must not leave its session looking idle.
      this.lastActivity = this.lastUpstreamMessage;
      return;
    }
    let target: PostReply | undefined;
    if (message.method === "notifications/progress") {
      const token = message.params?.progressToken;
      if (typeof token === "string" || typeof token === "number") target = this.progress.get(token);
    }
    if (target === undefined || !target.open) target = this.oldestOpenReply();
    if (target !== undefined) {
      target.relate(raw);
      return;
    }
    if (this.serverStream !== null) {
      this.serverStream.write(sseEvent(text(raw)));
      return;
    }
    this.buffered.push(text(raw));
    if (this.buffered.length > this.options.max_buffered_messages) {
      this.buffered.shift();
      this.dropped++;
      this.refuseFromServer(message.method);
    }
  }

  private refuseFromServer(method: string): void {
    const exchange = refusalExchange({
      ...this.identity,
      method,
      error: {
        type: "dropped",
        message: "no stream open to the client and the buffer is full; the oldest message was dropped",
      },
      request_bytes: 0,
    });
    exchange.direction = "server_to_client";
    this.pipeline.process(exchange);
  }

  private oldestOpenReply(): PostReply | undefined {
    for (const reply of this.inFlight.values()) if (reply.open) return reply;
    return undefined;
  }

  private settle(id: RequestId): void {
    this.inFlight.delete(id);
    const token = this.progressByRequest.get(id);
    if (token !== undefined) {
      this.progressByRequest.delete(id);
      this.progress.delete(token);
    }
  }

  /** Answers one pending client request with an error toolwatch produced; false when it is not pending. */
  private answerError(id: RequestId, code: number, message: string): boolean {
    const reply = this.inFlight.get(id);
    if (reply === undefined) return false;
    this.settle(id);
    reply.answer(errorResponse(id, code, message));
    return true;
  }

  private upstreamClosed(close: TransportClose): void {
    if (this.endedReason !== null) return;
    const how =
      close.signal !== null
        ? `signal ${close.signal}`
        : close.exit_code !== null
          ? `exit code ${close.exit_code}`
          : close.reason;
    this.end("upstream_closed", `the upstream closed (${how})`);
  }

  private upstreamError(error: Error): void {
    if (error instanceof UpstreamRequestError) {
      let initializeFailed = false;
      for (const id of error.requestIds) {
        if (this.answerError(id, JsonRpcErrorCode.UpstreamUnavailable, error.message)) {
          this.recorder.fail("client", id, { type: "transport", message: error.message });
          if (id === this.initializeId) initializeFailed = true;
        }
      }
      // A session whose upstream never initialised is of no use; the client starts a new one.
      if (initializeFailed) this.end("start_failed", error.message);
      return;
    }
    this.options.log(`session ${this.id}: upstream error: ${error.message}`);
  }
}

function describeEnd(reason: SessionEnd): string {
  switch (reason) {
    case "deleted":
      return "the client ended the session";
    case "idle":
      return "the session was idle too long";
    case "evicted":
      return "the session was the least recently used when the gateway reached its session limit";
    case "upstream_closed":
      return "the upstream closed";
    case "upstream_hung":
      return "the upstream stopped answering";
    case "shutdown":
      return "the gateway is shutting down";
    case "start_failed":
      return "the upstream could not be started";
  }
}
