import type { QuarantineStore } from "../core/defence-state.js";
import { JsonRpcErrorCode } from "../core/errors.js";
import type { InlineDecision, ToolDefinition } from "../core/exchange.js";
import type { GuardRefusal, GuardResponse, GuardSession, GuardVerdict, InlineGuard } from "../core/guard.js";
import type { JsonRpcRequest, JsonRpcSuccess } from "../core/transport.js";
import {
  flaggedByRules,
  INSTRUCTION_REQUEST,
  ROUTINE_REQUEST,
  routineSourceExplanation,
  TOOL_POISONING,
} from "./poisoning/signals.js";
import { descriptionText } from "./tool-description-text.js";
import type { ToolPinning } from "./tool-pinning.js";

/** What inline defence needs of a policy engine (src/defence/policy). */
export interface PolicyCheck {
  isToolVisible(principal: { user: string | null; agent: string | null }, server: string, tool: string): boolean;
  checkCall(call: {
    session: string;
    user: string | null;
    agent: string | null;
    server: string;
    tool: string;
    arguments: Record<string, unknown> | null;
    time_ms: number;
  }): { allowed: true } | { allowed: false; rule: string; reason: string };
  endSession(session: string): void;
}

/** What inline defence needs of the DLP engine (src/defence/dlp). */
export interface DlpCheck {
  inspect(
    value: unknown,
    context: { server: string; tool: string | null; direction: "arguments" | "result" },
  ): {
    matches: { rule: string; type: string; action: string; path: (string | number)[] }[];
    action: "allow" | "alert" | "redact" | "block";
    forward: unknown;
    record: unknown;
  };
}

/** What inline defence needs of the poisoning classifier (src/defence/poisoning). */
export interface PoisoningCheck {
  inspect(
    text: string,
    kind: "result" | "description",
  ): { poisoned: boolean; score: number; explanation: string; signals: { kind: string; score?: number }[] };
}

/**
 * What inline defence needs of the learned baseline (src/detectors/flow learns it as `RequestSources`): the tools
 * whose results an agent type reads as requests every day (a help desk's tickets), and the tools it acts on them
 * with. `agent` is the session's agent type, `""` when unknown. Each returns `null` for "not routine".
 */
export interface RoutineRequestCheck {
  routineSource(agent: string, tool: string): { results: number; flagged: number } | null;
  routineRequest(agent: string, source: string, tool: string): object | null;
}

/**
 * What inline defence needs of data-flow tracking (src/detectors/flow builds one): which earlier results of the
 * session a call's arguments carry values from, and whether a call could do harm with values an attacker chose.
 */
export interface FlowCheck {
  observeResult(session: string, callIndex: number, tool: string, text: string, poisoned: boolean): void;
  traceArguments(
    session: string,
    callIndex: number,
    tool: string,
    args: Record<string, unknown> | null,
  ): { flows: { from_call: number; from_tool: string; poisoned: boolean; values: string[] }[] };
  /** Outbound, payment, delete, admin or exec: a call worth holding when its arguments came from instructions. */
  isHighRisk(tool: string, args: Record<string, unknown> | null): boolean;
  /**
   * Whether any of `values` is an address that reaches someone (e-mail or web address, bank account, phone or
   * account number) other than an author of a result observed in the session (a ticket's sender).
   */
  namesOutsideParty(session: string, values: readonly string[]): boolean;
  endSession(session: string): void;
}

export type PoisonedResultAction = "alert" | "quarantine" | "block";
export type PoisonedDescriptionAction = "alert" | "block";

