import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, test } from "node:test";
import { createAlertEngine } from "../../src/alerts/alert-engine.js";
import { createNotifiers } from "../../src/alerts/notifiers/create-notifiers.js";
import { createWebhookNotifier } from "../../src/alerts/notifiers/webhook-notifier.js";
import { parseRules } from "../../src/alerts/rules-file.js";
import type { AlertEvent } from "../../src/core/notifier.js";
import { DLP_BLOCK, exchangeAt, feed } from "./alert-test-helpers.js";

interface Received {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: unknown;
}

interface Receiver {
  url: string;
  received: Received[];
  /** Requests seen, answered or not. */
  attempts: number;
  close(): Promise<void>;
}

const servers: Server[] = [];
after(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** A real HTTP receiver on 127.0.0.1; `answer` picks the status of each request (`null`: never answer). */
async function receiver(answer: (attempt: number) => number | null = () => 200): Promise<Receiver> {
  const state: Receiver = { url: "", received: [], attempts: 0, close: async () => {} };
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      state.attempts++;
      const status = answer(state.attempts);
      if (status === null) return;
      if (status < 300) {
        state.received.push({
          method: request.method ?? "",
          path: request.url ?? "",
          headers: request.headers,
          body: JSON.parse(Buffer.concat(chunks).toString("utf8")),
        });
      }
      response.writeHead(status, { "content-type": "application/json" }).end("{}");
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}

/** A port where nothing listens. */
async function closedPort(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}/hook`;
}

const RULE = `  - name: dlp_block_spike
    condition: dlp_blocks > 2 in 60s
    severity: critical
    action: "Page on-call. Potential active exfiltration."
    runbook: "docs/runbooks.md#ir-dlp-block-spike"
`;

/** Fires the rule with exchanges stamped now, then resolves it by moving the clock on. */
function fireAndResolve(engine: ReturnType<typeof createAlertEngine>): void {
  const now = Date.now();
  feed(
    engine,
    [0, 1, 2].map((index) => exchangeAt(now + index, { tool: "send_email", server: "mail", decisions: [DLP_BLOCK] })),
  );
  engine.tick(now + 5 * 60_000);
}

test("webhook, Slack, PagerDuty and Alertmanager receive firing and resolved in their own formats", async () => {
  const [webhook, slack, pagerduty, alertmanager] = await Promise.all([receiver(), receiver(), receiver(), receiver()]);
  const parsed = parseRules(
    `notifiers:
  - {name: hook, type: webhook, url: "${webhook.url}/hook", headers: {authorization: "Bearer \${HOOK_TOKEN}"}}
  - {name: chat, type: slack, url: "\${SLACK_URL}", channel: "#security"}
  - {name: pager, type: pagerduty, routing_key: "\${PD_KEY}", url: "${pagerduty.url}/v2/enqueue", source: toolwatch-test}
  - {name: am, type: alertmanager, url: "${alertmanager.url}", generator_url: "http://toolwatch.local/alerts"}
settings:
  runbook_base_url: https://runbooks.example/toolwatch/
alerts:
${RULE}`,
    "notifiers.yaml",
    { HOOK_TOKEN: "t0ken", SLACK_URL: `${slack.url}/services/T/B/X`, PD_KEY: "R0UTING" },
  );
  assert.ok(parsed.ok, parsed.ok ? "" : JSON.stringify(parsed.errors));
  const notifiers = createNotifiers(parsed.rules.notifiers, {
    environment: { HOOK_TOKEN: "t0ken", SLACK_URL: `${slack.url}/services/T/B/X`, PD_KEY: "R0UTING" },
  });
  const recorded: AlertEvent[] = [];
  const engine = createAlertEngine({ rules: parsed.rules, notifiers, onEvent: (event) => recorded.push(event) });
  fireAndResolve(engine);
  await engine.forceFlush();
  assert.deepEqual(
    recorded.map((event) => event.state),
    ["firing", "resolved"],
  );
  const runbookUrl = "https://runbooks.example/toolwatch/docs/runbooks.md#ir-dlp-block-spike";

  // Generic webhook: the event in a versioned envelope, with the configured header.
  assert.deepEqual(
    webhook.received.map((request) => [request.path, (request.body as { alert: AlertEvent }).alert.state]),
    [
      ["/hook", "firing"],
      ["/hook", "resolved"],
    ],
  );
  assert.equal(webhook.received[0]!.headers.authorization, "Bearer t0ken");
  const envelope = webhook.received[0]!.body as { version: number; notifier: string; alert: AlertEvent };
  assert.equal(envelope.version, 1);
  assert.equal(envelope.alert.rule, "dlp_block_spike");
  assert.deepEqual(envelope.alert.values, { value: 3, threshold: 2, window_seconds: 60 });
  assert.equal(envelope.alert.runbook_url, runbookUrl);

  // Slack incoming webhook: text and blocks with severity, action and runbook.
  assert.equal(slack.received[0]!.path, "/services/T/B/X");
  const message = slack.received[0]!.body as { text: string; channel: string; blocks: Array<Record<string, unknown>> };
  assert.equal(message.channel, "#security");
  assert.match(message.text, /^FIRING \[CRITICAL\]: dlp_block_spike: /);
  const blocksText = JSON.stringify(message.blocks);
  assert.match(blocksText, /\*Severity\*\\ncritical/);
  assert.match(blocksText, /\*Action:\* Page on-call\. Potential active exfiltration\./);
  assert.ok(blocksText.includes(`<${runbookUrl}|docs/runbooks.md#ir-dlp-block-spike>`));
  assert.match((slack.received[1]!.body as { text: string }).text, /^RESOLVED: dlp_block_spike/);

  // PagerDuty Events API v2: trigger then resolve with the same dedup key.
  const [trigger, resolve] = pagerduty.received.map((request) => request.body as Record<string, unknown>);
  assert.equal(pagerduty.received[0]!.path, "/v2/enqueue");
  assert.equal(trigger!.routing_key, "R0UTING");
  assert.equal(trigger!.event_action, "trigger");
  assert.equal(trigger!.dedup_key, "toolwatch/dlp_block_spike/{}");
  const payload = trigger!.payload as Record<string, unknown>;
  assert.equal(payload.severity, "critical");
  assert.equal(payload.source, "toolwatch-test");
  assert.match(payload.summary as string, /dlp_blocks is 3/);
  assert.equal((payload.custom_details as { action: string }).action, "Page on-call. Potential active exfiltration.");
  assert.deepEqual(trigger!.links, [{ href: runbookUrl, text: "Runbook" }]);
  assert.deepEqual(resolve, {
    routing_key: "R0UTING",
    event_action: "resolve",
    dedup_key: "toolwatch/dlp_block_spike/{}",
  });

  // Alertmanager v2: POST /api/v2/alerts with labels, annotations, startsAt/endsAt and generatorURL.
  assert.deepEqual(
    alertmanager.received.map((request) => [request.method, request.path]),
    [
      ["POST", "/api/v2/alerts"],
      ["POST", "/api/v2/alerts"],
    ],
  );
  const [firing] = alertmanager.received[0]!.body as Array<Record<string, unknown>>;
  const [resolved] = alertmanager.received[1]!.body as Array<Record<string, unknown>>;
  assert.deepEqual(firing!.labels, { alertname: "dlp_block_spike", severity: "critical" });
  const annotations = firing!.annotations as Record<string, string>;
  assert.equal(annotations.action, "Page on-call. Potential active exfiltration.");
  assert.equal(annotations.runbook_url, runbookUrl);
  assert.equal(firing!.generatorURL, "http://toolwatch.local/alerts");
  assert.ok(
    Date.parse(firing!.endsAt as string) > Date.parse(firing!.startsAt as string),
    "a firing alert ends in the future",
  );
  assert.equal(resolved!.startsAt, firing!.startsAt);
  assert.equal(resolved!.endsAt, recorded[1]!.time, "a resolved alert ends when it resolved");
  await engine.shutdown();
});

