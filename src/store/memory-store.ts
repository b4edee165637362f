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
import {
  type ChainPoint,
  ChainVerifier,
  chainHash,
  DEFAULT_HASH_ALGORITHM,
  GENESIS,
  type HashAlgorithm,
} from "./audit-chain.js";
import {
  actionMatches,
  alertMatches,
  exchangeMatches,
  findingMatches,
  type PendingRecord,
  pendingAction,
  pendingAlert,
  pendingExchange,
  pendingFinding,
  type RecordText,
  recordString,
} from "./stored-record.js";

/** Options of {@link InMemoryStore}. */
export interface InMemoryStoreOptions {
  /**
   * Most records kept; past it the oldest go, as retention would remove them, so a long `--no-store` run keeps
   * bounded memory.
   */
  capacity?: number;
}

interface MemoryEntry {
  seq: number;
  record: PendingRecord & { text: string };
  hash: string;
}

/**
 * A store held in memory, for tests and `--no-store` runs. It keeps the same audit chain as the SQLite store
 * (records are serialised and hashed on append) so code that verifies a chain behaves the same on both.
 */
export class InMemoryStore implements Store {
  readonly hashAlgorithm: HashAlgorithm = DEFAULT_HASH_ALGORITHM;
  private readonly capacity: number;
  /** Entries in `seq` order; the live ones start at `start`, so evicting the oldest is not a shift per record. */
  private entries: MemoryEntry[] = [];
  private start = 0;
  private head: ChainPoint = GENESIS;
  private anchor: ChainPoint = GENESIS;
  private accepted = 0;
  private dropped = 0;
  private closed = false;

  constructor(options: InMemoryStoreOptions = {}) {
    const { capacity = 100_000 } = options;
    this.capacity = Math.max(1, capacity);
  }

  /** @param text the exchange's JSON when the caller already has it. */
  appendExchange(exchange: CapturedExchange, text?: RecordText): void {
    this.append(pendingExchange(exchange, text));
  }

  /** @param text the finding's JSON when the caller already has it. */
  appendFinding(finding: Finding, text?: RecordText): void {
    this.append(pendingFinding(finding, text));
  }

  /** @param text the alert event's JSON when the caller already has it. */
  appendAlert(event: AlertEvent, text?: RecordText): void {
    this.append(pendingAlert(event, text));
  }

  appendAction(action: OperatorAction): void {
    this.append(pendingAction(action));
  }

  counters(): StoreCounters {
    return { accepted: this.accepted, written: this.accepted - this.dropped, dropped: this.dropped };
  }

  async exchanges(query: ExchangeQuery = {}): Promise<StoredExchange[]> {
    return this.select(
      query.limit,
      (entry) =>
        entry.record.kind === "exchange" &&
        (query.after_seq === undefined || entry.seq > query.after_seq) &&
        exchangeMatches(entry.record, query),
      (entry) => ({ seq: entry.seq, exchange: JSON.parse(entry.record.text) as CapturedExchange, hash: entry.hash }),
    );
  }

  async findings(query: FindingQuery = {}): Promise<Finding[]> {
    return this.select(
      query.limit,
      (entry) => entry.record.kind === "finding" && findingMatches(entry.record, query),
      (entry) => JSON.parse(entry.record.text) as Finding,
    );
  }

  async alerts(query: AlertQuery = {}): Promise<AlertEvent[]> {
    return this.select(
      query.limit,
      (entry) => entry.record.kind === "alert" && alertMatches(entry.record, query),
      (entry) => JSON.parse(entry.record.text) as AlertEvent,
    );
  }

  async actions(query: ActionQuery = {}): Promise<OperatorAction[]> {
    return this.select(
      query.limit,
      (entry) => entry.record.kind === "action" && actionMatches(entry.record, query),
      (entry) => JSON.parse(entry.record.text) as OperatorAction,
    );
  }

  async verifyAudit(): Promise<AuditVerification> {
    const verifier = new ChainVerifier(this.anchor, this.hashAlgorithm);
    for (let index = this.start; index < this.entries.length; index++) {
      const entry = this.entries[index]!;
      const verdict = verifier.add({ seq: entry.seq, record: entry.record.text, hash: entry.hash });
      if (verdict) return verdict;
    }
    return verifier.finish(this.head);
  }

  /** Deletes the longest prefix of the chain older than the cut-off, like the SQLite store does. */
  async applyRetention(before_ms: number): Promise<number> {
    let end = this.start;
    while (end < this.entries.length && this.entries[end]!.record.time_ms < before_ms) end++;
    return this.evictBefore(end);
  }

  async forceFlush(): Promise<void> {}

  async shutdown(): Promise<void> {
    this.closed = true;
  }

  /** The live entries `accepts` takes, in `seq` order, at most `limit` of them, each read into a result. */
  private select<T>(
    limit: number | undefined,
    accepts: (entry: MemoryEntry) => boolean,
    read: (entry: MemoryEntry) => T,
  ): T[] {
    const results: T[] = [];
    const most = limit === undefined ? Number.POSITIVE_INFINITY : Math.max(0, Math.floor(limit));
    for (let index = this.start; index < this.entries.length && results.length < most; index++) {
      const entry = this.entries[index]!;
      if (accepts(entry)) results.push(read(entry));
    }
    return results;
  }

  private append(pending: PendingRecord): void {
    this.accepted++;
    if (this.closed) {
      this.dropped++;
      return;
    }
    // Kept as a string: queries parse it, and bytes may be a view that pins a whole read buffer.
    const record = { ...pending, text: recordString(pending.text) };
    const seq = this.head.seq + 1;
    const hash = chainHash(this.head.hash, record.text, this.hashAlgorithm);
    this.entries.push({ seq, record, hash });
    this.head = { seq, hash };
    if (this.entries.length - this.start > this.capacity) this.evictBefore(this.entries.length - this.capacity);
  }

  private evictBefore(end: number): number {
    const removed = end - this.start;
    if (removed <= 0) return 0;
    const last = this.entries[end - 1]!;
    this.anchor = { seq: last.seq, hash: last.hash };
    this.start = end;
    // Compact once the dead prefix outweighs the live entries, so eviction stays amortised O(1).
    if (this.start > this.entries.length / 2) {
      this.entries = this.entries.slice(this.start);
      this.start = 0;
    }
    return removed;
  }
}
