import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import type { CapturedExchange } from "../../../src/core/exchange.js";
import type { Finding } from "../../../src/core/finding.js";
import { DataFlowTracker, type FlowTrace, flowDetectors } from "../../../src/detectors/flow/index.js";
import { TextMemo } from "../../../src/detectors/flow/text-memo.js";
import { PoisoningDetector } from "../../../src/detectors/poisoning-detector.js";
import { Pipeline } from "../../../src/pipeline/pipeline.js";

test("the text memo stays within its byte budget, dropping the oldest entries first", () => {
  const memo = new TextMemo<number>(32 * 1024);
  const texts = Array.from({ length: 40 }, (_, index) => `document ${index} `.repeat(40));
  texts.forEach((text, index) => {
    memo.set(text, index, 100);
  });
  assert.ok(memo.bytes <= 32 * 1024, `${memo.bytes} bytes`);
  assert.ok(memo.size > 0 && memo.size < texts.length);
  assert.equal(memo.get(texts[0]!), undefined, "the oldest entry went");
  assert.equal(memo.get(texts[39]!), 39, "the newest is kept");
  // A new string object with the same characters finds the entry: the key is the text, not the object.
  assert.equal(memo.get(`document 39 `.repeat(40)), 39);
  memo.set(texts[39]!, 139, 100);
  assert.equal(memo.get(texts[39]!), 139, "setting again replaces the value");
  const before = memo.bytes;
  memo.set("x".repeat(2000), 1, 0);
  assert.equal(memo.bytes, before, "a text over a sixteenth of the budget is not kept");
  memo.clear();
  assert.equal(memo.size, 0);
  assert.equal(memo.bytes, 0);
});

test("texts that share the sample the memo hashes are told apart, however many there are", () => {
  const memo = new TextMemo<number>(1024 * 1024);
  // Same length, same head and tail, different in a character the sample skips: one sample for all of them.
  const base = "x".repeat(1000);
  const texts = Array.from(
    { length: 12 },
    (_, index) => `${base.slice(0, 501)}${String.fromCharCode(65 + index)}${base.slice(502)}`,
  );
  texts.forEach((text, index) => {
    memo.set(text, index, 10);
  });
  texts.forEach((text, index) => {
    assert.equal(memo.get(text), index);
    assert.equal(memo.get(`${text.slice(0, 10)}${text.slice(10)}`), index, "a new string with the same characters");
  });
  assert.equal(memo.get(`${base.slice(0, 501)}z${base.slice(502)}`), undefined);
  memo.set(texts[3]!, 103, 10);
  assert.equal(memo.get(texts[3]!), 103);
  assert.equal(memo.size, 12);
});

test("a memo made with `similar` finds the newest other text that starts the same", () => {
  const memo = new TextMemo<string>(1024 * 1024, { similar: true });
  const head = "From: ana@example.com\nTo: bo@example.com\nSubject: the quarterly report\n";
  memo.set(`${head}first body`, "first", 10);
  memo.set(`${head}second body`, "second", 10);
  memo.set(`another start ${"y".repeat(80)}`, "other", 10);
  assert.equal(memo.similar(`${head}third body`)?.value, "second");
  assert.equal(memo.similar(`${head}second body`)?.value, undefined, "not the text itself");
  assert.equal(memo.similar("short"), undefined);
  assert.equal(new TextMemo<string>(1024).similar(`${head}x`), undefined, "only when asked for");
  memo.clear();
  assert.equal(memo.similar(`${head}third body`), undefined);
});

test("a memo of 0 bytes keeps nothing", () => {
  const memo = new TextMemo<string>(0);
  memo.set("abc", "value", 0);
  assert.equal(memo.get("abc"), undefined);
});

const INVOICE =
  "Invoice 2024-118 from Northwind Traders. Please pay the balance to IBAN GB29NWBK60161331926819 by Friday; questions to billing@northwind.example. The quarterly review found that the northern warehouse lost eleven pallets.";