export interface InlineDefenceOptions {
  /** The policy in force; read on every call, so a reload takes effect at once. */
  policy?: { readonly engine: PolicyCheck };
  dlp?: DlpCheck;
  poisoning?: {
    classifier: PoisoningCheck;
    /** What happens to a tool result that carries instructions. */
    result_action: PoisonedResultAction;
    /** What happens to a tool whose description carries instructions: `block` hides it and refuses its calls. */
    description_action: PoisonedDescriptionAction;
  };
  pinning?: ToolPinning;
  /**
   * Prevention: a high-risk call whose arguments carry values from a result that carried instructions (the
   * attacker-directed call) is held (`block`) or flagged (`alert`) before it reaches the server.
   */
  flow?: { tracker: FlowCheck; action: "alert" | "block" };
  /**
   * The learned baseline's routine requests. A result the model alone flagged (no injection craft), of a tool whose
   * results are requests by nature for the session's agent type, is forwarded whatever `result_action` says, and a
   * call acting on it with a tool the agent type routinely follows it with is not held unless it names an outside
   * party. Without it every flagged result is judged alike.
   */
  requests?: RoutineRequestCheck;
  /** Where quarantined results are kept; without one, `quarantine` withholds but keeps nothing. */
  quarantine?: QuarantineStore;
}

/** Wire messages: neutral, so the model learns nothing about how it was caught. */
const REFUSAL: GuardRefusal = { code: JsonRpcErrorCode.RequestRefused, message: "The request was not permitted." };
const WITHHELD: GuardRefusal = { code: JsonRpcErrorCode.RequestRefused, message: "The result was withheld." };
export const QUARANTINE_NOTICE = "[This content was withheld by the gateway and kept for review.]";

/** Routine results a session remembers: enough for a desk that reads a handful of tickets per session. */
const MAX_ROUTINE_RESULTS = 64;

/** Longest text the poisoning classifier reads from one result; the rest is not scored. */
const MAX_CLASSIFIED_CHARS = 256 * 1024;

/**
 * The inline defence of toolwatch: tool pinning, policy, DLP and tool-poisoning checks composed into one
 * `InlineGuard` for the stdio proxy and the HTTP gateway.
 *
 * Requests (`tools/call`): DLP runs first so that even a refused call is stored without its secrets; then a
 * pinned tool that changed, the policy, and DLP's own verdict may refuse it; DLP may redact it.
 * Answers: `tools/list` loses the tools policy hides, changed tools (when pinning blocks) and tools whose
 * description is poisoned (when that blocks), and is checked against the pins; tool results (also resources
 * and prompts) pass DLP and the poisoning classifier, which may alert, redact, quarantine or withhold them.
 * Every decision goes into the record with its precise reason; the wire only ever gets a neutral message.
 */
export class InlineDefence implements InlineGuard {
  /** Tools hidden per session and server because their description is poisoned, so calls to them are refused. */
  private readonly poisonedTools = new Map<string, Set<string>>();
  /** Per session: calls seen so far, and the call index of each request still waiting for its result. */
  private readonly calls = new Map<string, { count: number; pending: Map<string | number, number> }>();
  /** Sessions whose model saw a result that carried instructions: only their calls are traced. */
  private readonly poisonedSessions = new Set<string>();
  /** Per session, the call indexes of results that were routine requests (at most {@link MAX_ROUTINE_RESULTS}). */
  private readonly routineResults = new Map<string, number[]>();

  constructor(private readonly options: InlineDefenceOptions) {}

