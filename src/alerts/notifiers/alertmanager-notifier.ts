import type { AlertEvent } from "../../core/notifier.js";
import { type DeliveryQueueOptions, postJson, QueuedNotifier } from "./delivery-queue.js";

export interface AlertmanagerNotifierOptions extends DeliveryQueueOptions {
  name?: string;
  /** Alertmanager's base URL (`http://alertmanager:9093`); alerts go to `/api/v2/alerts` under it. */
  url: string;
  /** `generatorURL` of every alert: where an operator sees the source (toolwatch's UI, a dashboard). */
  generator_url?: string;
  headers?: Record<string, string>;
}

/** Alertmanager wants fresh re-sends; Prometheus uses one minute. */
export const ALERTMANAGER_REPEAT_MS = 60_000;

/** `.../api/v2/alerts`, whether or not the configured URL already ends with it. */
export function alertmanagerEndpoint(url: string): string {
  const base = url.replace(/\/+$/, "");
  return base.endsWith("/api/v2/alerts") ? base : `${base}/api/v2/alerts`;
}

/**
 * A `postableAlerts` body. A firing alert gets `endsAt` four re-send intervals ahead, as Prometheus
 * does, so Alertmanager resolves it by itself if toolwatch stops re-sending; a resolved one ends now.
 */
export function alertmanagerPayload(
  event: AlertEvent,
  options: { generator_url?: string; repeat_interval_ms?: number } = {},
): Record<string, unknown>[] {
  const time = Date.parse(event.time);
  const repeat = options.repeat_interval_ms ?? ALERTMANAGER_REPEAT_MS;
  const endsAt = event.state === "resolved" ? event.time : new Date(time + 4 * repeat).toISOString();
  const annotations: Record<string, string> = { summary: event.summary, condition: event.condition };
  if (event.action !== undefined) annotations.action = event.action;
  if (event.runbook_url !== undefined) annotations.runbook_url = event.runbook_url;
  else if (event.runbook !== undefined) annotations.runbook = event.runbook;
  annotations.values = JSON.stringify(event.values);
  return [
    {
      labels: { ...event.labels },
      annotations,
      startsAt: event.active_since,
      endsAt,
      ...(options.generator_url === undefined ? {} : { generatorURL: options.generator_url }),
    },
  ];
}

export function createAlertmanagerNotifier(options: AlertmanagerNotifierOptions): QueuedNotifier {
  const endpoint = alertmanagerEndpoint(options.url);
  const repeat = options.repeat_interval_ms ?? ALERTMANAGER_REPEAT_MS;
  const payloadOptions = {
    repeat_interval_ms: repeat,
    ...(options.generator_url === undefined ? {} : { generator_url: options.generator_url }),
  };
  return new QueuedNotifier(
    options.name ?? "alertmanager",
    (event, signal) => postJson(endpoint, alertmanagerPayload(event, payloadOptions), options.headers ?? {}, signal),
    { ...options, repeat_interval_ms: repeat },
  );
}
