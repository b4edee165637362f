/**
 * Child process for the multi-process test: appends `count` exchanges for session `label` to a shared database
 * once the parent says go, then reports its counters. Run by fork() from multi-process.test.js.
 */

import { openStore } from "../../src/store/index.js";
import { SqliteStore } from "../../src/store/sqlite-store.js";
import { makeExchange } from "./store-fixtures.js";

const [path, label, countText, mode] = process.argv.slice(2);
if (path === undefined || label === undefined || countText === undefined || process.send === undefined) {
  process.stderr.write("usage (forked): append-process.js DATABASE LABEL COUNT direct|worker\n");
  process.exit(2);
}
const count = Number(countText);
// Small batches mean many short transactions, so the two writers interleave on the lock.
const store =
  mode === "worker" ? openStore(path, { batchSize: 10, flushIntervalMs: 1 }) : new SqliteStore(path, { batchSize: 10 });

process.once("message", async () => {
  for (let index = 0; index < count; index++) {
    store.appendExchange(makeExchange(index, { session: label }));
    // Pausing after every batch spreads each writer over a few hundred ms, so the two really overlap.
    if (index % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await store.shutdown();
  process.send?.({ type: "done", counters: store.counters() }, () => process.exit(0));
});
process.send({ type: "ready" });
