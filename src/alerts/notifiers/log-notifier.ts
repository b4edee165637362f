import type { AlertEvent, ExportResult, Notifier } from "../../core/notifier.js";

export interface LogNotifierOptions {
  name?: string;
  /** `json`: one JSON object per line (for log shippers); `text`: one readable line. */
  format?: "json" | "text";
  /** Default: stderr, so that a stdio proxy's stdout stays the MCP channel. */
  stream?: NodeJS.WritableStream;
  send_resolved?: boolean;
  repeat_interval_ms?: number;
}

/** `FIRING critical dlp_block_spike {}: ...`: the text format's line. */
export function formatAlertLine(event: AlertEvent): string {
  const state = event.repeat ? "FIRING (repeat)" : event.state.toUpperCase();
  const action = event.action === undefined ? "" : ` | action: ${event.action}`;
  const runbook = event.runbook_url ?? event.runbook;
  return `toolwatch alert ${state} ${event.severity} ${event.rule} ${event.group_key}: ${event.summary}${action}${runbook === undefined ? "" : ` | runbook: ${runbook}`}`;
}

/**
 * Writes alerts to a stream. Local and synchronous, so it needs no queue; a failing stream is a
 * failed result, never an exception.
 */
export function createLogNotifier(options: LogNotifierOptions = {}): Notifier & {
  readonly send_resolved: boolean;
  readonly repeat_interval_ms: number | undefined;
  counters(): Record<string, number>;
} {
  const stream = options.stream ?? process.stderr;
  const format = options.format ?? "json";
  const counts = { delivered: 0, failed: 0 };
  return {
    name: options.name ?? "log",
    send_resolved: options.send_resolved ?? true,
    repeat_interval_ms: options.repeat_interval_ms,
    async notify(event: AlertEvent): Promise<ExportResult> {
      try {
        stream.write(
          format === "json" ? `${JSON.stringify({ type: "alert", ...event })}\n` : `${formatAlertLine(event)}\n`,
        );
        counts.delivered++;
        return { code: "success" };
      } catch (error) {
        counts.failed++;
        return { code: "failed", error: error as Error, retryable: false };
      }
    },
    counters: () => ({ ...counts }),
    async forceFlush() {},
    async shutdown() {},
  };
}
