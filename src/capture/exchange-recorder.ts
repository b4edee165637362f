import { performance } from "node:perf_hooks";
import type {
  CapturedExchange,
  Direction,
  ExchangeError,
  InlineDecision,
  PeerInfo,
  TransportName,
} from "../core/exchange.js";
import type { InboundFrame, JsonRpcMessage, RequestId } from "../core/transport.js";
import { clip, contentText, toolDefinitions } from "./content-text.js";

/** Who the recorded session belongs to. Mutable: the gateway learns the user after authentication. */
export interface SessionIdentity {
  session: string;
  user: string | null;
  agent: string | null;
  server: string;
  transport: TransportName;
  source: string | null;
}

export interface RecorderOptions {
  /** Longest text kept from a result; longer text is clipped and the record says so. */
  max_text_bytes: number;
  /** Parameters of methods other than `tools/call` are kept only up to this size. */
  max_params_bytes: number;
}

export const DEFAULT_RECORDER_OPTIONS: RecorderOptions = { max_text_bytes: 1024 * 1024, max_params_bytes: 16 * 1024 };

/** A request still waiting for its response. */
export interface PendingRequest {
  id: RequestId;
  method: string;
  direction: Direction;
  params: Record<string, unknown> | undefined;
  bytes: number;
  time_ms: number;
  started: number;
  /** Inline decisions taken on the request, carried into the exchange when it closes. */
  decisions: InlineDecision[] | undefined;
}

/** What inline defence adds to a recorded message: its decisions, and for a refused answer the error the client got. */
export interface FrameAnnotation {
  decisions: InlineDecision[];
  /** Replaces the recorded outcome of a response (the client got a refusal instead of the server's answer). */
  error?: ExchangeError;
}

/** What the caller should do with a frame after recording it. */
export type FrameDisposition = "forward" | "late_response";

type Peer = "client" | "server";

/** How many closed request ids to remember so that late responses are recognised. */
const CLOSED_ID_MEMORY = 4096;

/**
 * Pairs requests with responses in both directions and turns every message into a
 * `CapturedExchange`. It only observes: forwarding is the caller's job and happens first.
 */
export class ExchangeRecorder {
  /** Requests sent by the client, waiting for the server's response. */
  private readonly fromClient = new Map<RequestId, PendingRequest>();
  /** Requests sent by the server (sampling, elicitation, roots, ping), waiting for the client. */
  private readonly fromServer = new Map<RequestId, PendingRequest>();
  /** Ids of requests toolwatch closed itself (timeout, cancellation, failure), per sender: both peers number from 0. */
  private readonly closedFromClient = new Set<RequestId>();
  private readonly closedFromServer = new Set<RequestId>();
  private client: PeerInfo | null = null;

  constructor(
    readonly identity: SessionIdentity,
    private readonly sink: (exchange: CapturedExchange) => void,
    private readonly options: RecorderOptions = DEFAULT_RECORDER_OPTIONS,
  ) {}

  get pendingCount(): number {
    return this.fromClient.size + this.fromServer.size;
  }

  /** Client info from `initialize`, once seen. */
  get clientInfo(): PeerInfo | null {
    return this.client;
  }

  /**
   * True when a response from `from` with this id would be late: toolwatch closed the request it answers
   * (timeout, cancellation, failure) and no request with that id is pending again. Lets a proxy swallow
   * the response before forwarding it, since the other peer already has its answer.
   */
  isLateResponse(from: Peer, id: RequestId | null): boolean {
    if (id === null) return false;
    const answered = from === "server" ? this.fromClient : this.fromServer;
    const closed = from === "server" ? this.closedFromClient : this.closedFromServer;
    return !answered.has(id) && closed.has(id);
  }

  /** The request from the other peer that a response from `from` with this id would answer, if it is pending. */
  awaiting(from: Peer, id: RequestId): PendingRequest | undefined {
    return (from === "server" ? this.fromClient : this.fromServer).get(id);
  }

