import type { AlertEvent } from "../../core/notifier.js";
import { type DeliveryQueueOptions, postJson, QueuedNotifier } from "./delivery-queue.js";

export interface SlackNotifierOptions extends DeliveryQueueOptions {
  name?: string;
  /** The incoming webhook URL (a secret: keep it in an environment variable). */
  url: string;
  channel?: string;
  username?: string;
}

/** Slack's mrkdwn needs `&`, `<` and `>` escaped; anything else is literal. */
function escapeMrkdwn(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

function headline(event: AlertEvent): string {
  if (event.state === "resolved") return `RESOLVED: ${event.rule}`;
  return `${event.repeat ? "STILL FIRING" : "FIRING"} [${event.severity.toUpperCase()}]: ${event.rule}`;
}

/** An incoming-webhook message: `text` for notifications and old clients, `blocks` for the layout. */
export function slackPayload(
  event: AlertEvent,
  options: { channel?: string; username?: string } = {},
): Record<string, unknown> {
  const runbook = event.runbook_url ?? event.runbook;
  const runbookText =
    runbook === undefined
      ? "none"
      : event.runbook_url !== undefined
        ? `<${event.runbook_url}|${escapeMrkdwn(event.runbook ?? event.runbook_url)}>`
        : escapeMrkdwn(runbook);
  const fields = [
    { type: "mrkdwn", text: `*Severity*\n${escapeMrkdwn(event.severity)}` },
    { type: "mrkdwn", text: `*Group*\n\`${escapeMrkdwn(event.group_key)}\`` },
  ];
  const blocks: Record<string, unknown>[] = [
    { type: "header", text: { type: "plain_text", text: headline(event).slice(0, 150) } },
    { type: "section", text: { type: "mrkdwn", text: escapeMrkdwn(event.summary) }, fields },
  ];
  if (event.state !== "resolved") {
    blocks.push({
      type: "section",
      text: {
        type: "mrkdwn",
        text: `*Action:* ${escapeMrkdwn(event.action ?? "none given")}\n*Runbook:* ${runbookText}`,
      },
    });
  }
  blocks.push({
    type: "context",
    elements: [
      { type: "mrkdwn", text: `\`${escapeMrkdwn(event.condition)}\` · since ${event.active_since} · toolwatch` },
    ],
  });
  const text = `${headline(event)}: ${event.summary}${event.state === "resolved" ? "" : ` Action: ${event.action ?? "none given"}`}`;
  return {
    text: escapeMrkdwn(text),
    blocks,
    ...(options.channel === undefined ? {} : { channel: options.channel }),
    ...(options.username === undefined ? {} : { username: options.username }),
  };
}

export function createSlackNotifier(options: SlackNotifierOptions): QueuedNotifier {
  const payloadOptions = {
    ...(options.channel === undefined ? {} : { channel: options.channel }),
    ...(options.username === undefined ? {} : { username: options.username }),
  };
  return new QueuedNotifier(
    options.name ?? "slack",
    (event, signal) => postJson(options.url, slackPayload(event, payloadOptions), {}, signal),
    options,
  );
}
