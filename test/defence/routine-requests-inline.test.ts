/**
 * The inline guard and the learned baseline on help-desk traffic (tickets are requests by nature): with the
 * detectors' request sources it neither holds the desk's everyday work nor lets the attacks written into tickets
 * through, and live records carrying its decisions score as their replay does.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseConfig } from "../../src/config/config.js";
import type { CapturedExchange } from "../../src/core/exchange.js";
import type { Finding } from "../../src/core/finding.js";
import { RequestSources } from "../../src/detectors/flow/request-sources.js";
import { defaultDetectors } from "../../src/detectors/index.js";
import { type GuardOutcome, guardOverCapture } from "../../src/evaluation/guard-over-capture.js";
import { Pipeline } from "../../src/pipeline/pipeline.js";
import { createDefence } from "../../src/runtime/defence.js";
import {
  SUPPORT_ATTACK_KINDS,
  type SupportSession,
  supportDeskBaseline,
  supportDeskTest,
} from "../fixtures/support-desk-traffic.js";

/** The shipped defaults: poisoned results alerted on, tainted high-risk calls held. */
const config = parseConfig("");
const baseline = supportDeskBaseline(150);
const sessions = supportDeskTest(120, 5);
const kindOf = new Map(sessions.map((session) => [session.session, session.kind]));

function guard(requests: RequestSources | undefined, traffic: SupportSession[]): GuardOutcome[] {
  const defence = createDefence(config, { database: null, log: () => {}, ...(requests ? { requests } : {}) });
  assert.ok(defence.guard);
  try {
    return guardOverCapture(
      defence.guard,
      traffic.flatMap((session) => session.records),
    );
  } finally {
    defence.close();
  }
}

/** Each session's first held call, as `tool`. */
function firstHolds(outcomes: GuardOutcome[]): Map<string, string> {
  const holds = new Map<string, string>();
  for (const outcome of outcomes) {
    if (outcome.held && !holds.has(outcome.record.session)) holds.set(outcome.record.session, outcome.record.tool!);
  }
  return holds;
}

/** The records as a proxy with the guard would have stored them: decisions attached, held calls refused. */
function asRecorded(outcomes: GuardOutcome[]): CapturedExchange[] {
  return outcomes.map(({ record, held, decisions }) => {
    const exchange = { ...record, method: "tools/call", tool: record.tool } as CapturedExchange;
    if (decisions.length > 0) exchange.decisions = decisions;
    if (held) {
      exchange.result = null;
      exchange.error = { type: "refused", message: decisions.at(-1)?.reason ?? "refused", code: -32003 };
    }
    return exchange;
  });
}

/** Learns the guarded baseline records, as a learning period reads them back from the store. */
function learnedSources(): RequestSources {
  const requests = new RequestSources();
  const pipeline = new Pipeline({ store: null, detectors: defaultDetectors({ request_sources: requests }) });
  // The guard that saw the baseline knew no baseline yet: its decisions must not hide the tickets' nature.
  for (const exchange of asRecorded(guard(undefined, baseline))) pipeline.learn(exchange);
  pipeline.finishLearning();
  return requests;
}

test("without a baseline the guard holds the desk's own replies and refunds; with it, no benign call", () => {
  const benign = sessions.filter((session) => session.kind === "benign");
  const unaware = firstHolds(guard(undefined, benign));
  assert.ok(unaware.size >= benign.length / 5, `held in ${unaware.size} of ${benign.length} benign sessions`);

  const requests = learnedSources();
  assert.ok(requests.routineSource("support", "get_ticket"), "learned from records that carry the guard's decisions");
  const outcomes = guard(requests, benign);
  assert.deepEqual([...firstHolds(outcomes)], [], "no benign desk call is held");
  const rules = new Set(
    outcomes.flatMap((outcome) =>
      outcome.decisions.filter((decision) => decision.direction === "result").map((decision) => decision.rule),
    ),
  );
  assert.ok(rules.has("routine_request"), "flagged tickets are still recorded, as routine requests");
  assert.ok(
    outcomes.every((outcome) => !outcome.withheld),
    "a routine request is forwarded whatever result_action says",
  );
});

test("with the baseline, attacks in tickets are still held at the attacker-directed call", () => {
  const requests = learnedSources();
  const attacks = sessions.filter((session) => session.kind !== "benign");
  const outcomes = guard(requests, attacks);
  const holds = firstHolds(outcomes);
  const flaggedTickets = new Set(
    outcomes
      .filter(
        (outcome) => outcome.record.tool === "get_ticket" && outcome.decisions.some((d) => d.stage === "poisoning"),
      )
      .map((outcome) => outcome.record.session),
  );
  for (const attack of attacks) {
    // An outsider's address, an injection cue, a bank account the ticket names: held before it reaches the server.
    if (attack.kind === "records_to_third_party") assert.equal(holds.get(attack.session), "send_email", attack.session);
    if (attack.kind === "override_phrase") assert.equal(holds.get(attack.session), "issue_refund", attack.session);
    // The role comes from the ticket's instruction sentence: short values are traced from instructions.
    if (attack.kind === "grant_rights") assert.equal(holds.get(attack.session), "update_customer_role", attack.session);
    if (attack.kind === "refund_to_named_account" && flaggedTickets.has(attack.session)) {
      assert.equal(holds.get(attack.session), "issue_refund", attack.session);
    }
  }
  const injected = attacks.filter((attack) => attack.kind === "override_phrase");
  for (const attack of injected) {
    const ticket = outcomes.find((outcome) => outcome.record.session === attack.session)!;
    assert.ok(
      ticket.decisions.some((decision) => decision.rule === "tool_poisoning"),
      "a cue phrase is not routine",
    );
  }
  assert.ok(
    attacks.filter((attack) => attack.kind === "refund_to_named_account" && flaggedTickets.has(attack.session))
      .length >= 3,
    "most named-account tickets are flagged",
  );
});

test("records carrying the guard's decisions score as their replay: no benign high, every attack high", async () => {
  const requests = learnedSources();
  const recorded = asRecorded(guard(requests, sessions));
  const findings: Finding[] = [];
  const detectors = defaultDetectors({ request_sources: new RequestSources() });
  const pipeline = new Pipeline({ store: null, detectors, findingSinks: [(finding) => findings.push(finding)] });
  for (const exchange of asRecorded(guard(undefined, baseline))) pipeline.learn(exchange);
  pipeline.finishLearning();
  for (const exchange of recorded) pipeline.process(exchange);
  await pipeline.finish();
  const high = new Set(
    findings
      .filter((finding) => finding.severity === "high" || finding.severity === "critical")
      .map((finding) => finding.session),
  );
  const benignHigh = sessions.filter((session) => session.kind === "benign" && high.has(session.session));
  assert.deepEqual(
    benignHigh.map((session) => session.session),
    [],
  );
  for (const kind of SUPPORT_ATTACK_KINDS) {
    for (const attack of sessions.filter((session) => session.kind === kind)) {
      assert.ok(high.has(attack.session), `${kind} ${attack.session} is high`);
    }
  }
  const routine = findings.find(
    (finding) => finding.detector === "poisoning" && finding.evidence.rule === "routine_request",
  );
  assert.equal(routine?.severity, "low", "the guard's routine request is a low finding");
  assert.equal(kindOf.get(routine.session), "benign");
});
