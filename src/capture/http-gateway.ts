import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { isStdioUpstream, type ToolwatchConfig, type UpstreamConfig } from "../config/config.js";
import { JsonRpcErrorCode } from "../core/errors.js";
import type { ExchangeError, InlineDecision } from "../core/exchange.js";
import type { InboundFrame, RequestId, Transport } from "../core/transport.js";
import { createMetricsHttpHandler } from "../metrics/prometheus.js";
import { errorResponse, type MessageLimits, parseMessage } from "../protocol/parse-message.js";
import { createLiveRuntime, type LiveRuntime } from "../runtime/live-runtime.js";
import { ADMIN_API_PREFIX, createAdminApi } from "./admin-api.js";
import type { RecorderOptions, SessionIdentity } from "./exchange-recorder.js";
import { GatewayAuthenticator, PROTECTED_RESOURCE_METADATA_PATH, type Principal } from "./gateway-auth.js";
import { GatewaySession, refusalExchange, type SessionEnd } from "./gateway-session.js";
import { HttpUpstream } from "./http-upstream.js";
import { readBody } from "./request-body.js";
import { StdioUpstream } from "./stdio-upstream.js";

/** Builds the transport to one upstream for one gateway session. */
export type UpstreamFactory = (server: string, upstream: UpstreamConfig, limits: MessageLimits) => Transport;

export interface GatewayOptions {
  config: ToolwatchConfig;
  /** Where exchanges are recorded. Without one the gateway makes its own, with no store, and shuts it down on close. */
  runtime?: LiveRuntime;
  /** Overrides `gateway.host`. */
  host?: string;
  /** Overrides `gateway.port`; 0 picks a free port. */
  port?: number;
  /** Receives the gateway's log lines; defaults to stderr. */
  log?: (line: string) => void;
  /** Overrides how upstream transports are made (tests inject failures here). */
  createUpstream?: UpstreamFactory;
  /** Server messages held per session while no GET stream is open. */
  max_buffered_messages?: number;
  /**
   * Sessions (and so upstream processes) open at once. At the limit a new session evicts the least
   * recently used idle one; when every session is busy, `initialize` gets 503.
   */
  max_sessions?: number;
  /** Interval of the keep-alive comment on GET streams. */
  keep_alive_ms?: number;
}

/** What the gateway has done since it started. */
export interface GatewayCounters {
  sessions_open: number;
  sessions_started: number;
  /** HTTP requests received. */
  requests: number;
  /** HTTP requests refused (each one is also recorded as a `protocol_error` exchange). */
  refused: number;
  /** Server messages dropped because no stream to the client was open and the buffer was full. */
  dropped_server_messages: number;
}

/** One configured upstream and where the gateway exposes it. */
export interface GatewayRoute {
  server: string;
  url: string;
  /** `stdio: <command>` or the remote URL, for the startup log. */
  upstream: string;
}

/** A running gateway. */
export interface Gateway {
  /** Base URL, such as `http://127.0.0.1:8808`. */
  url: string;
  routes: GatewayRoute[];
  counters(): GatewayCounters;
  /** Stops accepting, ends every session (stopping its upstream), flushes the pipeline. Idempotent. */
  close(): Promise<void>;
}

const ROUTE_PREFIX = "/mcp/";
const SERVER_NAME = /^[A-Za-z0-9._-]{1,64}$/;
/** Visible ASCII, as the spec requires of session ids; anything else cannot be one of ours. */
const SESSION_ID = /^[\x21-\x7e]{1,128}$/;
/** Marks records that belong to no session (refused before one was found). */
const NO_SESSION = "-";
const ALLOW = "GET, POST, DELETE";

/** The transport to each upstream kind: a spawned process per session, or a remote session per session. */
export const defaultUpstreamFactory: UpstreamFactory = (_server, upstream, limits) => {
  if (isStdioUpstream(upstream)) {
    return new StdioUpstream({
      command: upstream.command,
      args: upstream.args,
      env: upstream.env,
      cwd: upstream.cwd,
      limits,
    });
  }
  return new HttpUpstream({ url: upstream.url, headers: upstream.headers, limits });
};

