import type { InlineDecision, TransportName } from "./exchange.js";
import type { JsonRpcErrorResponse, JsonRpcRequest, JsonRpcSuccess } from "./transport.js";

/** The session a guarded message belongs to, as the proxy or gateway knows it. */
export interface GuardSession {
  session: string;
  user: string | null;
  agent: string | null;
  server: string;
  transport: TransportName;
  source: string | null;
}

/** The JSON-RPC error a refused message is answered with. Neutral: it never says which check refused. */
export interface GuardRefusal {
  code: number;
  message: string;
}

/**
 * What to do with a message on its way through.
 *
 * - `forward`: send `message` (a rewritten copy: redacted arguments, a filtered `tools/list`, a quarantine
 *   notice) or, when absent, the original bytes unchanged.
 * - `refuse`: do not forward; answer the requester with `refusal` instead.
 *
 * `record` is what the store may keep when it differs from what was forwarded (secrets masked even where the
 * rule only alerts, the full `tools/list` the server sent). `decisions` go into the captured exchange.
 */
export type GuardVerdict<Message> =
  | { action: "forward"; decisions: InlineDecision[]; message?: Message; record?: Message }
  | { action: "refuse"; decisions: InlineDecision[]; refusal: GuardRefusal; record?: Message };

/** A response on its way back to the client. */
export type GuardResponse = JsonRpcSuccess | JsonRpcErrorResponse;

/**
 * Inline defence, as the stdio proxy and the HTTP gateway see it: one call per client request before it is
 * forwarded, one per response before the client sees it.
 *
 * Runs on the forward path, so both methods are synchronous, must be cheap, and must not throw (a guard that
 * throws fails closed: the proxy refuses the message and counts the error). `null` means "nothing to say": the
 * message passes unchanged with no decision, the common case, and allocates nothing.
 * Time is the message's event time in milliseconds, so rate limits and time windows replay the same way.
 */
export interface InlineGuard {
  inspectRequest(session: GuardSession, request: JsonRpcRequest, time_ms: number): GuardVerdict<JsonRpcRequest> | null;
  /** `request` is the request as it was forwarded (after any rewriting), so the guard knows the method and tool. */
  inspectResponse(
    session: GuardSession,
    request: JsonRpcRequest,
    response: GuardResponse,
    time_ms: number,
  ): GuardVerdict<GuardResponse> | null;
  /** Forgets the session's state (rate-limit windows). */
  endSession(session: string): void;
}