test("a receiver that fails then recovers gets the alert exactly once, after backoff", async () => {
  const flaky = await receiver((attempt) => (attempt <= 2 ? 503 : 200));
  const notifier = createWebhookNotifier({
    name: "flaky",
    url: flaky.url,
    initial_backoff_ms: 20,
    max_backoff_ms: 100,
  });
  const result = parseRules(`alerts:\n${RULE}`, "r.yaml");
  assert.ok(result.ok);
  const engine = createAlertEngine({ rules: result.rules, notifiers: [notifier] });
  const now = Date.now();
  feed(
    engine,
    [0, 1, 2].map((index) => exchangeAt(now + index, { decisions: [DLP_BLOCK] })),
  );
  await engine.forceFlush();
  assert.equal(flaky.attempts, 3);
  assert.equal(flaky.received.length, 1, "delivered exactly once");
  assert.deepEqual(notifier.counters(), { queued: 0, delivered: 1, failed: 0, dropped: 0, retries: 2 });
  assert.equal(engine.counters().notification_failures, 0);
  await engine.shutdown();
});

test("a receiver that is down never blocks the pipeline; the record is kept and the failure counted", async () => {
  const url = await closedPort();
  const notifier = createWebhookNotifier({ name: "down", url, max_attempts: 3, initial_backoff_ms: 10 });
  const recorded: AlertEvent[] = [];
  const result = parseRules(`alerts:\n${RULE}`, "r.yaml");
  assert.ok(result.ok);
  const engine = createAlertEngine({
    rules: result.rules,
    notifiers: [notifier],
    onEvent: (event) => recorded.push(event),
    onError: () => {},
  });
  const now = Date.now();
  feed(
    engine,
    [0, 1, 2].map((index) => exchangeAt(now + index, { decisions: [DLP_BLOCK] })),
  );
  // `observe` returned with the delivery still ahead of it: the record exists, the attempt is queued.
  assert.deepEqual(
    recorded.map((event) => event.state),
    ["firing"],
  );
  assert.equal(notifier.counters().queued, 1);
  feed(engine, [exchangeAt(now + 3, { decisions: [DLP_BLOCK] })]);
  await engine.forceFlush();
  assert.deepEqual(notifier.counters(), { queued: 0, delivered: 0, failed: 1, dropped: 0, retries: 2 });
  assert.equal(engine.counters().notification_failures, 1);
  assert.deepEqual(engine.counters().notifiers.down, notifier.counters());
  await engine.shutdown();
});