  inspectRequest(session: GuardSession, request: JsonRpcRequest, time_ms: number): GuardVerdict<JsonRpcRequest> | null {
    if (request.method !== "tools/call") return null;
    const params = request.params;
    const tool = typeof params?.name === "string" ? params.name : null;
    const argumentsValue = isObject(params?.arguments) ? params.arguments : null;
    const decisions: InlineDecision[] = [];
    let forward: JsonRpcRequest | undefined;
    let record: JsonRpcRequest | undefined;
    let dlpBlock = false;
    // Numbered before any check can refuse the call, as the pipeline numbers every call of a session.
    const flow = this.options.flow;
    const callIndex = flow === undefined ? -1 : this.nextCall(session.session, request.id);

    const dlp = this.options.dlp;
    if (dlp !== undefined && argumentsValue !== null) {
      const inspection = dlp.inspect(argumentsValue, { server: session.server, tool, direction: "arguments" });
      if (inspection.action !== "allow") {
        decisions.push(...dlpDecisions(inspection.matches, "arguments"));
        if (inspection.record !== undefined) record = withArguments(request, inspection.record);
        if (inspection.action === "redact" && inspection.forward !== undefined) {
          forward = withArguments(request, inspection.forward);
        }
        dlpBlock = inspection.action === "block";
      }
    }

    if (tool !== null) {
      const pinning = this.options.pinning;
      if (pinning?.isBlocked(session.server, tool)) {
        decisions.unshift({
          stage: "pinning",
          action: "block",
          rule: "tool_definition_change",
          reason: `tool ${tool} changed its definition and awaits approval (toolwatch tools approve)`,
        });
        return refuse(decisions, record);
      }
      if (this.poisonedTools.get(session.session)?.has(`${session.server}\u0000${tool}`)) {
        decisions.unshift({
          stage: "poisoning",
          action: "block",
          rule: "poisoned_description",
          reason: `tool ${tool} was hidden because its description carries instructions`,
        });
        return refuse(decisions, record);
      }
      const policy = this.options.policy?.engine;
      if (policy !== undefined) {
        const decision = policy.checkCall({
          session: session.session,
          user: session.user,
          agent: session.agent,
          server: session.server,
          tool,
          arguments: argumentsValue,
          time_ms,
        });
        if (!decision.allowed) {
          decisions.unshift({ stage: "policy", action: "deny", rule: decision.rule, reason: decision.reason });
          return refuse(decisions, record);
        }
      }
    }
    if (dlpBlock) return refuse(decisions, record);
    if (flow !== undefined && tool !== null) {
      const tainted = this.taintedCall(flow, session, callIndex, tool, argumentsValue);
      if (tainted !== null) {
        decisions.push(tainted);
        if (tainted.action === "block") return refuse(decisions, record);
      }
    }
    if (decisions.length === 0) return null;
    const verdict: GuardVerdict<JsonRpcRequest> = { action: "forward", decisions };
    if (forward !== undefined) verdict.message = forward;
    if (record !== undefined) verdict.record = record;
    return verdict;
  }

  inspectResponse(
    session: GuardSession,
    request: JsonRpcRequest,
    response: GuardResponse,
    time_ms: number,
  ): GuardVerdict<GuardResponse> | null {
    if (!("result" in response) || !isObject(response.result)) return null;
    switch (request.method) {
      case "tools/list":
        return this.inspectToolList(session, request, response, time_ms);
      case "tools/call":
      case "resources/read":
      case "prompts/get": {
        const tool =
          request.method === "tools/call" && typeof request.params?.name === "string" ? request.params.name : null;
        return this.inspectResult(session, request, response, tool, time_ms);
      }
      default:
        return null;
    }
  }

  endSession(session: string): void {
    this.options.policy?.engine.endSession(session);
    this.options.flow?.tracker.endSession(session);
    this.poisonedTools.delete(session);
    this.calls.delete(session);
    this.poisonedSessions.delete(session);
    this.routineResults.delete(session);
  }

  /** Numbers the session's calls as the pipeline does (0-based, in order), remembering the request's index. */
  private nextCall(session: string, id: string | number): number {
    let state = this.calls.get(session);
    if (state === undefined) {
      state = { count: 0, pending: new Map() };
      this.calls.set(session, state);
    }
    const index = state.count++;
    // Bounded: a client that never reads its answers cannot grow this past the proxy's own pending limit.
    if (state.pending.size < 10_000) state.pending.set(id, index);
    return index;
  }

  private taintedCall(
    flow: NonNullable<InlineDefenceOptions["flow"]>,
    session: GuardSession,
    callIndex: number,
    tool: string,
    args: Record<string, unknown> | null,
  ): InlineDecision | null {
    if (!this.poisonedSessions.has(session.session)) return null;
    const trace = flow.tracker.traceArguments(session.session, callIndex, tool, args);
    const poisoned = trace.flows.filter(
      (item) => item.poisoned && !this.isRoutineFlow(flow.tracker, session, item, tool),
    );
    if (poisoned.length === 0 || !flow.tracker.isHighRisk(tool, args)) return null;
    const sources = poisoned.map((item) => `call ${item.from_call} (${item.from_tool})`).join(", ");
    const values = poisoned
      .flatMap((item) => item.values)
      .slice(0, 2)
      .map((value) => JSON.stringify(value))
      .join(", ");
    return {
      stage: "poisoning",
      action: flow.action,
      rule: "tainted_arguments",
      reason: `arguments of ${tool} carry ${values} from the result of ${sources}, which carried instructions aimed at the model`,
      direction: "arguments",
    };
  }

