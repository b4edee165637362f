import type { Detector, ExchangePosition, FindingSink } from "../core/detector.js";
import type { CapturedExchange, InlineDecision } from "../core/exchange.js";
import { type Finding, findingOrigin } from "../core/finding.js";
import { PoisoningClassifier, type PoisoningVerdict, quoteSpan } from "../defence/poisoning/poisoning-classifier.js";
import {
  decidedByRules,
  flaggedByRules,
  ROUTINE_REQUEST,
  routineSourceExplanation,
} from "../defence/poisoning/signals.js";
import type { RequestSourceStats, RequestSources } from "./flow/request-sources.js";

/** What the detector needs of a classifier: the shape of `PoisoningClassifier.inspect`. */
export interface PoisoningInspector {
  inspect(text: string, kind: "result" | "description"): PoisoningVerdict;
}

/** Options of `PoisoningDetector`. */
export interface PoisoningDetectorOptions {
  /** The classifier to use; a `PoisoningClassifier` with the shipped model (and `threshold`) by default. */
  classifier?: PoisoningInspector;
  /** Model score threshold for the default classifier; the model's own when absent. */
  threshold?: number;
  /** Longest text read from one result; the rest is not scored (the inline guard reads as much). */
  max_chars?: number;
  /**
   * What the baseline learned about requests in results (the flow analysis learns it; `defaultDetectors` shares
   * one). A result the model alone flags, from a tool whose results this agent type's baseline read as requests
   * routinely, is reported low: the desk's tickets, not an injection. Absent: every flagged result is high.
   */
  request_sources?: RequestSources;
}

const DETECTOR_NAME = "poisoning";
/** Methods whose `result` is content a model reads. */
const CONTENT_METHODS: ReadonlySet<string> = new Set(["tools/call", "resources/read", "prompts/get"]);
/** A decided poisoning carries no model score; this is what the finding reports for it. */
const DECIDED_SCORE = 0.9;
/** Descriptions repeat in every session: verdicts are cached by text, up to this many. */
const DESCRIPTION_CACHE_LIMIT = 1024;

/**
 * Raises `tool_poisoning` findings (severity high) for tool results, resources and prompts that carry
 * instructions aimed at the model, and for tools whose `tools/list` description does. A result that only the
 * model flags, from a tool whose results the agent type's baseline reads as requests routinely (a help desk's
 * tickets; `request_sources`), is reported low: the flow detectors judge what the agent does with it.
 *
 * Where the inline guard already judged the exchange (a decision with stage `poisoning`), the detector
 * reports that decision and does not classify again: live traffic and its replay then agree, even when the
 * result was quarantined and the record holds only the notice. Otherwise (captures made without inline
 * defence, data sets) it runs the classifier itself.
 *
 * Evidence: the call index, where the text came from (`result` or a tool's description), the quoted span,
 * the score, the kinds of signals, and whether the verdict came from the classifier or the inline decision.
 */
export class PoisoningDetector implements Detector {
  readonly name = DETECTOR_NAME;
  private readonly classifier: PoisoningInspector;
  private readonly maxChars: number;
  private readonly requestSources: RequestSources | null;
  private readonly descriptionVerdicts = new Map<string, PoisoningVerdict>();
  /**
   * The quoted span of each remembered verdict: a memo hit returns the verdict object of an identical text, and
   * a result repeated across sessions would otherwise be quoted again for every finding.
   */
  private readonly quotes = new WeakMap<PoisoningVerdict, { text: string; quote: string | null }>();

  constructor(options: PoisoningDetectorOptions = {}) {
    this.classifier =
      options.classifier ??
      new PoisoningClassifier(options.threshold === undefined ? {} : { threshold: options.threshold });
    this.maxChars = options.max_chars ?? 256 * 1024;
    this.requestSources = options.request_sources ?? null;
  }

  observe(exchange: CapturedExchange, position: ExchangePosition, emit: FindingSink): void {
    const decisions = (exchange.decisions ?? []).filter((decision) => decision.stage === "poisoning");
    if (exchange.method === "tools/list" && exchange.tools !== undefined) {
      this.observeTools(exchange, position, decisions, emit);
      return;
    }
    if (exchange.method === null || !CONTENT_METHODS.has(exchange.method)) return;
    // A held call (`tainted_arguments`) is about where its arguments came from, not about a result: the
    // inline decision detector reports it.
    const decided = decisions.find(
      (decision) => decision.rule !== "poisoned_description" && decision.rule !== "tainted_arguments",
    );
    if (decided !== undefined) {
      if (decided.action === "allow") return;
      const finding = this.decidedFinding(exchange, position, decided, `the ${this.subject(exchange)}`);
      // The guard read it as a request (the model alone): routine for the agent type if the baseline says so,
      // whether the guard knew the baseline (`routine_request`) or not.
      const routine = decidedByRules(decided.rule) ? null : this.routineSource(exchange);
      // A `routine_request` decision's reason says why already; a guard without the baseline did not know.
      if (routine !== null) markRoutine(finding, routine);
      else if (decided.rule === ROUTINE_REQUEST) finding.severity = "low";
      emit(finding);
      return;
    }
    const text = exchange.result;
    if (typeof text !== "string" || text.length === 0) return;
    const clipped = text.length > this.maxChars ? text.slice(0, this.maxChars) : text;
    const verdict = this.classifier.inspect(clipped, "result");
    if (!verdict.poisoned) return;
    const finding = this.classifiedFinding(
      exchange,
      position,
      verdict,
      clipped,
      "result",
      `the ${this.subject(exchange)}`,
    );
    const routine = flaggedByRules(verdict) ? null : this.routineSource(exchange);
    if (routine !== null) markRoutine(finding, routine);
    emit(finding);
  }

