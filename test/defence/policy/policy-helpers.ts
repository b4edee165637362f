import assert from "node:assert/strict";
import { type PolicyCall, type PolicyDecision, PolicyEngine } from "../../../src/defence/policy/policy-engine.js";
import { parsePolicy } from "../../../src/defence/policy/policy-file.js";

/** Monday 2 March 2026, 10:00 UTC. */
export const MONDAY_10_UTC = Date.parse("2026-03-02T10:00:00Z");

/** An engine for policy YAML given as lines; fails the test with the parse error when the policy is bad. */
export function engineFor(lines: string[]): PolicyEngine {
  const parsed = parsePolicy(lines.join("\n"), "test-policy.yaml");
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.error);
  return new PolicyEngine(parsed.policy);
}

/** A call with sensible defaults: user ada, agent support, session s1, Monday 10:00 UTC, no arguments. */
export function call(fields: Partial<PolicyCall> & { server: string; tool: string }): PolicyCall {
  return { user: "ada", agent: "support", session: "s1", arguments: {}, time_ms: MONDAY_10_UTC, ...fields };
}

/** The rule that refused, or "allowed". */
export function verdict(decision: PolicyDecision): string {
  return decision.allowed ? "allowed" : decision.rule;
}
