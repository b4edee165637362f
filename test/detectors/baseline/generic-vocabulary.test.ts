import assert from "node:assert/strict";
import { test } from "node:test";
import { isOutboundTool } from "../../../src/detectors/baseline/generic-vocabulary.js";
import { toolCapabilities } from "../../../src/detectors/flow/tool-capabilities.js";

test("a tool name that opens with a read verb reads, whatever its nouns, for the baselines and the flow detectors alike", () => {
  for (const tool of ["read_email", "get_message", "listMessages", "search_emails", "fetch.mail"]) {
    assert.equal(isOutboundTool(tool), false, tool);
    assert.equal(toolCapabilities(tool, { id: "1" }).outbound, false, tool);
  }
  for (const tool of ["send_email", "reply_to_email", "email_report", "post_message", "sendMessage"]) {
    assert.equal(isOutboundTool(tool), true, tool);
    assert.equal(toolCapabilities(tool, { id: "1" }).outbound, true, tool);
  }
});
