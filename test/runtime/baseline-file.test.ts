import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { Command } from "commander";
import { formatBaseline, registerBaselineCommand } from "../../src/cli/commands/baseline.js";
import type { CapturedExchange } from "../../src/core/exchange.js";
import { baselineDetectors } from "../../src/detectors/baseline/index.js";
import {
  BASELINE_FORMAT,
  type BaselineFile,
  loadBaselineInto,
  parseBaselineFile,
  readBaselineFile,
  trainBaseline,
} from "../../src/runtime/baseline-file.js";
import {
  businessHour,
  learnThenScore,
  paymentsSession,
  SessionWriter,
  twoDomainBaseline,
  VENDOR_ACCOUNTS,
} from "../detectors/baseline/synthetic-traffic.js";

const folder = mkdtempSync(join(tmpdir(), "toolwatch-baseline-"));
after(() => rmSync(folder, { recursive: true, force: true }));

const { baseline, random } = twoDomainBaseline(120);

async function* inBatches(exchanges: readonly CapturedExchange[]): AsyncGenerator<CapturedExchange[]> {
  for (let start = 0; start < exchanges.length; start += 100) yield exchanges.slice(start, start + 100);
}

function scoredTraffic(): CapturedExchange[] {
  const writer = new SessionWriter("payments", "ana", random);
  writer.session(
    [
      { tool: "get_balance", arguments: {} },
      { tool: "pay_invoice", arguments: { iban: "LT121000011101001000", amount: 90_000, reference: "urgent" } },
      { tool: "delete_audit_log", arguments: {} },
    ],
    businessHour(random, 3),
  );
  for (let index = 0; index < 10; index++) writer.session(paymentsSession(random), businessHour(random, index));
  return writer.all();
}

test("a trained baseline file round-trips: loaded detectors save the same state and raise the same findings", async () => {
  const trainedDetectors = baselineDetectors();
  const file = await trainBaseline({ files: ["synthetic.jsonl"], batches: inBatches(baseline) }, trainedDetectors, {
    created: "2026-03-01T00:00:00.000Z",
  });
  assert.equal(file.format, BASELINE_FORMAT);
  assert.equal(file.version, 1);
  assert.deepEqual(file.trained_on, {
    files: ["synthetic.jsonl"],
    events: baseline.length,
    sessions: 240,
    agents: ["payments", "support"],
  });
  assert.deepEqual(Object.keys(file.detectors).sort(), [
    "baseline_arguments",
    "baseline_resources",
    "baseline_sequence",
    "baseline_temporal",
  ]);
  const parsed = parseBaselineFile(JSON.stringify(file));
  assert.ok(parsed.ok);
  assert.deepEqual(parsed.value, JSON.parse(JSON.stringify(file)));

  const loadedDetectors = baselineDetectors();
  const loaded = loadBaselineInto(parsed.value, loadedDetectors);
  assert.deepEqual(loaded, {
    ok: true,
    loaded: ["baseline_sequence", "baseline_arguments", "baseline_temporal", "baseline_resources"],
    missing: [],
  });
  for (const detector of loadedDetectors) {
    assert.deepEqual(detector.saveBaseline?.(), parsed.value.detectors[detector.name], detector.name);
  }
  const scored = scoredTraffic();
  const fromFile = learnThenScore(loadedDetectors, [], scored);
  const learnedDirectly = learnThenScore(baselineDetectors(), baseline, scored);
  assert.deepEqual(fromFile, learnedDirectly);
  const kinds = new Set(fromFile.map((finding) => finding.evidence.kind));
  assert.ok(kinds.has("new_destination") && kinds.has("numeric_range") && kinds.has("unseen_tool"), [...kinds].join());
});

test("a file that is not a baseline, or whose detector state is broken, is refused with a clear message", () => {
  const notJson = parseBaselineFile("{", "b.json");
  assert.ok(!notJson.ok);
  assert.match(notJson.message, /^b\.json: not JSON/);
  const other = parseBaselineFile(JSON.stringify({ format: "something-else" }), "b.json");
  assert.ok(!other.ok);
  assert.match(other.message, /not a toolwatch baseline/);
  const noVersion = parseBaselineFile(JSON.stringify({ format: BASELINE_FORMAT, version: 2 }), "b.json");
  assert.ok(!noVersion.ok);
  assert.match(noVersion.message, /version/);
  assert.ok(!readBaselineFile(join(folder, "absent.json")).ok);

  const broken: BaselineFile = {
    format: BASELINE_FORMAT,
    version: 1,
    created: "2026-03-01T00:00:00.000Z",
    trained_on: { files: [], events: 0, sessions: 0, agents: [] },
    detectors: { baseline_sequence: { version: 7 } },
  };
  const result = loadBaselineInto(broken, baselineDetectors());
  assert.ok(!result.ok);
  assert.match(result.message, /baseline_sequence: sequence baseline/);
  const partial = loadBaselineInto({ ...broken, detectors: {} }, baselineDetectors());
  assert.ok(partial.ok);
  assert.equal(partial.missing.length, 4);
});

test("`toolwatch baseline train` writes a baseline from a capture file and `baseline show` summarises it", async () => {
  const capture = join(folder, "capture.jsonl");
  writeFileSync(capture, `${baseline.map((exchange) => JSON.stringify(exchange)).join("\n")}\n`);
  const output = join(folder, "baseline.json");
  const program = new Command().exitOverride();
  registerBaselineCommand(program);
  await program.parseAsync(["node", "toolwatch", "baseline", "train", capture, "-o", output]);
  const read = readBaselineFile(output);
  assert.ok(read.ok, read.ok ? "" : read.message);
  assert.equal(read.value.trained_on.events, baseline.length);
  assert.ok("baseline_sequence" in read.value.detectors);

  const printed: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string) => {
    printed.push(chunk);
    return true;
  }) as typeof process.stdout.write;
  try {
    await program.parseAsync(["node", "toolwatch", "baseline", "show", output]);
  } finally {
    process.stdout.write = write;
  }
  const text = printed.join("");
  assert.equal(text, formatBaseline(read.value));
  assert.match(text, /agent type payments: 120 sessions, 3 tools/);
  assert.match(text, /get_balance → list_invoices/);
  assert.match(text, /payments pay_invoice\.amount: \d+ values, mostly number, range \d+\.\.\d+/);
  assert.match(text, /active Mon,Tue,Wed,Thu,Fri 09–17h UTC/);
  assert.match(text, /agent type support: \d+ domains/);
  assert.ok(!readFileSync(output, "utf8").includes(VENDOR_ACCOUNTS[0]!), "destinations are stored as hashes");
});
