import type { ServerResponse } from "node:http";

/**
 * Frames one JSON-RPC message as a Server-Sent Event. The `event` field is left out: clients
 * treat an unnamed event as `message`, and every byte counts on the hot path.
 */
export function sseEvent(data: string): string {
  // SSE ends a field at CR or LF; pretty-printed JSON must become several `data:` lines.
  if (data.indexOf("\n") === -1 && data.indexOf("\r") === -1) return `data: ${data}\n\n`;
  return `data: ${data.split(/\r\n|\r|\n/).join("\ndata: ")}\n\n`;
}

/** A comment line: ignored by clients, it keeps idle proxies from closing a quiet stream. */
export const SSE_KEEP_ALIVE = ": keep-alive\n\n";

/**
 * Starts an event stream on `response` and sends the headers at once, so that the client sees the
 * stream open before the first event (a buffered header would delay progress notifications).
 */
export function openEventStream(response: ServerResponse, headers: Record<string, string> = {}): void {
  response.writeHead(200, {
    ...headers,
    "content-type": "text/event-stream",
    "cache-control": "no-cache, no-transform",
    // Tells nginx-style proxies in front of the gateway not to buffer the stream.
    "x-accel-buffering": "no",
  });
  response.flushHeaders();
}
