import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import type { Detector, ExchangePosition } from "../../src/core/detector.js";
import type { CapturedExchange } from "../../src/core/exchange.js";
import type { Finding } from "../../src/core/finding.js";
import { formatReplaySummary, replay } from "../../src/replay/replay.js";
import { SqliteStore } from "../../src/store/sqlite-store.js";
import { refusedRequest } from "../alerts/alert-test-helpers.js";
import { repositoryRoot } from "../record/datasets.js";

const run = promisify(execFile);
const fixtures = join(repositoryRoot, "test", "fixtures", "replay");
const gatewayA = join(fixtures, "gateway-a.jsonl");
const gatewayB = join(fixtures, "gateway-b.jsonl");
const baseline = join(fixtures, "baseline.jsonl");
const toolwatch = join(repositoryRoot, "bin", "toolwatch.js");

const folder = mkdtempSync(join(tmpdir(), "toolwatch-replay-"));
after(() => rmSync(folder, { recursive: true, force: true }));

async function findingsOf(files: string[], options: { baseline?: string[]; db?: string } = {}): Promise<Finding[]> {
  const findings: Finding[] = [];
  await replay({ files, ...options, progress: null, onFinding: (finding) => findings.push(finding) });
  return findings;
}

/** What identifies a finding, in one line each, for readable expectations. */
function outline(finding: Finding): string {
  const kind = String(finding.evidence.kind);
  return `${finding.time} ${finding.session} ${finding.tool ?? "-"} #${finding.call_index ?? "-"} ${finding.severity} ${kind}`;
}

const EXPECTED = [
  "2026-03-02T10:00:05.000Z s-a1 read_file #3 medium failing_tool",
  "2026-03-02T10:00:05.500Z s-b1 fetch_page #3 medium server_unavailable",
  "2026-03-02T10:00:06.500Z s-b1 fetch_page #4 medium server_unavailable",
  "2026-03-02T10:00:07.000Z s-a1 list_directory #5 medium server_unavailable",
  "2026-03-02T10:00:07.500Z s-b1 fetch_page #5 medium failing_tool",
  "2026-03-02T10:00:07.500Z s-b1 fetch_page #5 medium server_unavailable",
  "2026-03-02T10:00:08.000Z s-a1 write_file #6 low protocol_error",
  "2026-03-02T10:00:09.000Z s-a1 - #- low protocol_error",
  "2026-03-02T10:00:12.000Z s-a1 list_directory #8 medium server_unavailable",
];

test("replaying the fixture capture raises exactly the operational findings expected", async () => {
  const findings = await findingsOf([gatewayA, gatewayB], { baseline: [baseline] });
  assert.deepEqual(findings.map(outline), EXPECTED);
  assert.deepEqual(findings[0], {
    time: "2026-03-02T10:00:05.000Z",
    session: "s-a1",
    user: "alice",
    agent: "coder",
    server: "files",
    tool: "read_file",
    call_index: 3,
    detector: "operational",
    category: "operational",
    severity: "medium",
    score: 1,
    message:
      "tool read_file failed 3 times in a row in this session (calls 1, 2, 3); last error: ENOENT: no such file or directory, open 'missing-3.md'",
    evidence: {
      kind: "failing_tool",
      call_index: 3,
      call_indexes: [1, 2, 3],
      consecutive_failures: 3,
      errors: [1, 2, 3].map((index) => ({
        type: "tool_error",
        message: `ENOENT: no such file or directory, open 'missing-${index}.md'`,
      })),
    },
  });
  assert.deepEqual(findings[7], {
    time: "2026-03-02T10:00:09.000Z",
    session: "s-a1",
    user: "alice",
    agent: "coder",
    server: "files",
    tool: null,
    call_index: null,
    detector: "operational",
    category: "operational",
    severity: "low",
    score: 1,
    message: "message on files: protocol error -32700 (invalid JSON: Unexpected token } in JSON at position 16)",
    evidence: {
      kind: "protocol_error",
      call_index: null,
      index: 10,
      method: null,
      error: { type: "-32700", message: "invalid JSON: Unexpected token } in JSON at position 16", code: -32700 },
    },
  });
});

