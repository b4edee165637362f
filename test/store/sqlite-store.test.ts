import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import Database from "better-sqlite3";
import { chainHash, DEFAULT_HASH_ALGORITHM, GENESIS_HASH, HASH_ALGORITHMS } from "../../src/store/audit-chain.js";
import { SCHEMA_VERSION, SqliteStore } from "../../src/store/sqlite-store.js";
import { collectLog, makeExchange, makeFinding, temporaryDirectory, timeOf } from "./store-fixtures.js";

/** Opens a store with `count` exchanges and a finding after every fifth one, committed. */
function filledStore(path: string, count: number): SqliteStore {
  const store = new SqliteStore(path, { batchSize: 7 });
  for (let index = 0; index < count; index++) {
    store.appendExchange(makeExchange(index));
    if (index % 5 === 4) store.appendFinding(makeFinding(index));
  }
  store.flush();
  return store;
}

describe("SqliteStore", () => {
  test("creates the file and its folders, in WAL mode, at the current schema version", (context) => {
    const path = join(temporaryDirectory(context), "nested", "deeper", "toolwatch.db");
    const store = new SqliteStore(path);
    store.close();
    assert.ok(existsSync(path));
    const raw = new Database(path, { readonly: true });
    assert.equal(raw.pragma("journal_mode", { simple: true }), "wal");
    assert.equal(raw.pragma("user_version", { simple: true }), SCHEMA_VERSION);
    raw.close();
  });

  test("a bulk load into a file it creates skips syncing until close, and the closed file verifies", async (context) => {
    const path = join(temporaryDirectory(context), "bulk.db");
    const store = new SqliteStore(path, { bulkLoad: true, batchSize: 7 });
    assert.equal(store.syncsCommits, false);
    for (let index = 0; index < 30; index++) store.appendExchange(makeExchange(index));
    // The load writes through a rollback journal: no WAL while it runs.
    store.flush();
    assert.equal(existsSync(`${path}-wal`), false);
    // Another connection sees a rollback-journal file (its own default journal mode, not the WAL).
    const during = new Database(path, { readonly: true });
    assert.equal(during.pragma("journal_mode", { simple: true }), "delete");
    during.close();
    store.close();
    // Closed, the file is back in WAL mode like any other, with nothing left in a log.
    assert.equal(existsSync(`${path}-wal`), false);
    const raw = new Database(path, { readonly: true });
    assert.equal(raw.pragma("journal_mode", { simple: true }), "wal");
    raw.close();
    const reopened = new SqliteStore(path, { readonly: true });
    assert.equal(reopened.syncsCommits, true);
    assert.equal((await reopened.exchanges()).length, 30);
    assert.deepEqual(await reopened.verifyAudit(), { ok: true, records: 30, first_seq: 1, last_seq: 30 });
    reopened.close();
  });

  test("another writer opening a file during its bulk load switches it back to WAL, and both chain on", async (context) => {
    const path = join(temporaryDirectory(context), "bulk-shared.db");
    const loader = new SqliteStore(path, { bulkLoad: true, batchSize: 5 });
    for (let index = 0; index < 10; index++) loader.appendExchange(makeExchange(index));
    loader.flush();
    const other = new SqliteStore(path, { batchSize: 1 });
    for (let index = 10; index < 13; index++) other.appendExchange(makeExchange(index));
    for (let index = 13; index < 23; index++) loader.appendExchange(makeExchange(index));
    loader.flush();
    other.appendExchange(makeExchange(23));
    loader.close();
    // The loader could not switch back to WAL while the other writer had the file open; it was WAL already.
    assert.equal(other.counters().dropped + loader.counters().dropped, 0);
    const stored = await other.exchanges();
    assert.deepEqual(
      stored.map((record) => record.seq),
      Array.from({ length: 24 }, (_, index) => index + 1),
    );
    assert.deepEqual(await other.verifyAudit(), { ok: true, records: 24, first_seq: 1, last_seq: 24 });
    other.close();
    const raw = new Database(path, { readonly: true });
    assert.equal(raw.pragma("journal_mode", { simple: true }), "wal");
    raw.close();
  });

  test("a bulk load into an existing file syncs as always: other writers' records cannot be rebuilt", (context) => {
    const path = join(temporaryDirectory(context), "shared.db");
    new SqliteStore(path).close();
    const store = new SqliteStore(path, { bulkLoad: true });
    assert.equal(store.syncsCommits, true);
    store.close();
  });

  test("refuses a database written by a newer schema", (context) => {
    const path = join(temporaryDirectory(context), "future.db");
    const raw = new Database(path);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    assert.throws(() => new SqliteStore(path), { name: "ToolwatchError", message: /newer toolwatch/ });
  });

  test("round-trips exchanges and findings with contiguous seq across both", async (context) => {
    const store = filledStore(join(temporaryDirectory(context), "round-trip.db"), 20);
    const exchanges = await store.exchanges();
    const findings = await store.findings();
    assert.equal(exchanges.length, 20);
    assert.equal(findings.length, 4);
    assert.deepEqual(
      exchanges.map((stored) => stored.exchange),
      Array.from({ length: 20 }, (_, index) => makeExchange(index)),
    );
    assert.deepEqual(
      findings,
      [4, 9, 14, 19].map((index) => makeFinding(index)),
    );
    // One seq space for exchanges and findings: a finding takes the seq after the exchange that raised it.
    assert.deepEqual(
      exchanges.slice(0, 6).map((stored) => stored.seq),
      [1, 2, 3, 4, 5, 7],
    );
    assert.deepEqual(store.counters(), { accepted: 24, written: 24, dropped: 0 });
    store.close();
  });

  test("stores the caller's JSON text as given and hashes exactly that text", async (context) => {
    const store = new SqliteStore(join(temporaryDirectory(context), "text.db"));
    const exchange = makeExchange(1);
    const text = JSON.stringify(exchange);
    store.appendExchange(exchange, text);
    const [stored] = await store.exchanges();
    assert.deepEqual(stored?.exchange, exchange);
    assert.equal(stored?.hash, chainHash(GENESIS_HASH, text, DEFAULT_HASH_ALGORITHM));
    store.close();
  });

  test("filters exchanges by session, server, tool, time, seq and limit", async (context) => {
    const store = filledStore(join(temporaryDirectory(context), "filters.db"), 30);
    const all = await store.exchanges();
    const indexesOf = (stored: { exchange: { arguments?: Record<string, unknown> | null } }[]) =>
      stored.map((entry) => entry.exchange.arguments?.amount);
    const expected = (predicate: (index: number) => boolean) =>
      Array.from({ length: 30 }, (_, index) => index).filter(predicate);

    assert.deepEqual(
      indexesOf(await store.exchanges({ session: "s-1" })),
      expected((index) => index % 3 === 1),
    );
    assert.deepEqual(
      indexesOf(await store.exchanges({ server: "workspace", tool: "read_file" })),
      expected((index) => index % 2 === 1),
    );
    assert.deepEqual(indexesOf(await store.exchanges({ since_ms: timeOf(10), until_ms: timeOf(13) })), [10, 11, 12]);
    const afterTenth = all[9]!.seq;
    assert.deepEqual(indexesOf(await store.exchanges({ after_seq: afterTenth, limit: 3 })), [10, 11, 12]);
    assert.deepEqual(await store.exchanges({ limit: 0 }), []);
    assert.deepEqual(
      (await store.findings({ session: "s-2", since_ms: timeOf(10), until_ms: timeOf(20) })).map(
        (finding) => finding.call_index,
      ),
      [14],
    );
    store.close();
  });

  test("a fresh chain verifies, and so does an empty one", async (context) => {
    const directory = temporaryDirectory(context);
    const empty = new SqliteStore(join(directory, "empty.db"));
    assert.deepEqual(await empty.verifyAudit(), { ok: true, records: 0, first_seq: null, last_seq: null });
    empty.close();
    const store = filledStore(join(directory, "chain.db"), 50);
    assert.deepEqual(await store.verifyAudit(), { ok: true, records: 60, first_seq: 1, last_seq: 60 });
    store.close();
  });
});