  /**
   * A call acting on a routine request: the flow's source was one, the agent type routinely follows that tool with
   * this one, and none of the values it carries reaches anyone but the request's author.
   */
  private isRoutineFlow(
    tracker: FlowCheck,
    session: GuardSession,
    flow: { from_call: number; from_tool: string; values: string[] },
    tool: string,
  ): boolean {
    const requests = this.options.requests;
    if (requests === undefined || !this.routineResults.get(session.session)?.includes(flow.from_call)) return false;
    if (requests.routineRequest(session.agent ?? "", flow.from_tool, tool) === null) return false;
    return !tracker.namesOutsideParty(session.session, flow.values);
  }

  private inspectToolList(
    session: GuardSession,
    request: JsonRpcRequest,
    response: JsonRpcSuccess,
    time_ms: number,
  ): GuardVerdict<GuardResponse> | null {
    const listed = response.result.tools;
    if (!Array.isArray(listed)) return null;
    const definitions = toolDefinitions(listed);
    const decisions: InlineDecision[] = [];
    const hidden = new Set<string>();

    const pinning = this.options.pinning;
    if (pinning !== undefined) {
      const check = pinning.checkList(session.server, definitions, new Date(time_ms).toISOString(), {
        continuation: typeof request.params?.cursor === "string",
        more: typeof response.result.nextCursor === "string",
      });
      decisions.push(...check.decisions);
      for (const name of check.blocked) hidden.add(name);
    }

    const poisoning = this.options.poisoning;
    if (poisoning !== undefined) {
      for (const definition of definitions) {
        const text = descriptionText(definition);
        if (text.length === 0) continue;
        const verdict = poisoning.classifier.inspect(text, "description");
        if (!verdict.poisoned) continue;
        const block = poisoning.description_action === "block";
        decisions.push({
          stage: "poisoning",
          action: block ? "block" : "alert",
          rule: "poisoned_description",
          reason: `tool ${definition.name}: ${verdict.explanation}`,
        });
        if (block) {
          hidden.add(definition.name);
          let tools = this.poisonedTools.get(session.session);
          if (tools === undefined) {
            tools = new Set();
            this.poisonedTools.set(session.session, tools);
          }
          tools.add(`${session.server}\u0000${definition.name}`);
        }
      }
    }

    const policy = this.options.policy?.engine;
    if (policy !== undefined) {
      const denied: string[] = [];
      for (const definition of definitions) {
        if (!policy.isToolVisible(session, session.server, definition.name)) {
          denied.push(definition.name);
          hidden.add(definition.name);
        }
      }
      if (denied.length > 0) {
        decisions.push({
          stage: "policy",
          action: "redact",
          rule: "tools_hidden",
          reason: `hid ${denied.length} tool(s) the policy does not allow: ${clipList(denied)}`,
        });
      }
    }

    if (decisions.length === 0 && hidden.size === 0) return null;
    const verdict: GuardVerdict<GuardResponse> = { action: "forward", decisions };
    if (hidden.size > 0) {
      const kept = listed.filter((item) => !(isObject(item) && typeof item.name === "string" && hidden.has(item.name)));
      verdict.message = { ...response, result: { ...response.result, tools: kept } };
      // The store keeps the full list the server sent: it is the evidence of what was hidden and why.
      verdict.record = response;
    }
    return verdict;
  }

