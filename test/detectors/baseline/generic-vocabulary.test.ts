import assert from "node:assert/strict";
import { test } from "node:test";
import { isOutboundTool } from "../../../src/detectors/baseline/generic-vocabulary.js";
import { toolCapabilities } from "../../../src/detectors/flow/tool-capabilities.js";

test("a tool name whose first verb reads reads, whatever its nouns or prefix, for the baselines and the flow detectors alike", () => {
  for (const tool of [
    "read_email",
    "get_message",
    "listMessages",
    "search_emails",
    "fetch.mail",
    "gmail_get_message",
    "mcp__gmail__read_email",
    "slack_get_channel_history",
    "stripe_list_payments",
  ]) {
    assert.equal(isOutboundTool(tool), false, tool);
    assert.equal(toolCapabilities(tool, { id: "1" }).outbound, false, tool);
  }
  for (const tool of [
    "send_email",
    "reply_to_email",
    "email_report",
    "post_message",
    "sendMessage",
    "slack_post_message",
    "mcp__gmail__send_email",
  ]) {
    assert.equal(isOutboundTool(tool), true, tool);
    assert.equal(toolCapabilities(tool, { id: "1" }).outbound, true, tool);
  }
  // The first verb decides: a payment made after a look-up is still a payment.
  assert.equal(toolCapabilities("stripe_create_payment_link", { id: "1" }).payment, true);
  assert.equal(toolCapabilities("stripe_list_payments", { id: "1" }).payment, false);
});
