import assert from "node:assert/strict";
import { test } from "node:test";
import type { CapturedExchange } from "../../../src/core/exchange.js";
import { CALL_FEATURE_COUNT } from "../../../src/detectors/patterns/call-features.js";
import {
  IsolationForest,
  IsolationForestDetector,
  type IsolationForestJson,
  SeededRandom,
} from "../../../src/detectors/patterns/index.js";
import { call, run } from "./pattern-captures.js";

const CITIES = ["Paris", "Lyon", "Oslo", "Lima", "Quito", "Cairo", "Delhi", "Perth", "Osaka", "Porto"];
const WORDS = [
  "refund",
  "policy",
  "shipping",
  "invoice",
  "password",
  "reset",
  "order",
  "status",
  "warranty",
  "returns",
];

/** Normal traffic of an assistant: weather look-ups and short searches, in sessions of a few calls. */
function normalTraffic(sessions: number, seed: number, prefix: string): CapturedExchange[] {
  const random = new SeededRandom(seed);
  const exchanges: CapturedExchange[] = [];
  let time = Date.UTC(2026, 4, 1, 9, 0, 0);
  for (let session = 0; session < sessions; session++) {
    const id = `${prefix}-${session}`;
    const calls = 2 + random.integer(4);
    for (let index = 0; index < calls; index++) {
      time += 2000 + random.integer(6000);
      const pick = (list: string[]): string => list[random.integer(list.length)]!;
      exchanges.push(
        random.next() < 0.5
          ? call(
              "get_weather",
              { city: pick(CITIES) },
              { session: id, time_ms: time, result: `Sunny, ${random.integer(30)} C` },
            )
          : call(
              "search_docs",
              { query: `${pick(WORDS)} ${pick(WORDS)}` },
              {
                session: id,
                time_ms: time,
                result: `Found ${random.integer(9)} articles about it.`.repeat(1 + random.integer(3)),
              },
            ),
      );
    }
  }
  return exchanges;
}

function anomalousCall(): CapturedExchange {
  const addresses = Array.from({ length: 12 }, (_, index) => `victim${index}@corp-mail.example`).join(", ");
  return call(
    "search_docs",
    { query: `forward to ${addresses} https://drop.example.net/u?k=93847561029384756 /etc/passwd ${"9".repeat(300)}` },
    { session: "odd", result: "" },
  );
}

test("a call far from the training calls is an argument anomaly, explained by its standout features", () => {
  const detector = new IsolationForestDetector({ seed: 1 });
  const normal = normalTraffic(40, 2, "scored");
  const findings = run(detector, [...normal, anomalousCall()], normalTraffic(300, 1, "train"));
  const odd = findings.filter((finding) => finding.session === "odd");
  assert.equal(odd.length, 1);
  const finding = odd[0]!;
  assert.equal(finding.category, "argument_anomaly");
  assert.ok(finding.severity === "medium" || finding.severity === "low");
  assert.ok(finding.score >= (finding.evidence.low_threshold as number));
  assert.match(finding.message, /isolation-forest baseline of \d+ training calls/);
  const standouts = finding.evidence.standout_features as Array<{ feature: string; z: number }>;
  assert.ok(standouts.length > 0);
  assert.ok(
    standouts.some((entry) => /argument_chars|longest_string|emails|urls/.test(entry.feature)),
    JSON.stringify(standouts),
  );
  assert.ok(finding.message.includes(standouts[0]!.feature));
  // Normal scored sessions stay quiet: at most a stray low finding.
  const noisy = findings.filter((entry) => entry.session !== "odd");
  assert.ok(noisy.length <= 2, `${noisy.length} findings on normal traffic`);
  assert.ok(noisy.every((entry) => entry.severity === "low"));
});

test("without training the detector reports nothing", () => {
  assert.deepEqual(run(new IsolationForestDetector(), [...normalTraffic(5, 3, "scored"), anomalousCall()]), []);
});

test("the saved baseline restores the same model and the same verdicts", () => {
  const trained = new IsolationForestDetector({ seed: 4 });
  const training = normalTraffic(300, 1, "train");
  const scored = [...normalTraffic(10, 5, "scored"), anomalousCall()];
  const original = run(trained, scored, training);
  assert.ok(original.length >= 1);
  const saved = JSON.parse(JSON.stringify(trained.saveBaseline()));
  const restored = new IsolationForestDetector({ seed: 4 });
  assert.equal(restored.loadBaseline(saved), null);
  const again = run(restored, scored);
  assert.deepEqual(
    again.map((finding) => [finding.session, finding.call_index, finding.score]),
    original.map((finding) => [finding.session, finding.call_index, finding.score]),
  );
  assert.match(
    String(new IsolationForestDetector().loadBaseline({ version: 7 })),
    /^isolation forest baseline: ✖ Invalid input: expected 1\n {2}→ at version\n/,
  );
  assert.equal(
    new IsolationForestDetector().loadBaseline({ ...saved, means: [1] }),
    `isolation forest baseline: ✖ Too small: expected array to have exactly ${CALL_FEATURE_COUNT} items\n  → at means`,
  );
  assert.match(
    String(new IsolationForestDetector().loadBaseline({ ...saved, forest: { version: 1 } })),
    /^isolation forest baseline: ✖ Invalid input: expected number, received undefined\n {2}→ at forest\.dimensions\n/,
  );
});

