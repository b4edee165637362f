import assert from "node:assert/strict";
import { test } from "node:test";
import { flowLimits, SessionFlow } from "../../src/metrics/cross-tool-flow.js";
import { nameHash } from "../../src/metrics/name-hash.js";

const IBAN = "US133000000121212121212";
const TRANSACTIONS = `- amount: 50.0\n  recipient: ${IBAN}\n  subject: Spotify Premium\n- amount: 10.0\n  subject: Sushi dinner`;

test("a result that reappears whole in another tool's argument counts its bytes", () => {
  const flow = new SessionFlow(flowLimits());
  flow.addResult("get_most_recent_transactions", TRANSACTIONS);
  assert.equal(flow.measureArguments("send_money", { recipient: IBAN, amount: 50 }), IBAN.length);
  assert.equal(
    flow.measureArguments("send_money", { recipient: IBAN, subject: "Spotify Premium" }),
    IBAN.length + "Spotify Premium".length,
  );
});

test("unrelated text, short values and the same tool's own output count nothing", () => {
  const flow = new SessionFlow(flowLimits());
  flow.addResult("read_file", TRANSACTIONS);
  assert.equal(
    flow.measureArguments("send_email", { body: "Lunch on Friday at the usual place?", to: "bob@example.com" }),
    0,
  );
  assert.equal(flow.measureArguments("send_money", { amount: "50.0", date: "2022" }), 0, "shorter than 8 characters");
  assert.equal(flow.measureArguments("read_file", { path: IBAN }), 0, "the tool that produced it");
  assert.equal(new SessionFlow(flowLimits()).measureArguments("send_money", { recipient: IBAN }), 0, "no output yet");
});

test("an identifier inside a longer value counts its own bytes", () => {
  const flow = new SessionFlow(flowLimits());
  flow.addResult("get_most_recent_transactions", TRANSACTIONS);
  assert.equal(flow.measureArguments("send_email", { body: `Please wire it to ${IBAN} today.` }), IBAN.length);
  assert.equal(
    flow.measureArguments("fetch", { url: `https://collector.example/upload?account=${IBAN}&x=1` }),
    IBAN.length,
    "a value in a URL's query is a word of its own",
  );
});

test("copied prose counts the groups of words found, without counting a byte twice", () => {
  const document =
    "The quarterly numbers show revenue of 4.2 million, up twelve percent on the previous year, driven by Europe.";
  const flow = new SessionFlow(flowLimits());
  flow.addResult("read_file", document);
  const copied = "revenue of 4.2 million, up twelve percent on the previous";
  const body = `Hi team, ${copied} (see attached)`;
  // Words (commas and brackets end words): Hi team revenue of | 4.2 million up twelve | percent on the previous | see attached.
  // The first group is not in the document, the next two are; the last two words make no group and "attached" is not there.
  const expected = "4.2 million, up twelve".length + "percent on the previous".length;
  assert.equal(flow.measureArguments("send_email", { to: "team@example.com", body }), expected);
});

test("failed results are not sources, and old output leaves the window", () => {
  const flow = new SessionFlow(flowLimits({ window_characters: 64 }));
  flow.addResult("get_iban", `IBAN: ${IBAN}`);
  assert.equal(flow.measureArguments("send_money", { recipient: IBAN }), IBAN.length);
  flow.addResult("list_files", "x".repeat(40));
  flow.addResult("list_files", "y".repeat(40));
  assert.equal(flow.retained_characters <= 64, true);
  assert.equal(flow.measureArguments("send_money", { recipient: IBAN }), 0, "the IBAN result was evicted");
});

test("a result longer than half the window keeps only its head", () => {
  const flow = new SessionFlow(flowLimits({ window_characters: 200 }));
  flow.addResult("read_file", `${"a ".repeat(40)}HEAD-SECRET-1 ${"b ".repeat(500)}TAIL-SECRET-2`);
  assert.equal(flow.retained_characters, 100);
  assert.equal(flow.measureArguments("send_email", { body: "HEAD-SECRET-1" }), "HEAD-SECRET-1".length);
  assert.equal(flow.measureArguments("send_email", { body: "TAIL-SECRET-2" }), 0);
});

test("nested argument values are read; keys are not", () => {
  const flow = new SessionFlow(flowLimits());
  flow.addResult("get_user_info", "email: emma.johnson@bluesparrowtech.com, street: Main Street 42");
  assert.equal(
    flow.measureArguments("update_user_info", { contact: { emails: ["emma.johnson@bluesparrowtech.com"] } }),
    "emma.johnson@bluesparrowtech.com".length,
  );
  assert.equal(flow.measureArguments("update_user_info", { "emma.johnson@bluesparrowtech.com": true }), 0);
});

test("bytes are UTF-8 bytes", () => {
  const flow = new SessionFlow(flowLimits());
  flow.addResult("read_file", "Kontoinhaber: Jürgen Müller-Lüdenscheidt");
  assert.equal(
    flow.measureArguments("send_money", { name: "Müller-Lüdenscheidt" }),
    Buffer.byteLength("Müller-Lüdenscheidt"),
  );
});

test("the probe budget bounds the searches of one call", () => {
  const flow = new SessionFlow(flowLimits({ maximum_probes: 2 }));
  flow.addResult("read_file", "alpha-identifier-1 beta-identifier-2 gamma-identifier-3");
  const body = "alpha-identifier-1 beta-identifier-2 gamma-identifier-3 extra";
  // One probe for the whole value (not found), one for the first word; the budget ends there.
  assert.equal(flow.measureArguments("send_email", { body }), "alpha-identifier-1".length);
});

test("a tool given by its name hash is measured as the same tool given by name", () => {
  const byName = new SessionFlow(flowLimits());
  const byHash = new SessionFlow(flowLimits());
  byName.addResult("get_most_recent_transactions", TRANSACTIONS);
  byHash.addResultOfTool(nameHash("get_most_recent_transactions"), TRANSACTIONS);
  for (const tool of ["send_money", "get_most_recent_transactions"]) {
    const argumentsObject = { recipient: IBAN, subject: "Spotify Premium" };
    assert.equal(
      byHash.measureArgumentsOfTool(nameHash(tool), argumentsObject),
      byName.measureArguments(tool, argumentsObject),
    );
  }
});
