import type { Detector, ExchangePosition, FindingSink } from "../../core/detector.js";
import type { CapturedExchange } from "../../core/exchange.js";
import type { FlowSourceMatch } from "./data-flow-tracker.js";
import { type CallAnalysis, FlowAnalysis } from "./flow-analysis.js";
import { describeSources, flowEvidence, flowFinding, quoteValues, routineRequestOf } from "./flow-finding.js";
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
 * At most one finding of each severity per session: the first departure is the one to act on. Neither is raised
 * for a routine request (`CallAnalysis.routine_request`: the agent type's baseline reads the poisoned result's tool
 * as a source of requests and calls this tool after them) unless a traced value names an outside party in the
 * call's destinations; `privilege_escalation` records such calls at low.
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
    if (call === null) return;
    if (!this.afterPoisoning(exchange, call, emit) && call.enacted_request !== null) {
      this.afterRequest(exchange, call, emit);
    }
  }

  /** The rules for a call after a poisoned result; whether one of them raised a finding. */
  private afterPoisoning(exchange: CapturedExchange, call: CallAnalysis, emit: FindingSink): boolean {
    if (call.poisoned_before.length === 0) return false;
    const last = call.poisoned_before[call.poisoned_before.length - 1]!;
    const since = call.call_index - last.call_index;
    if (since > WINDOW_CALLS || !(call.new_tool || call.new_destinations.length > 0)) return false;
    const traced = call.trace.flows.filter((flow) => flow.poisoned);
    if (this.routine(exchange, call, last.call_index, last.tool, traced)) return false;
    const reported = this.reported.get(call.session) ?? 0;
    const high = traced.length > 0 && (reported & 2) === 0;
    const medium = traced.length === 0 && call.new_tool && isHighRisk(call.capabilities) && (reported & 1) === 0;
    // Most calls in the window raise nothing (the session already had its finding): no message or evidence for them.
    if (!high && !medium) return false;
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
    this.reported.set(call.session, reported | (high ? 2 : 1));
    const message = high
      ? `call ${call.call_index}: after the result of call ${last.call_index} (${last.tool}) carried instructions, the agent turned to ${departures.join(" and ")} with ${quoteValues(traced)} from ${describeSources(traced)}: it is following the injected instructions; hold the call`
      : `call ${call.call_index}: ${since} call(s) after the result of call ${last.call_index} (${last.tool}) carried instructions, the agent turned to ${departures.join(" and ")} (${kinds.join(", ")}); check it against the user's request`;
    const score = high ? (call.tool_in_baseline === false ? 0.95 : 0.9) : 0.6;
    emit(
      flowFinding(
        exchange,
        call.call_index,
        DETECTOR_NAME,
        "tool_poisoning",
        high ? "high" : "medium",
        score,
        message,
        evidence,
      ),
    );
    return true;
  }

  /** Whether the call acts on a routine request from call `fromCall` and every traced value stays with the desk's own parties. */
  private routine(
    exchange: CapturedExchange,
    call: CallAnalysis,
    fromCall: number,
    fromTool: string,
    traced: readonly FlowSourceMatch[],
  ): boolean {
    if (call.routine_request(fromCall, fromTool) === null) return false;
    const destinations = new Set(call.capabilities.destination_arguments);
    return traced.every((flow) => routineRequestOf(exchange, call, flow, destinations) !== null);
  }

  /**
   * A first call of a tool that changes something and does what a sentence of the result just before asked, with
   * no identifier to trace (`enacted_request`): high for a payment, outbound, delete or admin tool, medium for a
   * write or a command. Commands are medium because running what documentation says to run (`npm install`, `make
   * deploy`) is a coding agent's everyday work; a command an injection asks for is the poisoning rules' to catch.
   * A reply to the author of the data that asked is correspondence and raises nothing.
   */
  private afterRequest(exchange: CapturedExchange, call: CallAnalysis, emit: FindingSink): void {
    const request = call.enacted_request!;
    if (repliesToAuthor(exchange, call)) return;
    if (this.routine(exchange, call, request.from_call, request.from_tool, [])) return;
    const capabilities = call.capabilities;
    const highRisk = capabilities.payment || capabilities.outbound || capabilities.delete || capabilities.admin;
    const reported = this.reported.get(call.session) ?? 0;
    const bit = highRisk ? 2 : 1;
    if ((reported & bit) !== 0) return;
    this.reported.set(call.session, reported | bit);
    const kinds = describeCapabilities(call.capabilities);
    emit(
      flowFinding(
        exchange,
        call.call_index,
        DETECTOR_NAME,
        "tool_poisoning",
        highRisk ? "high" : "medium",
        highRisk ? 0.7 : 0.5,
        `call ${call.call_index}: ${call.tool} (${kinds.join(", ")}), a tool not used before in this session, does what a sentence of the result of call ${request.from_call} (${request.from_tool}) asks: ${JSON.stringify(request.sentence)} (shared words: ${request.words.slice(0, 4).join(", ")}); check that the user, not the data, asked for this`,
        {
          call_index: call.call_index,
          tool: call.tool,
          capabilities: kinds,
          new_tool: true,
          tool_in_baseline: call.tool_in_baseline,
          request: {
            from_call: request.from_call,
            from_tool: request.from_tool,
            sentence: request.sentence,
            score: Math.round(request.score * 1000) / 1000,
            shared_words: request.words,
          },
          baseline: "the tools of this session before the result that asked",
        },
      ),
    );
  }

  endSession(session: string): void {
    this.reported.delete(session);
    this.analysis.endSession(session);
  }

  async shutdown(): Promise<void> {
    this.reported.clear();
  }
}

/** Whether every destination of the call (at least one) is the author of a result of the session. */
function repliesToAuthor(exchange: CapturedExchange, call: CallAnalysis): boolean {
  const args = exchange.arguments;
  if (args === null || args === undefined) return false;
  let destinations = 0;
  for (const key of call.capabilities.destination_arguments) {
    const values = args[key];
    for (const value of Array.isArray(values) ? values : [values]) {
      if (typeof value !== "string") return false;
      if (!call.is_author(value)) return false;
      destinations++;
    }
  }
  return destinations > 0;
}