/** Replays the same result texts through many sessions, read as poisoned in some, and collects every trace. */
function traces(tracker: DataFlowTracker): FlowTrace[] {
  const collected: FlowTrace[] = [];
  for (let session = 0; session < 6; session++) {
    const name = `s${session}`;
    const poisoned = session % 2 === 1;
    tracker.observeResult(name, 0, "read_file", INVOICE, poisoned);
    tracker.observeResult(name, 1, "read_file", `${INVOICE} Copy ${session}.`, false);
    collected.push(
      tracker.traceArguments(name, 2, "send_money", {
        recipient: "GB29NWBK60161331926819",
        note: "the northern warehouse lost eleven pallets",
        subject: "2024-118",
      }),
    );
    tracker.endSession(name);
  }
  return collected;
}

test("memoised fingerprints trace exactly what fresh ones do, read as poisoned or not", () => {
  const scorer = {
    segments: (text: string) => {
      const spans: { start: number; end: number }[] = [];
      let start = 0;
      for (let index = 0; index <= text.length; index++) {
        if (index === text.length || text[index] === ".") {
          if (index > start) spans.push({ start, end: index });
          start = index + 1;
        }
      }
      return spans;
    },
    scoreSpan: (text: string, start: number, end: number) => (/please/i.test(text.slice(start, end)) ? 0.9 : 0),
  };
  const memoised = new DataFlowTracker({ scorer });
  const fresh = new DataFlowTracker({ scorer, fingerprint_memo_bytes: 0 });
  const expected = traces(fresh);
  assert.deepEqual(traces(memoised), expected);
  assert.ok(memoised.memoBytes > 0, "the memo holds the repeated texts");
  assert.equal(fresh.memoBytes, 0);
  // The poisoned reading found the request: the account number sits in an instruction sentence.
  const poisonedTrace = expected[1]!;
  assert.ok(poisonedTrace.flows.some((flow) => flow.poisoned && flow.instruction && flow.kind === "exact"));
  const plainTrace = expected[0]!;
  assert.ok(plainTrace.flows.length > 0 && plainTrace.flows.every((flow) => !flow.poisoned));
});

const captures = join(fileURLToPath(new URL("../../../..", import.meta.url)), "test", "fixtures", "captures");

function readCapture(name: string): CapturedExchange[] {
  return readFileSync(join(captures, name), "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as CapturedExchange);
}

test("the flow detectors raise the same findings with and without their memos", async () => {
  // Each capture three times under fresh session names: the second and third readings hit the memos.
  const exchanges = [
    "support-record-to-outsider.jsonl",
    "coding-env-to-webhook.jsonl",
    "calendar-delete.jsonl",
  ].flatMap((name) =>
    [1, 2, 3].flatMap((copy) =>
      readCapture(name).map((exchange) => ({ ...exchange, session: `${exchange.session}-${copy}` })),
    ),
  );
  const run = async (memoBytes: number): Promise<Finding[]> => {
    const findings: Finding[] = [];
    const pipeline = new Pipeline({
      store: null,
      detectors: [
        new PoisoningDetector(),
        ...flowDetectors({ fingerprint_memo_bytes: memoBytes, scan_memo_bytes: memoBytes }),
      ],
      findingSinks: [(finding) => findings.push(finding)],
    });
    for (const exchange of exchanges) pipeline.process(exchange);
    await pipeline.finish();
    return findings;
  };
  const withMemo = await run(32 * 1024 * 1024);
  for (const detector of ["read_then_exfiltrate", "privilege_escalation", "behaviour_change"]) {
    assert.equal(
      withMemo.filter((finding) => finding.detector === detector && finding.severity === "high").length % 3,
      0,
      `${detector}: each copy of a capture raises the same`,
    );
  }
  assert.ok(withMemo.some((finding) => finding.detector === "read_then_exfiltrate" && finding.severity === "high"));
  assert.deepEqual(
    withMemo.map((finding) => ({ ...finding, id: "" })),
    (await run(0)).map((finding) => ({ ...finding, id: "" })),
  );
});
