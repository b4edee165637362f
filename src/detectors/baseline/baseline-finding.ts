import type { ExchangePosition } from "../../core/detector.js";
import type { CapturedExchange } from "../../core/exchange.js";
import { type Finding, type FindingCategory, findingOrigin, type Severity } from "../../core/finding.js";

/** What a baseline model says about one exchange; the rest of the finding comes from the exchange. */
export interface BaselineVerdict {
  category: FindingCategory;
  severity: Severity;
  score: number;
  message: string;
  evidence: Record<string, unknown>;
}

/** A finding about `exchange` raised by the detector `detector`. */
export function baselineFinding(
  detector: string,
  exchange: CapturedExchange,
  position: Pick<ExchangePosition, "call_index" | "index">,
  verdict: BaselineVerdict,
): Finding {
  // Object.assign, not spreads: V8 copies a spread object far more slowly, and baselines can raise many findings.
  return Object.assign(findingOrigin(exchange, position.call_index, detector), {
    category: verdict.category,
    severity: verdict.severity,
    score: Math.max(0, Math.min(1, Math.round(verdict.score * 1000) / 1000)),
    message: verdict.message,
    evidence: Object.assign({ call_index: position.call_index, exchange_index: position.index }, verdict.evidence),
  });
}

/** A session-level finding (at `endSession`), about the last exchange the session had. */
export function sessionFinding(
  detector: string,
  last: { session: string; user: string | null; agent: string | null; server: string; time_ms: number },
  verdict: BaselineVerdict,
): Finding {
  return {
    time: new Date(last.time_ms).toISOString(),
    session: last.session,
    user: last.user,
    agent: last.agent,
    server: last.server,
    tool: null,
    call_index: null,
    detector,
    category: verdict.category,
    severity: verdict.severity,
    score: Math.max(0, Math.min(1, Math.round(verdict.score * 1000) / 1000)),
    message: verdict.message,
    evidence: verdict.evidence,
  };
}

/** The agent type an exchange belongs to; sessions without one share a baseline. */
export function agentType(exchange: CapturedExchange): string {
  return exchange.agent ?? "(no agent type)";
}

/** How much baseline traffic a key needs before it is scored at all: less than this and every value looks new. */
export const MIN_BASELINE_SESSIONS = 20;
