import type { Detector, ExchangePosition, FindingSink } from "../core/detector.js";
import type { CapturedExchange, InlineDecision } from "../core/exchange.js";
import { type Finding, type FindingCategory, findingOrigin, type Severity } from "../core/finding.js";
import { DEFINITION_CHANGED, definitionHash, TOOL_ADDED } from "../defence/tool-pinning.js";

const DETECTOR_NAME = "inline_defence";

/**
 * Turns what inline defence decided into findings, so DLP blocks, policy denials and tool definition changes
 * reach the incident queue like every other detector's verdicts:
 *
 * - `dlp` (high for block, medium for redact, low for alert), one per exchange, naming the rules;
 * - `policy` (medium) for a refused call;
 * - `tool_definition_change` (high for a changed definition, medium for a tool added after the first list);
 * - `privilege_escalation_chain` (high) for a call held or flagged because its arguments came from a poisoned result.
 *
 * Captures recorded without inline defence (data sets, other proxies) carry no decisions: for them the detector
 * pins each server's tools itself on the first `tools/list` it sees, so a rug pull in a capture file is found in
 * replay too. Poisoning decisions are left to the poisoning detector.
 */
export class InlineDecisionDetector implements Detector {
  readonly name = DETECTOR_NAME;
  /** Server → tool → definition hash, for captures without pinning decisions. */
  private readonly pins = new Map<string, Map<string, string>>();

  observe(exchange: CapturedExchange, position: ExchangePosition, emit: FindingSink): void {
    const decisions = exchange.decisions;
    if (exchange.method === "tools/list" && exchange.tools !== undefined) {
      const decided = decisions?.some((decision) => decision.stage === "pinning") ?? false;
      this.trackDefinitions(exchange, position, decided ? null : emit);
    }
    if (decisions === undefined || decisions.length === 0) return;
    const dlp: InlineDecision[] = [];
    for (const decision of decisions) {
      if (decision.stage === "dlp") dlp.push(decision);
      else if (decision.stage === "policy" && (decision.action === "deny" || decision.action === "block")) {
        emit(
          this.finding(
            exchange,
            position,
            "policy",
            "medium",
            0.8,
            `policy refused the call: ${decision.reason}`,
            decision,
          ),
        );
      } else if (decision.stage === "poisoning" && decision.rule === "tainted_arguments") {
        const held = decision.action === "block";
        emit(
          this.finding(
            exchange,
            position,
            "privilege_escalation_chain",
            "high",
            0.9,
            `${held ? "held" : "flagged"} a call built from instructions in an earlier result: ${decision.reason}`,
            decision,
          ),
        );
      } else if (decision.stage === "pinning" && decision.action !== "allow") {
        const changed = decision.rule === DEFINITION_CHANGED;
        emit(
          this.finding(
            exchange,
            position,
            "tool_definition_change",
            changed ? "high" : "medium",
            changed ? 0.9 : 0.6,
            decision.reason,
            decision,
          ),
        );
      }
    }
    if (dlp.length > 0) {
      const blocked = dlp.some((decision) => decision.action === "block" || decision.action === "deny");
      const redacted = dlp.some((decision) => decision.action === "redact");
      const rules = [...new Set(dlp.map((decision) => decision.rule ?? decision.reason))];
      const verb = blocked ? "blocked" : redacted ? "redacted" : "flagged";
      // Personal data that a rule only flags is everyday traffic (a customer's e-mail address in a ticket):
      // worth a record, not an investigation.
      const severity: Severity = blocked ? "high" : redacted ? "medium" : "low";
      emit(
        this.finding(
          exchange,
          position,
          "dlp",
          severity,
          blocked ? 0.9 : redacted ? 0.6 : 0.3,
          `DLP ${verb} ${rules.join(", ")} in ${dlp[0]!.direction ?? "the exchange"}: ${dlp[0]!.reason}`,
          ...dlp,
        ),
      );
    }
  }

  async shutdown(): Promise<void> {}

  /** Keeps the in-memory pins current; emits changes only when `emit` is given (no inline decision covered them). */
  private trackDefinitions(exchange: CapturedExchange, position: ExchangePosition, emit: FindingSink | null): void {
    let pins = this.pins.get(exchange.server);
    const first = pins === undefined;
    if (pins === undefined) {
      pins = new Map();
      this.pins.set(exchange.server, pins);
    }
    for (const tool of exchange.tools ?? []) {
      const hash = definitionHash(tool);
      const pinned = pins.get(tool.name);
      pins.set(tool.name, hash);
      if (emit === null || first || pinned === hash) continue;
      const decision: InlineDecision =
        pinned === undefined
          ? {
              stage: "pinning",
              action: "alert",
              rule: TOOL_ADDED,
              reason: `tool ${tool.name} appeared after the server's tools were first listed`,
            }
          : {
              stage: "pinning",
              action: "alert",
              rule: DEFINITION_CHANGED,
              reason: `tool ${tool.name} changed its definition since the server's first tools/list`,
            };
      const changed = pinned !== undefined;
      emit(
        this.finding(
          exchange,
          position,
          "tool_definition_change",
          changed ? "high" : "medium",
          changed ? 0.9 : 0.6,
          decision.reason,
          decision,
        ),
      );
    }
  }

  private finding(
    exchange: CapturedExchange,
    position: ExchangePosition,
    category: FindingCategory,
    severity: Severity,
    score: number,
    message: string,
    ...decisions: InlineDecision[]
  ): Finding {
    return Object.assign(findingOrigin(exchange, position.call_index, DETECTOR_NAME), {
      category,
      severity,
      score,
      message,
      evidence: { decisions, exchange_index: position.index, request_id: exchange.request_id ?? null },
    });
  }
}
