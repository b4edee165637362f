import assert from "node:assert/strict";
import { test } from "node:test";
import type { CapturedExchange } from "../../../src/core/exchange.js";
import type { Finding } from "../../../src/core/finding.js";
import { SequenceDetector } from "../../../src/detectors/baseline/index.js";
import {
  businessHour,
  learnThenScore,
  paymentsSession,
  SessionWriter,
  supportSession,
  twoDomainBaseline,
} from "./synthetic-traffic.js";

const { baseline, random } = twoDomainBaseline();

function scoredTraffic(build: (payments: SessionWriter, support: SessionWriter) => void): CapturedExchange[] {
  const payments = new SessionWriter("payments", "ana", random);
  const support = new SessionWriter("support", "ben", random);
  build(payments, support);
  return [...payments.all(), ...support.all()].sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
}

function sequenceFindings(scored: CapturedExchange[]): Finding[] {
  return learnThenScore([new SequenceDetector()], baseline, scored);
}

test("normal sessions in both domains raise nothing above low, and few lows", () => {
  const scored = scoredTraffic((payments, support) => {
    for (let index = 0; index < 100; index++) {
      payments.session(paymentsSession(random), businessHour(random, index));
      support.session(supportSession(random, 5000 + index), businessHour(random, index));
    }
  });
  const findings = sequenceFindings(scored);
  assert.equal(findings.filter((finding) => finding.severity !== "low").length, 0);
  const sessions = new Set(findings.map((finding) => finding.session));
  assert.ok(sessions.size <= 4, `${sessions.size} of 200 normal sessions got a sequence finding`);
});

