import type { Detector, ExchangePosition, FindingSink } from "../core/detector.js";
import type { CapturedExchange, ExchangeError } from "../core/exchange.js";
import { type Finding, findingOrigin, type Severity } from "../core/finding.js";

export interface OperationalDetectorOptions {
  /** Consecutive failed calls of one tool in one session that make a `failing_tool` finding. */
  consecutive_failures?: number;
  /** Error messages in evidence are clipped to this many characters (tool errors can carry whole pages). */
  max_message_chars?: number;
}

/** Server-level failures toolwatch saw itself: the server is gone or does not answer. */
const UNAVAILABLE_TYPES: ReadonlySet<string> = new Set(["timeout", "transport"]);
/** A JSON-RPC error code written as a string (`"-32601"`). */
const JSON_RPC_CODE = /^-?\d+$/;
const DETECTOR_NAME = "operational";

interface FailureStreak {
  call_indexes: number[];
  errors: ExchangeError[];
  /** Raised once per streak: a tool that keeps failing is one problem, not one per further call. */
  reported: boolean;
}

/**
 * Raises `operational` findings about the health of the servers behind the agents:
 *
 * - `server_unavailable` (medium): an exchange failed with `timeout` or `transport`;
 * - `protocol_error` (low): a peer broke the protocol (a `protocol_error` record) or the server answered
 *   a request with a JSON-RPC error;
 * - `failing_tool` (medium): the same tool failed on N consecutive calls in one session (3 by default),
 *   whatever the errors were; raised once per streak, and a success ends the streak.
 *
 * A tool error (`isError: true`) on its own raises nothing: it is the tool's answer, part of normal work.
 * A call the client cancelled raises nothing and neither extends nor ends a streak.
 * Every finding's evidence has the call index and the error (type, clipped message, JSON-RPC code).
 */
export class OperationalDetector implements Detector {
  readonly name = DETECTOR_NAME;
  private readonly threshold: number;
  private readonly maxMessageChars: number;
  /** Failure streaks per session, then per tool. Sessions with no failure never get an entry. */
  private readonly streaks = new Map<string, Map<string, FailureStreak>>();

  constructor(options: OperationalDetectorOptions = {}) {
    this.threshold = Math.max(1, options.consecutive_failures ?? 3);
    this.maxMessageChars = options.max_message_chars ?? 200;
  }

  observe(exchange: CapturedExchange, position: ExchangePosition, emit: FindingSink): void {
    const error = exchange.error;
    if (position.call_index !== null && typeof exchange.tool === "string") {
      this.trackCall(exchange, exchange.tool, position.call_index, error, emit);
    }
    if (error === null) return;
    // A refusal that inline defence decided (a failed authentication, a policy denial) is a security
    // event with its own metrics and alerts, not a sign of an unhealthy server.
    if (exchange.decisions !== undefined && exchange.decisions.length > 0) return;
    let severity: Severity;
    let kind: string;
    let what: string;
    if (UNAVAILABLE_TYPES.has(error.type)) {
      severity = "medium";
      kind = "server_unavailable";
      what = error.type === "timeout" ? "the server did not answer in time" : "the connection to the server failed";
    } else if (exchange.kind === "protocol_error") {
      severity = "low";
      kind = "protocol_error";
      what = `protocol error ${error.type}`;
    } else if (JSON_RPC_CODE.test(error.type)) {
      severity = "low";
      kind = "protocol_error";
      what = `the server answered with JSON-RPC error ${error.type}`;
    } else {
      return;
    }
    emit(
      Object.assign(this.base(exchange, position.call_index), {
        severity,
        score: 1,
        message: `${describeExchange(exchange)}: ${what} (${this.inline(error.message)})`,
        evidence: {
          kind,
          call_index: position.call_index,
          index: position.index,
          method: exchange.method,
          error: this.errorEvidence(error),
        },
      }),
    );
  }

  endSession(session: string): void {
    this.streaks.delete(session);
  }

  async shutdown(): Promise<void> {
    this.streaks.clear();
  }

  private trackCall(
    exchange: CapturedExchange,
    tool: string,
    callIndex: number,
    error: ExchangeError | null,
    emit: FindingSink,
  ): void {
    let tools = this.streaks.get(exchange.session);
    // A cancelled call says nothing about the tool: the client gave up, the tool did not fail.
    if (error !== null && error.type === "cancelled") return;
    if (error === null) {
      if (tools?.delete(tool) && tools.size === 0) this.streaks.delete(exchange.session);
      return;
    }
    if (tools === undefined) {
      tools = new Map();
      this.streaks.set(exchange.session, tools);
    }
    let streak = tools.get(tool);
    if (streak === undefined) {
      streak = { call_indexes: [], errors: [], reported: false };
      tools.set(tool, streak);
    }
    streak.call_indexes.push(callIndex);
    if (streak.errors.length < this.threshold) streak.errors.push(error);
    if (streak.reported || streak.call_indexes.length < this.threshold) return;
    streak.reported = true;
    const calls = streak.call_indexes.slice(0, this.threshold);
    emit(
      Object.assign(this.base(exchange, callIndex), {
        severity: "medium" as const,
        score: 1,
        message: `tool ${tool} failed ${calls.length} times in a row in this session (calls ${calls.join(", ")}); last error: ${this.inline(error.message)}`,
        evidence: {
          kind: "failing_tool",
          call_index: callIndex,
          call_indexes: calls,
          consecutive_failures: calls.length,
          errors: streak.errors.map((item) => this.errorEvidence(item)),
        },
      }),
    );
  }

  private base(
    exchange: CapturedExchange,
    callIndex: number | null,
  ): Omit<Finding, "severity" | "score" | "message" | "evidence"> {
    return Object.assign(findingOrigin(exchange, callIndex, DETECTOR_NAME), { category: "operational" as const });
  }

  private errorEvidence(error: ExchangeError): Record<string, unknown> {
    const evidence: Record<string, unknown> = { type: error.type, message: this.clip(error.message) };
    if (error.code !== undefined) evidence.code = error.code;
    return evidence;
  }

  private clip(text: string): string {
    return text.length <= this.maxMessageChars ? text : `${text.slice(0, this.maxMessageChars)}…`;
  }

  /** The error as it reads inside a one-line message. */
  private inline(text: string): string {
    return this.clip(text.replace(/\s+/g, " ").trim());
  }
}

function describeExchange(exchange: CapturedExchange): string {
  if (typeof exchange.tool === "string")
    return `${exchange.method ?? "request"} ${exchange.tool} on ${exchange.server}`;
  return `${exchange.method ?? "message"} on ${exchange.server}`;
}
