import assert from "node:assert/strict";
import { test } from "node:test";
import { argumentRole, isOutboundTool } from "../../../src/detectors/baseline/generic-vocabulary.js";
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
  // A verb of its own says what a tool does with a channel: deleting or archiving an e-mail sends nothing.
  for (const tool of ["delete_email", "archive_message", "mark_email_read"]) {
    assert.equal(isOutboundTool(tool), false, tool);
    assert.equal(toolCapabilities(tool, { id: "1" }).outbound, false, tool);
  }
  assert.equal(toolCapabilities("delete_email", { email_id: "1" }).delete, true);
  // The first verb decides: a payment made after a look-up is still a payment.
  assert.equal(toolCapabilities("stripe_create_payment_link", { id: "1" }).payment, true);
  assert.equal(toolCapabilities("stripe_list_payments", { id: "1" }).payment, false);
});

test("an argument name's last word says what it holds: an email_subject is text, a channel_id a destination, an email_id an id", () => {
  const roles = (paths: string[]): string[] => paths.map((path) => `${path}=${argumentRole(path)}`);
  assert.deepEqual(
    roles(["to", "recipients[]", "cc[].email", "toAddress", "webhook_url", "channel_id", "account_number"]),
    [
      "to=destination",
      "recipients[]=destination",
      "cc[].email=destination",
      "toAddress=destination",
      "webhook_url=destination",
      "channel_id=destination",
      "account_number=destination",
    ],
  );
  assert.deepEqual(roles(["email_subject", "email_body", "recipient.name", "domain_description", "subject_line"]), [
    "email_subject=text",
    "email_body=text",
    "recipient.name=text",
    "domain_description=text",
    "subject_line=text",
  ]);
  assert.deepEqual(roles(["email_id", "file_id", "event_id", "target_date", "webhook_secret", "amount"]), [
    "email_id=identifier",
    "file_id=identifier",
    "event_id=identifier",
    "target_date=other",
    "webhook_secret=other",
    "amount=other",
  ]);
});
