import { Worker } from "node:worker_threads";
import { ToolwatchError } from "../core/errors.js";
import type { CapturedExchange } from "../core/exchange.js";
import type { Finding } from "../core/finding.js";
import type { AlertEvent } from "../core/notifier.js";
import type { OperatorAction } from "../core/operator-action.js";
import type {
  ActionQuery,
  AlertQuery,
  AuditVerification,
  ExchangeQuery,
  FindingQuery,
  Store,
  StoreCounters,
  StoredExchange,
} from "../core/store.js";
import type { HashAlgorithm } from "./audit-chain.js";
import { DropBurstLog, describeError, type StoreLog, stderrLog } from "./drop-log.js";
import { DEFAULT_BUSY_TIMEOUT_MS, type DropCounterName, SqliteStore } from "./sqlite-store.js";
import {
  type PendingRecord,
  pendingAction,
  pendingAlert,
  pendingExchange,
  pendingFinding,
  type RecordText,
} from "./stored-record.js";
import type { FromWorkerMessage, StoreWorkerData, ToWorkerMessage } from "./worker-messages.js";

/** Options of {@link WorkerStore}; every one has a default. */
export interface WorkerStoreOptions {
  /** Most records waiting for the disk (queued plus in the worker); past it appends are dropped and counted. */
  queueSize?: number;
  /** Records per batch handed to the worker (one transaction each). */
  batchSize?: number;
  /** How long a record may wait for its batch to fill, in ms. */
  flushIntervalMs?: number;
  /** Deletes records older than this many ms at open and every `retentionIntervalMs`; `0` keeps everything. */
  retentionMs?: number;
  retentionIntervalMs?: number;
  /** How long the worker waits for the write lock held by another process, in ms. */
  busyTimeoutMs?: number;
  /** Caps the worker's database at this many pages; tests use it to get a real `SQLITE_FULL`. */
  maxPageCount?: number;
  /** Where trouble is reported, once per burst. */
  log?: StoreLog;
  /** The audit chain's hash function if this opens a new database; an existing one keeps its own. */
  hashAlgorithm?: HashAlgorithm;
}

/** A record as appended: serialised on a later turn of the event loop, so appending costs a push. */
type QueuedRecord =
  | { kind: "exchange"; value: CapturedExchange; text: RecordText | undefined }
  | { kind: "finding"; value: Finding; text: RecordText | undefined }
  | { kind: "alert"; value: AlertEvent; text: RecordText | undefined }
  | { kind: "action"; value: OperatorAction };

interface FlushWaiter {
  batchId: number;
  resolve: () => void;
}

interface RetentionRequest {
  resolve: (removed: number) => void;
  reject: (error: Error) => void;
}

/**
 * The store for the live proxy and gateway.
 *
 * Appends go to an in-memory batch (O(1), never blocks, never throws); batches go to a worker thread that owns
 * the writing SQLite connection, every `flushIntervalMs` or as soon as `batchSize` records are waiting. When
 * `queueSize` records are already waiting, appends are dropped and counted; a batch the worker cannot write
 * (full disk, I/O error, lock timeout) is dropped and counted too, and the worker goes on with later batches.
 * Every drop also lands in the database's `counters` table so later commands can report it.
 *
 * Queries run on a separate read connection on the calling thread; WAL lets them read while the worker writes.
 * Records still waiting in the queue are not visible to queries until written (`forceFlush` first if it matters).
 *
 * Appended records are serialised on a later turn of the event loop, a few at a time, not when appended and not all
 * at once when their batch leaves: do not change them afterwards. Serialising a whole batch at once stalled the
 * thread for about a millisecond every `flushIntervalMs` under steady traffic, which a proxied call arriving then
 * waited for (it showed in the stdio proxy's p99); small slices between I/O callbacks keep each wait short.
 */
