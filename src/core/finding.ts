import type { CapturedExchange } from "./exchange.js";

/** What every detector reports. JSON uses these names exactly; see docs/event-format.md. */

export const SEVERITIES = ["critical", "high", "medium", "low", "info"] as const;
export type Severity = (typeof SEVERITIES)[number];

export const FINDING_CATEGORIES = [
  "tool_poisoning",
  "read_then_exfiltrate",
  "credential_harvesting",
  "privilege_escalation_chain",
  "slow_exfiltration",
  "sequence_anomaly",
  "argument_anomaly",
  "temporal_anomaly",
  "resource_anomaly",
  "cross_session",
  "dlp",
  "policy",
  "auth",
  "tool_definition_change",
  "operational",
] as const;
export type FindingCategory = (typeof FINDING_CATEGORIES)[number];

/** A detector's verdict about one point in a session. */
export interface Finding {
  /** Event time of the exchange that raised it (RFC 3339 UTC). */
  time: string;
  session: string;
  user: string | null;
  agent: string | null;
  server: string;
  tool: string | null;
  /** 0-based index of the `tools/call` in its session, or `null` when the finding is not about a call. */
  call_index: number | null;
  /** Name of the detector that raised it. */
  detector: string;
  category: FindingCategory;
  severity: Severity;
  /** Strength of the evidence, 0 to 1. */
  score: number;
  /** One sentence an operator can act on; says which baseline or rule it departs from. */
  message: string;
  /** Call indexes, values, baselines: whatever lets an investigator check the claim. */
  evidence: Record<string, unknown>;
}

const SEVERITY_RANK: Record<Severity, number> = { critical: 4, high: 3, medium: 2, low: 1, info: 0 };

/** Orders severities: positive when `a` is more severe than `b`. */
export function compareSeverity(a: Severity, b: Severity): number {
  return SEVERITY_RANK[a] - SEVERITY_RANK[b];
}

/** The fields of a finding that say where it was raised. */
export type FindingOrigin = Pick<
  Finding,
  "time" | "session" | "user" | "agent" | "server" | "tool" | "call_index" | "detector"
>;

/**
 * Where a finding about `exchange` was raised: its time and session identity, copied from the exchange. Complete
 * it with `Object.assign(findingOrigin(...), { category, ... })` rather than `{ ...findingOrigin(...), category }`:
 * on Node 20 a spread followed by more properties takes the slow path, 1 to 4 us an object, and some detectors
 * raise a finding on most calls.
 */
export function findingOrigin(
  exchange: CapturedExchange,
  call_index: number | null,
  detector: string,
  tool: string | null = exchange.tool ?? null,
): FindingOrigin {
  return {
    time: exchange.time,
    session: exchange.session,
    user: exchange.user,
    agent: exchange.agent,
    server: exchange.server,
    tool,
    call_index,
    detector,
  };
}