describe("SqliteStore audit chain hash", () => {
  function hashAlgorithmColumn(path: string): unknown {
    const raw = new Database(path, { readonly: true });
    try {
      return raw.prepare("SELECT hash_algorithm FROM chain").pluck().get();
    } finally {
      raw.close();
    }
  }

  /** A file as toolwatch wrote it before schema version 2: the same tables without the algorithm, SHA-256 hashes. */
  function versionOneFile(path: string, count: number): void {
    const store = new SqliteStore(path, { hashAlgorithm: "sha256" });
    for (let index = 0; index < count; index++) store.appendExchange(makeExchange(index));
    store.close();
    const raw = new Database(path);
    raw.exec("ALTER TABLE chain DROP COLUMN hash_algorithm; DROP TABLE alerts; DROP TABLE actions");
    raw.pragma("user_version = 1");
    raw.close();
  }

  for (const algorithm of HASH_ALGORITHMS) {
    test(`a new file asked for ${algorithm} chains with it and records it in the chain table`, async (context) => {
      const path = join(temporaryDirectory(context), `new-${algorithm}.db`);
      const store = new SqliteStore(path, { hashAlgorithm: algorithm });
      assert.equal(store.hashAlgorithm, algorithm);
      const text = JSON.stringify(makeExchange(1));
      store.appendExchange(makeExchange(1), text);
      const [stored] = await store.exchanges();
      assert.equal(stored?.hash, chainHash(GENESIS_HASH, text, algorithm));
      store.close();
      assert.equal(hashAlgorithmColumn(path), algorithm);
    });
  }

  test("a new file asked for nothing chains with the cheaper function on this CPU", async (context) => {
    const path = join(temporaryDirectory(context), "new.db");
    const store = new SqliteStore(path);
    assert.equal(store.hashAlgorithm, DEFAULT_HASH_ALGORITHM);
    store.close();
    assert.equal(hashAlgorithmColumn(path), DEFAULT_HASH_ALGORITHM);
  });

  test("an existing file keeps its algorithm whatever a later opener asks for", async (context) => {
    const path = join(temporaryDirectory(context), "kept.db");
    new SqliteStore(path, { hashAlgorithm: "sha256" }).close();
    const store = new SqliteStore(path, { hashAlgorithm: "blake3" });
    assert.equal(store.hashAlgorithm, "sha256");
    store.appendExchange(makeExchange(1));
    assert.deepEqual(await store.verifyAudit(), { ok: true, records: 1, first_seq: 1, last_seq: 1 });
    store.close();
  });

  test("a version 1 file chained with SHA-256 verifies read-only, and after migrating it stays SHA-256", async (context) => {
    const path = join(temporaryDirectory(context), "v1.db");
    versionOneFile(path, 12);

    const reader = new SqliteStore(path, { readonly: true });
    assert.equal(reader.hashAlgorithm, "sha256");
    assert.deepEqual(reader.verifyAuditSync(), { ok: true, records: 12, first_seq: 1, last_seq: 12 });
    reader.close();
    const raw = new Database(path, { readonly: true });
    assert.equal(raw.pragma("user_version", { simple: true }), 1, "a read-only open migrates nothing");
    raw.close();

    const writer = new SqliteStore(path);
    assert.equal(writer.hashAlgorithm, "sha256");
    const text = JSON.stringify(makeExchange(12));
    writer.appendExchange(makeExchange(12), text);
    const [last] = await writer.exchanges({ after_seq: 12 });
    const [previous] = await writer.exchanges({ after_seq: 11 });
    assert.equal(last?.hash, chainHash(previous!.hash, text, "sha256"));
    assert.deepEqual(await writer.verifyAudit(), { ok: true, records: 13, first_seq: 1, last_seq: 13 });
    writer.close();
    assert.equal(hashAlgorithmColumn(path), "sha256");
  });

  test("an algorithm this build does not know is refused at open", (context) => {
    const path = join(temporaryDirectory(context), "unknown.db");
    new SqliteStore(path).close();
    const raw = new Database(path);
    raw.prepare("UPDATE chain SET hash_algorithm = 'md5'").run();
    raw.close();
    assert.throws(() => new SqliteStore(path, { readonly: true }), {
      name: "ToolwatchError",
      message: /unknown audit chain hash algorithm "md5"/,
    });
  });

  test("a record given as UTF-8 bytes is stored as TEXT, byte for byte, and hashed as its string would be", async (context) => {
    const path = join(temporaryDirectory(context), "bytes.db");
    const store = new SqliteStore(path);
    const exchange = makeExchange(3, { result: "élan € 😀" });
    const text = JSON.stringify(exchange);
    // A view into a larger buffer, as replay passes it.
    const file = Buffer.from(`padding\n${text}\nmore`);
    const bytes = file.subarray(8, 8 + Buffer.byteLength(text));
    store.appendExchange(exchange, bytes);
    store.appendExchange(makeExchange(4));
    const [stored] = await store.exchanges();
    assert.deepEqual(stored?.exchange, exchange);
    assert.equal(stored?.hash, chainHash(GENESIS_HASH, text, DEFAULT_HASH_ALGORITHM));
    assert.deepEqual(await store.verifyAudit(), { ok: true, records: 2, first_seq: 1, last_seq: 2 });
    store.close();
    const raw = new Database(path, { readonly: true });
    assert.deepEqual(
      raw.prepare("SELECT typeof(record) AS type, record ->> '$.result' AS result FROM exchanges WHERE seq = 1").get(),
      {
        type: "text",
        result: "élan € 😀",
      },
    );
    raw.close();
  });
});

