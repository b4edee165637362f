import assert from "node:assert/strict";
import { test } from "node:test";
import { PolicyEngine } from "../../../src/defence/policy/policy-engine.js";
import { parsePolicy } from "../../../src/defence/policy/policy-file.js";
import { call, engineFor, MONDAY_10_UTC, verdict } from "./policy-helpers.js";

const MINUTE = 60_000;

test("a per-session limit counts on event time and reopens exactly when the window slides past", () => {
  const engine = engineFor([
    "version: 1",
    "policies:",
    "  - name: p",
    "    rate_limits:",
    '      - { tool: "*", per: session, max: 3, window: 1m }',
  ]);
  const at = (offset: number, session = "s1") =>
    verdict(engine.checkCall(call({ server: "crm", tool: "get", session, time_ms: MONDAY_10_UTC + offset })));
  assert.equal(at(0), "allowed");
  assert.equal(at(10_000), "allowed");
  assert.equal(at(20_000), "allowed");
  assert.equal(at(30_000), "p/rate_limits[0]");
  assert.equal(at(59_999), "p/rate_limits[0]", "the first call is still inside the window");
  assert.equal(at(30_000, "s2"), "allowed", "another session has its own count");
  assert.equal(at(MINUTE), "allowed", "the call at 0 left the window (t - 1m, t]");
  assert.equal(at(MINUTE + 1), "p/rate_limits[0]", "refused calls were not counted, the one at 1m was");
  assert.equal(at(MINUTE + 10_000), "allowed");
  const refused = engine.checkCall(call({ server: "crm", tool: "get", time_ms: MONDAY_10_UTC + MINUTE + 10_001 }));
  assert.ok(!refused.allowed && refused.reason === "rate limit: already 3 call(s) to * per session in the last 1m");
});

test("a tool-specific limit counts only that tool; each_tool counts every tool on its own", () => {
  const engine = engineFor([
    "version: 1",
    "policies:",
    "  - name: mail",
    "    rate_limits:",
    '      - { tool: "mail/send_email", per: session, max: 2, window: 1h }',
    '      - { tool: "crm/*", per: session, max: 1, window: 1h, each_tool: true }',
  ]);
  const send = (tool: string, offset = 0) =>
    verdict(
      engine.checkCall(
        call({ server: tool.split("/")[0]!, tool: tool.split("/")[1]!, time_ms: MONDAY_10_UTC + offset }),
      ),
    );
  assert.equal(send("mail/send_email"), "allowed");
  assert.equal(send("mail/read_inbox"), "allowed");
  assert.equal(send("mail/send_email"), "allowed");
  assert.equal(send("mail/send_email"), "mail/rate_limits[0]");
  assert.equal(send("mail/read_inbox"), "allowed", "other tools are not counted");
  assert.equal(send("crm/get"), "allowed");
  assert.equal(send("crm/list"), "allowed", "each tool has its own count");
  assert.equal(send("crm/get"), "mail/rate_limits[1]");
  assert.equal(send("mail/send_email", 3_600_000), "allowed", "an hour later");
});

test("per-user limits span sessions; calls without a user share one count", () => {
  const engine = engineFor([
    "version: 1",
    "policies:",
    "  - name: p",
    "    rate_limits:",
    '      - { tool: "*", per: user, max: 2, window: 1h }',
  ]);
  const by = (user: string | null, session: string) =>
    verdict(engine.checkCall(call({ user, session, server: "crm", tool: "get" })));
  assert.equal(by("ada", "s1"), "allowed");
  assert.equal(by("ada", "s2"), "allowed");
  assert.equal(by("ada", "s3"), "p/rate_limits[0]");
  assert.equal(by("bob", "s3"), "allowed");
  assert.equal(by(null, "s4"), "allowed");
  assert.equal(by(null, "s5"), "allowed");
  assert.equal(by(null, "s6"), "p/rate_limits[0]", "anonymous callers cannot escape by changing session");
  engine.endSession("s1");
  assert.equal(by("ada", "s1"), "p/rate_limits[0]", "ending a session does not reset a per-user count");
});

test("a call refused by one limit counts against none; endSession forgets the session's counts", () => {
  const engine = engineFor([
    "version: 1",
    "policies:",
    "  - name: p",
    "    rate_limits:",
    '      - { tool: "*", per: session, max: 5, window: 1h }',
    '      - { tool: "mail/*", per: session, max: 1, window: 1h }',
  ]);
  const mail = () => verdict(engine.checkCall(call({ server: "mail", tool: "send" })));
  const crm = () => verdict(engine.checkCall(call({ server: "crm", tool: "get" })));
  assert.equal(mail(), "allowed");
  for (let index = 0; index < 3; index++) assert.equal(mail(), "p/rate_limits[1]");
  for (let index = 0; index < 4; index++) assert.equal(crm(), "allowed", "the refused mails used no budget");
  assert.equal(crm(), "p/rate_limits[0]");
  assert.deepEqual(engine.counters(), { buckets: 2, sessions: 1, evicted: 0 });
  engine.endSession("s1");
  assert.deepEqual(engine.counters(), { buckets: 0, sessions: 0, evicted: 0 });
  assert.equal(mail(), "allowed");
});

test("replaying the same calls gives the same decisions, whatever the wall clock says", () => {
  const lines = [
    "version: 1",
    "policies:",
    "  - name: p",
    "    rate_limits:",
    "      - { per: session, max: 4, window: 10s }",
  ];
  const times = Array.from({ length: 40 }, (_, index) => MONDAY_10_UTC + index * 1_700 + (index % 3) * 400);
  const run = () => {
    const engine = engineFor(lines);
    return times.map((time_ms) => verdict(engine.checkCall(call({ server: "a", tool: "b", time_ms }))));
  };
  const first = run();
  assert.deepEqual(run(), first);
  assert.ok(first.includes("allowed") && first.includes("p/rate_limits[0]"));
});

test("the number of tracked keys is capped: idle keys go first, then the oldest", () => {
  const parsed = parsePolicy(
    ["version: 1", "policies:", "  - name: p", "    rate_limits:", "      - { per: session, max: 1, window: 1m }"].join(
      "\n",
    ),
    "p.yaml",
  );
  assert.ok(parsed.ok);
  const engine = new PolicyEngine(parsed.policy, { max_tracked_keys: 100 });
  for (let index = 0; index < 100; index++) {
    engine.checkCall(call({ session: `idle-${index}`, server: "a", tool: "b", time_ms: MONDAY_10_UTC }));
  }
  assert.equal(engine.counters().buckets, 100);
  const later = MONDAY_10_UTC + 2 * MINUTE;
  engine.checkCall(call({ session: "new", server: "a", tool: "b", time_ms: later }));
  assert.deepEqual(engine.counters(), { buckets: 1, sessions: 1, evicted: 0 }, "idle buckets swept");
  for (let index = 0; index < 150; index++) {
    engine.checkCall(call({ session: `busy-${index}`, server: "a", tool: "b", time_ms: later }));
  }
  const counters = engine.counters();
  assert.ok(counters.buckets <= 100, `buckets ${counters.buckets}`);
  assert.ok(counters.evicted > 0);
  assert.equal(
    verdict(engine.checkCall(call({ session: "busy-149", server: "a", tool: "b", time_ms: later }))),
    "p/rate_limits[0]",
    "the newest keys are still counted",
  );
});