/** What the gateway knows about a request before it finds the session. */
interface RequestContext {
  request: IncomingMessage;
  response: ServerResponse;
  source: string | null;
  server: string;
  principal: Principal | null;
  session: GatewaySession | null;
  /** The session id the client sent, when it is printable; recorded for refusals. */
  sessionHeader: string | null;
  /** Whether the request body was read (so the connection can be kept). */
  bodyRead: boolean;
}

/**
 * Starts the Streamable HTTP gateway: every configured upstream at `/mcp/<server>`, one upstream
 * connection per gateway session, every exchange recorded through the runtime's pipeline.
 */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { config } = options;
  const ownsRuntime = options.runtime === undefined;
  const runtime = options.runtime ?? createLiveRuntime({ config, store: null });
  const pipeline = runtime.pipeline;
  const log = options.log ?? ((line: string) => process.stderr.write(`toolwatch: ${line}\n`));
  const createUpstream = options.createUpstream ?? defaultUpstreamFactory;
  const authenticator = new GatewayAuthenticator({ apiKeys: config.gateway.api_keys, auth: config.gateway.auth });
  const limits: MessageLimits = {
    max_message_bytes: config.capture.max_message_bytes,
    max_depth: config.capture.max_depth,
  };
  const recorderOptions: RecorderOptions = {
    max_text_bytes: config.capture.max_text_bytes,
    max_params_bytes: Math.min(16 * 1024, config.capture.max_text_bytes),
  };
  const maxBody = config.capture.max_message_bytes;
  const requestTimeout = config.capture.request_timeout;
  const idleTimeout = config.gateway.session_idle_timeout;
  const maxSessions = options.max_sessions ?? 256;
  const upstreams = new Map<string, UpstreamConfig>(Object.entries(config.servers));
  const sessions = new Map<string, GatewaySession>();
  const counters = { sessions_started: 0, requests: 0, refused: 0, dropped_server_messages: 0 };
  const closingSessions = new Set<Promise<void>>();
  const metricsPath = config.gateway.metrics_path;
  const serveMetrics = createMetricsHttpHandler(runtime.analysis.metrics, {
    dropped: {
      store: () => runtime.store?.counters().dropped ?? 0,
      gateway_server_messages: () => counters.dropped_server_messages,
    },
  });
  const adminApi =
    config.gateway.admin_users.length === 0
      ? null
      : createAdminApi({ runtime, users: config.gateway.admin_users, log });
  let closing: Promise<void> | null = null;

  function record(
    context: RequestContext,
    method: string | null,
    error: ExchangeError,
    bytes: number,
    id: RequestId | null,
    decisions?: InlineDecision[],
  ) {
    if (context.session !== null) {
      context.session.refuse(method, error, bytes, id);
      return;
    }
    pipeline.process(
      refusalExchange({
        session: context.sessionHeader ?? NO_SESSION,
        user: context.principal?.user ?? null,
        agent: context.principal?.agent ?? null,
        server: context.server,
        source: context.source,
        method,
        error,
        request_bytes: bytes,
        request_id: id,
        decisions,
      }),
    );
  }

  /**
   * Refuses a request: answers with `status` and a JSON-RPC error body and records the refusal. The
   * body says what was wrong but never echoes credentials.
   */
  function refuse(
    context: RequestContext,
    status: number,
    reason: string,
    extra: {
      method?: string | null;
      id?: RequestId | null;
      code?: number;
      headers?: Record<string, string>;
      bytes?: number;
      decision?: InlineDecision;
    } = {},
  ): void {
    counters.refused++;
    const code = extra.code ?? JsonRpcErrorCode.InvalidRequest;
    const bytes = extra.bytes ?? declaredLength(context.request);
    const decisions = extra.decision === undefined ? undefined : [extra.decision];
    record(
      context,
      extra.method ?? null,
      { type: `http_${status}`, message: reason },
      bytes,
      extra.id ?? null,
      decisions,
    );
    const response = context.response;
    if (response.headersSent) {
      response.end();
      return;
    }
    const body = errorResponse(extra.id ?? null, code, reason);
    const headers: Record<string, string | number> = {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
      ...extra.headers,
    };
    // An unread body would have to be drained before the connection could carry another request.
    if (!context.bodyRead && hasBody(context.request)) headers.connection = "close";
    response.writeHead(status, headers);
    response.end(body);
  }

  function handle(request: IncomingMessage, response: ServerResponse): void {
    counters.requests++;
    const url = request.url ?? "/";
    // Scrapers do not carry MCP credentials; the metrics hold no session ids, arguments or results.
    if (metricsPath !== null && (url === metricsPath || url.startsWith(`${metricsPath}?`))) {
      serveMetrics(request, response);
      return;
    }
    const name = routeOf(url);
    const sessionHeader = request.headers["mcp-session-id"];
    const context: RequestContext = {
      request,
      response,
      source: request.socket.remoteAddress ?? null,
      server: name !== null && SERVER_NAME.test(name) ? name : NO_SESSION,
      principal: null,
      session: null,
      sessionHeader: typeof sessionHeader === "string" && SESSION_ID.test(sessionHeader) ? sessionHeader : null,
      bodyRead: false,
    };
    if (closing !== null) {
      refuse(context, 503, "the gateway is shutting down", { headers: { connection: "close" } });
      return;
    }
    const requestUrl = publicUrl(request);
    // Clients discover the authorization server here before they hold a token (RFC 9728), browsers included.
    if (authenticator.acceptsTokens && isMetadataPath(requestUrl.pathname)) {
      serveMetadata(context, requestUrl);
      return;
    }
    const origin = request.headers.origin;
    if (origin !== undefined && !sameOrigin(origin, request.headers.host)) {
      refuse(context, 403, "cross-origin requests are not allowed");
      return;
    }
    void authenticator.authenticate(request.headers, requestUrl).then((authentication) => {
      if (!authentication.ok) {
        refuse(context, authentication.status, authentication.reason, {
          headers: { "www-authenticate": authentication.wwwAuthenticate },
          decision: { stage: "auth", action: "deny", reason: authentication.reason },
        });
        return;
      }
      context.principal = authentication.principal;
      if (closing !== null) {
        refuse(context, 503, "the gateway is shutting down", { headers: { connection: "close" } });
        return;
      }
      if (adminApi !== null && url.startsWith(ADMIN_API_PREFIX)) {
        adminApi(request, response, authentication.principal);
        return;
      }
      route(context, name);
    });
  }

  /** Serves the Protected Resource Metadata document: GET only, no credentials needed. */
  function serveMetadata(context: RequestContext, requestUrl: URL): void {
    const { request, response } = context;
    if (request.method !== "GET" && request.method !== "HEAD") {
      refuse(context, 405, `method ${request.method} is not allowed`, { headers: { allow: "GET, HEAD" } });
      return;
    }
    const body = JSON.stringify(authenticator.protectedResourceMetadata(requestUrl));
    response.writeHead(200, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
      "cache-control": "max-age=300",
      "access-control-allow-origin": "*",
    });
    response.end(request.method === "HEAD" ? undefined : body);
  }

  /** Whether `path` is the metadata of the gateway or of one of its routes (`…/mcp/<server>`). */
  function isMetadataPath(path: string): boolean {
    if (path === PROTECTED_RESOURCE_METADATA_PATH) return true;
    if (!path.startsWith(`${PROTECTED_RESOURCE_METADATA_PATH}/`)) return false;
    const rest = path.slice(PROTECTED_RESOURCE_METADATA_PATH.length);
    if (rest === "/mcp") return true;
    const server = routeOf(rest);
    return server !== null && upstreams.has(server);
  }

  /** Hands an authenticated request to its route and method. */
  function route(context: RequestContext, name: string | null): void {
    const { request } = context;
    const upstream = name === null ? undefined : upstreams.get(name);
    if (name === null || upstream === undefined) {
      refuse(
        context,
        404,
        `no MCP server at ${context.server === NO_SESSION ? "this path" : `${ROUTE_PREFIX}${name}`}`,
      );
      return;
    }
    switch (request.method) {
      case "POST":
        handlePost(context, name, upstream);
        return;
      case "GET":
        handleGet(context);
        return;
      case "DELETE":
        handleDelete(context);
        return;
      default:
        refuse(context, 405, `method ${request.method} is not allowed`, { headers: { allow: ALLOW } });
    }
  }

  /** Finds the session the request names; refuses (400/404) and returns null when there is none. */
  function findSession(
    context: RequestContext,
    method: string | null = null,
    id: RequestId | null = null,
  ): GatewaySession | null {
    const header = context.request.headers["mcp-session-id"];
    if (header === undefined) {
      refuse(context, 400, "the Mcp-Session-Id header is required (send initialize first)", { method, id });
      return null;
    }
    const session = typeof header === "string" ? sessions.get(header) : undefined;
    // Another principal's session is reported as unknown: the answer must not confirm that it exists.
    if (
      session === undefined ||
      session.ended ||
      session.identity.server !== context.server ||
      session.principal.binding !== context.principal!.binding
    ) {
      refuse(context, 404, "session not found (it ended or never existed): send initialize to start a new one", {
        method,
        id,
      });
      return null;
    }
    context.session = session;
    return session;
  }

  function handlePost(context: RequestContext, name: string, upstream: UpstreamConfig): void {
    const { request } = context;
    if (!isJsonContentType(request.headers["content-type"])) {
      refuse(context, 415, "Content-Type must be application/json");
      return;
    }
    const accept = request.headers.accept;
    if (!accepts(accept, "application/json") || !accepts(accept, "text/event-stream")) {
      refuse(context, 406, "Accept must list both application/json and text/event-stream");
      return;
    }
    if (declaredLength(request) > maxBody) {
      refuse(context, 413, `the message exceeds the limit of ${maxBody} bytes`);
      return;
    }
    readBody(request, maxBody, (body, size) => {
      context.bodyRead = body !== null;
      if (body === null) {
        refuse(context, 413, `the message exceeds the limit of ${maxBody} bytes`, {
          bytes: size,
          headers: { connection: "close" },
        });
        return;
      }
      const frame = parseMessage(body, limits);
      if (!frame.ok) {
        malformed(context, frame);
        return;
      }
      const message = frame.message;
      if (
        context.request.headers["mcp-session-id"] === undefined &&
        message !== undefined &&
        "method" in message &&
        "id" in message &&
        message.method === "initialize"
      ) {
        void initialize(context, name, upstream, frame);
        return;
      }
      const session = findSession(context, firstMethod(frame), firstId(frame));
      if (session === null) return;
      session.post(frame, context.response, null);
    });
  }

  function malformed(context: RequestContext, frame: InboundFrame & { ok: false }): void {
    counters.refused++;
    const header = context.request.headers["mcp-session-id"];
    const session = typeof header === "string" ? sessions.get(header) : undefined;
    if (session !== undefined && !session.ended && session.principal.binding === context.principal!.binding) {
      session.malformed(frame);
    } else {
      record(
        context,
        null,
        { type: String(frame.code), message: frame.reason, code: frame.code },
        frame.bytes,
        frame.id,
      );
    }
    const body = errorResponse(frame.id, frame.code, frame.reason);
    context.response.writeHead(400, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    context.response.end(body);
  }

  /** Makes room for one more session; false when every session is busy. */
  function makeRoom(): boolean {
    if (sessions.size < maxSessions) return true;
    let oldest: GatewaySession | null = null;
    for (const session of sessions.values()) {
      if (session.pendingRequests > 0) continue;
      if (oldest === null || session.lastActivity < oldest.lastActivity) oldest = session;
    }
    if (oldest === null) return false;
    oldest.end("evicted");
    return true;
  }

  async function initialize(
    context: RequestContext,
    name: string,
    upstream: UpstreamConfig,
    frame: InboundFrame & { ok: true },
  ): Promise<void> {
    if (!makeRoom()) {
      refuse(context, 503, `all ${maxSessions} sessions are busy; try again later`, {
        method: "initialize",
        id: firstId(frame),
        headers: { "retry-after": "1" },
      });
      return;
    }
    const principal = context.principal!;
    const id = randomUUID();
    const identity: SessionIdentity = {
      session: id,
      user: principal.user,
      agent: principal.agent,
      server: name,
      transport: "http",
      source: context.source,
    };
    let transport: Transport;
    try {
      transport = createUpstream(name, upstream, limits);
    } catch (error) {
      refuse(context, 502, `the upstream could not be created: ${describe(error)}`, {
        method: "initialize",
        id: firstId(frame),
        code: JsonRpcErrorCode.UpstreamUnavailable,
      });
      return;
    }
    const session = new GatewaySession({
      identity,
      principal,
      upstream: transport,
      pipeline,
      recorder: recorderOptions,
      max_buffered_messages: options.max_buffered_messages ?? 256,
      keep_alive_ms: options.keep_alive_ms ?? 25_000,
      onEnded: sessionEnded,
      log,
      ...(runtime.guard === null ? {} : { guard: runtime.guard }),
    });
    sessions.set(id, session);
    counters.sessions_started++;
    context.session = session;
    const startFailed = (reason: string) => {
      session.recorder.observe("client", frame);
      session.recorder.fail("client", firstId(frame)!, { type: "transport", message: reason });
      counters.refused++;
      const body = errorResponse(firstId(frame), JsonRpcErrorCode.UpstreamUnavailable, reason);
      context.response.writeHead(502, {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(body),
      });
      context.response.end(body);
      session.end("start_failed", reason);
    };
    try {
      await transport.start();
    } catch (error) {
      startFailed(describe(error));
      return;
    }
    // It may have exited already, before it was sent anything.
    if (session.ended) {
      startFailed("the upstream exited as it started");
      return;
    }
    session.initializeId = firstId(frame);
    session.post(frame, context.response, { "mcp-session-id": id });
  }

  function handleGet(context: RequestContext): void {
    if (!accepts(context.request.headers.accept, "text/event-stream")) {
      refuse(context, 406, "Accept must list text/event-stream");
      return;
    }
    const session = findSession(context);
    if (session === null) return;
    if (!session.attachServerStream(context.response)) {
      refuse(context, 409, "this session already has a GET stream open");
    }
  }

  function handleDelete(context: RequestContext): void {
    const session = findSession(context);
    if (session === null) return;
    session.end("deleted");
    context.response.writeHead(200, { "content-length": 0 });
    context.response.end();
  }

  function sessionEnded(session: GatewaySession, reason: SessionEnd): void {
    sessions.delete(session.id);
    counters.dropped_server_messages += session.dropped;
    const closed = session.closed.finally(() => closingSessions.delete(closed));
    closingSessions.add(closed);
    if (reason !== "deleted" && reason !== "shutdown")
      log(`session ${session.id} (${session.identity.server}) ended: ${reason}`);
  }

  const server: Server = createServer({ noDelay: true, keepAlive: true }, handle);
  server.keepAliveTimeout = 65_000;
  server.on("clientError", (_error, socket) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n");
    else socket.destroy();
  });
  const host = options.host ?? config.gateway.host;
  server.listen(options.port ?? config.gateway.port, host);
  await once(server, "listening");
  const address = server.address() as AddressInfo;
  const base = `http://${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}`;

  const sweepInterval = Math.max(50, Math.min(1_000, Math.floor(Math.min(requestTimeout, idleTimeout) / 4)));
  const sweeper = setInterval(() => {
    const now = Date.now();
    for (const session of sessions.values()) {
      session.expire(requestTimeout, now);
      if (!session.ended && session.pendingRequests === 0 && now - session.lastActivity > idleTimeout)
        session.end("idle");
    }
  }, sweepInterval);
  sweeper.unref();

  const routes: GatewayRoute[] = [...upstreams].map(([server, upstream]) => ({
    server,
    url: `${base}${ROUTE_PREFIX}${server}`,
    upstream: isStdioUpstream(upstream) ? `stdio: ${[upstream.command, ...upstream.args].join(" ")}` : upstream.url,
  }));
  log(`gateway listening on ${base}`);
  for (const route of routes) log(`  ${route.url} -> ${route.upstream}`);
  if (authenticator.anonymous) {
    log("no gateway.api_keys or gateway.auth.jwt configured: every client is let in anonymously (user null)");
  } else {
    const methods = [`${config.gateway.api_keys.length} API key(s)`];
    if (authenticator.acceptsTokens) methods.push(`access tokens from ${config.gateway.auth?.jwt?.issuer}`);
    log(`${methods.join(" and ")} accepted: requests without valid credentials get 401`);
  }

  return {
    url: base,
    routes,
    counters() {
      let dropped = counters.dropped_server_messages;
      for (const session of sessions.values()) dropped += session.dropped;
      return { ...counters, dropped_server_messages: dropped, sessions_open: sessions.size };
    },
    close() {
      closing ??= (async () => {
        clearInterval(sweeper);
        const stopped = once(server, "close");
        server.close();
        for (const session of [...sessions.values()]) session.end("shutdown");
        server.closeIdleConnections();
        await Promise.all([...closingSessions]);
        // Whatever is still connected now has nothing more to receive.
        server.closeAllConnections();
        await stopped;
        if (ownsRuntime) await runtime.shutdown();
        else await pipeline.forceFlush();
      })();
      return closing;
    },
  };
}

