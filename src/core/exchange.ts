/**
 * The captured exchange: the one record that flows through toolwatch.
 *
 * Field names follow the capture record format (v1) of the data sets and extend it
 * for methods other than `tools/call`. JSON on the wire and in the store uses exactly
 * these names, so the TypeScript types mirror them (snake_case included).
 * See docs/event-format.md.
 */

/** Who sent the message that opened the exchange. */
export type Direction = "client_to_server" | "server_to_client";

/** What the exchange is: a request paired with its response, a one-way notification, or a message that broke the protocol. */
export type ExchangeKind = "request" | "notification" | "protocol_error";

/** How the exchange reached toolwatch. */
export type TransportName = "stdio" | "http" | "replay";

/**
 * Why an exchange failed.
 * `type` is `tool_error` when a tool returned `isError: true`; the JSON-RPC error code as a string
 * (`"-32601"`) for JSON-RPC errors; `timeout`, `transport` or `cancelled` for failures toolwatch saw itself.
 * Matches OpenTelemetry's `error.type` attribute for MCP.
 */
export interface ExchangeError {
  type: string;
  message: string;
  /** The JSON-RPC error code, where there was one. */
  code?: number;
}

/** A tool definition as advertised by `tools/list`, kept for pinning and poisoning checks. */
export interface ToolDefinition {
  name: string;
  description?: string;
  input_schema?: unknown;
  output_schema?: unknown;
  annotations?: unknown;
}

/** Name and version a peer announced in `initialize`. */
export interface PeerInfo {
  name: string;
  version?: string;
}

/** `error.type` of a message inline defence refused: the client got a neutral JSON-RPC error instead. */
export const REFUSED_ERROR_TYPE = "refused";

/** The error levels that separate a tool's own failures from the server's. */
export type ErrorLevel = "tool" | "server";

/** The stage of inline defence that took a decision. */
export type DecisionStage = "auth" | "policy" | "dlp" | "poisoning" | "pinning";

/** What inline defence did to an exchange. */
export type DecisionAction = "allow" | "alert" | "deny" | "redact" | "quarantine" | "block";

/**
 * A decision toolwatch took in the path of the call. Part of the record so that replay, metrics
 * (DLP block rate, policy denial rate) and alerts (`auth_failures`) see exactly what live traffic saw.
 */
export interface InlineDecision {
  stage: DecisionStage;
  action: DecisionAction;
  /** The rule or policy that decided, when one did. */
  rule?: string;
  /** Why, for the record; never contains the secret that matched. */
  reason: string;
  /** Which side of the call the decision looked at. */
  direction?: "arguments" | "result";
}

/** One MCP exchange as seen on the wire. */
export interface CapturedExchange {
  /** RFC 3339 UTC, when the opening message was seen. */
  time: string;
  /** Opaque session id: assigned by toolwatch for the session it proxies. */
  session: string;
  /** The human principal behind the agent, when known. */
  user: string | null;
  /** The session type / agent role, when known. */
  agent: string | null;
  /** The MCP server that owns the exchange (the proxy's `--server` name or the gateway route). */
  server: string;
  /** `mcp.method.name`; `null` only for protocol errors whose method could not be read. */
  method: string | null;
  /** `gen_ai.tool.name` for `tools/call`. */
  tool?: string | null;
  /** `tools/call` arguments. */
  arguments?: Record<string, unknown> | null;
  /** The text content returned (tool results, resource text, prompt messages, sampling output). */
  result?: string | null;
  error: ExchangeError | null;
  /** Request to response in milliseconds; `null` for notifications and protocol errors. */
  duration_ms: number | null;

  // Extensions beyond the v1 data-set fields. All optional so v1 files replay as they are.
  kind?: ExchangeKind;
  direction?: Direction;
  transport?: TransportName;
  /** `jsonrpc.request.id`. */
  request_id?: string | number | null;
  /** Request parameters for methods other than `tools/call` (bounded in size). */
  params?: unknown;
  /** `resources/read` and resource subscriptions. */
  uri?: string | null;
  /** `prompts/get`. */
  prompt?: string | null;
  /** `tools/list` results. */
  tools?: ToolDefinition[];
  /** Client info from `initialize`. */
  client?: PeerInfo | null;
  /** Server info from the `initialize` result. */
  server_info?: PeerInfo | null;
  protocol_version?: string | null;
  /** Size of the opening message in bytes. */
  request_bytes?: number;
  /** Size of the closing message in bytes. */
  response_bytes?: number;
  /** True when `result` was clipped to `capture.max_text_bytes`. */
  truncated?: boolean;
  /** Inline decisions (authentication, policy, DLP, poisoning, pinning) in the order they were taken. */
  decisions?: InlineDecision[];
  /** The address the session came from (HTTP gateway). */
  source?: string | null;
}

/**
 * `tool` for failures the tool reported itself, `server` for everything else; `null` when the exchange succeeded
 * or inline defence refused it (the server never saw it, so neither is at fault).
 */
export function errorLevel(exchange: CapturedExchange): ErrorLevel | null {
  if (exchange.error === null || exchange.error.type === REFUSED_ERROR_TYPE) return null;
  return exchange.error.type === "tool_error" ? "tool" : "server";
}