  /** The baseline's figures when results of the exchange's tool are requests by nature for its agent type. */
  private routineSource(exchange: CapturedExchange): { tool: string; stats: RequestSourceStats } | null {
    const tool = exchange.tool;
    if (this.requestSources === null || exchange.method !== "tools/call" || typeof tool !== "string") return null;
    const stats = this.requestSources.routineSource(exchange.agent ?? "", tool);
    return stats === null ? null : { tool, stats };
  }

  async shutdown(): Promise<void> {
    this.descriptionVerdicts.clear();
  }

  private observeTools(
    exchange: CapturedExchange,
    position: ExchangePosition,
    decisions: InlineDecision[],
    emit: FindingSink,
  ): void {
    for (const tool of exchange.tools ?? []) {
      const decided = decisions.find(
        (decision) => decision.rule === "poisoned_description" && decision.reason.startsWith(`tool ${tool.name}`),
      );
      if (decided !== undefined) {
        emit(this.decidedFinding(exchange, position, decided, `the description of tool ${tool.name}`, tool.name));
        continue;
      }
      if (decisions.length > 0 || typeof tool.description !== "string" || tool.description.length === 0) continue;
      const verdict = this.describe(tool.description);
      if (!verdict.poisoned) continue;
      emit(
        this.classifiedFinding(
          exchange,
          position,
          verdict,
          tool.description,
          "description",
          `the description of tool ${tool.name}`,
          tool.name,
        ),
      );
    }
  }

  private describe(description: string): PoisoningVerdict {
    let verdict = this.descriptionVerdicts.get(description);
    if (verdict === undefined) {
      verdict = this.classifier.inspect(description.slice(0, this.maxChars), "description");
      if (this.descriptionVerdicts.size >= DESCRIPTION_CACHE_LIMIT) this.descriptionVerdicts.clear();
      this.descriptionVerdicts.set(description, verdict);
    }
    return verdict;
  }

  private subject(exchange: CapturedExchange): string {
    if (exchange.method === "resources/read") return `resource ${exchange.uri ?? ""}`.trimEnd();
    if (exchange.method === "prompts/get") return `prompt ${exchange.prompt ?? ""}`.trimEnd();
    return `result of ${exchange.tool ?? "a tool call"}`;
  }

  private classifiedFinding(
    exchange: CapturedExchange,
    position: ExchangePosition,
    verdict: PoisoningVerdict,
    text: string,
    source: "result" | "description",
    what: string,
    tool: string | null = exchange.tool ?? null,
  ): Finding {
    const top = verdict.signals[0];
    return Object.assign(this.base(exchange, position, tool), {
      score: verdict.score,
      message: `${what} carries instructions aimed at the model: ${verdict.explanation}`,
      evidence: {
        call_index: position.call_index,
        source,
        verdict_from: "classifier",
        score: verdict.score,
        signal_kinds: [...new Set(verdict.signals.map((signal) => signal.kind))],
        span: top === undefined ? null : this.quoteOf(verdict, text, top.start, top.end),
        span_start: top?.start ?? null,
        span_end: top?.end ?? null,
        signals: verdict.signals.slice(0, 5).map((signal) => ({
          kind: signal.kind,
          detail: signal.detail,
          score: signal.score ?? null,
        })),
      },
    });
  }

  private quoteOf(verdict: PoisoningVerdict, text: string, start: number, end: number): string | null {
    const known = this.quotes.get(verdict);
    if (known !== undefined && known.text === text) return known.quote;
    const quote = quoteSpan(text, start, end, 160);
    this.quotes.set(verdict, { text, quote });
    return quote;
  }

  private decidedFinding(
    exchange: CapturedExchange,
    position: ExchangePosition,
    decision: InlineDecision,
    what: string,
    tool: string | null = exchange.tool ?? null,
  ): Finding {
    return Object.assign(this.base(exchange, position, tool), {
      score: DECIDED_SCORE,
      message: `${what} carries instructions aimed at the model (inline defence: ${decision.action}): ${decision.reason}`,
      evidence: {
        call_index: position.call_index,
        source: decision.rule === "poisoned_description" ? "description" : "result",
        verdict_from: "inline_decision",
        action: decision.action,
        rule: decision.rule ?? null,
        reason: decision.reason,
      },
    });
  }

  private base(
    exchange: CapturedExchange,
    position: ExchangePosition,
    tool: string | null,
  ): Omit<Finding, "score" | "message" | "evidence"> {
    return Object.assign(findingOrigin(exchange, position.call_index, DETECTOR_NAME, tool), {
      category: "tool_poisoning" as const,
      severity: "high" as const,
    });
  }
}

/** Lowers a finding on a result of a routine request source, and says why. */
function markRoutine(finding: Finding, routine: { tool: string; stats: RequestSourceStats }): void {
  finding.severity = "low";
  finding.message += routineSourceExplanation(routine.stats, routine.tool);
  finding.evidence.routine_source = { tool: routine.tool, ...routine.stats };
}
