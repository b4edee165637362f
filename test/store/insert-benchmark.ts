/**
 * Replay-style insert throughput of the SQLite store, with where the time goes, and the hash and binding the
 * store used before (SHA-256 over the string, the string bound) measured alongside. Not a test (no timing
 * assertions); run it by hand after `npx tsc -p .`:
 *
 *   node dist/test/store/insert-benchmark.js [capture.jsonl[.gz]] [rounds]
 *
 * The capture is decompressed and split before any clock starts. Each stage runs `rounds` times on one thread
 * and the best round is reported, as wall time and as CPU time (user + system) so that other load on a shared
 * machine shows up as the gap between the two.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import Database from "better-sqlite3";
import type { CapturedExchange } from "../../src/core/exchange.js";
import { chainHash, GENESIS_HASH } from "../../src/store/audit-chain.js";
import { SqliteStore } from "../../src/store/sqlite-store.js";
import { pendingExchange } from "../../src/store/stored-record.js";

const file = process.argv[2] ?? "/work/shared/datasets/agentdojo/test.jsonl.gz";
const rounds = Number(process.argv[3] ?? 5);
const raw = readFileSync(file);
const text = file.endsWith(".gz") ? gunzipSync(raw) : raw;
// Each line as a string and as the bytes it was read as, the form replay hands the store.
const lineBytes: Buffer[] = [];
for (let start = 0, end = text.indexOf(10); start < text.length; start = end + 1, end = text.indexOf(10, start)) {
  if (end === -1) end = text.length;
  if (end > start) lineBytes.push(text.subarray(start, end));
}
const lines = lineBytes.map((bytes) => bytes.toString("utf8"));
const averageBytes = lines.reduce((total, line) => total + Buffer.byteLength(line), 0) / lines.length;
const directory = mkdtempSync(join(process.env.TOOLWATCH_BENCH_DIR ?? tmpdir(), "toolwatch-bench-"));

interface Measure {
  wallMicros: number;
  cpuMicros: number;
}

/** Best of `rounds` runs, in microseconds per record. */
function measure(label: string, run: (round: number) => void): Measure {
  let best: Measure = { wallMicros: Number.POSITIVE_INFINITY, cpuMicros: Number.POSITIVE_INFINITY };
  for (let round = 0; round < rounds; round++) {
    const cpuBefore = process.cpuUsage();
    const start = process.hrtime.bigint();
    run(round);
    const wallMicros = Number(process.hrtime.bigint() - start) / 1000 / lines.length;
    const cpu = process.cpuUsage(cpuBefore);
    const cpuMicros = (cpu.user + cpu.system) / lines.length;
    if (wallMicros < best.wallMicros) best = { wallMicros, cpuMicros };
  }
  const rate = Math.round(1e6 / best.wallMicros);
  console.log(
    `${label.padEnd(44)} ${best.wallMicros.toFixed(1).padStart(6)} us/record wall ${best.cpuMicros.toFixed(1).padStart(6)} us cpu  ${String(rate).padStart(7)} records/s`,
  );
  return best;
}

console.log(`${file}: ${lines.length} records, ${(averageBytes / 1024).toFixed(2)} KiB average; best of ${rounds}`);
try {
  measure("JSON.parse", () => {
    for (const line of lines) JSON.parse(line);
  });
  const parsed = lines.map((line) => JSON.parse(line) as CapturedExchange);
  measure("index columns (time, session, ...)", () => {
    for (let index = 0; index < lines.length; index++) pendingExchange(parsed[index]!, lines[index]);
  });
  measure("SHA-256 chain over the string", () => {
    let hash = GENESIS_HASH;
    for (const line of lines) hash = chainHash(hash, line, "sha256");
  });
  measure("BLAKE3 chain over the string", () => {
    let hash = GENESIS_HASH;
    for (const line of lines) hash = chainHash(hash, line, "blake3");
  });
  measure("BLAKE3 chain over the bytes", () => {
    let hash = GENESIS_HASH;
    for (const bytes of lineBytes) hash = chainHash(hash, bytes, "blake3");
  });
  const records = lines.map((line, index) => pendingExchange(parsed[index]!, line));
  const fixedHash = "f".repeat(64);
  let databases = 0;
  const insertOnly = (label: string, recordText: (index: number) => string | Buffer): void => {
    measure(label, () => {
      const path = join(directory, `insert-only-${databases++}.db`);
      new SqliteStore(path).close();
      const database = new Database(path);
      database.pragma("journal_mode = WAL");
      database.pragma("synchronous = NORMAL");
      // The statement the store prepares: bytes are cast so that they are stored as TEXT.
      const insert = database.prepare(
        "INSERT INTO exchanges (seq, time_ms, session, server, tool, method, record, hash) VALUES (?, ?, ?, ?, ?, ?, CAST(? AS TEXT), ?)",
      );
      const insertRange = database.transaction((from: number, to: number) => {
        for (let index = from; index < to; index++) {
          const record = records[index]!;
          insert.run(
            index + 1,
            record.time_ms,
            record.session,
            record.server,
            record.tool,
            record.method,
            recordText(index),
            fixedHash,
          );
        }
      });
      for (let from = 0; from < lines.length; from += 1000) {
        insertRange.immediate(from, Math.min(lines.length, from + 1000));
      }
      database.close();
    });
  };
  insertOnly("SQLite insert only, string (batches of 1000)", (index) => lines[index]!);
  insertOnly("SQLite insert only, bytes (batches of 1000)", (index) => lineBytes[index]!);
  measure("store before: SHA-256 + string (pre-parsed)", (round) => {
    const store = new SqliteStore(join(directory, `store-sha-${round}.db`), { hashAlgorithm: "sha256" });
    for (let index = 0; index < lines.length; index++) store.appendExchange(parsed[index]!, lines[index]);
    store.close();
  });
  measure("store: BLAKE3 + bytes (pre-parsed)", (round) => {
    const store = new SqliteStore(join(directory, `store-${round}.db`));
    for (let index = 0; index < lines.length; index++) store.appendExchange(parsed[index]!, lineBytes[index]);
    store.close();
  });
  const full = measure("replay: JSON.parse + store (end to end)", (round) => {
    const store = new SqliteStore(join(directory, `replay-${round}.db`));
    for (let index = 0; index < lines.length; index++) {
      store.appendExchange(JSON.parse(lines[index]!) as CapturedExchange, lineBytes[index]);
    }
    store.close();
  });
  const check = new SqliteStore(join(directory, "replay-0.db"), { readonly: true });
  const verdict = check.verifyAuditSync();
  check.close();
  if (!verdict.ok || verdict.records !== lines.length) throw new Error(`unexpected chain: ${JSON.stringify(verdict)}`);
  console.log(`end to end: ${Math.round(1e6 / full.wallMicros)} records/s; chain of ${verdict.records} verified`);
} finally {
  rmSync(directory, { recursive: true, force: true });
}
