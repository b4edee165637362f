import type { CapturedExchange } from "../../core/exchange.js";
import { type Finding, type FindingCategory, findingOrigin, type Severity } from "../../core/finding.js";
import type { FlowSourceMatch } from "./data-flow-tracker.js";
import type { CallAnalysis } from "./flow-analysis.js";
import { reachesSomeone } from "./parties.js";
import type { RoutineRequest } from "./request-sources.js";

/** The fields every flow finding shares, from the exchange that raised it. */
export function flowFinding(
  exchange: CapturedExchange,
  callIndex: number,
  detector: string,
  category: FindingCategory,
  severity: Severity,
  score: number,
  message: string,
  evidence: Record<string, unknown>,
): Finding {
  // Completed in place rather than spread into a new object: same fields in the same order, one allocation.
  const finding = findingOrigin(exchange, callIndex, detector) as Finding;
  finding.category = category;
  finding.severity = severity;
  finding.score = Math.round(Math.min(1, Math.max(0, score)) * 1000) / 1000;
  finding.message = message;
  finding.evidence = evidence;
  return finding;
}

/** Flows as evidence: plain objects, values already clipped. */
export function flowEvidence(flows: readonly FlowSourceMatch[]): Record<string, unknown>[] {
  return flows.slice(0, 6).map((flow) => ({
    from_call: flow.from_call,
    from_tool: flow.from_tool,
    poisoned: flow.poisoned,
    instruction: flow.instruction,
    kind: flow.kind,
    arguments: flow.arguments,
    // Only where a URL's query carried the flow, so that evidence elsewhere keeps its shape.
    ...(flow.query_arguments.length > 0 ? { query_arguments: flow.query_arguments } : {}),
    values: flow.values,
  }));
}

/** Whether the flow chose where the call goes: it reached a destination argument other than through a URL's query. */
export function choosesDestination(flow: FlowSourceMatch, destinations: ReadonlySet<string>): boolean {
  return flow.arguments.some((name) => destinations.has(name) && !flow.query_arguments.includes(name));
}

/** Whether the flow's values leave with the call: in a content argument, or in the query of a destination URL. */
export function carriesOut(flow: FlowSourceMatch, destinations: ReadonlySet<string>): boolean {
  return flow.query_arguments.length > 0 || flow.arguments.some((name) => !destinations.has(name));
}

/** `"GB29…" and "x@y.z"`: the first values of flows, quoted, for a message. */
export function quoteValues(flows: readonly FlowSourceMatch[], maximum = 2): string {
  const values = [...new Set(flows.flatMap((flow) => flow.values))].slice(0, maximum);
  return values.map((value) => `"${value.length > 48 ? `${value.slice(0, 47)}…` : value}"`).join(" and ");
}

/** `call 3 (read_file)` or `calls 1 (search) and 3 (read_file)`. */
export function describeSources(flows: readonly FlowSourceMatch[]): string {
  const parts = flows.slice(0, 3).map((flow) => `${flow.from_call} (${flow.from_tool})`);
  return `${parts.length === 1 ? "call" : "calls"} ${parts.join(" and ")}`;
}

/**
 * Whether the flow put an address that reaches someone (an e-mail address, a web address, a bank account, a
 * phone or account number) into a destination of the call, and that address is not the author of data in the
 * session. A street address, an order or a ticket id reaches nobody; the customer who wrote the ticket is who the
 * desk answers.
 */
export function namesOutsideParty(
  args: Record<string, unknown> | null | undefined,
  flow: FlowSourceMatch,
  destinations: ReadonlySet<string>,
  isAuthor: (value: string) => boolean,
): boolean {
  if (args === null || args === undefined) return false;
  for (const name of flow.arguments) {
    if (!destinations.has(name)) continue;
    const value = args[name];
    for (const item of Array.isArray(value) ? value : [value]) {
      if (typeof item === "string" && reachesSomeone(item) && !isAuthor(item.trim())) return true;
    }
  }
  return false;
}

/**
 * The routine request behind a flow (`CallAnalysis.routine_request`: the agent type acts on that tool's requests
 * with this call's tool every day) when the flow names no outside party in the call's destinations; `null`
 * otherwise, and the flow is judged like any other.
 */
export function routineRequestOf(
  exchange: CapturedExchange,
  call: CallAnalysis,
  flow: FlowSourceMatch,
  destinations: ReadonlySet<string>,
): RoutineRequest | null {
  const request = call.routine_request(flow.from_call, flow.from_tool);
  if (request === null || namesOutsideParty(exchange.arguments, flow, destinations, call.is_author)) return null;
  return request;
}
