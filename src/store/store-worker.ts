/**
 * Entry point of the store's worker thread: owns the writing SQLite connection so the proxied calls on the
 * main thread never wait on the disk. Started by {@link WorkerStore}; not meant to be imported.
 */
import { parentPort, workerData } from "node:worker_threads";
import { describeError } from "./drop-log.js";
import { type DropCounts, SqliteStore } from "./sqlite-store.js";
import type { FromWorkerMessage, StoreWorkerData, ToWorkerMessage } from "./worker-messages.js";

const port = parentPort;
if (!port) throw new Error("store-worker.js runs as a worker thread started by WorkerStore");
const data = workerData as StoreWorkerData;

function send(message: FromWorkerMessage): void {
  port!.postMessage(message);
}

const log = (message: string): void => send({ type: "log", message });

let store: SqliteStore | null = null;
let openError: string | null = null;
try {
  store = new SqliteStore(data.path, {
    busyTimeoutMs: data.busyTimeoutMs,
    retentionMs: data.retentionMs,
    maxPageCount: data.maxPageCount,
    log,
  });
} catch (error) {
  openError = describeError(error);
  log(`cannot open the store: ${openError}; every record will be dropped and counted`);
}

/** Drops not yet in the `counters` table; carried by the next transaction that commits. */
const unpersisted = { dropped_queue_full: 0, dropped_write_failed: 0 } satisfies Required<DropCounts>;

function settle(persisted: Required<DropCounts>): void {
  unpersisted.dropped_queue_full -= persisted.dropped_queue_full;
  unpersisted.dropped_write_failed -= persisted.dropped_write_failed;
}

function tryPersistDrops(): void {
  if (!store || (unpersisted.dropped_queue_full === 0 && unpersisted.dropped_write_failed === 0)) return;
  const carried = { ...unpersisted };
  try {
    // Updating existing counter rows needs no new pages, so this often succeeds even when the disk is full.
    store.persistDrops(carried);
    settle(carried);
  } catch {
    // Still in `unpersisted`; the next successful batch carries it.
  }
}

function writeBatch(message: Extract<ToWorkerMessage, { type: "batch" }>): void {
  unpersisted.dropped_queue_full += message.queue_drops;
  unpersisted.dropped_write_failed += message.failed_drops;
  const count = message.records.length;
  if (!store) {
    send({ type: "batch-done", id: message.id, written: 0, dropped: count, error: openError });
    return;
  }
  const carried = { ...unpersisted };
  try {
    store.writeBatch(message.records, carried);
    settle(carried);
    send({ type: "batch-done", id: message.id, written: count, dropped: 0, error: null });
  } catch (error) {
    unpersisted.dropped_write_failed += count;
    tryPersistDrops();
    send({ type: "batch-done", id: message.id, written: 0, dropped: count, error: describeError(error) });
  }
}

function applyRetention(id: number, before_ms: number): void {
  if (!store) {
    send({ type: "retention-done", id, removed: 0, error: openError });
    return;
  }
  try {
    send({ type: "retention-done", id, removed: store.applyRetentionSync(before_ms), error: null });
  } catch (error) {
    send({ type: "retention-done", id, removed: 0, error: describeError(error) });
  }
}

const retentionTimer =
  store && data.retentionMs > 0
    ? setInterval(() => {
        try {
          store?.applyRetentionSync(Date.now() - data.retentionMs);
        } catch (error) {
          log(`retention failed (${describeError(error)}); will try again in ${data.retentionIntervalMs} ms`);
        }
      }, data.retentionIntervalMs)
    : null;

port.on("message", (message: ToWorkerMessage) => {
  switch (message.type) {
    case "batch":
      writeBatch(message);
      break;
    case "retention":
      applyRetention(message.id, message.before_ms);
      break;
    case "close":
      if (retentionTimer) clearInterval(retentionTimer);
      tryPersistDrops();
      try {
        store?.close();
      } catch (error) {
        log(`closing the store failed: ${describeError(error)}`);
      }
      store = null;
      send({ type: "closed" });
      port.close();
      break;
  }
});
