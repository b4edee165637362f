import { createParser } from "eventsource-parser";
import type { InboundFrame, JsonRpcMessage, RequestId, Transport, TransportClose } from "../core/transport.js";
import { DEFAULT_MESSAGE_LIMITS, type MessageLimits, parseMessage } from "../protocol/parse-message.js";

/** How to reach a remote Streamable HTTP MCP server. */
export interface HttpUpstreamOptions {
  url: string;
  /** Sent with every request (a remote's own credentials); never recorded. */
  headers?: Record<string, string>;
  limits?: MessageLimits;
  /** Attempts to reopen the server's GET stream after it fails, before giving up on it. */
  max_stream_retries?: number;
}

/**
 * The remote could not deliver answers to these requests (unreachable, an HTTP error, a stream that
 * ended early). Reported through `onerror` so that the caller answers the client itself: these are
 * failures toolwatch saw, not messages the server sent.
 */
export class UpstreamRequestError extends Error {
  readonly requestIds: RequestId[];
  /** The remote's HTTP status, or `null` when there was no answer at all. */
  readonly status: number | null;
  constructor(message: string, requestIds: RequestId[], status: number | null) {
    super(message);
    this.name = "UpstreamRequestError";
    this.requestIds = requestIds;
    this.status = status;
  }
}

/** Header names the transport sets itself; configured headers must not override them. */
const RESERVED_HEADERS = new Set([
  "accept",
  "content-type",
  "mcp-session-id",
  "mcp-protocol-version",
  "content-length",
]);

/**
 * A `Transport` to a remote MCP server over Streamable HTTP.
 *
 * Each message is POSTed on its own; the answer (a JSON body or an SSE stream) is parsed with the one
 * message parser and handed to `onmessage` as it arrives. The transport keeps the remote's
 * `Mcp-Session-Id` and negotiated protocol version, opens the remote's GET stream once the session is
 * initialised (where the remote offers one) and ends the remote session with DELETE on close.
 */
export class HttpUpstream implements Transport {
  onmessage?: (frame: InboundFrame) => void;
  onclose?: (close: TransportClose) => void;
  onerror?: (error: Error) => void;

  private readonly url: string;
  private readonly staticHeaders: Record<string, string>;
  private readonly limits: MessageLimits;
  private readonly maxStreamRetries: number;
  private readonly abort = new AbortController();
  private sessionId: string | null = null;
  private protocolVersion: string | null = null;
  private initializeId: RequestId | null = null;
  private streamOpen = false;
  private streamRetries = 0;
  private closed = false;

  constructor(options: HttpUpstreamOptions) {
    this.url = options.url;
    this.limits = options.limits ?? DEFAULT_MESSAGE_LIMITS;
    this.maxStreamRetries = options.max_stream_retries ?? 3;
    this.staticHeaders = {};
    for (const [name, value] of Object.entries(options.headers ?? {})) {
      if (!RESERVED_HEADERS.has(name.toLowerCase())) this.staticHeaders[name] = value;
    }
  }

  /** Nothing to connect: the remote is reached with the first message. */
  async start(): Promise<void> {}

  send(message: JsonRpcMessage, raw?: Buffer | string): void {
    const requestIds = "method" in message && "id" in message ? [message.id] : [];
    if (this.closed) {
      if (requestIds.length > 0) this.onerror?.(new UpstreamRequestError("upstream is closed", requestIds, null));
      return;
    }
    if ("method" in message && "id" in message && message.method === "initialize") this.initializeId = message.id;
    void this.post(message, raw ?? JSON.stringify(message), requestIds);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    if (this.sessionId !== null) {
      // Best effort: a remote that does not allow DELETE (405) or is gone ends its session by itself.
      try {
        const response = await fetch(this.url, {
          method: "DELETE",
          headers: this.headers(null),
          signal: AbortSignal.timeout(2_000),
        });
        await response.body?.cancel();
      } catch {
        // The remote is unreachable; its session will time out there.
      }
    }
    this.onclose?.({ exit_code: null, signal: null, reason: "closed" });
  }

  private headers(accept: string | null): Record<string, string> {
    const headers: Record<string, string> = { ...this.staticHeaders };
    if (accept !== null) headers.accept = accept;
    if (this.sessionId !== null) headers["mcp-session-id"] = this.sessionId;
    if (this.protocolVersion !== null) headers["mcp-protocol-version"] = this.protocolVersion;
    return headers;
  }