  /**
   * Records a frame sent by `from`. `annotation` carries the inline decisions about a single-message frame
   * (a batch is recorded member by member by its guard).
   */
  observe(from: Peer, frame: InboundFrame, now = Date.now(), annotation?: FrameAnnotation): FrameDisposition {
    if (!frame.ok) {
      this.emitProtocolError(
        from,
        null,
        { type: String(frame.code), message: frame.reason, code: frame.code },
        frame.bytes,
        now,
        frame.id,
      );
      return "forward";
    }
    if (frame.message !== undefined) return this.observeMessage(from, frame.message, frame.bytes, now, annotation);
    let disposition: FrameDisposition = "forward";
    // Sizes of batch members are not known separately; each gets an even share.
    const share = Math.round(frame.bytes / frame.batch.length);
    for (const message of frame.batch) {
      if (this.observeMessage(from, message, share, now) === "late_response") disposition = "late_response";
    }
    return disposition;
  }

  private observeMessage(
    from: Peer,
    message: JsonRpcMessage,
    bytes: number,
    now: number,
    annotation?: FrameAnnotation,
  ): FrameDisposition {
    const direction: Direction = from === "client" ? "client_to_server" : "server_to_client";
    if ("method" in message) {
      if ("id" in message) {
        const pending = from === "client" ? this.fromClient : this.fromServer;
        if (pending.has(message.id)) {
          this.emitProtocolError(
            from,
            message.method,
            {
              type: "-32600",
              message: `duplicate request id ${JSON.stringify(message.id)} while the first is still pending`,
              code: -32600,
            },
            bytes,
            now,
            message.id,
          );
          return "forward";
        }
        if (message.method === "initialize") this.client = peerInfo(message.params?.clientInfo);
        pending.set(message.id, {
          id: message.id,
          method: message.method,
          direction,
          params: message.params,
          bytes,
          time_ms: now,
          started: performance.now(),
          decisions: annotation !== undefined && annotation.decisions.length > 0 ? annotation.decisions : undefined,
        });
        return "forward";
      }
      this.emitNotification(direction, message.method, message.params, bytes, now);
      return "forward";
    }
    // A response answers a request that travelled the other way.
    const pending = from === "server" ? this.fromClient : this.fromServer;
    const closed = from === "server" ? this.closedFromClient : this.closedFromServer;
    const id = message.id;
    const request = id === null ? undefined : pending.get(id);
    if (request === undefined) {
      if (id !== null && closed.has(id)) {
        closed.delete(id);
        this.emitProtocolError(
          from,
          null,
          { type: "late_response", message: `response to request ${JSON.stringify(id)} arrived after it was closed` },
          bytes,
          now,
          id,
        );
        return "late_response";
      }
      if (id === null && "error" in message) {
        const error = message.error;
        this.emitProtocolError(
          from,
          null,
          { type: String(error.code), message: error.message, code: error.code },
          bytes,
          now,
          null,
        );
      } else {
        this.emitProtocolError(
          from,
          null,
          { type: "-32600", message: `response to unknown request id ${JSON.stringify(id)}`, code: -32600 },
          bytes,
          now,
          id,
        );
      }
      return "forward";
    }
    pending.delete(request.id);
    const duration = performance.now() - request.started;
    if (annotation !== undefined) {
      if (annotation.decisions.length > 0) {
        request.decisions =
          request.decisions === undefined ? annotation.decisions : [...request.decisions, ...annotation.decisions];
      }
      if (annotation.error !== undefined) {
        this.emitRequest(request, "result" in message ? message.result : undefined, annotation.error, duration, bytes);
        return "forward";
      }
    }
    if ("error" in message) {
      const error = message.error;
      this.emitRequest(
        request,
        undefined,
        { type: String(error.code), message: error.message, code: error.code },
        duration,
        bytes,
      );
    } else {
      this.emitRequest(request, message.result, null, duration, bytes);
    }
    return "forward";
  }

