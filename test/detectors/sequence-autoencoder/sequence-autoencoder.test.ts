import assert from "node:assert/strict";
import { test } from "node:test";
import type { CapturedExchange } from "../../../src/core/exchange.js";
import type { Finding } from "../../../src/core/finding.js";
import {
  SequenceAutoencoderDetector,
  type SequenceAutoencoderOptions,
  slidingWindows,
} from "../../../src/detectors/sequence-autoencoder/index.js";
import { Pipeline } from "../../../src/pipeline/pipeline.js";
import {
  businessHour,
  paymentsSession,
  SessionWriter,
  supportSession,
  twoDomainBaseline,
} from "../baseline/synthetic-traffic.js";

/** A tiny model: the synthetic sessions are 2–5 calls long, and the tests must stay fast. */
const TINY: SequenceAutoencoderOptions = { window: 4, embedding: 4, units: 8, epochs: 60, batchSize: 32 };

const { baseline, random } = twoDomainBaseline(120);

type Call = { tool: string; arguments: Record<string, unknown> };

function scoredTraffic(build: (payments: SessionWriter, support: SessionWriter) => void): CapturedExchange[] {
  const payments = new SessionWriter("payments", "ana", random);
  const support = new SessionWriter("support", "ben", random);
  build(payments, support);
  return [...payments.all(), ...support.all()].sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
}

/** Learns `learned` (when given), scores `scored` and waits for the batched scoring to finish. */
async function run(
  detector: SequenceAutoencoderDetector,
  learned: readonly CapturedExchange[],
  scored: readonly CapturedExchange[],
): Promise<Finding[]> {
  const findings: Finding[] = [];
  const pipeline = new Pipeline({
    store: null,
    detectors: [detector],
    findingSinks: [(finding) => findings.push(finding)],
  });
  for (const exchange of learned) pipeline.learn(exchange);
  pipeline.finishLearning();
  for (const exchange of scored) pipeline.process(exchange);
  for (const session of new Set(scored.map((exchange) => exchange.session))) pipeline.endSession(session);
  await pipeline.forceFlush();
  return findings;
}

const normalAndShuffled = scoredTraffic((payments, support) => {
  for (let index = 0; index < 40; index++) {
    payments.session(paymentsSession(random), businessHour(random, index), { id: `payments-normal-${index}` });
    support.session(supportSession(random, 9000 + index), businessHour(random, index), {
      id: `support-normal-${index}`,
    });
  }
  for (let index = 0; index < 10; index++) {
    const reversed = (calls: Call[]): Call[] => [...calls].reverse();
    const support4 = supportSession(random, 9500 + index);
    // Close first, reply last: the same tools in an order the baseline never had.
    support.session(reversed(support4), businessHour(random, 50 + index), { id: `support-shuffled-${index}` });
    const pay: Call[] = [
      { tool: "pay_invoice", arguments: { iban: "X", amount: 1 } },
      { tool: "pay_invoice", arguments: { iban: "Y", amount: 2 } },
      { tool: "pay_invoice", arguments: { iban: "Z", amount: 3 } },
      { tool: "list_invoices", arguments: {} },
    ];
    payments.session(pay, businessHour(random, 50 + index), { id: `payments-shuffled-${index}` });
  }
});

const trained = new SequenceAutoencoderDetector(TINY);
const trainedFindings = run(trained, baseline, normalAndShuffled);

test("slidingWindows pads short sessions and slides over long ones", () => {
  assert.deepEqual(slidingWindows([5, 6], 4), [[0, 0, 5, 6]]);
  assert.deepEqual(slidingWindows([1, 2, 3, 4, 5], 4), [
    [1, 2, 3, 4],
    [2, 3, 4, 5],
  ]);
  assert.deepEqual(slidingWindows([], 4), []);
});

