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
        suite: "support-desk",
        pipeline: "model-a",
      },
      {
        session: "calendar-attack",
        kind: "attack",
        injection_seen: true,
        injected_calls: [0],
        compromised: true,
        attack_type: "important_instructions",
        suite: "assistant-desk",
        pipeline: "model-b",
      },
      {
        session: "tweet-attack",
        kind: "attack",
        injection_seen: true,
        injected_calls: [0],
        compromised: true,
        attack_type: "user_voice",
        suite: "assistant-desk",
        pipeline: "model-a",
      },
      {
        session: "support-benign",
        kind: "benign",
        injection_seen: false,
        injected_calls: [],
        compromised: false,
        attack_type: null,
        suite: "support-desk",
        pipeline: "model-b",
      },
      {
        session: "invoice-benign",
        kind: "benign",
        injection_seen: false,
        injected_calls: [],
        compromised: false,
        attack_type: null,
        suite: "assistant-desk",
        pipeline: "model-a",
      },
    ];
    // The baseline's one session, labelled in its own split.
    const baselineLabel = { ...labels[4]!, split: "baseline" };
    writeFileSync(
      join(directory, "labels.jsonl.gz"),
      gzipSync(
        [...labels.map((label) => ({ ...label, split: "test" })), baselineLabel]
          .map((label) => `${JSON.stringify(label)}\n`)
          .join(""),
      ),
    );
    const evaluation = await evaluateDataset(folder, "synthetic");
    assert.equal(evaluation.overall.compromised, 3);
    assert.equal(evaluation.overall.compromised_detected, 3);
    assert.equal(evaluation.overall.benign, 2);
    assert.equal(evaluation.overall.benign_high, 0);
    assert.equal(evaluation.overall.prevented_flow, 3);
    // The tweet carries no instruction the poisoning model flags: the flow detectors catch it, and behaviour_change
    // reports the payment it asked for as tool_poisoning.
    assert.equal(evaluation.overall.injected_poisoning_found, 3);
    const changeOnly = evaluation.ablation.find((row) => row.name === "only behaviour_change")!;
    assert.equal(changeOnly.scores.injected_poisoning_found, 3);
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
    assert.deepEqual(Object.keys(evaluation.by_environment), ["assistant-desk", "support-desk"]);
    assert.equal(evaluation.by_environment["support-desk"]!.compromised, 1);
    assert.equal(evaluation.by_environment["support-desk"]!.benign, 1);
    assert.equal(evaluation.by_environment["assistant-desk"]!.compromised_detected, 2);
    assert.deepEqual(Object.keys(evaluation.by_agent_model), ["model-a", "model-b"]);
    assert.equal(evaluation.by_agent_model["model-a"]!.compromised, 2);
    // Each environment, scored with a baseline learned from the other only: the support desk learns the assistant's
    // invoice session; the assistant desk learns nothing (the baseline holds no other environment).
    assert.deepEqual(
      evaluation.unseen_environment.map((row) => [row.environment, row.agent_type, row.learned > 0]),
      [
        ["assistant-desk", "own", false],
        ["support-desk", "own", true],
        ["assistant-desk", "shared", false],
        ["support-desk", "shared", true],
      ],
    );
    for (const row of evaluation.unseen_environment) {
      const whole = evaluation.by_environment[row.environment]!;
      assert.equal(row.scores.compromised, whole.compromised);
      assert.equal(row.scores.benign, whole.benign);
      // The flow and poisoning detectors need no baseline: every attack is still caught.
      assert.equal(row.scores.compromised_detected, whole.compromised);
    }
    const markdown = formatEvaluation([evaluation]);
    assert.match(markdown, /### Environment unseen in the baseline/);
    assert.match(markdown, /\| support-desk \| one type for all \(known\) \|/);
    assert.match(markdown, /\| all \| 100\.0% \(3\/3\)/);
    assert.match(markdown, /### Ablation/);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
});
