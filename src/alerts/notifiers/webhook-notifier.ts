import type { AlertEvent } from "../../core/notifier.js";
import { type DeliveryQueueOptions, postJson, QueuedNotifier } from "./delivery-queue.js";

export interface WebhookNotifierOptions extends DeliveryQueueOptions {
  name?: string;
  url: string;
  headers?: Record<string, string>;
}

/** The generic webhook body: a versioned envelope around the alert event. */
export function webhookPayload(
  event: AlertEvent,
  notifier: string,
): { version: 1; notifier: string; alert: AlertEvent } {
  return { version: 1, notifier, alert: event };
}

/** POSTs each alert as JSON to `url`. */
export function createWebhookNotifier(options: WebhookNotifierOptions): QueuedNotifier {
  const name = options.name ?? "webhook";
  const headers = options.headers ?? {};
  return new QueuedNotifier(
    name,
    (event, signal) => postJson(options.url, webhookPayload(event, name), headers, signal),
    options,
  );
}