describe("SqliteStore tamper evidence", () => {
  test("an edited record is named, with its seq, as modified", async (context) => {
    const path = join(temporaryDirectory(context), "edited.db");
    const store = filledStore(path, 20);
    const raw = new Database(path);
    raw.prepare("UPDATE exchanges SET record = replace(record, 'notes-9.txt', 'notes-9.txt.bak') WHERE seq = 11").run();
    raw.close();
    const verdict = await store.verifyAudit();
    assert.equal(verdict.ok, false);
    assert.ok(!verdict.ok);
    assert.equal(verdict.broken_seq, 11);
    assert.equal(verdict.reason, "record hash mismatch (record was modified)");
    assert.equal(verdict.records, 10);
    store.close();
  });

  test("an edited finding is detected too", async (context) => {
    const path = join(temporaryDirectory(context), "edited-finding.db");
    const store = filledStore(path, 20);
    const raw = new Database(path);
    raw.prepare("UPDATE findings SET record = replace(record, '\"high\"', '\"info\"') WHERE seq = 12").run();
    raw.close();
    const verdict = await store.verifyAudit();
    assert.ok(!verdict.ok);
    assert.equal(verdict.broken_seq, 12);
    store.close();
  });

  test("an altered hash column is told apart from an edited record", async (context) => {
    const path = join(temporaryDirectory(context), "hash.db");
    const store = filledStore(path, 10);
    const raw = new Database(path);
    raw.prepare("UPDATE exchanges SET hash = ? WHERE seq = 4").run("f".repeat(64));
    raw.close();
    const verdict = await store.verifyAudit();
    assert.ok(!verdict.ok);
    assert.equal(verdict.broken_seq, 4);
    assert.equal(verdict.reason, "record hash mismatch (stored hash was altered)");
    store.close();
  });

  test("an edited last record is detected against the chain head", async (context) => {
    const path = join(temporaryDirectory(context), "last.db");
    const store = filledStore(path, 11);
    const raw = new Database(path);
    raw.prepare("UPDATE exchanges SET record = replace(record, 'read_file', 'send_money') WHERE seq = 13").run();
    raw.close();
    const verdict = await store.verifyAudit();
    assert.ok(!verdict.ok);
    assert.equal(verdict.broken_seq, 13);
    assert.equal(verdict.reason, "record hash mismatch (record was modified)");
    store.close();
  });

  test("a deleted middle row is reported as a gap at its seq", async (context) => {
    const path = join(temporaryDirectory(context), "deleted.db");
    const store = filledStore(path, 20);
    const raw = new Database(path);
    assert.equal(raw.prepare("DELETE FROM exchanges WHERE seq = 8").run().changes, 1);
    raw.close();
    const verdict = await store.verifyAudit();
    assert.ok(!verdict.ok);
    assert.equal(verdict.broken_seq, 8);
    assert.equal(verdict.reason, "record deleted (seq 8 missing)");
    store.close();
  });

  test("deleting the newest rows is detected against the chain head", async (context) => {
    const path = join(temporaryDirectory(context), "truncated.db");
    const store = filledStore(path, 10);
    const raw = new Database(path);
    raw.prepare("DELETE FROM exchanges WHERE seq >= 11").run();
    raw.prepare("DELETE FROM findings WHERE seq >= 11").run();
    raw.close();
    const verdict = await store.verifyAudit();
    assert.ok(!verdict.ok);
    assert.equal(verdict.broken_seq, 11);
    assert.match(verdict.reason, /seq 11\.\.12 missing at the end/);
    store.close();
  });

  test("a row inserted with a forged seq is detected", async (context) => {
    const path = join(temporaryDirectory(context), "inserted.db");
    const store = filledStore(path, 10);
    const raw = new Database(path);
    const forged = JSON.stringify(makeExchange(99));
    raw
      .prepare(
        "INSERT INTO findings (seq, time_ms, session, server, detector, category, severity, record, hash) VALUES (5, 0, 's', 's', 'd', 'c', 'low', ?, ?)",
      )
      .run(forged, chainHash(GENESIS_HASH, forged, DEFAULT_HASH_ALGORITHM));
    raw.close();
    const verdict = await store.verifyAudit();
    assert.ok(!verdict.ok);
    assert.equal(verdict.broken_seq, 5);
    store.close();
  });
});