test("the queue is bounded and drops (counted) when full; shutdown gives up on a hung receiver", async () => {
  const hung = await receiver(() => null);
  const notifier = createWebhookNotifier({
    name: "hung",
    url: hung.url,
    queue_size: 2,
    shutdown_timeout_ms: 50,
    timeout_ms: 60_000,
  });
  const event = {
    rule: "r",
    group_key: "{}",
    state: "firing",
    previous_state: "inactive",
    severity: "critical",
    time: new Date().toISOString(),
    active_since: new Date().toISOString(),
    summary: "s",
    condition: "c",
    labels: {},
    values: {},
  } satisfies AlertEvent;
  const outcomes = [1, 2, 3, 4, 5].map(() => notifier.notify(event));
  assert.deepEqual(notifier.counters(), { queued: 2, delivered: 0, failed: 0, dropped: 3, retries: 0 });
  await notifier.shutdown();
  const results = await Promise.all(outcomes);
  assert.deepEqual(
    results.map((result) => result.code),
    ["failed", "failed", "failed", "failed", "failed"],
  );
  assert.deepEqual(notifier.counters(), { queued: 0, delivered: 0, failed: 2, dropped: 3, retries: 0 });
  assert.equal((await notifier.notify(event)).code, "failed", "nothing is accepted after shutdown");
  await notifier.shutdown();
});

test("a receiver that refuses (4xx) is not retried", async () => {
  const refusing = await receiver(() => 400);
  const notifier = createWebhookNotifier({ name: "refusing", url: refusing.url, initial_backoff_ms: 10 });
  const event = {
    rule: "r",
    group_key: "{}",
    state: "firing",
    previous_state: "inactive",
    severity: "info",
    time: new Date().toISOString(),
    active_since: new Date().toISOString(),
    summary: "s",
    condition: "c",
    labels: {},
    values: {},
  } satisfies AlertEvent;
  const result = await notifier.notify(event);
  assert.equal(result.code, "failed");
  assert.equal(refusing.attempts, 1);
  assert.match(result.code === "failed" ? result.error.message : "", /HTTP 400/);
  await notifier.shutdown();
});

test("unset environment variables in notifier settings are configuration errors", () => {
  const parsed = parseRules(`notifiers:\n  - {name: chat, type: slack, url: "\${NOPE}"}\nalerts: []\n`, "e.yaml", {});
  assert.ok(parsed.ok);
  assert.throws(
    () => createNotifiers(parsed.rules.notifiers, { environment: {} }),
    /environment variable NOPE is not set/,
  );
});
