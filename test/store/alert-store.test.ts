import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import Database from "better-sqlite3";
import type { AlertEvent } from "../../src/core/notifier.js";
import type { Store } from "../../src/core/store.js";
import { openStore } from "../../src/store/index.js";
import { InMemoryStore } from "../../src/store/memory-store.js";
import { SCHEMA_VERSION, SqliteStore } from "../../src/store/sqlite-store.js";
import { makeAlert, makeExchange, makeFinding, tableSeqs, temporaryDirectory, timeOf } from "./store-fixtures.js";

/**
 * The alert of exchange `index` in {@link fill}: pending, firing and resolved in turn, the firing one from
 * another rule so that filters have something to tell apart.
 */
function alertOf(index: number): AlertEvent {
  if (index % 9 === 2) return makeAlert(index, { state: "pending", previous_state: "inactive" });
  if (index % 9 === 5) return makeAlert(index, { rule: "tool_error_rate", state: "firing", previous_state: "pending" });
  return makeAlert(index, { state: "resolved", previous_state: "firing" });
}

/**
 * Ten exchanges, an alert after indexes 2, 5 and 8 (seq 4, 9 and 13) and a finding after 4 and 9 (seq 7 and 15):
 * the three tables interleave in one sequence.
 */
function fill(store: Store): void {
  for (let index = 0; index < 10; index++) {
    store.appendExchange(makeExchange(index));
    if (index % 3 === 2) store.appendAlert(alertOf(index));
    if (index % 5 === 4) store.appendFinding(makeFinding(index));
  }
}

const ALERT_SEQS = [4, 9, 13];
const ALL_ALERTS = [2, 5, 8].map(alertOf);

function filledSqlite(path: string): SqliteStore {
  const store = new SqliteStore(path, { batchSize: 4 });
  fill(store);
  store.flush();
  return store;
}

/** Round trip and filters, the same on every store. */
async function assertQueries(store: Store): Promise<void> {
  assert.deepEqual(await store.alerts(), ALL_ALERTS);
  assert.deepEqual(await store.alerts({ rule: "auth_failure_burst" }), [alertOf(2), alertOf(8)]);
  assert.deepEqual(await store.alerts({ state: "firing" }), [alertOf(5)]);
  assert.deepEqual(await store.alerts({ since_ms: timeOf(5) }), [alertOf(5), alertOf(8)]);
  assert.deepEqual(await store.alerts({ until_ms: timeOf(8) }), [alertOf(2), alertOf(5)]);
  assert.deepEqual(await store.alerts({ rule: "auth_failure_burst", limit: 1 }), [alertOf(2)]);
  assert.deepEqual(await store.verifyAudit(), { ok: true, records: 15, first_seq: 1, last_seq: 15 });
  assert.equal((await store.exchanges()).length, 10);
  assert.equal((await store.findings()).length, 2);
}

describe("alert state changes in the store", () => {
  test("SqliteStore keeps them with the values that caused them, in the chain's one seq space", async (context) => {
    const path = join(temporaryDirectory(context), "alerts.db");
    const store = filledSqlite(path);
    await assertQueries(store);
    assert.deepEqual((await store.alerts({ state: "firing" }))[0]?.values, {
      value: 11,
      threshold: 5,
      window_seconds: 30,
    });
    assert.deepEqual(store.counters(), { accepted: 15, written: 15, dropped: 0 });
    store.close();
    assert.deepEqual(tableSeqs(path, "alerts"), ALERT_SEQS);

    const reader = new SqliteStore(path, { readonly: true });
    assert.deepEqual(reader.alertsSync({ state: "resolved" }), [alertOf(8)]);
    reader.close();
  });

  test("WorkerStore carries them through the worker", async (context) => {
    const path = join(temporaryDirectory(context), "worker-alerts.db");
    const store = openStore(path);
    context.after(() => store.shutdown());
    fill(store);
    await store.forceFlush();
    assert.deepEqual(store.counters(), { accepted: 15, written: 15, dropped: 0 });
    await assertQueries(store);
    assert.deepEqual(tableSeqs(path, "alerts"), ALERT_SEQS);
  });

  test("InMemoryStore keeps them in its chain too, and retention and capacity remove them", async () => {
    const store = new InMemoryStore();
    fill(store);
    await assertQueries(store);
    assert.equal(await store.applyRetention(timeOf(6)), 9);
    assert.deepEqual(await store.alerts(), [alertOf(8)]);
    assert.deepEqual(await store.verifyAudit(), { ok: true, records: 6, first_seq: 10, last_seq: 15 });

    const small = new InMemoryStore({ capacity: 3 });
    fill(small);
    assert.deepEqual(await small.alerts(), [alertOf(8)]);
    assert.deepEqual(await small.verifyAudit(), { ok: true, records: 3, first_seq: 13, last_seq: 15 });
  });

  test("an alert appended to a closed store is dropped and counted, not thrown", async (context) => {
    const store = new SqliteStore(join(temporaryDirectory(context), "closed.db"));
    store.close();
    store.appendAlert(makeAlert(1));
    assert.deepEqual(store.counters(), { accepted: 1, written: 0, dropped: 1 });
  });
});

