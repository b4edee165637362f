import { JsonRpcErrorCode } from "../core/errors.js";
import { type ExchangeError, type InlineDecision, REFUSED_ERROR_TYPE } from "../core/exchange.js";
import type { GuardResponse, GuardVerdict, InlineGuard } from "../core/guard.js";
import type { InboundFrame, JsonRpcMessage, JsonRpcRequest, RequestId } from "../core/transport.js";
import { errorResponse } from "../protocol/parse-message.js";
import type { ExchangeRecorder, FrameAnnotation } from "./exchange-recorder.js";

type AcceptedFrame = InboundFrame & { ok: true };

/** One message to pass on, with the bytes to send (the original ones when nothing was rewritten). */
export interface GuardedMessage {
  message: JsonRpcMessage;
  raw: Buffer | string;
}

/** What to do with a frame that inline defence had something to say about. */
export interface GuardedFrame {
  /** Messages to pass on, in order, rewritten where the guard rewrote them. */
  forward: GuardedMessage[];
  /** Client requests refused: answer each with its error instead of forwarding it. */
  answers: { id: RequestId; raw: string }[];
  /** Records the frame with its decisions. Called after forwarding, so recording adds no latency. */
  record(now: number): void;
}

/** The wire message of a refusal when a guard fails: neutral, like every refusal. */
const GUARD_FAILURE_REFUSAL = { code: JsonRpcErrorCode.RequestRefused, message: "The request was not permitted." };

interface PendingRecord {
  message: JsonRpcMessage;
  annotation: FrameAnnotation | undefined;
  /** A refused client request is closed with this error right after it is recorded. */
  refused?: ExchangeError;
}

/**
 * Applies an `InlineGuard` to the frames of one session and records what it decided: the one place that
 * turns verdicts into forwarded bytes, refusals and annotated records, shared by the stdio proxy and the
 * HTTP gateway so that both decide and record alike.
 *
 * A guard that throws fails closed: the message is refused with a neutral error and the failure is
 * reported through `onError` (and recorded as a policy decision so it shows in metrics).
 */
export class FrameGuard {
  constructor(
    private readonly guard: InlineGuard,
    private readonly recorder: ExchangeRecorder,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Inspects the client's requests. `null`: nothing to say, forward and record the frame as it is. */
  fromClient(frame: AcceptedFrame, now: number): GuardedFrame | null {
    const identity = this.recorder.identity;
    return this.apply("client", frame, (message) =>
      "method" in message && "id" in message ? this.guard.inspectRequest(identity, message, now) : null,
    );
  }

  /** Inspects the server's answers to client requests. `null`: forward and record the frame as it is. */
  fromServer(frame: AcceptedFrame, now: number): GuardedFrame | null {
    const identity = this.recorder.identity;
    return this.apply("server", frame, (message) => {
      if ("method" in message || message.id === null) return null;
      const pending = this.recorder.awaiting("server", message.id);
      if (pending === undefined) return null;
      const request: JsonRpcRequest = { jsonrpc: "2.0", id: pending.id, method: pending.method };
      if (pending.params !== undefined) request.params = pending.params;
      return this.guard.inspectResponse(identity, request, message, now);
    });
  }

  /**
   * Asks `inspect` about every message of the frame and, when it said something about any, builds what to
   * forward, what to answer and what to record. A refused request is answered and closed with its error; a
   * refused answer is replaced by an error response to the same id and recorded with that error.
   */
  private apply(
    from: "client" | "server",
    frame: AcceptedFrame,
    inspect: (message: JsonRpcMessage) => GuardVerdict<JsonRpcMessage> | null,
  ): GuardedFrame | null {
    const single = frame.message !== undefined;
    const messages: JsonRpcMessage[] = single ? [frame.message] : frame.batch;
    let verdicts: (GuardVerdict<JsonRpcMessage> | null)[] | null = null;
    for (let index = 0; index < messages.length; index++) {
      let verdict: GuardVerdict<JsonRpcMessage> | null;
      try {
        verdict = inspect(messages[index]!);
      } catch (error) {
        this.onError(error);
        verdict = failedClosed(error);
      }
      if (verdict === null) continue;
      verdicts ??= new Array<GuardVerdict<JsonRpcMessage> | null>(messages.length).fill(null);
      verdicts[index] = verdict;
    }
    if (verdicts === null) return null;
    const forward: GuardedMessage[] = [];
    const answers: { id: RequestId; raw: string }[] = [];
    const records: PendingRecord[] = [];
    for (let index = 0; index < messages.length; index++) {
      const message = messages[index]!;
      const verdict = verdicts[index] ?? null;
      const original = single ? frame.raw : JSON.stringify(message);
      if (verdict === null) {
        forward.push({ message, raw: original });
        records.push({ message, annotation: undefined });
        continue;
      }
      if (verdict.action === "forward") {
        const sent = verdict.message ?? message;
        forward.push({ message: sent, raw: verdict.message !== undefined ? JSON.stringify(sent) : original });
        records.push({ message: verdict.record ?? sent, annotation: { decisions: verdict.decisions } });
        continue;
      }
      const id = (message as JsonRpcRequest | GuardResponse).id;
      const raw = errorResponse(id, verdict.refusal.code, verdict.refusal.message);
      const error = refusedError(verdict.decisions, verdict.refusal.code);
      if (from === "client") {
        answers.push({ id: id as RequestId, raw });
        records.push({
          message: verdict.record ?? message,
          annotation: { decisions: verdict.decisions },
          refused: error,
        });
      } else {
        forward.push({ message: JSON.parse(raw) as JsonRpcMessage, raw });
        records.push({ message: verdict.record ?? message, annotation: { decisions: verdict.decisions, error } });
      }
    }
    const share = Math.round(frame.bytes / messages.length);
    return {
      forward,
      answers,
      record: (time) => {
        for (const entry of records) {
          this.recorder.observe(from, recordedFrame(entry.message, share), time, entry.annotation);
          if (entry.refused !== undefined && "id" in entry.message) {
            this.recorder.fail(from, entry.message.id as RequestId, entry.refused);
          }
        }
      },
    };
  }
}

function recordedFrame(message: JsonRpcMessage, bytes: number): AcceptedFrame {
  // The recorder reads the parsed message and its size; the raw bytes were already forwarded.
  return { ok: true, message, bytes, raw: "" };
}

/** The record's error for a refusal: the reason of the decision that refused, never the neutral wire text. */
function refusedError(decisions: InlineDecision[], code: number): ExchangeError {
  let decisive: InlineDecision | undefined;
  for (const decision of decisions) {
    if (decision.action === "deny" || decision.action === "block") {
      decisive = decision;
      break;
    }
  }
  return { type: REFUSED_ERROR_TYPE, message: (decisive ?? decisions[0])?.reason ?? "refused by inline defence", code };
}

function failedClosed<Message>(error: unknown): GuardVerdict<Message> {
  return {
    action: "refuse",
    decisions: [
      {
        stage: "policy",
        action: "deny",
        rule: "guard_failure",
        reason: `inline defence failed, so the message was refused: ${(error as Error)?.message ?? String(error)}`,
      },
    ],
    refusal: GUARD_FAILURE_REFUSAL,
  };
}
