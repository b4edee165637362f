import assert from "node:assert/strict";
import { test } from "node:test";
import { seededRandom } from "../../../src/core/seeded-random.js";
import { DataFlowTracker, type FlowTrace, type InstructionScorer } from "../../../src/detectors/flow/index.js";

/** Sentences end at `.` and line breaks; a sentence with "please" reads as an instruction. */
const scorer: InstructionScorer = {
  segments: (text) => {
    const spans: { start: number; end: number }[] = [];
    let start = 0;
    for (let index = 0; index <= text.length; index++) {
      if (index === text.length || text[index] === "." || text[index] === "\n") {
        if (index > start) spans.push({ start, end: index });
        start = index + 1;
      }
    }
    return spans;
  },
  scoreSpan: (text, start, end) => (text.slice(start, end).includes("please") ? 0.9 : 0),
};

const WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa".split(
  " ",
);

function identifier(random: () => number): string {
  const id = Math.floor(random() * 400);
  switch (Math.floor(random() * 5)) {
    case 0:
      return `user${id}@example.com`;
    case 1:
      return `GB29NWBK6016133192${String(id).padStart(4, "0")}`;
    case 2:
      return `https://site${id % 37}.example/path/${id}`;
    case 3:
      return `report_${id}.pdf`;
    default:
      return String(100 + (id % 50));
  }
}

function sentence(random: () => number): string {
  const words: string[] = [];
  const length = 3 + Math.floor(random() * 12);
  for (let index = 0; index < length; index++) {
    words.push(random() < 0.2 ? identifier(random) : WORDS[Math.floor(random() * WORDS.length)]!);
  }
  if (random() < 0.15) words.splice(Math.floor(random() * words.length), 0, "please");
  return words.join(" ");
}

/** Result texts from tiny to large (hundreds of identifiers: past a generation's limit on their own). */
function resultText(random: () => number): string {
  const sentences: string[] = [];
  const count = random() < 0.1 ? 200 + Math.floor(random() * 200) : 1 + Math.floor(random() * 25);
  for (let index = 0; index < count; index++) sentences.push(sentence(random));
  return sentences.join(random() < 0.5 ? ". " : "\n");
}

/** Arguments made of values a result carried, runs of its words, and values of no result. */
function argumentsFrom(random: () => number, texts: readonly string[]): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  const count = 1 + Math.floor(random() * 4);
  for (let index = 0; index < count; index++) {
    const source = texts[Math.floor(random() * texts.length)] ?? "";
    const words = source.split(/\s+/);
    const at = Math.floor(random() * words.length);
    const choice = random();
    if (choice < 0.4) args[`a${index}`] = words[at] ?? identifier(random);
    else if (choice < 0.7) args[`a${index}`] = words.slice(at, at + 6 + Math.floor(random() * 8)).join(" ");
    else if (choice < 0.85) args[`a${index}`] = [identifier(random), `to ${words[at] ?? ""} now`];
    else args[`a${index}`] = sentence(random);
  }
  return args;
}

/** The same calls on a tracker: sessions of a few results and long ones (ring wrapped, generations retired). */
function run(tracker: DataFlowTracker, seed: number): FlowTrace[] {
  const random = seededRandom(seed);
  const pool = Array.from({ length: 60 }, () => resultText(random));
  const traces: FlowTrace[] = [];
  for (let session = 0; session < 40; session++) {
    const name = `s${session}`;
    const seen: string[] = [];
    const steps = session % 8 === 0 ? 150 : 2 + Math.floor(random() * 16);
    for (let call = 0; call < steps; call++) {
      if (seen.length === 0 || random() < 0.5) {
        const text = pool[Math.floor(random() * pool.length)]!;
        seen.push(text);
        tracker.observeResult(name, call, "read", text, random() < 0.3);
      } else {
        traces.push(tracker.traceArguments(name, call, "send", argumentsFrom(random, seen)));
      }
    }
    traces.push(tracker.traceArguments(name, steps, "send", argumentsFrom(random, seen)));
    tracker.endSession(name);
  }
  return traces;
}

test("sessions that hold their results trace exactly what sessions that put every value in tables do", () => {
  for (const seed of [1, 2, 3]) {
    const expected = run(new DataFlowTracker({ scorer, held_results: 0 }), seed);
    const flows = expected.reduce((sum, trace) => sum + trace.flows.length, 0);
    assert.ok(flows > 200, `seed ${seed}: ${flows} flows`);
    assert.ok(
      expected.some((trace) => trace.flows.some((flow) => flow.poisoned && flow.instruction)),
      "some flows come from instructions of poisoned results",
    );
    for (const held of [1, 3, 8, 16]) {
      assert.deepEqual(run(new DataFlowTracker({ scorer, held_results: held }), seed), expected, `held ${held}`);
      assert.deepEqual(
        run(new DataFlowTracker({ scorer, held_results: held, fingerprint_memo_bytes: 0 }), seed),
        expected,
        `held ${held}, no memo`,
      );
    }
  }
});