  /**
   * Closes every pending request whose answer is older than `timeoutMs`, recording a `timeout`.
   * Returns the client's requests so the caller can answer them; a late answer is then swallowed.
   */
  expire(timeoutMs: number, now = Date.now()): PendingRequest[] {
    const expired: PendingRequest[] = [];
    for (const map of [this.fromClient, this.fromServer]) {
      for (const request of map.values()) {
        if (now - request.time_ms < timeoutMs) continue;
        map.delete(request.id);
        this.rememberClosed(request.direction, request.id);
        this.emitRequest(
          request,
          undefined,
          { type: "timeout", message: `no response within ${timeoutMs} ms` },
          now - request.time_ms,
          0,
        );
        if (request.direction === "client_to_server") expired.push(request);
      }
    }
    return expired;
  }

  /** Closes every pending request with a transport failure (the peer went away). Returns the client's requests. */
  failAll(message: string, now = Date.now()): PendingRequest[] {
    const failed: PendingRequest[] = [...this.fromClient.values()];
    for (const request of [...this.fromClient.values(), ...this.fromServer.values()]) {
      this.rememberClosed(request.direction, request.id);
      this.emitRequest(request, undefined, { type: "transport", message }, now - request.time_ms, 0);
    }
    this.fromClient.clear();
    this.fromServer.clear();
    return failed;
  }

  /**
   * Closes one pending request with an error toolwatch produced itself (policy refusal, upstream
   * unreachable). Returns false when no such request is pending.
   */
  fail(from: Peer, id: RequestId, error: ExchangeError): boolean {
    const map = from === "client" ? this.fromClient : this.fromServer;
    const request = map.get(id);
    if (request === undefined) return false;
    map.delete(id);
    this.rememberClosed(request.direction, id);
    this.emitRequest(request, undefined, error, performance.now() - request.started, 0);
    return true;
  }

  private rememberClosed(direction: Direction, id: RequestId): void {
    const closed = direction === "client_to_server" ? this.closedFromClient : this.closedFromServer;
    // Re-inserting moves the id to the newest end, so eviction drops the oldest closure.
    closed.delete(id);
    closed.add(id);
    if (closed.size > CLOSED_ID_MEMORY) {
      const oldest = closed.values().next().value;
      if (oldest !== undefined) closed.delete(oldest);
    }
  }

  private base(direction: Direction, method: string | null, time_ms: number): CapturedExchange {
    const identity = this.identity;
    return {
      time: isoTime(time_ms),
      session: identity.session,
      user: identity.user,
      agent: identity.agent,
      server: identity.server,
      method,
      error: null,
      duration_ms: null,
      direction,
      transport: identity.transport,
      source: identity.source,
    };
  }

  private emitRequest(
    request: PendingRequest,
    result: Record<string, unknown> | undefined,
    error: ExchangeError | null,
    duration: number,
    responseBytes: number,
  ): void {
    const exchange = this.base(request.direction, request.method, request.time_ms);
    exchange.kind = "request";
    exchange.request_id = request.id;
    exchange.duration_ms = Math.round(duration * 1000) / 1000;
    exchange.request_bytes = request.bytes;
    exchange.response_bytes = responseBytes;
    const params = request.params;
    const limit = this.options.max_text_bytes;
    switch (request.method) {
      case "tools/call": {
        exchange.tool = typeof params?.name === "string" ? params.name : null;
        const argumentsValue = params?.arguments;
        exchange.arguments = isObject(argumentsValue) ? argumentsValue : null;
        if (result !== undefined) {
          const { text, truncated } = contentText(result.content, limit);
          exchange.result = text;
          if (truncated) exchange.truncated = true;
          if (result.isError === true && error === null) error = { type: "tool_error", message: clip(text, 1024).text };
        } else {
          exchange.result = null;
        }
        break;
      }
      case "resources/read":
        exchange.uri = typeof params?.uri === "string" ? params.uri : null;
        if (result !== undefined) this.setResult(exchange, result.contents);
        break;
      case "prompts/get":
        exchange.prompt = typeof params?.name === "string" ? params.name : null;
        exchange.arguments = isObject(params?.arguments) ? params.arguments : null;
        if (result !== undefined) this.setResult(exchange, result.messages);
        break;
      case "tools/list":
        if (result !== undefined) exchange.tools = toolDefinitions(result.tools);
        break;
      case "initialize":
        exchange.client = peerInfo(params?.clientInfo);
        exchange.protocol_version = typeof params?.protocolVersion === "string" ? params.protocolVersion : null;
        if (result !== undefined) {
          exchange.server_info = peerInfo(result.serverInfo);
          if (typeof result.protocolVersion === "string") exchange.protocol_version = result.protocolVersion;
        }
        break;
      case "sampling/createMessage":
        exchange.params = this.boundedParams(params, request.bytes);
        if (result !== undefined) this.setResult(exchange, result.content);
        break;
      default:
        if (params !== undefined) exchange.params = this.boundedParams(params, request.bytes);
        if (request.method.startsWith("resources/") && typeof params?.uri === "string") exchange.uri = params.uri;
    }
    exchange.error = error;
    if (request.decisions !== undefined) exchange.decisions = request.decisions;
    this.sink(exchange);
  }