export class WorkerStore implements Store {
  readonly path: string;
  private readonly reader: SqliteStore;
  private readonly worker: Worker;
  private readonly queueSize: number;
  private readonly batchSize: number;
  private readonly flushIntervalMs: number;
  private readonly log: StoreLog;
  private readonly writeFailures: DropBurstLog;
  private readonly queueFull: DropBurstLog;
  /** Appended, not yet serialised, oldest first. */
  private batch: QueuedRecord[] = [];
  /** Serialised and waiting for the next batch to leave. */
  private ready: PendingRecord[] = [];
  private flushTimer: NodeJS.Timeout | null = null;
  private flushSoon: NodeJS.Immediate | null = null;
  private serializeSoon: NodeJS.Immediate | null = null;
  /** Record count of each batch posted and not yet acknowledged, by batch id. */
  private readonly inFlight = new Map<number, number>();
  private inFlightRecords = 0;
  private lastPostedBatch = 0;
  private waiters: FlushWaiter[] = [];
  private readonly retentionRequests = new Map<number, RetentionRequest>();
  private lastRetentionRequest = 0;
  private unreportedQueueDrops = 0;
  private unreportedFailedDrops = 0;
  private accepted = 0;
  private written = 0;
  private dropped = 0;
  /** Set when the worker died: later batches are dropped and counted on this thread. */
  private workerGone = false;
  private closing = false;
  private shutdownPromise: Promise<void> | null = null;

  /** Opens (creating and migrating if needed) the database; throws {@link ToolwatchError} `store_unavailable` when it cannot. */
  constructor(path: string, options: WorkerStoreOptions = {}) {
    const {
      queueSize = 50_000,
      batchSize = 1000,
      flushIntervalMs = 50,
      retentionMs = 0,
      retentionIntervalMs = 3_600_000,
      busyTimeoutMs = DEFAULT_BUSY_TIMEOUT_MS,
      maxPageCount,
      log = stderrLog,
      hashAlgorithm,
    } = options;
    this.path = path;
    this.queueSize = Math.max(1, queueSize);
    this.batchSize = Math.max(1, batchSize);
    this.flushIntervalMs = Math.max(0, flushIntervalMs);
    this.log = log;
    this.writeFailures = new DropBurstLog(log, `store write to ${path} failed`);
    this.queueFull = new DropBurstLog(log, "store queue full");
    // Opening here first creates and migrates the file before the worker starts, and turns a database that
    // cannot be opened into an error at startup rather than a stream of drops.
    this.reader = new SqliteStore(path, {
      busyTimeoutMs,
      log,
      ...(hashAlgorithm === undefined ? {} : { hashAlgorithm }),
    });
    const workerData: StoreWorkerData = {
      path,
      busyTimeoutMs,
      retentionMs,
      retentionIntervalMs: Math.max(1000, retentionIntervalMs),
      maxPageCount,
    };
    try {
      this.worker = new Worker(new URL("./store-worker.js", import.meta.url), { workerData });
    } catch (error) {
      this.reader.close();
      throw new ToolwatchError("store_unavailable", `cannot start the store worker: ${describeError(error)}`, {
        cause: error,
      });
    }
    // The worker keeps the process alive only while it has work; an idle store must not hold a CLI open.
    this.worker.unref();
    this.worker.on("message", (message: FromWorkerMessage) => this.onWorkerMessage(message));
    this.worker.on("error", (error) => this.onWorkerGone(`store worker failed: ${describeError(error)}`));
    this.worker.on("exit", (code) => {
      if (!this.closing) this.onWorkerGone(`store worker exited unexpectedly (code ${code})`);
    });
  }

  /** @param text the exchange's JSON when the caller already has it, to save serialising it again. */
  appendExchange(exchange: CapturedExchange, text?: RecordText): void {
    this.enqueue({ kind: "exchange", value: exchange, text: ownBytes(text) });
  }

  /** @param text the finding's JSON when the caller already has it. */
  appendFinding(finding: Finding, text?: RecordText): void {
    this.enqueue({ kind: "finding", value: finding, text: ownBytes(text) });
  }

  /** @param text the alert event's JSON when the caller already has it. */
  appendAlert(event: AlertEvent, text?: RecordText): void {
    this.enqueue({ kind: "alert", value: event, text: ownBytes(text) });
  }

  /** Goes through the same queue as every record: `forceFlush` to know it is written (or counted as dropped). */
  appendAction(action: OperatorAction): void {
    this.enqueue({ kind: "action", value: action });
  }

  counters(): StoreCounters {
    return { accepted: this.accepted, written: this.written, dropped: this.dropped };
  }

