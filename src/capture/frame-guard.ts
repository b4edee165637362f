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
    const single = frame.message !== undefined;
    const messages: JsonRpcMessage[] = single ? [frame.message] : frame.batch;
    let verdicts: (GuardVerdict<JsonRpcRequest> | null)[] | null = null;
    for (let index = 0; index < messages.length; index++) {
      const message = messages[index]!;
      if (!("method" in message && "id" in message)) continue;
      let verdict: GuardVerdict<JsonRpcRequest> | null;
      try {
        verdict = this.guard.inspectRequest(identity, message, now);
      } catch (error) {
        this.onError(error);
        verdict = failedClosed(error);
      }
      if (verdict === null) continue;
      verdicts ??= new Array<GuardVerdict<JsonRpcRequest> | null>(messages.length).fill(null);
      verdicts[index] = verdict;
    }
    if (verdicts === null) return null;
    const forward: GuardedMessage[] = [];
    const answers: { id: RequestId; raw: string }[] = [];
    const records: PendingRecord[] = [];
    for (let index = 0; index < messages.length; index++) {
      const message = messages[index]!;
      const verdict = verdicts[index] ?? null;
      if (verdict === null) {
        forward.push({ message, raw: single ? frame.raw : JSON.stringify(message) });
        records.push({ message, annotation: undefined });
        continue;
      }
      const request = message as JsonRpcRequest;
      if (verdict.action === "forward") {
        const sent = verdict.message ?? request;
        forward.push({
          message: sent,
          raw: verdict.message !== undefined ? JSON.stringify(sent) : single ? frame.raw : JSON.stringify(message),
        });
        records.push({ message: verdict.record ?? sent, annotation: { decisions: verdict.decisions } });
        continue;
      }
      answers.push({ id: request.id, raw: errorResponse(request.id, verdict.refusal.code, verdict.refusal.message) });
      records.push({
        message: verdict.record ?? request,
        annotation: { decisions: verdict.decisions },
        refused: refusedError(verdict.decisions, verdict.refusal.code),
      });
    }
    const share = Math.round(frame.bytes / messages.length);
    return {
      forward,
      answers,
      record: (time) => {
        for (const entry of records) {
          this.recorder.observe("client", recordedFrame(entry.message, share), time, entry.annotation);
          if (entry.refused !== undefined && "id" in entry.message) {
            this.recorder.fail("client", entry.message.id as RequestId, entry.refused);
          }
        }
      },
    };
  }

  /** Inspects the server's answers to client requests. `null`: forward and record the frame as it is. */
  fromServer(frame: AcceptedFrame, now: number): GuardedFrame | null {
    const identity = this.recorder.identity;
    const single = frame.message !== undefined;
    const messages: JsonRpcMessage[] = single ? [frame.message] : frame.batch;
    let verdicts: (GuardVerdict<GuardResponse> | null)[] | null = null;
    for (let index = 0; index < messages.length; index++) {
      const message = messages[index]!;
      if ("method" in message || message.id === null) continue;
      const pending = this.recorder.awaiting("server", message.id);
      if (pending === undefined) continue;
      const request: JsonRpcRequest = { jsonrpc: "2.0", id: pending.id, method: pending.method };
      if (pending.params !== undefined) request.params = pending.params;
      let verdict: GuardVerdict<GuardResponse> | null;
      try {
        verdict = this.guard.inspectResponse(identity, request, message, now);
      } catch (error) {
        this.onError(error);
        verdict = failedClosed(error);
      }
      if (verdict === null) continue;
      verdicts ??= new Array<GuardVerdict<GuardResponse> | null>(messages.length).fill(null);
      verdicts[index] = verdict;
    }
    if (verdicts === null) return null;
    const forward: GuardedMessage[] = [];
    const records: PendingRecord[] = [];
    for (let index = 0; index < messages.length; index++) {
      const message = messages[index]!;
      const verdict = verdicts[index] ?? null;
      if (verdict === null) {
        forward.push({ message, raw: single ? frame.raw : JSON.stringify(message) });
        records.push({ message, annotation: undefined });
        continue;
      }
      const response = message as GuardResponse;
      if (verdict.action === "forward") {
        const sent = verdict.message ?? response;
        forward.push({
          message: sent,
          raw: verdict.message !== undefined ? JSON.stringify(sent) : single ? frame.raw : JSON.stringify(message),
        });
        records.push({ message: verdict.record ?? sent, annotation: { decisions: verdict.decisions } });
        continue;
      }
      const raw = errorResponse(response.id, verdict.refusal.code, verdict.refusal.message);
      forward.push({ message: JSON.parse(raw) as JsonRpcMessage, raw });
      records.push({
        message: verdict.record ?? response,
        annotation: { decisions: verdict.decisions, error: refusedError(verdict.decisions, verdict.refusal.code) },
      });
    }
    const share = Math.round(frame.bytes / messages.length);
    return {
      forward,
      answers: [],
      record: (time) => {
        for (const entry of records) {
          this.recorder.observe("server", recordedFrame(entry.message, share), time, entry.annotation);
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