  private inspectResult(
    session: GuardSession,
    request: JsonRpcRequest,
    response: JsonRpcSuccess,
    tool: string | null,
    time_ms: number,
  ): GuardVerdict<GuardResponse> | null {
    const decisions: InlineDecision[] = [];
    let result = response.result;
    let recorded: Record<string, unknown> | undefined;
    let withhold = false;

    const dlp = this.options.dlp;
    if (dlp !== undefined) {
      const inspection = dlp.inspect(result, { server: session.server, tool, direction: "result" });
      if (inspection.action !== "allow") {
        decisions.push(...dlpDecisions(inspection.matches, "result"));
        if (isObject(inspection.record)) recorded = inspection.record;
        if (inspection.action === "redact" && isObject(inspection.forward)) result = inspection.forward;
        if (inspection.action === "block") withhold = true;
      }
    }

    let poisoned = false;
    let quarantined = false;
    let routine = false;
    const poisoning = this.options.poisoning;
    if (poisoning !== undefined && !withhold) {
      const text = resultText(result);
      if (text.length > 0) {
        const verdict = poisoning.classifier.inspect(text, "result");
        poisoned = verdict.poisoned;
        if (verdict.poisoned) {
          const rules = flaggedByRules(verdict);
          // Why a routine request is forwarded, for the decision's reason; `null` for any other flagged result.
          let routineReason: string | null = null;
          if (!rules && tool !== null && request.method === "tools/call") {
            const stats = this.options.requests?.routineSource(session.agent ?? "", tool) ?? null;
            if (stats !== null) routineReason = routineSourceExplanation(stats, tool);
          }
          routine = routineReason !== null;
          // A routine request is the agent's work: forwarded and traced, never withheld.
          const action = routine ? "alert" : poisoning.result_action;
          decisions.push({
            stage: "poisoning",
            action,
            rule: routine ? ROUTINE_REQUEST : rules ? TOOL_POISONING : INSTRUCTION_REQUEST,
            reason: `${verdict.explanation}${routineReason ?? ""}`,
            direction: "result",
          });
          if (action === "block") {
            withhold = true;
          } else if (action === "quarantine") {
            this.options.quarantine?.quarantine({
              time: new Date(time_ms).toISOString(),
              session: session.session,
              server: session.server,
              tool,
              request_id: request.id,
              reason: verdict.explanation,
              content: JSON.stringify(recorded ?? result),
            });
            // The store keeps what the model saw; the original is in the quarantine store.
            quarantined = true;
            const notice = quarantineNotice(request);
            recorded = notice.recorded;
            result = notice.forwarded;
          }
        }
      }
    }

    const flow = this.options.flow;
    if (flow !== undefined && tool !== null && request.method === "tools/call") {
      const callIndex = this.calls.get(session.session)?.pending;
      const index = callIndex?.get(request.id);
      if (index !== undefined) {
        callIndex!.delete(request.id);
        // What the model saw is what it can act on: a withheld or quarantined result carries nothing onward.
        // Only poisoned results are sources worth tracking inline: sessions that never saw one pay nothing.
        if (poisoned && !withhold && !quarantined) {
          flow.tracker.observeResult(session.session, index, tool, resultText(result), true);
          this.poisonedSessions.add(session.session);
          if (routine) {
            let routineResults = this.routineResults.get(session.session);
            if (routineResults === undefined) {
              routineResults = [];
              this.routineResults.set(session.session, routineResults);
            }
            routineResults.push(index);
            if (routineResults.length > MAX_ROUTINE_RESULTS) routineResults.shift();
          }
        }
      }
    }
    if (decisions.length === 0) return null;
    const recordMessage = recorded === undefined ? undefined : { ...response, result: recorded };
    if (withhold) {
      const verdict: GuardVerdict<GuardResponse> = { action: "refuse", decisions, refusal: WITHHELD };
      if (recordMessage !== undefined) verdict.record = recordMessage;
      return verdict;
    }
    const verdict: GuardVerdict<GuardResponse> = { action: "forward", decisions };
    if (result !== response.result) verdict.message = { ...response, result };
    if (recordMessage !== undefined) verdict.record = recordMessage;
    return verdict;
  }
}

