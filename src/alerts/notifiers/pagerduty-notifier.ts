import { createHash } from "node:crypto";
import { hostname } from "node:os";
import type { AlertEvent } from "../../core/notifier.js";
import { type DeliveryQueueOptions, postJson, QueuedNotifier } from "./delivery-queue.js";

export const PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue";

export interface PagerDutyNotifierOptions extends DeliveryQueueOptions {
  name?: string;
  /** The integration key of the service (Events API v2). */
  routing_key: string;
  url?: string;
  /** `payload.source`; default `toolwatch@<hostname>`. */
  source?: string;
}

const SEVERITY: Record<string, "critical" | "error" | "warning" | "info"> = {
  critical: "critical",
  high: "error",
  warning: "warning",
  medium: "warning",
  low: "info",
  info: "info",
};

/** `rule/group`, the same for trigger and resolve; hashed when over PagerDuty's 255 characters. */
export function pagerDutyDedupKey(event: AlertEvent): string {
  const key = `toolwatch/${event.rule}/${event.group_key}`;
  return key.length <= 255
    ? key
    : `toolwatch/${event.rule}/${createHash("sha256").update(event.group_key).digest("hex")}`.slice(0, 255);
}

/** An Events API v2 body: `trigger` for firing (repeats re-trigger the same incident), `resolve` for resolved. */
export function pagerDutyPayload(event: AlertEvent, routingKey: string, source: string): Record<string, unknown> {
  const dedupKey = pagerDutyDedupKey(event);
  if (event.state === "resolved") {
    return { routing_key: routingKey, event_action: "resolve", dedup_key: dedupKey };
  }
  const runbook = event.runbook_url;
  return {
    routing_key: routingKey,
    event_action: "trigger",
    dedup_key: dedupKey,
    client: "toolwatch",
    payload: {
      summary: event.summary.slice(0, 1024),
      source,
      severity: SEVERITY[event.severity] ?? "warning",
      timestamp: event.time,
      component: event.labels.server ?? event.labels.tool,
      group: event.rule,
      class: event.condition,
      custom_details: {
        action: event.action,
        runbook: event.runbook,
        condition: event.condition,
        group: event.group_key,
        labels: event.labels,
        values: event.values,
        active_since: event.active_since,
      },
    },
    ...(runbook === undefined ? {} : { links: [{ href: runbook, text: "Runbook" }] }),
  };
}

export function createPagerDutyNotifier(options: PagerDutyNotifierOptions): QueuedNotifier {
  const url = options.url ?? PAGERDUTY_EVENTS_URL;
  const source = options.source ?? `toolwatch@${hostname()}`;
  return new QueuedNotifier(
    options.name ?? "pagerduty",
    (event, signal) => postJson(url, pagerDutyPayload(event, options.routing_key, source), {}, signal),
    options,
  );
}
