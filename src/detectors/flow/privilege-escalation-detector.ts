import type { Detector, ExchangePosition, FindingSink } from "../../core/detector.js";
import type { CapturedExchange } from "../../core/exchange.js";
import type { Severity } from "../../core/finding.js";
import type { FlowSourceMatch } from "./data-flow-tracker.js";
import { FlowAnalysis } from "./flow-analysis.js";
import {
  carriesOut,
  choosesDestination,
  describeSources,
  flowEvidence,
  flowFinding,
  quoteValues,
  routineRequestOf,
} from "./flow-finding.js";
import type { RoutineRequest } from "./request-sources.js";
import { describeCapabilities, isHighRisk, isSensitive } from "./tool-capabilities.js";

/** The detector's name, under which the three flow detectors' shared baseline is saved. */
export const PRIVILEGE_ESCALATION_DETECTOR = "privilege_escalation";
const DETECTOR_NAME = PRIVILEGE_ESCALATION_DETECTOR;

/**
 * Raises `privilege_escalation_chain` when the output of one tool builds the arguments of a more sensitive
 * one (a payment, an outbound send, a delete, an admin change, a command, a write):
 *
 * - high (0.9, 0.95 when the value sat in the injected request itself): values from a result that carried
 *   instructions aimed at the model (poisoned) reach a sensitive call. This is the attacker-directed call of
 *   a prompt injection, caught before it runs when the inline guard asks;
 * - high (0.75): an identifier from a sentence that reads as a request ("please send 200 USD to …") in a
 *   result that was not flagged as poisoned reaches a payment, outbound, delete, admin or exec call: an
 *   injection written in the user's own voice;
 * - low (0.3): an identifier from any earlier result becomes a destination (recipient, URL, account) of such
 *   a call: ordinary work (replying to the sender of a mail), recorded for the investigation. So is a request to
 *   write back to the data's own author when the call carries nothing else from the session's results, and a
 *   routine request (the agent type's baseline reads that tool's results as requests and calls this tool after
 *   them; `CallAnalysis.routine_request`) whose values name no outside party in the call's destinations.
 *
 * Values the session's arguments carried before the result appeared came from the user and are not counted.
 */
export class PrivilegeEscalationDetector implements Detector {
  readonly name = DETECTOR_NAME;
  private readonly analysis: FlowAnalysis;

  constructor(analysis: FlowAnalysis = new FlowAnalysis()) {
    this.analysis = analysis;
  }

  learn(exchange: CapturedExchange): void {
    this.analysis.learn(exchange);
  }

  observe(exchange: CapturedExchange, position: ExchangePosition, emit: FindingSink): void {
    const call = this.analysis.analyse(exchange, position);
    if (call === null || !isSensitive(call.capabilities)) return;
    const flows = call.trace.flows.filter((flow) => flow.from_tool !== call.tool);
    if (flows.length === 0) return;
    const highRisk = isHighRisk(call.capabilities);
    const kinds = describeCapabilities(call.capabilities);
    const destinations = new Set(call.capabilities.destination_arguments);
    // A request the agent type acts on every day is its work, unless it sends to someone the data named.
    const routine: { flow: FlowSourceMatch; request: RoutineRequest }[] = [];
    const unlessRoutine = (flow: FlowSourceMatch): boolean => {
      const request = routineRequestOf(exchange, call, flow, destinations);
      if (request === null) return true;
      routine.push({ flow, request });
      return false;
    };
    const poisoned = flows.filter((flow) => flow.poisoned && unlessRoutine(flow));
    const instructed = flows.filter(
      (flow) => !flow.poisoned && flow.instruction && flow.kind === "exact" && unlessRoutine(flow),
    );
    const toDestination = flows.filter((flow) => flow.kind === "exact" && choosesDestination(flow, destinations));
    let severity: Severity;
    let score: number;
    let reason: string;
    let shown = flows;
    let routineRequest: RoutineRequest | null = null;
    if (poisoned.length > 0) {
      severity = "high";
      score = poisoned.some((flow) => flow.instruction) ? 0.95 : highRisk ? 0.9 : 0.85;
      shown = poisoned;
      reason = `${call.tool} (${kinds.join(", ")}) carries ${quoteValues(poisoned)} taken from the result of ${describeSources(poisoned)}, which carried instructions aimed at the model: the call is directed by injected content; hold it and review the session`;
    } else if (instructed.length > 0 && highRisk && !repliesToAuthor(instructed, flows, destinations, call.is_author)) {
      severity = "high";
      score = 0.75;
      shown = instructed;
      reason = `${call.tool} (${kinds.join(", ")}) carries ${quoteValues(instructed)} taken from a sentence of the result of ${describeSources(instructed)} that reads as a request: check that the user, not the data, asked for this`;
    } else if (routine.length > 0) {
      severity = "low";
      score = 0.3;
      shown = routine.map((item) => item.flow);
      routineRequest = routine[0]!.request;
      reason = `${call.tool} (${kinds.join(", ")}) carries ${quoteValues(shown)} from a request in the result of ${describeSources(shown)}: routine for this agent type, whose baseline read ${routineRequest.flagged} of ${routineRequest.results} results of ${routineRequest.source} as requests and called ${call.tool} after them in ${routineRequest.follow_sessions} sessions`;
    } else if (toDestination.length > 0 && highRisk) {
      severity = "low";
      score = 0.3;
      shown = toDestination;
      const author = instructed.length > 0 ? ", the author of that data, who asked to be written to" : "";
      reason = `${call.tool} (${kinds.join(", ")}) sends to ${quoteValues(toDestination)}, taken from the result of ${describeSources(toDestination)}${author}`;
    } else {
      return;
    }
    emit(
      flowFinding(
        exchange,
        call.call_index,
        DETECTOR_NAME,
        "privilege_escalation_chain",
        severity,
        score,
        `call ${call.call_index}: ${reason}`,
        {
          call_index: call.call_index,
          tool: call.tool,
          capabilities: kinds,
          flows: flowEvidence(shown),
          flow_bytes: call.trace.bytes,
          ...(routineRequest === null ? {} : { routine_request: routineRequest }),
          baseline: "values the session's arguments carried before the result appeared (those came from the user)",
        },
      ),
    );
  }

  endSession(session: string): void {
    this.analysis.endSession(session);
  }

  saveBaseline(): unknown {
    return this.analysis.saveBaseline();
  }

  loadBaseline(state: unknown): string | null {
    return this.analysis.loadBaseline(state);
  }

  async shutdown(): Promise<void> {}
}

/**
 * Whether a call only writes back to whoever wrote the data that asked for it ("Reply to lee@partner.example" in
 * Lee's own mail): every value taken from a request names an author of the session's results, and no flow feeds
 * anything but the call's destinations, so nothing read elsewhere goes with it. Someone else's address in the
 * request, or content carried along (a document, a secret, a record), keeps the request a finding.
 */
function repliesToAuthor(
  instructed: readonly FlowSourceMatch[],
  flows: readonly FlowSourceMatch[],
  destinations: ReadonlySet<string>,
  isAuthor: (value: string) => boolean,
): boolean {
  return (
    instructed.every((flow) => flow.values.length > 0 && flow.values.every(isAuthor)) &&
    flows.every((flow) => !carriesOut(flow, destinations))
  );
}
