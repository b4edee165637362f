import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { chainHash, DEFAULT_HASH_ALGORITHM, GENESIS_HASH } from "../../src/store/audit-chain.js";
import { InMemoryStore } from "../../src/store/memory-store.js";
import { makeExchange, makeFinding, timeOf } from "./store-fixtures.js";

describe("InMemoryStore", () => {
  test("round-trips exchanges and findings with the same filters as the SQLite store", async () => {
    const store = new InMemoryStore();
    for (let index = 0; index < 12; index++) {
      store.appendExchange(makeExchange(index));
      if (index % 5 === 4) store.appendFinding(makeFinding(index));
    }
    assert.deepEqual(store.counters(), { accepted: 14, written: 14, dropped: 0 });
    assert.deepEqual(
      (await store.exchanges({ session: "s-1", since_ms: timeOf(2), limit: 2 })).map((stored) => stored.exchange),
      [makeExchange(4), makeExchange(7)],
    );
    assert.deepEqual(
      (await store.exchanges({ after_seq: 12 })).map((stored) => stored.seq),
      [13, 14],
    );
    assert.deepEqual(await store.findings({ until_ms: timeOf(5) }), [makeFinding(4)]);
    assert.deepEqual(await store.verifyAudit(), { ok: true, records: 14, first_seq: 1, last_seq: 14 });
  });

  test("records given as bytes read back as text and hash like the SQLite store's", async () => {
    const store = new InMemoryStore();
    const exchange = makeExchange(1, { result: "élan € 😀" });
    const text = JSON.stringify(exchange);
    store.appendExchange(exchange, Buffer.from(`${text}\nmore`).subarray(0, Buffer.byteLength(text)));
    const [stored] = await store.exchanges();
    assert.deepEqual(stored?.exchange, exchange);
    assert.equal(stored?.hash, chainHash(GENESIS_HASH, text, DEFAULT_HASH_ALGORITHM));
    assert.deepEqual(await store.verifyAudit(), { ok: true, records: 1, first_seq: 1, last_seq: 1 });
  });

  test("retention removes a prefix and the chain still verifies from its anchor", async () => {
    const store = new InMemoryStore();
    for (const index of [0, 1, 2, 30, 3]) store.appendExchange(makeExchange(index));
    assert.equal(await store.applyRetention(timeOf(10)), 3);
    assert.deepEqual(
      (await store.exchanges()).map((stored) => stored.seq),
      [4, 5],
    );
    assert.deepEqual(await store.verifyAudit(), { ok: true, records: 2, first_seq: 4, last_seq: 5 });
  });

  test("past its capacity the oldest records go and memory stays bounded", async () => {
    const store = new InMemoryStore({ capacity: 10 });
    for (let index = 0; index < 1000; index++) store.appendExchange(makeExchange(index));
    const kept = await store.exchanges();
    assert.deepEqual(
      kept.map((stored) => stored.seq),
      Array.from({ length: 10 }, (_, offset) => 991 + offset),
    );
    assert.deepEqual(await store.verifyAudit(), { ok: true, records: 10, first_seq: 991, last_seq: 1000 });
  });

  test("shutdown is idempotent and later appends are counted as dropped", async () => {
    const store = new InMemoryStore();
    store.appendExchange(makeExchange(1));
    await store.shutdown();
    await store.shutdown();
    store.appendExchange(makeExchange(2));
    assert.deepEqual(store.counters(), { accepted: 2, written: 1, dropped: 1 });
  });
});