test("a tool the agent type never called is a medium sequence_anomaly naming the tool and the baseline", () => {
  const scored = scoredTraffic((payments) => {
    payments.session(
      [
        { tool: "get_balance", arguments: {} },
        { tool: "export_all_accounts", arguments: {} },
      ],
      businessHour(random, 1),
      { id: "unseen" },
    );
  });
  const findings = sequenceFindings(scored).filter((finding) => finding.evidence.kind === "unseen_tool");
  assert.equal(findings.length, 1);
  const finding = findings[0]!;
  assert.equal(finding.category, "sequence_anomaly");
  assert.equal(finding.severity, "medium");
  assert.equal(finding.call_index, 1);
  assert.equal(finding.evidence.tool, "export_all_accounts");
  assert.equal(finding.evidence.previous_tool, "get_balance");
  assert.match(finding.message, /agent type payments never called export_all_accounts in its baseline \(300 sessions/);
});

test("once five sessions of an agent type have called a tool its baseline lacks, later ones are told it at low as a rollout", () => {
  const scored = scoredTraffic((payments) => {
    for (let index = 0; index < 8; index++) {
      payments.session(
        [
          { tool: "get_balance", arguments: {} },
          { tool: "get_statement_pdf", arguments: {} },
        ],
        businessHour(random, 10 + index),
        { id: `rollout-${index}` },
      );
    }
  });
  const findings = sequenceFindings(scored)
    .filter((finding) => finding.evidence.kind === "unseen_tool")
    .sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
  assert.deepEqual(
    findings.map((finding) => [finding.severity, finding.evidence.sessions_since_baseline]),
    [
      ["medium", 0],
      ["medium", 1],
      ["medium", 2],
      ["medium", 3],
      ["medium", 4],
      ["low", 5],
      ["low", 6],
      ["low", 7],
    ],
  );
  assert.match(
    findings[5]!.message,
    /but 5 other sessions of this type have called it since: likely a tool rolled out/,
  );
  // A different new tool starts its own count; and the count is per agent type.
  const other = sequenceFindings(
    scoredTraffic((payments, support) => {
      payments.session([{ tool: "get_statement_pdf", arguments: {} }], businessHour(random, 30), { id: "p" });
      support.session([{ tool: "get_statement_pdf", arguments: {} }], businessHour(random, 31), { id: "s" });
    }),
  );
  assert.deepEqual(
    other.filter((finding) => finding.evidence.kind === "unseen_tool").map((finding) => finding.severity),
    ["medium", "medium"],
  );
  // `rollout_sessions: 0` never lowers.
  const never = learnThenScore([new SequenceDetector({ rollout_sessions: 0 })], baseline, scored).filter(
    (finding) => finding.evidence.kind === "unseen_tool",
  );
  assert.ok(never.length === 8 && never.every((finding) => finding.severity === "medium"));
});

test("a tool known to another agent type is still unseen for this one", () => {
  const scored = scoredTraffic((payments) => {
    payments.session([{ tool: "reply_to_customer", arguments: {} }], businessHour(random, 2), { id: "cross" });
  });
  const findings = sequenceFindings(scored);
  assert.equal(findings.length, 1);
  assert.equal(findings[0]!.evidence.kind, "unseen_tool");
});

test("an improbable transition between known tools is a low finding with its surprisal and the baseline's percentile", () => {
  const scored = scoredTraffic((_payments, support) => {
    // Support sessions always search first and close last; closing a ticket straight away never happened.
    support.session(
      [
        { tool: "close_ticket", arguments: {} },
        { tool: "close_ticket", arguments: {} },
        { tool: "search_tickets", arguments: {} },
        { tool: "close_ticket", arguments: {} },
      ],
      businessHour(random, 3),
      { id: "odd" },
    );
  });
  const findings = sequenceFindings(scored);
  const transitions = findings.filter((finding) => finding.evidence.kind === "improbable_transition");
  assert.ok(transitions.length >= 1);
  const first = transitions[0]!;
  assert.equal(first.severity, "low");
  assert.equal(first.call_index, 0);
  assert.deepEqual(first.evidence.transition, ["<start>", "close_ticket"]);
  const bits = first.evidence.surprisal_bits as number;
  const threshold = (first.evidence.baseline as { threshold_bits: number }).threshold_bits;
  assert.ok(bits > threshold, `${bits} bits should exceed ${threshold}`);
  assert.match(first.message, /close_ticket after <start> is improbable for agent type support/);
  const session = findings.find((finding) => finding.evidence.kind === "improbable_session");
  assert.ok(session, "the whole session is scored at its end");
  assert.equal(session.call_index, null);
  assert.equal(session.severity, "low");
  assert.ok((session.evidence.mean_surprisal_bits as number) > 0);
});

test("nothing is scored for an agent type without a baseline", () => {
  const scored = scoredTraffic((payments) => {
    const stranger = new SessionWriter("inventory", "cy", random);
    stranger.session([{ tool: "count_items", arguments: {} }], businessHour(random, 1));
    payments.session(paymentsSession(random), businessHour(random, 1));
    scoredExtra.push(...stranger.all());
  });
  assert.equal(sequenceFindings([...scored, ...scoredExtra]).length, 0);
});
const scoredExtra: CapturedExchange[] = [];

test("a saved sequence model loads into a fresh detector that saves the same state and raises the same findings", () => {
  const trained = new SequenceDetector();
  const scored = scoredTraffic((payments) => {
    payments.session(
      [
        { tool: "pay_invoice", arguments: {} },
        { tool: "wipe_logs", arguments: {} },
        { tool: "pay_invoice", arguments: {} },
      ],
      businessHour(random, 4),
    );
    for (let index = 0; index < 20; index++) payments.session(paymentsSession(random), businessHour(random, index));
  });
  const before = learnThenScore([trained], baseline, scored);
  const state = JSON.parse(JSON.stringify(trained.saveBaseline())) as unknown;
  const loaded = new SequenceDetector();
  assert.equal(loaded.loadBaseline(state), null);
  assert.deepEqual(loaded.saveBaseline(), state);
  const after = learnThenScore([loaded], [], scored);
  assert.deepEqual(after, before);
  assert.ok(before.length > 0);
});

test("a sequence state of another version is refused with a reason", () => {
  const detector = new SequenceDetector();
  const problem = detector.loadBaseline({ version: 99, agents: {} });
  assert.match(problem ?? "", /sequence baseline/);
});