test("replay is deterministic: the same files give the same findings, byte for byte", async () => {
  const first = join(folder, "first.jsonl");
  const second = join(folder, "second.jsonl");
  const summaries = [];
  for (const findings of [first, second]) {
    summaries.push(await replay({ files: [gatewayA, gatewayB], baseline: [baseline], findings, progress: null }));
  }
  const text = readFileSync(first, "utf8");
  assert.equal(text, readFileSync(second, "utf8"));
  assert.deepEqual(
    text
      .trimEnd()
      .split("\n")
      .map((line) => outline(JSON.parse(line) as Finding)),
    EXPECTED,
  );
  const summary = summaries[0]!;
  assert.equal(summary.events, 20);
  assert.equal(summary.learned, 4);
  assert.equal(summary.sessions, 2);
  assert.equal(summary.findings, 9);
  assert.deepEqual(summary.findings_by_severity, { medium: 7, low: 2 });
  assert.deepEqual(summary.findings_by_category, { operational: 9 });
  assert.equal(summary.store, null);
  assert.match(formatReplaySummary(summary), /store: none \(no --db given; nothing was persisted\)/);
});

test("--baseline files are learned before any scored file is processed, and raise nothing", async () => {
  const calls: string[] = [];
  const recorder: Detector = {
    name: "recorder",
    learn(exchange: CapturedExchange, position: ExchangePosition) {
      calls.push(`learn ${exchange.session} ${position.index}`);
    },
    observe(exchange: CapturedExchange, position: ExchangePosition) {
      calls.push(`observe ${exchange.session} ${position.index}`);
    },
    endSession(session: string) {
      calls.push(`end ${session}`);
    },
    async shutdown() {},
  };
  const summary = await replay({ files: [gatewayB], baseline: [baseline], detectors: [recorder], progress: null });
  assert.deepEqual(calls.slice(0, 4), ["learn s-base1 0", "learn s-base1 1", "learn s-base1 2", "learn s-base1 3"]);
  assert.deepEqual(
    calls.slice(4, 10),
    [0, 1, 2, 3, 4, 5].map((index) => `observe s-b1 ${index}`),
  );
  assert.deepEqual(calls.slice(10), ["end s-b1"], "baseline sessions are never ended as scored sessions");
  assert.equal(summary.learned, 4);
  assert.equal(summary.events, 6);

  // The baseline alone would make a failing_tool finding if it were scored.
  assert.equal((await findingsOf([baseline])).length, 2);
  assert.deepEqual(await findingsOf([gatewayB], { baseline: [baseline] }), await findingsOf([gatewayB]));
});

test("replay into SQLite, export with `toolwatch events --json`, replay the export: same findings", async () => {
  const database = join(folder, "round-trip.db");
  const findingsFile = join(folder, "round-trip-findings.jsonl");
  const summary = await replay({
    files: [gatewayA, gatewayB],
    baseline: [baseline],
    db: database,
    findings: findingsFile,
    progress: null,
  });
  assert.deepEqual(summary.store, { accepted: 29, written: 29, dropped: 0 }, "20 exchanges and 9 findings");
  assert.match(formatReplaySummary(summary), /store: .*round-trip\.db: accepted 29, written 29, dropped 0/);
  // Replay stores each line's bytes as read: they read back as the very lines, and the chain over them verifies.
  const stored = new SqliteStore(database, { readonly: true });
  assert.deepEqual(stored.verifyAuditSync(), { ok: true, records: 29, first_seq: 1, last_seq: 29 });
  stored.close();
  const raw = new Database(database, { readonly: true });
  const records = raw.prepare("SELECT record FROM exchanges ORDER BY seq").pluck().all() as string[];
  raw.close();
  const captured = new Set([gatewayA, gatewayB].flatMap((file) => readFileSync(file, "utf8").split("\n")));
  assert.equal(records.length, 20);
  for (const record of records) assert.ok(captured.has(record), record);

  const exported = await run(process.execPath, [toolwatch, "events", "--db", database, "--json"], {
    maxBuffer: 64 * 1024 * 1024,
  });
  const lines = exported.stdout.trimEnd().split("\n");
  assert.equal(lines.length, 20);
  const capture = join(folder, "exported.jsonl");
  writeFileSync(capture, exported.stdout);

  const again = await run(process.execPath, [toolwatch, "replay", capture, "--baseline", baseline, "--findings", "-"]);
  assert.equal(again.stdout, readFileSync(findingsFile, "utf8"));
  assert.match(again.stderr, /replayed 20 events from 1 file/);

  const table = await run(process.execPath, [
    toolwatch,
    "events",
    "--db",
    database,
    "--session",
    "s-b1",
    "--limit",
    "2",
  ]);
  const rows = table.stdout.trimEnd().split("\n");
  assert.equal(rows.length, 3);
  assert.match(rows[0]!, /^TIME\s+SESSION\s+SERVER\s+METHOD\s+TOOL\s+STATUS\s+DURATION$/);
  assert.match(rows[1]!, /^2026-03-02T10:00:00\.500Z\s+s-b1\s+search\s+tools\/call\s+search\s+ok\s+180 ms$/);
  assert.match(rows[2]!, /\s+cancelled\s+950 ms$/);

  const filtered = await run(process.execPath, [
    toolwatch,
    "events",
    "--db",
    database,
    "--json",
    "--tool",
    "fetch_page",
    "--since",
    "2026-03-02T10:00:06Z",
  ]);
  assert.deepEqual(
    filtered.stdout
      .trimEnd()
      .split("\n")
      .map((line) => (JSON.parse(line) as CapturedExchange).time),
    ["2026-03-02T10:00:06.500Z", "2026-03-02T10:00:07.500Z"],
  );
});

