import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { evaluateDataset, formatEvaluation } from "../../src/evaluation/evaluate-detection.js";

const captures = join(fileURLToPath(new URL("../../..", import.meta.url)), "test", "fixtures", "captures");

function lines(name: string): string {
  return readFileSync(join(captures, name), "utf8");
}

test("the evaluation scores recall, false positives, prevention and the ablation from one replay", async () => {
  const folder = mkdtempSync(join(tmpdir(), "toolwatch-eval-"));
  try {
    const directory = join(folder, "synthetic");
    mkdirSync(directory);
    const attacks = ["support-record-to-outsider.jsonl", "calendar-delete.jsonl", "tweet-payment.jsonl"];
    const benign = ["support-record-to-customer.jsonl", "invoice-payment.jsonl"];
    writeFileSync(join(directory, "baseline.jsonl.gz"), gzipSync(lines("invoice-payment.jsonl")));
    writeFileSync(join(directory, "test.jsonl.gz"), gzipSync([...attacks, ...benign].map(lines).join("")));
    const labels = [
      {
        session: "support-attack",
        kind: "attack",
        injection_seen: true,
        injected_calls: [1],
        compromised: true,
        attack_type: "ignore_previous",
      },
      {
        session: "calendar-attack",
        kind: "attack",
        injection_seen: true,
        injected_calls: [0],
        compromised: true,
        attack_type: "important_instructions",
      },
      {
        session: "tweet-attack",
        kind: "attack",
        injection_seen: true,
        injected_calls: [0],
        compromised: true,
        attack_type: "user_voice",
      },
      {
        session: "support-benign",
        kind: "benign",
        injection_seen: false,
        injected_calls: [],
        compromised: false,
        attack_type: null,
      },
      {
        session: "invoice-benign",
        kind: "benign",
        injection_seen: false,
        injected_calls: [],
        compromised: false,
        attack_type: null,
      },
    ];
    writeFileSync(
      join(directory, "labels.jsonl.gz"),
      gzipSync(labels.map((label) => `${JSON.stringify({ ...label, split: "test" })}\n`).join("")),
    );
    const evaluation = await evaluateDataset(folder, "synthetic");
    assert.equal(evaluation.overall.compromised, 3);
    assert.equal(evaluation.overall.compromised_detected, 3);
    assert.equal(evaluation.overall.benign, 2);
    assert.equal(evaluation.overall.benign_high, 0);
    assert.equal(evaluation.overall.prevented_flow, 3);
    // The tweet carries no instruction the poisoning model flags: only the flow detectors catch it.
    assert.equal(evaluation.overall.injected_poisoning_found, 2);
    const poisoningOnly = evaluation.ablation.find((row) => row.name === "only poisoning")!;
    assert.equal(poisoningOnly.scores.compromised_detected, 2);
    const escalationOnly = evaluation.ablation.find((row) => row.name === "only privilege_escalation")!;
    assert.equal(escalationOnly.scores.compromised_detected, 3);
    assert.ok(evaluation.ablation.some((row) => row.name === "all but behaviour_change"));
    assert.deepEqual(Object.keys(evaluation.by_attack_type).sort(), [
      "ignore_previous",
      "important_instructions",
      "user_voice",
    ]);
    const markdown = formatEvaluation([evaluation]);
    assert.match(markdown, /\| all \| 100\.0% \(3\/3\)/);
    assert.match(markdown, /### Ablation/);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
});
