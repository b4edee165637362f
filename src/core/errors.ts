/** JSON-RPC error codes toolwatch answers with (they cross the wire). */
export const JsonRpcErrorCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** Implementation-defined server errors: the upstream is gone, timed out or refused. */
  UpstreamUnavailable: -32000,
  UpstreamTimeout: -32001,
  /** Inline defence refused the message (policy, DLP, poisoning, pinning). The wire message stays neutral. */
  RequestRefused: -32003,
  RequestCancelled: -32800,
} as const;

/** Local error codes: they never cross the wire. */
export type ToolwatchErrorCode =
  | "config_invalid"
  | "capture_invalid"
  | "store_unavailable"
  | "upstream_failed"
  | "usage";

/** An error toolwatch raises itself, with a stable code for callers and a message for people. */
export class ToolwatchError extends Error {
  readonly code: ToolwatchErrorCode;
  constructor(code: ToolwatchErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ToolwatchError";
    this.code = code;
  }
}