  /** Drop counters persisted by every process that wrote this database. */
  persistedCounters(): Record<DropCounterName, number> {
    return this.reader.persistedCounters();
  }

  async exchanges(query?: ExchangeQuery): Promise<StoredExchange[]> {
    return this.reader.exchangesSync(query);
  }

  async findings(query?: FindingQuery): Promise<Finding[]> {
    return this.reader.findingsSync(query);
  }

  async alerts(query?: AlertQuery): Promise<AlertEvent[]> {
    return this.reader.alertsSync(query);
  }

  async actions(query?: ActionQuery): Promise<OperatorAction[]> {
    return this.reader.actionsSync(query);
  }

  /** Walks the chain on the calling thread (it reads a snapshot, so writers go on meanwhile). */
  async verifyAudit(): Promise<AuditVerification> {
    return this.reader.verifyAuditSync();
  }

  /** Runs in the worker, after the batches already handed to it, so the calling thread never waits for the lock. */
  applyRetention(before_ms: number): Promise<number> {
    if (this.workerGone || this.shutdownPromise) {
      return Promise.reject(new ToolwatchError("store_unavailable", `${this.path}: the store worker is not running`));
    }
    const id = ++this.lastRetentionRequest;
    return new Promise<number>((resolve, reject) => {
      this.retentionRequests.set(id, { resolve, reject });
      this.post({ type: "retention", id, before_ms });
    });
  }

