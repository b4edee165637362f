import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { chainHash, DEFAULT_HASH_ALGORITHM, GENESIS_HASH } from "../../src/store/audit-chain.js";
import { openStore } from "../../src/store/index.js";
import { SqliteStore } from "../../src/store/sqlite-store.js";
import { collectLog, makeExchange, makeFinding, temporaryDirectory, timeOf } from "./store-fixtures.js";

describe("WorkerStore", () => {
  test("writes through the worker and reads back on the calling thread", async (context) => {
    const store = openStore(join(temporaryDirectory(context), "live.db"));
    context.after(() => store.shutdown());
    for (let index = 0; index < 25; index++) store.appendExchange(makeExchange(index));
    store.appendFinding(makeFinding(24));
    await store.forceFlush();
    assert.deepEqual(store.counters(), { accepted: 26, written: 26, dropped: 0 });
    assert.deepEqual(
      (await store.exchanges({ session: "s-0", limit: 3 })).map((stored) => stored.exchange),
      [0, 3, 6].map((index) => makeExchange(index)),
    );
    assert.deepEqual(await store.findings(), [makeFinding(24)]);
    assert.deepEqual(await store.verifyAudit(), { ok: true, records: 26, first_seq: 1, last_seq: 26 });
  });

  test("records given as bytes are copied at append: the caller may reuse its buffer", async (context) => {
    const store = openStore(join(temporaryDirectory(context), "bytes.db"));
    context.after(() => store.shutdown());
    const exchange = makeExchange(1, { result: "élan € 😀" });
    const text = JSON.stringify(exchange);
    const buffer = Buffer.from(`${text}\n${"x".repeat(100_000)}`);
    store.appendExchange(exchange, buffer.subarray(0, Buffer.byteLength(text)));
    buffer.fill(0x20);
    await store.forceFlush();
    const [stored] = await store.exchanges();
    assert.deepEqual(stored?.exchange, exchange);
    assert.equal(stored?.hash, chainHash(GENESIS_HASH, text, DEFAULT_HASH_ALGORITHM));
  });

  test("a full queue drops and counts exactly, persists the count, and logs once per burst", async (context) => {
    const path = join(temporaryDirectory(context), "tiny-queue.db");
    const { lines, log } = collectLog();
    const store = openStore(path, { queueSize: 10, log });
    context.after(() => store.shutdown());
    for (let index = 0; index < 100; index++) store.appendExchange(makeExchange(index));
    assert.deepEqual(store.counters(), { accepted: 100, written: 0, dropped: 90 });
    await store.forceFlush();
    assert.deepEqual(store.counters(), { accepted: 100, written: 10, dropped: 90 });
    assert.deepEqual(store.persistedCounters(), { dropped_queue_full: 90, dropped_write_failed: 0 });
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /^store queue full \(10 records waiting for the disk\)/);

    store.appendExchange(makeExchange(100));
    await store.forceFlush();
    const { accepted, written, dropped } = store.counters();
    assert.deepEqual({ accepted, written, dropped }, { accepted: 101, written: 11, dropped: 90 });
    assert.equal(lines.length, 2);
    assert.match(lines[1]!, /recovered; 90 record\(s\) dropped meanwhile/);
    assert.deepEqual(
      (await store.exchanges()).map((stored) => stored.exchange.arguments?.amount),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 100],
    );
  });

  test("a full disk drops and counts whole batches, logs once, and recovers when space frees up", async (context) => {
    const path = join(temporaryDirectory(context), "full-disk.db");
    const { lines, log } = collectLog();
    const store = openStore(path, { maxPageCount: 40, batchSize: 5, log });
    context.after(() => store.shutdown());
    const bulky = (index: number) => makeExchange(index, { result: "y".repeat(2000) });
    let index = 0;
    const appendBatch = async () => {
      for (let count = 0; count < 5; count++) store.appendExchange(bulky(index++));
      await store.forceFlush();
    };
    while (store.counters().dropped === 0 && index < 1000) await appendBatch();
    await appendBatch();
    await appendBatch();

    const full = store.counters();
    assert.ok(full.dropped >= 15, "three batches failed");
    assert.equal(full.dropped % 5, 0, "whole batches are dropped");
    assert.equal(full.accepted, full.written + full.dropped);
    assert.equal(lines.length, 1, "one line for the whole burst");
    assert.match(lines[0]!, /^store write to .* failed \(SQLITE_FULL: /);
    assert.equal(store.persistedCounters().dropped_write_failed, full.dropped);
    assert.deepEqual(await store.verifyAudit(), {
      ok: true,
      records: full.written,
      first_seq: 1,
      last_seq: full.written,
    });

    assert.equal(await store.applyRetention(timeOf(100_000)), full.written);
    await appendBatch();
    const recovered = store.counters();
    assert.equal(recovered.written, full.written + 5);
    assert.equal(recovered.dropped, full.dropped);
    assert.equal(lines.length, 2);
    assert.match(lines[1]!, new RegExp(`recovered; ${full.dropped} record\\(s\\) dropped meanwhile`));
    assert.deepEqual(await store.verifyAudit(), {
      ok: true,
      records: 5,
      first_seq: full.written + 1,
      last_seq: full.written + 5,
    });
  });

  test("a record that cannot be serialised is dropped and counted, not thrown", async (context) => {
    const store = openStore(join(temporaryDirectory(context), "bigint.db"), { log: () => {} });
    context.after(() => store.shutdown());
    store.appendExchange(makeExchange(1, { arguments: { amount: 10n as unknown as number } }));
    store.appendExchange(makeExchange(2));
    await store.forceFlush();
    assert.deepEqual(store.counters(), { accepted: 2, written: 1, dropped: 1 });
    assert.equal(store.persistedCounters().dropped_write_failed, 1);
  });

  test("shutdown writes what is queued, is idempotent, and later appends are counted as dropped", async (context) => {
    const path = join(temporaryDirectory(context), "shutdown.db");
    const store = openStore(path);
    for (let index = 0; index < 10; index++) store.appendExchange(makeExchange(index));
    const first = store.shutdown();
    const second = store.shutdown();
    assert.equal(first, second);
    await first;
    await store.shutdown();
    store.appendExchange(makeExchange(10));
    assert.deepEqual(store.counters(), { accepted: 11, written: 10, dropped: 1 });
    await assert.rejects(store.exchanges(), { name: "ToolwatchError" });
    await assert.rejects(store.applyRetention(0), { name: "ToolwatchError" });

    const reopened = new SqliteStore(path, { readonly: true });
    assert.deepEqual(reopened.verifyAuditSync(), { ok: true, records: 10, first_seq: 1, last_seq: 10 });
    reopened.close();
  });

  test("a database that cannot be opened fails at open, not on every append", (context) => {
    const directory = join(temporaryDirectory(context), "not-a-file.db");
    mkdirSync(directory);
    assert.throws(() => openStore(directory), { name: "ToolwatchError", message: /cannot open/ });
  });

  test("applies retention at open when a retention period is set", async (context) => {
    const path = join(temporaryDirectory(context), "retention.db");
    const seed = new SqliteStore(path);
    seed.appendExchange(makeExchange(0, { time: new Date(Date.now() - 40 * 86_400_000).toISOString() }));
    seed.appendExchange(makeExchange(1, { time: new Date().toISOString() }));
    seed.close();
    const store = openStore(path, { retentionMs: 30 * 86_400_000 });
    context.after(() => store.shutdown());
    // The worker applies it as it opens; a flush round trip guarantees it has.
    store.appendExchange(makeExchange(2, { time: new Date().toISOString() }));
    await store.forceFlush();
    assert.deepEqual(await store.verifyAudit(), { ok: true, records: 2, first_seq: 2, last_seq: 3 });
  });
});