  private async post(message: JsonRpcMessage, body: Buffer | string, requestIds: RequestId[]): Promise<void> {
    const pending = new Set(requestIds);
    let response: Response;
    try {
      const headers = this.headers("application/json, text/event-stream");
      headers["content-type"] = "application/json";
      response = await fetch(this.url, { method: "POST", headers, body, signal: this.abort.signal });
    } catch (error) {
      this.requestFailed(`cannot reach the remote: ${describe(error)}`, pending, null);
      return;
    }
    const session = response.headers.get("mcp-session-id");
    if (session !== null && session.length > 0) this.sessionId = session;
    if (!response.ok) {
      await response.body?.cancel().catch(() => {});
      if (response.status === 404 && this.sessionId !== null && !isInitialize(message)) {
        // The remote ended its session: everything that depended on it is gone.
        this.requestFailed("the remote ended the session (HTTP 404)", pending, 404);
        this.end("the remote ended the session (HTTP 404)");
        return;
      }
      this.requestFailed(`the remote answered HTTP ${response.status}`, pending, response.status);
      return;
    }
    const type = mediaType(response.headers.get("content-type"));
    try {
      if (response.status === 202 || response.body === null) {
        await response.body?.cancel();
      } else if (type === "text/event-stream") {
        await this.readEvents(response.body, pending);
      } else if (type === "application/json") {
        const text = await response.arrayBuffer();
        this.deliver(parseMessage(Buffer.from(text), this.limits), pending);
      } else {
        await response.body.cancel();
        this.requestFailed(`the remote answered with unexpected content type ${JSON.stringify(type)}`, pending, 200);
        return;
      }
    } catch (error) {
      this.requestFailed(`the remote's answer broke off: ${describe(error)}`, pending, response.status);
      return;
    }
    this.requestFailed("the remote closed the stream before answering", pending, response.status);
    if ("method" in message && message.method === "notifications/initialized") void this.openServerStream();
  }

  /** Opens the remote's GET stream for messages it sends on its own (405 means it has none). */
  private async openServerStream(): Promise<void> {
    if (this.streamOpen || this.closed) return;
    this.streamOpen = true;
    while (!this.closed) {
      let failed = true;
      try {
        const response = await fetch(this.url, {
          method: "GET",
          headers: this.headers("text/event-stream"),
          signal: this.abort.signal,
        });
        if (response.status === 405) {
          await response.body?.cancel();
          break;
        }
        if (
          response.ok &&
          response.body !== null &&
          mediaType(response.headers.get("content-type")) === "text/event-stream"
        ) {
          this.streamRetries = 0;
          failed = false;
          await this.readEvents(response.body, new Set());
        } else {
          await response.body?.cancel();
        }
      } catch (error) {
        if (this.closed) break;
        this.onerror?.(new Error(`server stream from the remote failed: ${describe(error)}`));
      }
      if (failed && ++this.streamRetries > this.maxStreamRetries) break;
      await new Promise((resolve) => setTimeout(resolve, 250 * 2 ** this.streamRetries).unref());
    }
    this.streamOpen = false;
  }

  private async readEvents(body: ReadableStream<Uint8Array>, pending: Set<RequestId>): Promise<void> {
    const decoder = new TextDecoder();
    let failure: string | null = null;
    const parser = createParser({
      maxBufferSize: this.limits.max_message_bytes,
      onEvent: (event) => {
        if (event.event !== undefined && event.event !== "message") return;
        if (event.data.length === 0) return;
        this.deliver(parseMessage(event.data, this.limits), pending);
      },
      onError: (error) => {
        if (error.type === "max-buffer-size-exceeded") failure = error.message;
      },
    });
    for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
      parser.feed(decoder.decode(chunk, { stream: true }));
      if (failure !== null) throw new Error(failure);
    }
  }

  private deliver(frame: InboundFrame, pending: Set<RequestId>): void {
    if (frame.ok) {
      const messages = frame.message !== undefined ? [frame.message] : frame.batch;
      for (const message of messages) {
        if ("method" in message) continue;
        if (message.id !== null) pending.delete(message.id);
        if (message.id === this.initializeId && "result" in message) {
          const version = message.result.protocolVersion;
          if (typeof version === "string") this.protocolVersion = version;
        }
      }
    }
    this.onmessage?.(frame);
  }

  private requestFailed(message: string, pending: Set<RequestId>, status: number | null): void {
    if (pending.size === 0 || this.closed) return;
    this.onerror?.(new UpstreamRequestError(message, [...pending], status));
    pending.clear();
  }

  private end(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    this.onclose?.({ exit_code: null, signal: null, reason });
  }
}

function isInitialize(message: JsonRpcMessage): boolean {
  return "method" in message && message.method === "initialize";
}

function mediaType(contentType: string | null): string {
  if (contentType === null) return "";
  const semicolon = contentType.indexOf(";");
  return (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as Error & { cause?: unknown }).cause;
    return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
  }
  return String(error);
}