/**
 * The URL the client used, for the resource metadata link: the Host header on the listening
 * scheme. Behind a TLS proxy, configure `gateway.auth.resource` rather than trusting this.
 */
function publicUrl(request: IncomingMessage): URL {
  // Appended rather than resolved, so that a path such as `//elsewhere/` cannot change the origin.
  const path = request.url?.startsWith("/") ? request.url : "/";
  const host = request.headers.host;
  if (host !== undefined && /^[A-Za-z0-9.:[\]-]{1,255}$/.test(host)) {
    try {
      return new URL(`http://${host}${path}`);
    } catch {
      // A Host that is not a host falls through to the socket's own address.
    }
  }
  const address = request.socket.localAddress ?? "127.0.0.1";
  const authority = `${address.includes(":") ? `[${address}]` : address}:${request.socket.localPort ?? 80}`;
  try {
    return new URL(`http://${authority}${path}`);
  } catch {
    return new URL(`http://${authority}/`);
  }
}

function routeOf(url: string): string | null {
  if (!url.startsWith(ROUTE_PREFIX)) return null;
  const query = url.indexOf("?");
  const name = url.slice(ROUTE_PREFIX.length, query === -1 ? url.length : query);
  return name.length > 0 ? name : null;
}

function firstMethod(frame: InboundFrame & { ok: true }): string | null {
  const first = frame.message ?? frame.batch[0];
  return first !== undefined && "method" in first ? first.method : null;
}