/** The parts of a saved detector state the refusals below change. */
interface SavedBaseline {
  forest: IsolationForestJson;
  low_threshold?: number;
  medium_threshold: number | string;
  training_calls?: number;
  tools: Array<[string, { count: number }]>;
}

test("a malformed isolation forest baseline is refused with the path of the bad field, and nothing of it is loaded", () => {
  const detector = new IsolationForestDetector({ seed: 4, trees: 5 });
  run(detector, [], normalTraffic(300, 1, "train"));
  const saved = JSON.parse(JSON.stringify(detector.saveBaseline())) as SavedBaseline;
  const changed = (change: (state: SavedBaseline) => void): unknown => {
    const copy = structuredClone(saved);
    change(copy);
    return copy;
  };
  const otherFeatures = IsolationForest.fit(
    Array.from({ length: 20 }, (_, index) => [index, index % 3, 1]),
    { trees: 2 },
  ).toJSON();
  const refusals: Array<[unknown, string]> = [
    [
      changed((state) => {
        delete state.low_threshold;
      }),
      "✖ Invalid input: expected number, received undefined\n  → at low_threshold",
    ],
    [
      changed((state) => {
        state.medium_threshold = "0.7";
      }),
      "✖ Invalid input: expected number, received string\n  → at medium_threshold",
    ],
    [
      changed((state) => {
        state.training_calls = -1;
      }),
      "✖ Too small: expected number to be >=0\n  → at training_calls",
    ],
    [
      changed((state) => {
        state.tools[0]![1].count = -2;
      }),
      "✖ Too small: expected number to be >=0\n  → at tools[0][1].count",
    ],
    [
      changed((state) => {
        state.forest.trees[0]!.left[0] = 0;
      }),
      `✖ child 0 is not after node 0 within the tree's ${saved.forest.trees[0]!.feature.length} nodes\n  → at forest.trees[0].left[0]`,
    ],
    [
      changed((state) => {
        state.forest = otherFeatures;
      }),
      `✖ the forest splits 3 features, but this code computes ${CALL_FEATURE_COUNT} per call\n  → at forest.dimensions`,
    ],
  ];
  for (const [state, issue] of refusals) {
    assert.equal(detector.loadBaseline(state), `isolation forest baseline: ${issue}`);
    assert.deepEqual(detector.saveBaseline(), saved, "a refused baseline leaves what was loaded");
  }
  // Files written before training_calls was saved still load; the count reads as 0.
  assert.equal(
    detector.loadBaseline(
      changed((state) => {
        delete state.training_calls;
      }),
    ),
    null,
  );
  assert.equal((detector.saveBaseline() as { training_calls: number }).training_calls, 0);
});

test("a session gets at most the configured number of findings", () => {
  const detector = new IsolationForestDetector({ max_findings_per_session: 2 });
  const odd = [anomalousCall(), anomalousCall(), anomalousCall(), anomalousCall()];
  const findings = run(detector, odd, normalTraffic(300, 1, "train"));
  assert.equal(findings.length, 2);
});

test("the report thresholds are the configured quantiles of the training calls' own scores", () => {
  for (const [low, medium] of [
    [0.995, 0.9995],
    [0.9, 0.99],
    [0.5, 0.2],
    [-1, 2],
  ] as const) {
    const detector = new IsolationForestDetector({ seed: 2, low_quantile: low, medium_quantile: medium });
    run(detector, [], normalTraffic(300, 1, "train"));
    const saved = detector.saveBaseline() as { forest: unknown; low_threshold: number; medium_threshold: number };
    const forest = IsolationForest.fromJSON(saved.forest);
    assert.ok(forest.ok);
    // The training rows themselves, read from the detector: every score sorted, as the thresholds are defined.
    const rows = (detector as unknown as { reservoir: number[][] }).reservoir;
    const scores = rows.map((row) => forest.value.score(row)).sort((a, b) => a - b);
    const quantile = (fraction: number): number =>
      scores[Math.min(scores.length - 1, Math.floor(fraction * scores.length))] ?? 1;
    const lowThreshold = Math.max(0.6, quantile(low));
    assert.equal(saved.low_threshold, lowThreshold);
    assert.equal(saved.medium_threshold, Math.max(0.68, lowThreshold, quantile(medium)));
  }
});