test("--strict makes a bad line fatal; without it the line is skipped and counted", async () => {
  const broken = join(folder, "broken.jsonl");
  writeFileSync(broken, `${readFileSync(gatewayB, "utf8")}{"time": "2026-03-02T10:00:09Z"\n`);
  const lenient = await run(process.execPath, [toolwatch, "replay", broken]);
  assert.match(lenient.stderr, /skipped .*broken\.jsonl:7: invalid JSON/);
  assert.match(lenient.stderr, /bad lines: 1/);
  await assert.rejects(
    run(process.execPath, [toolwatch, "replay", broken, "--strict"]),
    (error: { code?: number; stderr?: string }) => {
      assert.equal(error.code, 1);
      assert.match(error.stderr ?? "", /broken\.jsonl:7: invalid JSON/);
      return true;
    },
  );
});

test("the progress bar is drawn on the given output and cleared at the end", async () => {
  const written: string[] = [];
  await replay({ files: [gatewayA], progress: { write: (text: string) => written.push(text) } });
  assert.ok(written.length >= 2);
  const clearToEnd = "\u001b[K";
  assert.ok(written[0]!.startsWith("\r") && written[0]!.endsWith(clearToEnd));
  assert.match(
    written[0]!.slice(1, -clearToEnd.length),
    /^[█░]{24} +\d+% {2}0\.0\/0\.0 MB {2}\d+ events {2}[\d,]+ events\/s$/,
  );
  assert.equal(written.at(-1), "\r\u001b[K");
});

test("replay --alerts writes the alert state changes the live engine would make, on event time", async () => {
  const start = Date.parse("2026-03-02T09:00:00Z");
  const refused = (second: number, source: string): CapturedExchange => refusedRequest(start + second * 1000, source);
  // Six failures from one address inside 30 s trip auth_failure_burst; five from another do not.
  const burst = [0, 2, 4, 6, 8, 10].map((second) => refused(second, "198.51.100.7"));
  const below = [1, 3, 5, 7, 9].map((second) => refused(second, "203.0.113.5"));
  const capture = join(folder, "auth-burst.jsonl");
  const lines = [...burst, ...below]
    .sort((a, b) => a.time.localeCompare(b.time))
    .map((record) => JSON.stringify(record));
  writeFileSync(capture, `${lines.join("\n")}\n`);
  const alertsFile = join(folder, "auth-burst-alerts.jsonl");
  const { stderr } = await run(process.execPath, [toolwatch, "replay", capture, "--alerts", alertsFile]);
  const events = readFileSync(alertsFile, "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as { rule: string; state: string; labels: Record<string, string>; time: string });
  const firing = events.filter((event) => event.state === "firing");
  assert.deepEqual(
    firing.map((event) => [event.rule, event.labels.source, event.time]),
    [["auth_failure_burst", "198.51.100.7", new Date(start + 10_000).toISOString()]],
  );
  assert.match(stderr, /alerts: 1 fired/);
});