function firstId(frame: InboundFrame & { ok: true }): RequestId | null {
  const first = frame.message ?? frame.batch[0];
  return first !== undefined && "id" in first ? first.id : null;
}

function declaredLength(request: IncomingMessage): number {
  const header = request.headers["content-length"];
  if (header === undefined) return 0;
  const length = Number(header);
  return Number.isFinite(length) && length >= 0 ? length : 0;
}

function hasBody(request: IncomingMessage): boolean {
  return declaredLength(request) > 0 || request.headers["transfer-encoding"] !== undefined;
}

function isJsonContentType(header: string | undefined): boolean {
  if (header === undefined) return false;
  const semicolon = header.indexOf(";");
  return (semicolon === -1 ? header : header.slice(0, semicolon)).trim().toLowerCase() === "application/json";
}

/** Whether an Accept header admits `type`, wildcards included. */
function accepts(header: string | undefined, type: string): boolean {
  if (header === undefined) return false;
  header = header.toLowerCase();
  if (header.includes(type)) return true;
  const slash = type.indexOf("/");
  return header.includes("*/*") || header.includes(`${type.slice(0, slash)}/*`);
}

/** Browsers send Origin; only the gateway's own origin may talk to it (DNS-rebinding protection). */
function sameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  try {
    return new URL(origin).host === host.toLowerCase();
  } catch {
    return false;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
