/**
 * Agent types, users and tools are named by traffic, and JSON.parse makes `__proto__` an ordinary key. A baseline
 * saved and loaded again must score as the one that was trained, whatever the names: an object key assigned as
 * `object[name]` or read through z.record loses `__proto__` (it sets or skips the prototype).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Detector } from "../../../src/core/detector.js";
import {
  ArgumentDetector,
  ResourceDetector,
  SequenceDetector,
  TemporalDetector,
} from "../../../src/detectors/baseline/index.js";
import {
  businessHour,
  learnThenScore,
  Random,
  SessionWriter,
  SUNDAY_NIGHT,
  supportSession,
} from "./synthetic-traffic.js";

const NAME = "__proto__";
const random = new Random(7);
const writer = new SessionWriter(NAME, NAME, random);
for (let index = 0; index < 120; index++) {
  const calls = supportSession(random, index % 12);
  // A tool of that name too, in the sequence model's vocabulary.
  calls.splice(1, 0, { tool: NAME, arguments: { query: "open tickets" } });
  writer.session(calls, businessHour(random, index));
}
const baseline = writer.all();
const scoredWriter = new SessionWriter(NAME, NAME, new Random(8));
// At an hour the user never works, to a new customer domain, with a tool the agent type never used.
scoredWriter.session(
  [
    { tool: NAME, arguments: { query: "open tickets" } },
    { tool: "export_all_customers", arguments: { format: "csv" } },
    {
      tool: "reply_to_customer",
      arguments: { to: "someone@elsewhere.example", body: `${"Please see the attached export. ".repeat(40)}` },
    },
  ],
  SUNDAY_NIGHT,
);
const scored = scoredWriter.all();

const detectors: Array<[string, () => Detector]> = [
  ["sequence", () => new SequenceDetector()],
  ["argument", () => new ArgumentDetector()],
  ["temporal", () => new TemporalDetector()],
  ["resource", () => new ResourceDetector()],
];

for (const [name, create] of detectors) {
  test(`${name} model: an agent type, user and tool named __proto__ survive save and load`, () => {
    const trained = create();
    const before = learnThenScore([trained], baseline, scored);
    const fresh = create();
    learnThenScore([fresh], baseline, []);
    const text = JSON.stringify(fresh.saveBaseline?.());
    assert.match(text, /"__proto__":/);

    const loaded = create();
    assert.equal(loaded.loadBaseline?.(JSON.parse(text)), null);
    assert.equal(JSON.stringify(loaded.saveBaseline?.()), text);
    assert.deepEqual(learnThenScore([loaded], [], scored), before);
    // Scored against the learned agent type, not as one with no baseline at all.
    assert.ok(before.length > 0, `${name}: the scored session raised nothing`);
  });
}