  private emitNotification(
    direction: Direction,
    method: string,
    params: Record<string, unknown> | undefined,
    bytes: number,
    now: number,
  ): void {
    if (method === "notifications/cancelled" && params !== undefined) {
      const id = params.requestId;
      // The sender cancels its own request.
      const map = direction === "client_to_server" ? this.fromClient : this.fromServer;
      if ((typeof id === "string" || typeof id === "number") && map.has(id)) {
        const reason = typeof params.reason === "string" ? params.reason : "cancelled by the sender";
        const request = map.get(id)!;
        map.delete(id);
        this.rememberClosed(direction, id);
        this.emitRequest(
          request,
          undefined,
          { type: "cancelled", message: reason },
          performance.now() - request.started,
          0,
        );
      }
    }
    const exchange = this.base(direction, method, now);
    exchange.kind = "notification";
    exchange.request_bytes = bytes;
    if (params !== undefined) exchange.params = this.boundedParams(params, bytes);
    this.sink(exchange);
  }

  private emitProtocolError(
    from: Peer,
    method: string | null,
    error: ExchangeError,
    bytes: number,
    now: number,
    id: RequestId | null,
  ): void {
    const exchange = this.base(from === "client" ? "client_to_server" : "server_to_client", method, now);
    exchange.kind = "protocol_error";
    exchange.error = error;
    exchange.request_bytes = bytes;
    if (id !== null) exchange.request_id = id;
    this.sink(exchange);
  }

  private setResult(exchange: CapturedExchange, content: unknown): void {
    const { text, truncated } = contentText(content, this.options.max_text_bytes);
    exchange.result = text;
    if (truncated) exchange.truncated = true;
  }

  private boundedParams(params: Record<string, unknown> | undefined, messageBytes: number): unknown {
    if (params === undefined) return undefined;
    // The message size bounds the params size, so most messages are kept without measuring.
    return messageBytes <= this.options.max_params_bytes ? params : { truncated: true, message_bytes: messageBytes };
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function peerInfo(value: unknown): PeerInfo | null {
  if (!isObject(value) || typeof value.name !== "string") return null;
  return typeof value.version === "string" ? { name: value.name, version: value.version } : { name: value.name };
}

let isoSecond = Number.NaN;
let isoPrefix = "";

/**
 * `new Date(ms).toISOString()` for the record's time. Date formatting is a large share of recording an
 * exchange, and exchanges come many to the second: the part up to the second is formatted once and reused.
 */
export function isoTime(ms: number): string {
  // Fractions and times beyond the Date range keep toISOString's own truncation and RangeError.
  if (!Number.isInteger(ms) || Math.abs(ms) > 8.64e15) return new Date(ms).toISOString();
  const second = Math.floor(ms / 1000);
  if (second !== isoSecond) {
    const iso = new Date(second * 1000).toISOString();
    isoPrefix = iso.slice(0, -4);
    isoSecond = second;
  }
  const millis = ms - second * 1000;
  return `${isoPrefix}${millis < 10 ? "00" : millis < 100 ? "0" : ""}${millis}Z`;
}
