/** What the live store and its worker thread say to each other. Plain data: it crosses by structured clone. */
import type { PendingRecord } from "./stored-record.js";

/** Handed to the worker at start. */
export interface StoreWorkerData {
  path: string;
  busyTimeoutMs: number;
  /** `0` keeps everything. */
  retentionMs: number;
  retentionIntervalMs: number;
  maxPageCount: number | undefined;
}

/** From the live store to its worker; handled in order, so batches commit in the order they were posted. */
export type ToWorkerMessage =
  | {
      type: "batch";
      id: number;
      /** Exchanges, findings, alert state changes and operator actions, in the order they were appended: the chain's order. */
      records: PendingRecord[];
      /** Records dropped because the queue was full, to add to the persisted counters. */
      queue_drops: number;
      /** Records dropped before reaching the worker for another reason (they could not be serialised). */
      failed_drops: number;
    }
  | { type: "retention"; id: number; before_ms: number }
  | { type: "close" };

/** From the worker back to the live store: one `*-done` per request, in request order. */
export type FromWorkerMessage =
  | { type: "batch-done"; id: number; written: number; dropped: number; error: string | null }
  | { type: "retention-done"; id: number; removed: number; error: string | null }
  | { type: "log"; message: string }
  | { type: "closed" };
