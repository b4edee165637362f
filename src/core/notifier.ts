/** The states an alert moves through. `inactive` is never sent: it is the absence of an alert. */
export type AlertState = "pending" | "firing" | "resolved";

/**
 * A state change of an alert (or a re-notification of one still firing), as the alert engine
 * records it and notifiers receive it. JSON uses these names exactly (`replay --alerts` writes one per line).
 */
export interface AlertEvent {
  rule: string;
  /** The group the alert is about, as a label set: `{tool="read_file"}`; `{}` for an ungrouped rule. */
  group_key: string;
  state: AlertState;
  /** The state before this change; `inactive` when the alert is new. */
  previous_state: "inactive" | "pending" | "firing";
  severity: string;
  /** Event time of the change (RFC 3339 UTC). */
  time: string;
  /** When the alert became pending or firing (RFC 3339 UTC). */
  active_since: string;
  /** One line for people: the value, the threshold, the group. */
  summary: string;
  /** The rule's condition as written. */
  condition: string;
  action?: string;
  runbook?: string;
  /** `runbook` made absolute with the rules file's `runbook_base_url`, when one is set. */
  runbook_url?: string;
  /** `alertname`, `severity`, the rule's static labels and the group's labels. */
  labels: Record<string, string>;
  /** The values that caused the change: the metric value, the threshold, and what they were computed from. */
  values: Record<string, number>;
  /** True on a re-notification of an alert still firing: a delivery, not a state change. */
  repeat?: boolean;
  /** The silence that kept this event from the notifiers. */
  silenced_by?: string;
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