describe("alert rows in the audit chain", () => {
  test("an edited alert is named at its seq", async (context) => {
    const path = join(temporaryDirectory(context), "edited-alert.db");
    const store = filledSqlite(path);
    const raw = new Database(path);
    // Lowering the value that fired the alert is exactly the edit the chain must catch.
    const changed = raw
      .prepare(`UPDATE alerts SET record = replace(record, '"value":11', '"value":4') WHERE seq = 9`)
      .run().changes;
    raw.close();
    assert.equal(changed, 1);
    const verdict = await store.verifyAudit();
    assert.ok(!verdict.ok);
    assert.equal(verdict.broken_seq, 9);
    assert.equal(verdict.reason, "record hash mismatch (record was modified)");
    assert.equal(verdict.records, 8);
    store.close();
  });

  test("a deleted alert is reported as a gap at its seq", async (context) => {
    const path = join(temporaryDirectory(context), "deleted-alert.db");
    const store = filledSqlite(path);
    const raw = new Database(path);
    assert.equal(raw.prepare("DELETE FROM alerts WHERE seq = 13").run().changes, 1);
    raw.close();
    const verdict = await store.verifyAudit();
    assert.ok(!verdict.ok);
    assert.equal(verdict.broken_seq, 13);
    assert.equal(verdict.reason, "record deleted (seq 13 missing)");
    store.close();
  });

  test("the newest record being an alert, deleting it is detected against the chain head", async (context) => {
    const path = join(temporaryDirectory(context), "truncated-alert.db");
    const store = new SqliteStore(path);
    store.appendExchange(makeExchange(0));
    store.appendAlert(makeAlert(1));
    store.flush();
    const raw = new Database(path);
    raw.prepare("DELETE FROM alerts").run();
    raw.close();
    const verdict = await store.verifyAudit();
    assert.ok(!verdict.ok);
    assert.equal(verdict.broken_seq, 2);
    assert.match(verdict.reason, /missing at the end/);
    store.close();
  });
});

describe("retention over alerts", () => {
  test("old alerts go with the prefix, the chain can anchor on an alert, and tampering is still caught", async (context) => {
    const path = join(temporaryDirectory(context), "retention-alerts.db");
    const store = filledSqlite(path);
    // Exchanges 0..5 (seq 1, 2, 3, 5, 6, 8), alerts 2 and 5 (seq 4, 9) and finding 4 (seq 7) are older than index 6.
    assert.equal(await store.applyRetention(timeOf(6)), 9);
    assert.deepEqual(await store.alerts(), [alertOf(8)]);
    assert.deepEqual(await store.verifyAudit(), { ok: true, records: 6, first_seq: 10, last_seq: 15 });

    // Past index 8 the last record to go is the alert at seq 13, which becomes the anchor.
    assert.equal(await store.applyRetention(timeOf(8) + 1), 4);
    assert.deepEqual(await store.alerts(), []);
    const raw = new Database(path);
    assert.deepEqual(raw.prepare("SELECT anchor_seq FROM chain").pluck().get(), 13);
    assert.deepEqual(await store.verifyAudit(), { ok: true, records: 2, first_seq: 14, last_seq: 15 });

    store.appendAlert(makeAlert(20));
    store.flush();
    assert.deepEqual(await store.verifyAudit(), { ok: true, records: 3, first_seq: 14, last_seq: 16 });
    raw.prepare("UPDATE alerts SET record = replace(record, 'critical', 'info') WHERE seq = 16").run();
    raw.close();
    const verdict = await store.verifyAudit();
    assert.ok(!verdict.ok);
    assert.equal(verdict.broken_seq, 16);
    store.close();
  });
});

describe("schema version 3 migration", () => {
  /** A file as an older toolwatch wrote it: schema version 2, exchanges and findings, no `alerts` or `actions` table. */
  function versionTwoFile(path: string): void {
    const store = new SqliteStore(path);
    for (let index = 0; index < 5; index++) store.appendExchange(makeExchange(index));
    store.appendFinding(makeFinding(4));
    store.close();
    const raw = new Database(path);
    raw.exec("DROP TABLE alerts; DROP TABLE actions");
    raw.pragma("user_version = 2");
    raw.close();
  }

  function userVersion(path: string): unknown {
    const raw = new Database(path, { readonly: true });
    try {
      return raw.pragma("user_version", { simple: true });
    } finally {
      raw.close();
    }
  }

  test("a version 2 file verifies read-only as it is, with no alerts and nothing migrated", (context) => {
    const path = join(temporaryDirectory(context), "v2.db");
    versionTwoFile(path);
    const reader = new SqliteStore(path, { readonly: true });
    assert.deepEqual(reader.verifyAuditSync(), { ok: true, records: 6, first_seq: 1, last_seq: 6 });
    assert.deepEqual(reader.alertsSync(), []);
    reader.close();
    assert.equal(userVersion(path), 2);
  });

  test("opening a version 2 file for writing adds the alerts table and extends the same chain", async (context) => {
    const path = join(temporaryDirectory(context), "v2-migrated.db");
    versionTwoFile(path);
    const store = openStore(path);
    context.after(() => store.shutdown());
    assert.equal(userVersion(path), SCHEMA_VERSION);
    store.appendAlert(makeAlert(5));
    store.appendExchange(makeExchange(5));
    await store.forceFlush();
    assert.deepEqual(await store.alerts(), [makeAlert(5)]);
    assert.deepEqual(await store.verifyAudit(), { ok: true, records: 8, first_seq: 1, last_seq: 8 });
    assert.deepEqual(tableSeqs(path, "alerts"), [7]);
  });
});