describe("SqliteStore retention", () => {
  test("deletes old records in one go, anchors the chain, and the rest still verifies", async (context) => {
    const path = join(temporaryDirectory(context), "retention.db");
    const store = filledStore(path, 20);
    // Exchanges 0..9 (seq 1..11, finding at seq 6 and 12 for index 4 and 9) are older than index 10.
    const removed = await store.applyRetention(timeOf(10));
    assert.equal(removed, 12);
    const remaining = await store.exchanges();
    assert.equal(remaining[0]?.exchange.arguments?.amount, 10);
    assert.equal(remaining[0]?.seq, 13);
    assert.deepEqual(await store.verifyAudit(), { ok: true, records: 12, first_seq: 13, last_seq: 24 });
    // Appends after retention extend the same chain.
    store.appendExchange(makeExchange(20));
    store.flush();
    assert.deepEqual(await store.verifyAudit(), { ok: true, records: 13, first_seq: 13, last_seq: 25 });
    assert.equal(await store.applyRetention(timeOf(10)), 0);
    store.close();
  });

  test("tampering after retention is still detected, including deleting the first surviving row", async (context) => {
    const path = join(temporaryDirectory(context), "retention-tamper.db");
    const store = filledStore(path, 20);
    await store.applyRetention(timeOf(10));
    const raw = new Database(path);
    raw.prepare("UPDATE exchanges SET record = replace(record, 'emma', 'mallory') WHERE seq = 15").run();
    const edited = await store.verifyAudit();
    assert.ok(!edited.ok);
    assert.equal(edited.broken_seq, 15);
    raw.prepare("DELETE FROM exchanges WHERE seq = 13").run();
    raw.close();
    const deleted = await store.verifyAudit();
    assert.ok(!deleted.ok);
    assert.equal(deleted.broken_seq, 13);
    assert.equal(deleted.reason, "record deleted (seq 13 missing)");
    store.close();
  });

  test("only a prefix of the chain goes: an old record after a recent one waits", async (context) => {
    const path = join(temporaryDirectory(context), "prefix.db");
    const store = new SqliteStore(path);
    for (const index of [0, 1, 30, 2, 31]) store.appendExchange(makeExchange(index));
    store.flush();
    assert.equal(await store.applyRetention(timeOf(10)), 2);
    const kept = (await store.exchanges()).map((stored) => stored.exchange.arguments?.amount);
    assert.deepEqual(kept, [30, 2, 31]);
    assert.equal((await store.verifyAudit()).ok, true);
    store.close();
  });

  test("deleting everything leaves an empty chain that verifies and goes on", async (context) => {
    const path = join(temporaryDirectory(context), "everything.db");
    const store = filledStore(path, 10);
    assert.equal(await store.applyRetention(timeOf(1000)), 12);
    assert.deepEqual(await store.verifyAudit(), { ok: true, records: 0, first_seq: null, last_seq: null });
    store.appendExchange(makeExchange(2000));
    store.flush();
    assert.deepEqual(await store.verifyAudit(), { ok: true, records: 1, first_seq: 13, last_seq: 13 });
    store.close();
  });

  test("runs at open when a retention period is set", async (context) => {
    const path = join(temporaryDirectory(context), "at-open.db");
    const first = new SqliteStore(path);
    first.appendExchange(makeExchange(0, { time: new Date(Date.now() - 10 * 86_400_000).toISOString() }));
    first.appendExchange(makeExchange(1, { time: new Date().toISOString() }));
    first.close();
    const { lines, log } = collectLog();
    const reopened = new SqliteStore(path, { retentionMs: 86_400_000, log });
    assert.deepEqual(
      (await reopened.exchanges()).map((stored) => stored.seq),
      [2],
    );
    assert.deepEqual(await reopened.verifyAudit(), { ok: true, records: 1, first_seq: 2, last_seq: 2 });
    assert.deepEqual(lines, []);
    reopened.close();
  });
});