  /** Resolves once every record accepted so far is written or counted as dropped. Never rejects. */
  forceFlush(): Promise<void> {
    this.postBatch();
    const batchId = this.lastPostedBatch;
    if (this.inFlight.size === 0 || this.acknowledgedThrough(batchId)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ batchId, resolve }));
  }

  /** Flushes, stops the worker and closes both connections. Idempotent; appends after it are dropped and counted. */
  shutdown(): Promise<void> {
    this.shutdownPromise ??= this.close();
    return this.shutdownPromise;
  }

  private async close(): Promise<void> {
    await this.forceFlush();
    this.closing = true;
    this.cancelScheduledFlush();
    if (!this.workerGone) {
      const exited = new Promise<void>((resolve) => this.worker.once("exit", () => resolve()));
      this.worker.ref();
      this.worker.postMessage({ type: "close" } satisfies ToWorkerMessage);
      await exited;
    }
    for (const request of this.retentionRequests.values()) {
      request.reject(new ToolwatchError("store_unavailable", `${this.path}: the store was shut down`));
    }
    this.retentionRequests.clear();
    this.reader.close();
  }

  private enqueue(record: QueuedRecord): void {
    this.accepted++;
    if (this.shutdownPromise || this.batch.length + this.ready.length + this.inFlightRecords >= this.queueSize) {
      this.dropped++;
      this.unreportedQueueDrops++;
      if (!this.shutdownPromise) this.queueFull.failed(1, `${this.queueSize} records waiting for the disk`);
      return;
    }
    this.queueFull.succeeded();
    this.batch.push(record);
    this.serializeSoon ??= setImmediate(() => this.serializeSome());
    if (this.batch.length + this.ready.length >= this.batchSize) {
      // Post on the next turn, not inside the caller's append.
      this.flushSoon ??= setImmediate(() => {
        this.flushSoon = null;
        this.postBatch();
      });
    } else {
      this.flushTimer ??= setTimeout(() => {
        this.flushTimer = null;
        this.postBatch();
      }, this.flushIntervalMs);
    }
  }

  /** Serialises up to {@link SERIALIZE_SLICE} queued records and comes back on a later turn for the rest. */
  private serializeSome(): void {
    this.serializeSoon = null;
    this.serializeQueued(SERIALIZE_SLICE);
    if (this.batch.length > 0) this.serializeSoon = setImmediate(() => this.serializeSome());
  }

  private serializeQueued(limit: number): void {
    const count = Math.min(limit, this.batch.length);
    for (let index = 0; index < count; index++) {
      try {
        this.ready.push(pending(this.batch[index]!));
      } catch (error) {
        // JSON.stringify throws on cycles and BigInt; such a record is lost, but counted, not thrown to the caller.
        this.dropped++;
        this.unreportedFailedDrops++;
        this.writeFailures.failed(1, `a record could not be serialised: ${describeError(error)}`);
      }
    }
    this.batch = count === this.batch.length ? [] : this.batch.slice(count);
  }

  private postBatch(): void {
    this.cancelScheduledFlush();
    this.serializeQueued(this.batch.length);
    if (this.ready.length === 0 && this.unreportedQueueDrops === 0 && this.unreportedFailedDrops === 0) return;
    const records = this.ready;
    this.ready = [];
    const id = ++this.lastPostedBatch;
    if (this.workerGone) {
      this.dropped += records.length;
      this.writeFailures.failed(records.length, "the store worker is not running");
      this.unreportedQueueDrops = 0;
      this.unreportedFailedDrops = 0;
      return;
    }
    this.inFlight.set(id, records.length);
    this.inFlightRecords += records.length;
    this.post({
      type: "batch",
      id,
      records,
      queue_drops: this.unreportedQueueDrops,
      failed_drops: this.unreportedFailedDrops,
    });
    this.unreportedQueueDrops = 0;
    this.unreportedFailedDrops = 0;
  }

  private post(message: ToWorkerMessage): void {
    this.worker.ref();
    this.worker.postMessage(message);
  }

  private onWorkerMessage(message: FromWorkerMessage): void {
    switch (message.type) {
      case "batch-done":
        this.settleBatch(message.id, message.written, message.dropped);
        if (message.error === null) this.writeFailures.succeeded();
        else this.writeFailures.failed(message.dropped, message.error);
        break;
      case "retention-done": {
        const request = this.retentionRequests.get(message.id);
        this.retentionRequests.delete(message.id);
        if (message.error === null) request?.resolve(message.removed);
        else request?.reject(new ToolwatchError("store_unavailable", `retention failed: ${message.error}`));
        break;
      }
      case "log":
        this.log(message.message);
        break;
      case "closed":
        break;
    }
    if (this.inFlight.size === 0 && this.retentionRequests.size === 0 && !this.closing) this.worker.unref();
  }

  private settleBatch(id: number, written: number, dropped: number): void {
    const count = this.inFlight.get(id) ?? 0;
    this.inFlight.delete(id);
    this.inFlightRecords -= count;
    this.written += written;
    this.dropped += dropped;
    const ready = this.waiters.filter((waiter) => this.acknowledgedThrough(waiter.batchId));
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((waiter) => !ready.includes(waiter));
    for (const waiter of ready) waiter.resolve();
  }

  /** Batches are acknowledged in order, so a batch is done once no earlier-or-equal id is still in flight. */
  private acknowledgedThrough(batchId: number): boolean {
    for (const id of this.inFlight.keys()) if (id <= batchId) return false;
    return true;
  }

  private onWorkerGone(reason: string): void {
    if (this.workerGone) return;
    this.workerGone = true;
    this.log(`${reason}; records will be dropped and counted`);
    for (const [id, count] of [...this.inFlight]) {
      this.settleBatch(id, 0, count);
    }
    for (const request of this.retentionRequests.values()) {
      request.reject(new ToolwatchError("store_unavailable", reason));
    }
    this.retentionRequests.clear();
  }

  private cancelScheduledFlush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    if (this.flushSoon) clearImmediate(this.flushSoon);
    if (this.serializeSoon) clearImmediate(this.serializeSoon);
    this.flushTimer = null;
    this.flushSoon = null;
    this.serializeSoon = null;
  }
}

/**
 * Records serialised per turn of the event loop: at a few microseconds each, a slice stays well under the time
 * a message waits for a proxy hop anyway.
 */
const SERIALIZE_SLICE = 16;

function pending(record: QueuedRecord): PendingRecord {
  switch (record.kind) {
    case "exchange":
      return pendingExchange(record.value, record.text);
    case "finding":
      return pendingFinding(record.value, record.text);
    case "alert":
      return pendingAlert(record.value, record.text);
    case "action":
      return pendingAction(record.value);
  }
}

/**
 * Copies bytes into a buffer of their own: a view into a larger buffer would cross to the worker whole (structured
 * clone copies the entire underlying buffer), and the caller's buffer may be reused before the batch leaves.
 */
function ownBytes(text: RecordText | undefined): RecordText | undefined {
  return text === undefined || typeof text === "string" ? text : new Uint8Array(text);
}
