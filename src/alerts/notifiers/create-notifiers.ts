import { ToolwatchError } from "../../core/errors.js";
import type { Notifier } from "../../core/notifier.js";
import type { NotifierRouting } from "../alert-engine.js";
import type { DeliverySettings, NotifierConfig } from "../rules-file.js";
import { createAlertmanagerNotifier } from "./alertmanager-notifier.js";
import type { DeliveryQueueOptions } from "./delivery-queue.js";
import { createLogNotifier } from "./log-notifier.js";
import { createPagerDutyNotifier } from "./pagerduty-notifier.js";
import { createSlackNotifier } from "./slack-notifier.js";
import { createWebhookNotifier } from "./webhook-notifier.js";

export interface CreateNotifiersOptions {
  /** Where `${NAME}` in notifier settings is looked up. */
  environment?: NodeJS.ProcessEnv;
  stderr?: NodeJS.WritableStream;
  stdout?: NodeJS.WritableStream;
}

/** Replaces `${NAME}` with the environment's value, so secrets stay out of the rules file. */
function expand(value: string, notifier: string, environment: NodeJS.ProcessEnv): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_match, variable: string) => {
    const found = environment[variable];
    if (found === undefined) {
      throw new ToolwatchError("config_invalid", `notifier ${notifier}: environment variable ${variable} is not set`);
    }
    return found;
  });
}

function checkUrl(url: string, notifier: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ToolwatchError("config_invalid", `notifier ${notifier}: url is not a valid URL`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new ToolwatchError("config_invalid", `notifier ${notifier}: url must be http or https`);
  }
  return url;
}

function deliveryOptions(settings: DeliverySettings): DeliveryQueueOptions {
  const options: DeliveryQueueOptions = {};
  if (settings.timeout_ms !== undefined) options.timeout_ms = settings.timeout_ms;
  if (settings.queue_size !== undefined) options.queue_size = settings.queue_size;
  if (settings.max_attempts !== undefined) options.max_attempts = settings.max_attempts;
  if (settings.initial_backoff_ms !== undefined) options.initial_backoff_ms = settings.initial_backoff_ms;
  if (settings.max_backoff_ms !== undefined) options.max_backoff_ms = settings.max_backoff_ms;
  if (settings.repeat_interval_ms !== undefined) options.repeat_interval_ms = settings.repeat_interval_ms;
  if (settings.send_resolved !== undefined) options.send_resolved = settings.send_resolved;
  return options;
}

/**
 * Builds the notifiers of a rules file. Without a `notifiers:` section (`null`), alerts go to one
 * `log` notifier on stderr. Throws a `config_invalid` error for an unset variable or a bad URL.
 */
export function createNotifiers(
  configs: readonly NotifierConfig[] | null,
  options: CreateNotifiersOptions = {},
): (Notifier & NotifierRouting)[] {
  const environment = options.environment ?? process.env;
  if (configs === null) {
    return [createLogNotifier({ name: "log", ...(options.stderr ? { stream: options.stderr } : {}) })];
  }
  return configs.map((config): Notifier & NotifierRouting => {
    const delivery = deliveryOptions(config);
    const text = (value: string): string => expand(value, config.name, environment);
    const textRecord = (record: Record<string, string>): Record<string, string> =>
      Object.fromEntries(Object.entries(record).map(([key, value]) => [key, text(value)]));
    switch (config.type) {
      case "log": {
        const stream =
          config.stream === "stdout" ? (options.stdout ?? process.stdout) : (options.stderr ?? process.stderr);
        return createLogNotifier({
          name: config.name,
          format: config.format,
          stream,
          ...(delivery.send_resolved === undefined ? {} : { send_resolved: delivery.send_resolved }),
          ...(delivery.repeat_interval_ms === undefined ? {} : { repeat_interval_ms: delivery.repeat_interval_ms }),
        });
      }
      case "webhook":
        return createWebhookNotifier({
          ...delivery,
          name: config.name,
          url: checkUrl(text(config.url), config.name),
          headers: textRecord(config.headers),
        });
      case "slack":
        return createSlackNotifier({
          ...delivery,
          name: config.name,
          url: checkUrl(text(config.url), config.name),
          ...(config.channel === undefined ? {} : { channel: text(config.channel) }),
          ...(config.username === undefined ? {} : { username: text(config.username) }),
        });
      case "pagerduty":
        return createPagerDutyNotifier({
          ...delivery,
          name: config.name,
          routing_key: text(config.routing_key),
          url: checkUrl(text(config.url), config.name),
          ...(config.source === undefined ? {} : { source: text(config.source) }),
        });
      case "alertmanager":
        return createAlertmanagerNotifier({
          ...delivery,
          name: config.name,
          url: checkUrl(text(config.url), config.name),
          headers: textRecord(config.headers),
          ...(config.generator_url === undefined ? {} : { generator_url: text(config.generator_url) }),
        });
      default:
        throw new ToolwatchError("config_invalid", `notifier ${(config as { name: string }).name}: unknown type`);
    }
  });
}
