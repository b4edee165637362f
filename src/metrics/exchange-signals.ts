import { type CapturedExchange, REFUSED_ERROR_TYPE } from "../core/exchange.js";

/**
 * What one exchange contributes to the metrics and the alert conditions. Metrics, alert rules
 * and `toolwatch stats` all read exchanges through this one function so that they agree.
 */
export interface ExchangeSignals {
  /** A `tools/call` that reached an answer (or failed trying). */
  is_call: boolean;
  /** Any failure: tool-level or server-level. */
  is_error: boolean;
  /** The tool said it failed (`isError: true`, bad arguments). */
  is_tool_error: boolean;
  /** JSON-RPC error, timeout, transport failure, cancelled. */
  is_server_error: boolean;
  is_protocol_error: boolean;
  /** Seconds from request to response, when there was one. */
  latency_seconds: number | null;
  dlp_blocks: number;
  dlp_redactions: number;
  policy_denials: number;
  auth_failures: number;
  /** `error.type` for the metric label: `tool_error`, a JSON-RPC code, `timeout`, `transport`, or `""` on success. */
  error_type: string;
}

export function exchangeSignals(exchange: CapturedExchange): ExchangeSignals {
  const errorType = exchange.error?.type ?? "";
  const isProtocolError = exchange.kind === "protocol_error";
  const isToolError = errorType === "tool_error";
  // A call inline defence refused never reached the server: a security signal, not a failure of tool or server.
  const isRefused = errorType === REFUSED_ERROR_TYPE;
  const isServerError = exchange.error !== null && !isToolError && !isProtocolError && !isRefused;
  let dlpBlocks = 0;
  let dlpRedactions = 0;
  let policyDenials = 0;
  let authFailures = 0;
  if (exchange.decisions !== undefined) {
    for (const decision of exchange.decisions) {
      if (decision.stage === "dlp") {
        if (decision.action === "block" || decision.action === "deny") dlpBlocks++;
        else if (decision.action === "redact") dlpRedactions++;
      } else if (decision.stage === "policy" && (decision.action === "deny" || decision.action === "block")) {
        policyDenials++;
      } else if (decision.stage === "auth" && decision.action === "deny") {
        authFailures++;
      }
    }
  }
  return {
    is_call: exchange.method === "tools/call" && !isProtocolError,
    is_error: isToolError || isServerError,
    is_tool_error: isToolError,
    is_server_error: isServerError,
    is_protocol_error: isProtocolError,
    latency_seconds:
      typeof exchange.duration_ms === "number" && !isProtocolError && !isRefused ? exchange.duration_ms / 1000 : null,
    dlp_blocks: dlpBlocks,
    dlp_redactions: dlpRedactions,
    policy_denials: policyDenials,
    auth_failures: authFailures,
    error_type: errorType,
  };
}