test("normal sessions in both domains reconstruct within the threshold; shuffled orders do not", async () => {
  const findings = await trainedFindings;
  assert.equal(trained.status, "ready");
  const normal = findings.filter((finding) => finding.session.includes("-normal-"));
  assert.ok(normal.length <= 2, `${normal.length} of 80 normal sessions got a finding`);
  for (const domain of ["payments", "support"]) {
    const flagged = new Set(
      findings.filter((finding) => finding.session.startsWith(`${domain}-shuffled-`)).map((finding) => finding.session),
    );
    assert.ok(flagged.size >= 8, `only ${flagged.size} of 10 shuffled ${domain} sessions were flagged`);
  }
  for (const finding of findings) {
    assert.equal(finding.category, "sequence_anomaly");
    assert.ok(finding.severity === "low" || finding.severity === "medium", finding.severity);
    assert.ok(finding.score > 0 && finding.score <= 0.6);
  }
  const support = findings.find((finding) => finding.session === "support-shuffled-0");
  assert.ok(support !== undefined);
  assert.match(support.message, /close_ticket → reply_to_customer → get_ticket → search_tickets/);
  assert.match(support.message, /held-out baseline windows of agent type support/);
  const evidence = support.evidence as {
    loss_nats: number;
    call_indexes: number[];
    baseline: { threshold_nats: number };
  };
  assert.ok(evidence.loss_nats > evidence.baseline.threshold_nats);
  assert.deepEqual(evidence.call_indexes, [0, 1, 2, 3]);
  assert.equal(support.call_index, 3);
});

test("save and load round trip gives identical state and identical findings", async () => {
  const original = await trainedFindings;
  const saved = trained.saveBaseline();
  assert.deepEqual(Object.keys(saved.agents).sort(), ["payments", "support"]);
  const restored = new SequenceAutoencoderDetector(TINY);
  assert.equal(restored.loadBaseline(JSON.parse(JSON.stringify(saved))), null);
  const findings = await run(restored, [], normalAndShuffled);
  assert.deepEqual(
    findings.map((finding) => [finding.session, finding.message, finding.score]),
    original.map((finding) => [finding.session, finding.message, finding.score]),
  );
  assert.deepEqual(restored.saveBaseline(), saved);
});

test("training is deterministic: the same traffic gives the same weights", async () => {
  await trainedFindings;
  const again = new SequenceAutoencoderDetector(TINY);
  await run(again, baseline, []);
  await again.train();
  assert.deepEqual(again.saveBaseline(), trained.saveBaseline());
});

test("a broken baseline is refused with a reason", () => {
  const detector = new SequenceAutoencoderDetector(TINY);
  assert.match(detector.loadBaseline({ version: 99 }) ?? "", /sequence autoencoder baseline/);
  const saved = trained.saveBaseline();
  const support = saved.agents.support;
  assert.ok(support !== undefined);
  const broken = { ...saved, agents: { support: { ...support, tools: [...support.tools, "extra_tool"] } } };
  assert.match(detector.loadBaseline(broken) ?? "", /do not fit/);
});

for (const [name, loader] of [
  ["reports a failed import", () => Promise.reject(new Error("Cannot find package '@tensorflow/tfjs'"))],
  ["reports a missing install", () => Promise.resolve({ ok: false as const, message: "not installed" })],
] as const) {
  test(`without TensorFlow.js the detector ${name} once and stays silent`, async () => {
    const messages: string[] = [];
    const detector = new SequenceAutoencoderDetector({
      ...TINY,
      loader,
      onUnavailable: (message) => messages.push(message),
    });
    const findings = await run(detector, baseline, normalAndShuffled);
    await detector.train();
    assert.equal(detector.status, "unavailable");
    assert.deepEqual(findings, []);
    assert.equal(messages.length, 1);
    assert.match(messages[0] ?? "", /not installed|Cannot find package/);
    await detector.shutdown();
  });
}

test("an agent type named __proto__ is saved and loaded like any other", async () => {
  // JSON.parse makes __proto__ an ordinary key: assigned as object[name] or read through z.record, it would be lost.
  const writer = new SessionWriter("__proto__", "ana", random);
  for (let index = 0; index < 60; index++) writer.session(supportSession(random, index), businessHour(random, index));
  const detector = new SequenceAutoencoderDetector(TINY);
  await run(detector, writer.all(), []);
  const text = JSON.stringify(detector.saveBaseline());
  assert.deepEqual(Object.keys(JSON.parse(text).agents), ["__proto__"]);
  const restored = new SequenceAutoencoderDetector(TINY);
  assert.equal(restored.loadBaseline(JSON.parse(text)), null);
  await run(restored, [], []);
  assert.equal(JSON.stringify(restored.saveBaseline()), text);
});