describe("SqliteStore write failures", () => {
  test("a full database drops and counts the batch, persists the drop, and recovers when space frees up", async (context) => {
    const path = join(temporaryDirectory(context), "full.db");
    new SqliteStore(path).close();
    const { lines, log } = collectLog();
    const store = new SqliteStore(path, { maxPageCount: 40, batchSize: 5, log });
    let index = 0;
    while (store.counters().dropped === 0 && index < 1000) {
      store.appendExchange(makeExchange(index++, { result: "y".repeat(2000) }));
    }
    store.flush();
    const { accepted, written, dropped } = store.counters();
    assert.ok(dropped > 0, "the page cap was reached");
    assert.equal(accepted, written + dropped);
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /SQLITE_FULL/);
    assert.equal(store.persistedCounters().dropped_write_failed, dropped);
    assert.equal((await store.verifyAudit()).ok, true);

    await store.applyRetention(timeOf(100_000));
    store.appendExchange(makeExchange(index, { result: "y".repeat(2000) }));
    store.flush();
    assert.equal(store.counters().written, written + 1);
    assert.equal(lines.length, 2);
    assert.match(lines[1]!, /recovered; \d+ record\(s\) dropped meanwhile/);
    assert.equal((await store.verifyAudit()).ok, true);
    store.close();
  });

  test("a bulk load that fills the disk rolls the failed batch back from its in-memory journal", async (context) => {
    const path = join(temporaryDirectory(context), "full-bulk.db");
    const { lines, log } = collectLog();
    const store = new SqliteStore(path, { bulkLoad: true, maxPageCount: 40, batchSize: 5, log });
    assert.equal(store.syncsCommits, false);
    let index = 0;
    while (store.counters().dropped === 0 && index < 1000) {
      store.appendExchange(makeExchange(index++, { result: "y".repeat(2000) }));
    }
    const { written, dropped } = store.counters();
    assert.ok(dropped > 0, "the page cap was reached");
    assert.match(lines[0]!, /SQLITE_FULL/);
    // Nothing of the failed batch is left half-written: the chain holds exactly the committed records.
    assert.deepEqual(await store.verifyAudit(), { ok: true, records: written, first_seq: 1, last_seq: written });
    assert.equal((await store.exchanges()).length, written);
    store.close();
    const reopened = new SqliteStore(path, { readonly: true });
    assert.equal(reopened.persistedCounters().dropped_write_failed, dropped);
    assert.equal((await reopened.verifyAudit()).ok, true);
    reopened.close();
  });

  test("appends after close are counted as dropped and never throw", (context) => {
    const store = new SqliteStore(join(temporaryDirectory(context), "closed.db"));
    store.close();
    store.close();
    store.appendExchange(makeExchange(1));
    assert.deepEqual(store.counters(), { accepted: 1, written: 0, dropped: 1 });
    assert.throws(() => store.exchangesSync(), { name: "ToolwatchError" });
  });
});
