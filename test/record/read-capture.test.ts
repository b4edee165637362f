import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { gzipSync } from "node:zlib";
import { ToolwatchError } from "../../src/core/errors.js";
import {
  type CaptureRecord,
  isGzipFile,
  newCaptureReadStats,
  type ReadCaptureOptions,
  readCapture,
} from "../../src/record/read-capture.js";

const folder = mkdtempSync(join(tmpdir(), "toolwatch-read-capture-"));
after(() => rmSync(folder, { recursive: true, force: true }));

function line(session: string, second: number, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    time: `2026-03-02T10:00:${String(second).padStart(2, "0")}.000Z`,
    session,
    user: "alice",
    agent: "coder",
    server: "files",
    method: "tools/call",
    tool: "read_file",
    arguments: { path: "a" },
    result: "ok",
    error: null,
    duration_ms: 1,
    ...extra,
  });
}

function write(name: string, content: string | Buffer): string {
  const path = join(folder, name);
  writeFileSync(path, content);
  return path;
}

async function readAll(path: string, options: ReadCaptureOptions = {}): Promise<CaptureRecord[]> {
  const records: CaptureRecord[] = [];
  for await (const record of readCapture(path, options)) records.push(record);
  return records;
}

test("gzip is recognised by its magic bytes, not by the file name", async () => {
  const text = `${line("a", 1)}\n${line("a", 2)}\n`;
  const gzipNamedPlain = write("compressed.jsonl", gzipSync(text));
  const plainNamedGzip = write("plain.jsonl.gz", text);
  assert.equal(await isGzipFile(gzipNamedPlain), true);
  assert.equal(await isGzipFile(plainNamedGzip), false);
  for (const path of [gzipNamedPlain, plainNamedGzip]) {
    const stats = newCaptureReadStats(path);
    const records = await readAll(path, { stats });
    assert.deepEqual(
      records.map((record) => record.exchange.time),
      ["2026-03-02T10:00:01.000Z", "2026-03-02T10:00:02.000Z"],
    );
    assert.equal(stats.records, 2);
    assert.equal(stats.bytes_read, stats.file_bytes);
  }
});

test("CRLF line ends and blank lines are accepted; the text kept is the record's JSON", async () => {
  const path = write("crlf.jsonl", `${line("a", 1)}\r\n\r\n   \n${line("a", 2)}\r\n\n`);
  const stats = newCaptureReadStats(path);
  const records = await readAll(path, { stats });
  assert.equal(records.length, 2);
  assert.deepEqual(
    records.map((record) => record.line),
    [1, 4],
  );
  assert.equal(records[0]!.text, line("a", 1));
  assert.deepEqual(records[0]!.bytes, Buffer.from(line("a", 1)));
  assert.equal(records[0]!.time_ms, Date.parse("2026-03-02T10:00:01.000Z"));
  assert.equal(stats.blank_lines, 3);
  assert.equal(stats.bad_lines, 0);
});

test("bad lines are reported with file and line, counted and skipped", async () => {
  const path = write(
    "bad.jsonl",
    [line("a", 1), "{not json", line("a", 2, { duration_ms: "slow" }), "[]", line("a", 3), ""].join("\n"),
  );
  const reports: string[] = [];
  const stats = newCaptureReadStats(path);
  const records = await readAll(path, { stats, onBadLine: (message) => reports.push(message) });
  assert.deepEqual(
    records.map((record) => record.line),
    [1, 5],
  );
  assert.equal(stats.bad_lines, 3);
  assert.equal(reports.length, 3);
  assert.match(reports[0]!, new RegExp(`^${escapeRegExp(path)}:2: invalid JSON`));
  assert.match(reports[1]!, new RegExp(`^${escapeRegExp(path)}:3: duration_ms: `));
  assert.match(reports[2]!, new RegExp(`^${escapeRegExp(path)}:4: expected a JSON object, got an array`));
});

test("--strict stops at the first bad line", async () => {
  const path = write("strict.jsonl", `${line("a", 1)}\n{oops\n${line("a", 2)}\n`);
  await assert.rejects(readAll(path, { strict: true }), (error: unknown) => {
    assert.ok(error instanceof ToolwatchError);
    assert.equal(error.code, "capture_invalid");
    assert.match(error.message, /strict\.jsonl:2: invalid JSON/);
    return true;
  });
});

