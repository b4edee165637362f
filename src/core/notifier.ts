/** A state change of an alert, as notifiers receive it. Issue #3 fills in the rule engine that produces these. */
export interface AlertEvent {
  rule: string;
  group_key: string;
  state: "pending" | "firing" | "resolved";
  severity: string;
  time: string;
  summary: string;
  action?: string;
  runbook?: string;
  labels: Record<string, string>;
  values: Record<string, number>;
}

/** The outcome of one delivery: a value, never an exception. */
export type ExportResult = { code: "success" } | { code: "failed"; error: Error; retryable: boolean };

/**
 * Sends alert events out (log, webhook, Slack, PagerDuty, Alertmanager).
 * A notifier that is down must never block the pipeline: implementations queue, retry and count.
 */
export interface Notifier {
  readonly name: string;
  notify(event: AlertEvent): Promise<ExportResult>;
  forceFlush(): Promise<void>;
  /** Idempotent. */
  shutdown(): Promise<void>;
}
