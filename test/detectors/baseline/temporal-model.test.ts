import assert from "node:assert/strict";
import { test } from "node:test";
import type { CapturedExchange } from "../../../src/core/exchange.js";
import type { Finding } from "../../../src/core/finding.js";
import { TemporalDetector } from "../../../src/detectors/baseline/index.js";
import {
  businessHour,
  learnThenScore,
  paymentsSession,
  SessionWriter,
  SUNDAY_NIGHT,
  supportSession,
  twoDomainBaseline,
} from "./synthetic-traffic.js";

const { baseline, random } = twoDomainBaseline();

function temporalFindings(scored: CapturedExchange[]): Finding[] {
  return learnThenScore([new TemporalDetector()], baseline, scored);
}

test("normal business-hours sessions in both domains raise nothing", () => {
  const paymentsWriter = new SessionWriter("payments", "ana", random);
  const supportWriter = new SessionWriter("support", "ben", random);
  for (let index = 0; index < 100; index++) {
    paymentsWriter.session(paymentsSession(random), businessHour(random, index));
    supportWriter.session(supportSession(random, index), businessHour(random, index));
  }
  assert.deepEqual(temporalFindings([...paymentsWriter.all(), ...supportWriter.all()]), []);
});

test("a session at an hour of the week the user never worked is a low temporal_anomaly", () => {
  const writer = new SessionWriter("support", "ben", random);
  writer.session(supportSession(random, 1), SUNDAY_NIGHT);
  const findings = temporalFindings(writer.all());
  assert.equal(findings.length, 1);
  const finding = findings[0]!;
  assert.equal(finding.category, "temporal_anomaly");
  assert.equal(finding.severity, "low");
  assert.equal(finding.evidence.kind, "unusual_hour");
  assert.equal(finding.evidence.at, "Sun 03:00");
  assert.match(finding.message, /user ben made none of \d+ baseline calls \(usually active Mon,Tue,Wed,Thu,Fri 09–/);
});

test("twenty calls inside two seconds is a medium burst finding; a long session is reported once", () => {
  const writer = new SessionWriter("payments", "ana", random);
  const calls = Array.from({ length: 40 }, () => ({ tool: "get_balance", arguments: {} }));
  writer.session(calls, businessHour(random, 3), { gap_ms: 50, exact: true });
  const findings = temporalFindings(writer.all());
  const burst = findings.filter((finding) => finding.evidence.kind === "call_burst");
  assert.equal(burst.length, 1);
  assert.equal(burst[0]!.severity, "medium");
  assert.equal(burst[0]!.call_index, 19);
  assert.equal(burst[0]!.evidence.span_ms, 950);
  const long = findings.filter((finding) => finding.evidence.kind === "session_calls");
  assert.equal(long.length, 1);
  assert.equal(long[0]!.severity, "low");
  assert.ok(findings.every((finding) => finding.severity === "low" || finding.severity === "medium"));
});

test("a saved temporal model loads into a fresh detector that saves the same state and raises the same findings", () => {
  const trained = new TemporalDetector();
  const writer = new SessionWriter("support", "ben", random);
  writer.session(supportSession(random, 2), SUNDAY_NIGHT);
  const before = learnThenScore([trained], baseline, writer.all());
  const state = JSON.parse(JSON.stringify(trained.saveBaseline())) as unknown;
  const loaded = new TemporalDetector();
  assert.equal(loaded.loadBaseline(state), null);
  assert.deepEqual(loaded.saveBaseline(), state);
  assert.deepEqual(learnThenScore([loaded], [], writer.all()), before);
  assert.equal(before.length, 1);
});