/** The neutral notice in the shape the method's result must have, so that the client accepts it. */
function quarantineNotice(request: JsonRpcRequest): {
  recorded: Record<string, unknown>;
  forwarded: Record<string, unknown>;
} {
  if (request.method === "resources/read") {
    const uri = typeof request.params?.uri === "string" ? request.params.uri : "";
    const notice = { contents: [{ uri, mimeType: "text/plain", text: QUARANTINE_NOTICE }] };
    return { recorded: notice, forwarded: notice };
  }
  if (request.method === "prompts/get") {
    const notice = { messages: [{ role: "user", content: { type: "text", text: QUARANTINE_NOTICE } }] };
    return { recorded: notice, forwarded: notice };
  }
  const recorded = { content: [{ type: "text", text: QUARANTINE_NOTICE }] };
  // Flagged as an error so that clients skip checking a tool's output schema against the notice.
  return { recorded, forwarded: { ...recorded, isError: true } };
}

function refuse(decisions: InlineDecision[], record: JsonRpcRequest | undefined): GuardVerdict<JsonRpcRequest> {
  const verdict: GuardVerdict<JsonRpcRequest> = { action: "refuse", decisions, refusal: REFUSAL };
  if (record !== undefined) verdict.record = record;
  return verdict;
}

function withArguments(request: JsonRpcRequest, argumentsValue: unknown): JsonRpcRequest {
  return { ...request, params: { ...request.params, arguments: argumentsValue } };
}

/** One decision per rule that matched, naming where it matched but never what. */
function dlpDecisions(
  matches: { rule: string; type: string; action: string; path: (string | number)[] }[],
  direction: "arguments" | "result",
): InlineDecision[] {
  const byRule = new Map<string, { action: string; type: string; paths: Set<string>; count: number }>();
  for (const match of matches) {
    let entry = byRule.get(match.rule);
    if (entry === undefined) {
      entry = { action: match.action, type: match.type, paths: new Set(), count: 0 };
      byRule.set(match.rule, entry);
    }
    entry.count++;
    entry.paths.add(match.path.length === 0 ? direction : `${direction}.${match.path.join(".")}`);
  }
  const decisions: InlineDecision[] = [];
  for (const [rule, entry] of byRule) {
    const action = entry.action === "block" ? "block" : entry.action === "redact" ? "redact" : "alert";
    decisions.push({
      stage: "dlp",
      action,
      rule,
      reason: `${entry.type} found ${entry.count === 1 ? "once" : `${entry.count} times`} in ${clipList([...entry.paths])}`,
      direction,
    });
  }
  return decisions;
}

function toolDefinitions(listed: unknown[]): ToolDefinition[] {
  const definitions: ToolDefinition[] = [];
  for (const item of listed) {
    if (!isObject(item) || typeof item.name !== "string") continue;
    const definition: ToolDefinition = { name: item.name };
    if (typeof item.description === "string") definition.description = item.description;
    if (item.inputSchema !== undefined) definition.input_schema = item.inputSchema;
    definitions.push(definition);
  }
  return definitions;
}

/** The text a model reads from a result: text blocks, embedded resource text, prompt messages. */
export function resultText(result: Record<string, unknown>): string {
  const parts: string[] = [];
  let length = 0;
  const add = (text: string): void => {
    if (length >= MAX_CLASSIFIED_CHARS) return;
    const piece = text.length + length > MAX_CLASSIFIED_CHARS ? text.slice(0, MAX_CLASSIFIED_CHARS - length) : text;
    parts.push(piece);
    length += piece.length;
  };
  const blocks = [
    ...(Array.isArray(result.content) ? result.content : []),
    ...(Array.isArray(result.contents) ? result.contents : []),
  ];
  if (Array.isArray(result.messages)) {
    for (const message of result.messages) if (isObject(message)) blocks.push(message.content);
  }
  for (const block of blocks) {
    if (!isObject(block)) continue;
    if (typeof block.text === "string") add(block.text);
    else if (isObject(block.resource) && typeof block.resource.text === "string") add(block.resource.text);
  }
  return parts.join("\n");
}

function clipList(items: string[]): string {
  const shown = items.slice(0, 5).join(", ");
  return items.length > 5 ? `${shown} and ${items.length - 5} more` : shown;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
