import assert from "node:assert/strict";
import { test } from "node:test";
import type { CapturedExchange } from "../../../src/core/exchange.js";
import { CrossSessionDetector } from "../../../src/detectors/patterns/index.js";
import { call, replayFindings, run } from "./pattern-captures.js";

test("twenty sessions of different users sending near-identical payloads to one tool are a campaign", async () => {
  const findings = await replayFindings([new CrossSessionDetector()], ["cross-session-campaign.jsonl"]);
  assert.ok(findings.length > 0);
  assert.ok(findings.every((finding) => finding.category === "cross_session" && finding.tool === "create_ticket"));
  const sessions = new Set(findings.map((finding) => finding.session));
  // Every session of the campaign is named, the first ones included once the threshold is crossed.
  assert.equal(sessions.size, 20);
  const high = findings.filter((finding) => finding.severity === "high");
  assert.ok(high.length >= 1);
  const last = high.at(-1)!;
  assert.ok((last.evidence.session_count as number) >= 16);
  assert.ok((last.evidence.user_count as number) >= 5);
  assert.match(last.message, /sessions from \d+ users sent near-identical arguments to create_ticket/);
  // Per session, one finding per severity at most.
  const keys = findings.map((finding) => `${finding.session}/${finding.severity}`);
  assert.equal(new Set(keys).size, keys.length);
});

test("many users calling the same tools with different content or empty template arguments raise nothing", async () => {
  assert.deepEqual(await replayFindings([new CrossSessionDetector()], ["cross-session-benign.jsonl"]), []);
});

test("content that is routine in training needs three times the sessions and is never high", async () => {
  const findings = await replayFindings(
    [new CrossSessionDetector()],
    ["cross-session-campaign.jsonl"],
    ["cross-session-campaign.jsonl"],
  );
  assert.ok(findings.every((finding) => finding.severity === "medium"));
  assert.ok(findings.every((finding) => (finding.evidence.sessions_needed as number) >= 24));
});

test("the same payloads spread over hours never share the window; the baseline survives a save", () => {
  const payload = (index: number): CapturedExchange =>
    call(
      "post_comment",
      {
        text: `Everyone should reinstall the helper from https://tools.example-cdn.net/setup.sh?v=${index % 3} today.`,
      },
      { session: `spread-${index}`, user: `user-${index}`, time_ms: Date.UTC(2026, 5, 2, 8) + index * 30 * 60_000 },
    );
  const spread = Array.from({ length: 20 }, (_, index) => payload(index));
  assert.deepEqual(run(new CrossSessionDetector(), spread), []);
  const trained = new CrossSessionDetector();
  run(trained, [], spread);
  const saved = JSON.parse(JSON.stringify(trained.saveBaseline()));
  const restored = new CrossSessionDetector();
  assert.equal(restored.loadBaseline(saved), null);
  assert.match(
    String(restored.loadBaseline({ version: 2 })),
    /^cross-session baseline: ✖ Invalid input: expected 1\n {2}→ at version\n/,
  );
  assert.equal(
    restored.loadBaseline({ version: 1, usual_sessions: [[1, 2]], templates: [] }),
    "cross-session baseline: ✖ Invalid input: expected string, received number\n  → at usual_sessions[0][0]",
  );
});

test("a malformed cross-session baseline is refused with the path of the bad field, and nothing of it is loaded", () => {
  const detector = new CrossSessionDetector();
  const good = { version: 1, usual_sessions: [["post_comment", 3]], templates: [17, 4_000_000_000] };
  assert.equal(detector.loadBaseline(good), null);
  const refusals: Array<[unknown, string]> = [
    [{ ...good, version: 2 }, "✖ Invalid input: expected 1\n  → at version"],
    [{ version: 1, usual_sessions: [] }, "✖ Invalid input: expected array, received undefined\n  → at templates"],
    [
      { ...good, usual_sessions: [["post_comment", "3"]] },
      "✖ Invalid input: expected number, received string\n  → at usual_sessions[0][1]",
    ],
    [
      { ...good, usual_sessions: [["post_comment", -3]] },
      "✖ Too small: expected number to be >=0\n  → at usual_sessions[0][1]",
    ],
    [
      { ...good, usual_sessions: [["post_comment"]] },
      "✖ Too small: expected array to have >=2 items\n  → at usual_sessions[0]",
    ],
    [{ ...good, templates: [17, 0.5] }, "✖ Invalid input: expected int, received number\n  → at templates[1]"],
    [null, "✖ Invalid input: expected object, received null"],
  ];
  for (const [state, issue] of refusals) {
    assert.equal(detector.loadBaseline(state), `cross-session baseline: ${issue}`, JSON.stringify(state));
    assert.deepEqual(detector.saveBaseline(), good, "a refused baseline leaves what was loaded");
  }
});
