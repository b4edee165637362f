/**
 * JSON-RPC messages as toolwatch sees them on a transport. Parsing lives in src/protocol;
 * these are the shapes that come out of it.
 */

export type RequestId = string | number;

export interface JsonRpcRequest {
  jsonrpc: "2.0";
  id: RequestId;
  method: string;
  params?: Record<string, unknown>;
}

export interface JsonRpcNotification {
  jsonrpc: "2.0";
  method: string;
  params?: Record<string, unknown>;
}

export interface JsonRpcSuccess {
  jsonrpc: "2.0";
  id: RequestId;
  result: Record<string, unknown>;
}

export interface JsonRpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}

export interface JsonRpcErrorResponse {
  jsonrpc: "2.0";
  id: RequestId | null;
  error: JsonRpcErrorObject;
}

export type JsonRpcMessage = JsonRpcRequest | JsonRpcNotification | JsonRpcSuccess | JsonRpcErrorResponse;

/** A message read off a transport: parsed, or the reason it could not be. `bytes` is its size on the wire. */
export type InboundFrame =
  | { ok: true; message: JsonRpcMessage; bytes: number; raw: Buffer | string; batch?: undefined }
  /** A JSON array of messages (JSON-RPC batch, allowed by MCP 2025-03-26). */
  | { ok: true; batch: JsonRpcMessage[]; bytes: number; raw: Buffer | string; message?: undefined }
  | { ok: false; code: number; reason: string; bytes: number; id: RequestId | null };

/** Why a transport closed. */
export interface TransportClose {
  /** Process exit code for spawned servers; `null` otherwise. */
  exit_code: number | null;
  signal: string | null;
  reason: string;
}

/**
 * A message-level connection to one MCP peer (the SDK's transport shape).
 *
 * `send` takes the parsed message and, where the bytes must pass unchanged, the raw frame
 * as it arrived. Implementations frame and write; they never throw from `send` (a failed write is
 * reported through `onerror` / `onclose`).
 */
export interface Transport {
  start(): Promise<void>;
  send(message: JsonRpcMessage, raw?: Buffer | string): void;
  close(): Promise<void>;
  onmessage?: (frame: InboundFrame) => void;
  onclose?: (close: TransportClose) => void;
  onerror?: (error: Error) => void;
}