test("a complete last line without a newline is read; a truncated one is reported", async () => {
  const complete = write("no-final-newline.jsonl", `${line("a", 1)}\n${line("a", 2)}`);
  assert.equal((await readAll(complete)).length, 2);

  const cut = line("a", 2).slice(0, 40);
  const truncated = write("truncated.jsonl.gz", gzipSync(`${line("a", 1)}\n${cut}`));
  const reports: string[] = [];
  const records = await readAll(truncated, { onBadLine: (message) => reports.push(message) });
  assert.equal(records.length, 1);
  assert.equal(reports.length, 1);
  assert.match(
    reports[0]!,
    /truncated\.jsonl\.gz:2: truncated last line \(40 bytes, no newline at the end of the file\)/,
  );
});

test("a gzip file cut short keeps the records before the cut", async () => {
  const text = Array.from({ length: 2000 }, (_, index) => line(`s${index}`, index % 60)).join("\n");
  const compressed = gzipSync(text);
  const path = write("cut.jsonl.gz", compressed.subarray(0, Math.floor(compressed.length / 2)));
  const reports: string[] = [];
  const records = await readAll(path, { onBadLine: (message) => reports.push(message) });
  assert.ok(records.length > 100 && records.length < 2000, `read ${records.length}`);
  assert.ok(reports.some((message) => /compressed data ends early or is corrupt/.test(message)));
});

test("lines longer than a read chunk, multi-byte characters across chunks, invalid UTF-8", async () => {
  const long = line("a", 1, { result: "é€😀".repeat(400_000) });
  const path = write(
    "long.jsonl",
    Buffer.concat([Buffer.from(`${long}\n`), Buffer.from([0xff, 0xfe, 0x0a]), Buffer.from(line("a", 2))]),
  );
  const reports: string[] = [];
  const records = await readAll(path, { onBadLine: (message) => reports.push(message) });
  assert.equal(records.length, 2);
  assert.equal(records[0]!.text, long);
  assert.deepEqual(records[0]!.bytes, Buffer.from(long));
  assert.equal(records[0]!.exchange.result, "é€😀".repeat(400_000));
  assert.deepEqual(reports, [`${path}:2: line is not valid UTF-8`]);
});

test("text and bytes are the line as written, in ASCII chunks, UTF-8 chunks and chunks with a bad line", async () => {
  // More than a 1 MB read chunk of ASCII lines, then lines with multi-byte characters and one invalid line, some
  // with CRLF: every way the lines of a chunk are decoded is taken.
  const lines: Buffer[] = [];
  for (let index = 0; index < 700; index++) {
    const text = index < 500 ? "x".repeat(2000 + index) : `élan ${"€".repeat(500)} ${index}`;
    lines.push(Buffer.from(`${line(`s${index}`, index % 60, { result: text })}${index % 7 === 0 ? "\r" : ""}\n`));
    if (index === 600) lines.push(Buffer.from([0x7b, 0xc3, 0x28, 0x7d, 0x0a]));
  }
  const path = write("mixed.jsonl", Buffer.concat(lines));
  const reports: string[] = [];
  const records = await readAll(path, { onBadLine: (message) => reports.push(message) });
  assert.equal(records.length, 700);
  assert.deepEqual(reports, [`${path}:602: line is not valid UTF-8`]);
  for (const record of records) {
    const expected = lines[record.line - 1]!.toString("utf8").replace(/\r?\n$/, "");
    assert.equal(record.text, expected);
    assert.deepEqual(record.bytes, Buffer.from(expected));
  }
});

test("a line over the size limit is skipped without holding it in memory", async () => {
  const path = write("oversized.jsonl", `${line("a", 1, { result: "x".repeat(3_000_000) })}\n${line("a", 2)}\n`);
  const reports: string[] = [];
  const records = await readAll(path, { max_line_bytes: 1_000_000, onBadLine: (message) => reports.push(message) });
  assert.deepEqual(
    records.map((record) => record.line),
    [2],
  );
  assert.deepEqual(reports, [`${path}:1: line longer than 1000000 bytes skipped`]);
});

test("a missing file is an error, not a bad line", async () => {
  await assert.rejects(readAll(join(folder, "absent.jsonl")), /absent\.jsonl: cannot read/);
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
