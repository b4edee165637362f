import type { Detector, ExchangePosition, FindingSink } from "../../core/detector.js";
import type { CapturedExchange } from "../../core/exchange.js";
import { FlowAnalysis } from "./flow-analysis.js";
import { describeSources, flowEvidence, flowFinding, quoteValues } from "./flow-finding.js";
import { describeCapabilities, isHighRisk } from "./tool-capabilities.js";

const DETECTOR_NAME = "behaviour_change";
/** Calls after a poisoned result in which a change of behaviour is put down to it. */
const WINDOW_CALLS = 5;

/**
 * Raises `tool_poisoning` about what the agent did AFTER a result carried instructions (the poisoning
 * detector reports the result itself): within the next five calls,
 *
 * - high (0.9; 0.95 when the agent type never used the tool in the baseline): a tool not used before in the
 *   session, or a recipient, URL or account not used before, with arguments traced to the poisoned result;
 * - medium (0.6): a payment, outbound, delete, admin or exec tool not used before in the session, without
 *   traced arguments.
 *
 * At most one finding of each severity per session: the first departure is the one to act on.
 */
export class BehaviourChangeDetector implements Detector {
  readonly name = DETECTOR_NAME;
  private readonly analysis: FlowAnalysis;
  private readonly reported = new Map<string, number>();

  constructor(analysis: FlowAnalysis = new FlowAnalysis()) {
    this.analysis = analysis;
  }

  learn(exchange: CapturedExchange): void {
    this.analysis.learn(exchange);
  }

  observe(exchange: CapturedExchange, position: ExchangePosition, emit: FindingSink): void {
    const call = this.analysis.analyse(exchange, position);
    if (call === null || call.poisoned_before.length === 0) return;
    const last = call.poisoned_before[call.poisoned_before.length - 1]!;
    const since = call.call_index - last.call_index;
    if (since > WINDOW_CALLS || !(call.new_tool || call.new_destinations.length > 0)) return;
    const traced = call.trace.flows.filter((flow) => flow.poisoned);
    const reported = this.reported.get(call.session) ?? 0;
    const high = traced.length > 0 && (reported & 2) === 0;
    const medium = traced.length === 0 && call.new_tool && isHighRisk(call.capabilities) && (reported & 1) === 0;
    // Most calls in the window raise nothing (the session already had its finding): no message or evidence for them.
    if (!high && !medium) return;
    const kinds = describeCapabilities(call.capabilities);
    const departures: string[] = [];
    if (call.new_tool) {
      departures.push(
        `a tool not used before in this session (${call.tool}${call.tool_in_baseline === false ? ", never used by this agent type in the baseline" : ""})`,
      );
    }
    if (call.new_destinations.length > 0)
      departures.push(`a new destination (${call.new_destinations.slice(0, 2).join(", ")})`);
    const evidence = {
      call_index: call.call_index,
      tool: call.tool,
      capabilities: kinds,
      poisoned_results: call.poisoned_before,
      calls_since_poisoned_result: since,
      new_tool: call.new_tool,
      tool_in_baseline: call.tool_in_baseline,
      new_destinations: call.new_destinations,
      flows: flowEvidence(traced),
      baseline:
        "the tools and destinations of this session before the poisoned result; the agent type's tools in the baseline traffic",
    };
    if (high) {
      this.reported.set(call.session, reported | 2);
      emit(
        flowFinding(
          exchange,
          call.call_index,
          DETECTOR_NAME,
          "tool_poisoning",
          "high",
          call.tool_in_baseline === false ? 0.95 : 0.9,
          `call ${call.call_index}: after the result of call ${last.call_index} (${last.tool}) carried instructions, the agent turned to ${departures.join(" and ")} with ${quoteValues(traced)} from ${describeSources(traced)}: it is following the injected instructions; hold the call`,
          evidence,
        ),
      );
      return;
    }
    if (medium) {
      this.reported.set(call.session, reported | 1);
      emit(
        flowFinding(
          exchange,
          call.call_index,
          DETECTOR_NAME,
          "tool_poisoning",
          "medium",
          0.6,
          `call ${call.call_index}: ${since} call(s) after the result of call ${last.call_index} (${last.tool}) carried instructions, the agent turned to ${departures.join(" and ")} (${kinds.join(", ")}); check it against the user's request`,
          evidence,
        ),
      );
    }
  }

  endSession(session: string): void {
    this.reported.delete(session);
    this.analysis.endSession(session);
  }

  async shutdown(): Promise<void> {
    this.reported.clear();
  }
}
