import { isUtf8 } from "node:buffer";
import { JsonRpcErrorCode } from "../core/errors.js";
import type { InboundFrame, JsonRpcMessage, RequestId } from "../core/transport.js";

/** Bounds applied to every message before toolwatch looks inside it. */
export interface MessageLimits {
  /** Largest message accepted, in bytes. */
  max_message_bytes: number;
  /** Deepest nesting of arrays and objects accepted. */
  max_depth: number;
}

export const DEFAULT_MESSAGE_LIMITS: MessageLimits = { max_message_bytes: 16 * 1024 * 1024, max_depth: 64 };

/**
 * The one place untrusted JSON-RPC text becomes typed messages. Never throws: every failure
 * comes back as a frame with the JSON-RPC code a peer should be answered with.
 */
export function parseMessage(raw: Buffer | string, limits: MessageLimits = DEFAULT_MESSAGE_LIMITS): InboundFrame {
  const bytes = typeof raw === "string" ? Buffer.byteLength(raw) : raw.length;
  if (bytes > limits.max_message_bytes) return oversizedFrame(bytes, limits);
  let text: string;
  if (typeof raw === "string") {
    text = raw;
  } else {
    text = raw.toString("utf8");
    // Decoding replaces every invalid sequence with U+FFFD, so only text that contains one needs the
    // validating pass (it may also be a genuine U+FFFD); valid text is read once instead of twice.
    if (text.includes("\uFFFD") && !isUtf8(raw)) {
      return refuse(JsonRpcErrorCode.ParseError, "message is not valid UTF-8", bytes);
    }
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return refuse(JsonRpcErrorCode.ParseError, `invalid JSON: ${(error as Error).message}`, bytes);
  }
  if (exceedsDepth(value, limits.max_depth)) {
    return refuse(
      JsonRpcErrorCode.InvalidRequest,
      `message nests deeper than ${limits.max_depth} levels`,
      bytes,
      peekId(value),
    );
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return refuse(JsonRpcErrorCode.InvalidRequest, "empty batch", bytes);
    const batch: JsonRpcMessage[] = [];
    for (const element of value) {
      const checked = classify(element);
      if (typeof checked === "string") {
        return refuse(JsonRpcErrorCode.InvalidRequest, `batch element: ${checked}`, bytes, peekId(element));
      }
      batch.push(checked);
    }
    return { ok: true, batch, bytes, raw };
  }
  const checked = classify(value);
  if (typeof checked === "string") return refuse(JsonRpcErrorCode.InvalidRequest, checked, bytes, peekId(value));
  return { ok: true, message: checked, bytes, raw };
}

/** The frame for a message too large to look at, such as a line the splitter discarded while it streamed in. */
export function oversizedFrame(bytes: number, limits: MessageLimits = DEFAULT_MESSAGE_LIMITS): InboundFrame {
  return refuse(
    JsonRpcErrorCode.InvalidRequest,
    `message of ${bytes} bytes exceeds the limit of ${limits.max_message_bytes}`,
    bytes,
  );
}

function refuse(code: number, reason: string, bytes: number, id: RequestId | null = null): InboundFrame {
  return { ok: false, code, reason, bytes, id };
}

function isRequestId(value: unknown): value is RequestId {
  return typeof value === "string" || (typeof value === "number" && Number.isFinite(value));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Returns the message typed, or why it is not a JSON-RPC 2.0 message. */
function classify(value: unknown): JsonRpcMessage | string {
  if (!isPlainObject(value)) return "a JSON-RPC message must be an object";
  if (value.jsonrpc !== "2.0") return 'missing or wrong "jsonrpc" version (expected "2.0")';
  const hasId = "id" in value;
  if (typeof value.method === "string") {
    if (value.params !== undefined && !isPlainObject(value.params)) return '"params" must be an object';
    if (!hasId) return value as unknown as JsonRpcMessage;
    if (!isRequestId(value.id)) return '"id" must be a string or a number';
    return value as unknown as JsonRpcMessage;
  }
  if ("method" in value) return '"method" must be a string';
  if ("result" in value) {
    if (!isRequestId(value.id)) return 'a response "id" must be a string or a number';
    if ("error" in value) return 'a response has either "result" or "error", not both';
    if (!isPlainObject(value.result)) return '"result" must be an object';
    return value as unknown as JsonRpcMessage;
  }
  if ("error" in value) {
    if (value.id !== null && !isRequestId(value.id)) return 'an error response "id" must be a string, a number or null';
    const error = value.error;
    if (!isPlainObject(error) || typeof error.code !== "number" || typeof error.message !== "string") {
      return '"error" must be an object with a numeric "code" and a string "message"';
    }
    return value as unknown as JsonRpcMessage;
  }
  return "not a request, notification or response";
}

function peekId(value: unknown): RequestId | null {
  return isPlainObject(value) && isRequestId(value.id) ? value.id : null;
}

/** Iterative so that hostile nesting cannot overflow the stack. */
function exceedsDepth(root: unknown, maxDepth: number): boolean {
  if (typeof root !== "object" || root === null) return false;
  const stack: Array<[unknown, number]> = [[root, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (depth > maxDepth) return true;
    if (Array.isArray(value)) {
      for (const child of value) if (typeof child === "object" && child !== null) stack.push([child, depth + 1]);
    } else {
      for (const key in value as Record<string, unknown>) {
        const child = (value as Record<string, unknown>)[key];
        if (typeof child === "object" && child !== null) stack.push([child, depth + 1]);
      }
    }
  }
  return false;
}

export function isRequest(
  message: JsonRpcMessage,
): message is Extract<JsonRpcMessage, { method: string; id: RequestId }> {
  return "method" in message && "id" in message;
}

export function isNotification(message: JsonRpcMessage): boolean {
  return "method" in message && !("id" in message);
}

export function isResponse(message: JsonRpcMessage): boolean {
  return !("method" in message);
}

/** Serialises a JSON-RPC error answer toolwatch sends itself. */
export function errorResponse(id: RequestId | null, code: number, message: string): string {
  return JSON.stringify({ jsonrpc: "2.0", id, error: { code, message } });
}
