/**
 * Decisions taken live are part of the record, so the shipped alert rules fire on a capture exactly as they
 * would have live: a burst of DLP blocks produced by the real guard in the real proxy trips `dlp_block_spike`
 * when the recorded exchanges are replayed through the alert engine.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { createAlertEngine } from "../../src/alerts/alert-engine.js";
import { defaultRulesPath, loadRules } from "../../src/alerts/rules-file.js";
import { defaultConfig } from "../../src/config/config.js";
import type { AlertEvent } from "../../src/core/notifier.js";
import { DlpEngine } from "../../src/defence/dlp/dlp-scanner.js";
import { InlineDefence } from "../../src/defence/inline-defence.js";
import { feed } from "../alerts/alert-test-helpers.js";
import { startProxy } from "../capture/proxy-harness.js";

const initialize = { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } };
// Assembled so that no scanner flags this file: a well-formed AWS access key id.
const KEY = ["AKIA", "Z7VQ4XK2M6PLJ3RT"].join("");

test("DLP blocks recorded by the live proxy fire dlp_block_spike in replay", async () => {
  const harness = startProxy({ guard: new InlineDefence({ dlp: new DlpEngine(defaultConfig().dlp) }) });
  await harness.call(1, "initialize", initialize);
  for (let index = 0; index < 12; index++) {
    const answer = await harness.call(`leak-${index}`, "tools/call", {
      name: "echo",
      arguments: { text: `deploy with ${KEY}` },
    });
    assert.equal((answer.error as { code: number } | undefined)?.code, -32003);
  }
  harness.input.end();
  await harness.done;
  const blocked = harness.records.filter((record) => record.decisions?.some((decision) => decision.action === "block"));
  assert.equal(blocked.length, 12);
  assert.ok(!JSON.stringify(harness.records).includes(KEY), "the key itself is never recorded");

  const rules = loadRules(defaultRulesPath());
  assert.ok(rules.ok);
  const events: AlertEvent[] = [];
  const engine = createAlertEngine({ rules: rules.rules, onEvent: (event) => events.push(event) });
  feed(engine, harness.records);
  const spike = events.find((event) => event.rule === "dlp_block_spike" && event.state === "firing");
  assert.ok(spike !== undefined, `dlp_block_spike fires; got ${events.map((event) => event.rule).join(", ")}`);
  assert.equal(spike.severity, "critical");
});
