import { closeSync, fsyncSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
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
import {
  ChainVerifier,
  chainHash,
  DEFAULT_HASH_ALGORITHM,
  GENESIS_HASH,
  type HashAlgorithm,
  isHashAlgorithm,
} from "./audit-chain.js";
import { DropBurstLog, describeError, type StoreLog, stderrLog } from "./drop-log.js";
import {
  type PendingRecord,
  pendingAction,
  pendingAlert,
  pendingExchange,
  pendingFinding,
  type RecordText,
} from "./stored-record.js";

/** Names of the drop counters kept in the `counters` table, so later commands can show what was lost. */
export const DROP_COUNTERS = ["dropped_queue_full", "dropped_write_failed"] as const;
/** One of {@link DROP_COUNTERS}. */
export type DropCounterName = (typeof DROP_COUNTERS)[number];
/** Amounts to add to the persisted drop counters. */
export type DropCounts = Partial<Record<DropCounterName, number>>;

/** Page size of new databases. */
export const PAGE_SIZE = 16_384;

/** How long a writer waits for another process's write transaction before giving up. */
export const DEFAULT_BUSY_TIMEOUT_MS = 10_000;

/** Options of {@link SqliteStore}; every one has a default. */
export interface SqliteStoreOptions {
  /** How long to wait for the write lock held by another connection or process, in ms. */
  busyTimeoutMs?: number;
  /** Records per transaction when appending through the {@link Store} methods. */
  batchSize?: number;
  /**
   * Hash function of the audit chain when this opens a file that does not exist yet ({@link DEFAULT_HASH_ALGORITHM}
   * by default); an existing file keeps the one it was created with.
   */
  hashAlgorithm?: HashAlgorithm;
  /** Deletes records older than this many ms when the store opens; `0` or absent keeps everything. */
  retentionMs?: number;
  /** Opens an existing file without creating, migrating or writing it (audit verification). */
  readonly?: boolean;
  /**
   * The file is filled from sources it can be rebuilt from (`toolwatch replay --db` into a new file): if this
   * opening creates the file, commits are not synced to disk until {@link SqliteStore.close}, which syncs once,
   * and the load writes through a rollback journal kept in memory instead of the WAL, switching back to WAL at
   * close. A crash of the process, a power cut or an OS crash during the load can leave the file unusable, and the
   * load is run again. An existing file is written as always, whatever this says: other processes may be writing
   * records to it that cannot be rebuilt.
   */
  bulkLoad?: boolean;
  /** Caps the database at this many pages; tests use it to get a real `SQLITE_FULL`. */
  maxPageCount?: number;
  /** Where write failures are reported (once per burst). */
  log?: StoreLog;
}

/**
 * Schema migrations, applied in order; `PRAGMA user_version` is the number applied.
 * Indexes are kept to time and session because every index slows the insert path replay depends on.
 * Version 2 records the chain's hash function; files from version 1 were all chained with SHA-256.
 * Version 3 keeps alert state changes in the same chain; older files simply have none before it.
 * Version 4 keeps operator actions (silences, approvals) in it too, likewise.
 */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE exchanges (
    seq INTEGER PRIMARY KEY,
    time_ms INTEGER NOT NULL,
    session TEXT NOT NULL,
    server TEXT NOT NULL,
    tool TEXT,
    method TEXT,
    record TEXT NOT NULL,
    hash TEXT NOT NULL
  );
  CREATE INDEX exchanges_time ON exchanges (time_ms);
  CREATE INDEX exchanges_session ON exchanges (session);
  CREATE TABLE findings (
    seq INTEGER PRIMARY KEY,
    time_ms INTEGER NOT NULL,
    session TEXT NOT NULL,
    server TEXT NOT NULL,
    tool TEXT,
    detector TEXT NOT NULL,
    category TEXT NOT NULL,
    severity TEXT NOT NULL,
    record TEXT NOT NULL,
    hash TEXT NOT NULL
  );
  CREATE INDEX findings_time ON findings (time_ms);
  CREATE INDEX findings_session ON findings (session);
  CREATE TABLE chain (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    head_seq INTEGER NOT NULL,
    head_hash TEXT NOT NULL,
    anchor_seq INTEGER NOT NULL,
    anchor_hash TEXT NOT NULL,
    anchor_time_ms INTEGER
  );
  INSERT INTO chain (id, head_seq, head_hash, anchor_seq, anchor_hash) VALUES (1, 0, '${GENESIS_HASH}', 0, '${GENESIS_HASH}');
  CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  `
  ALTER TABLE chain ADD COLUMN hash_algorithm TEXT NOT NULL DEFAULT 'sha256';
  `,
  `
  CREATE TABLE alerts (
    seq INTEGER PRIMARY KEY,
    time_ms INTEGER NOT NULL,
    rule TEXT NOT NULL,
    group_key TEXT NOT NULL,
    state TEXT NOT NULL,
    severity TEXT NOT NULL,
    record TEXT NOT NULL,
    hash TEXT NOT NULL
  );
  CREATE INDEX alerts_time ON alerts (time_ms);
  `,
  `
  CREATE TABLE actions (
    seq INTEGER PRIMARY KEY,
    time_ms INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    record TEXT NOT NULL,
    hash TEXT NOT NULL
  );
  CREATE INDEX actions_time ON actions (time_ms);
  `,
];

/** The tables whose rows make up the audit chain, with the schema version that added each. */
const CHAINED_TABLES = [
  ["exchanges", 1],
  ["findings", 1],
  ["alerts", 3],
  ["actions", 4],
] as const;

/** A table of {@link CHAINED_TABLES}. */
type ChainedTable = (typeof CHAINED_TABLES)[number][0];

/** The schema version this build reads and writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** The oldest schema version read without migrating (read-only opens, such as `toolwatch audit verify`). */
const OLDEST_READABLE_VERSION = 1;

interface ChainRow {
  head_seq: number;
  head_hash: string;
  anchor_seq: number;
  anchor_hash: string;
}

interface RecordRow {
  seq: number;
  record: string;
  hash: string;
}

/**
 * The SQLite store, synchronous: replay uses it in-thread and the store worker wraps it for the live proxy.
 *
 * Every write is one `BEGIN IMMEDIATE` transaction that takes the write lock, reads the chain head, chains and
 * inserts the batch and moves the head; so any number of connections and processes sharing the file extend one
 * chain with contiguous `seq` values.
 *
 * Through the {@link Store} methods appends are buffered and committed every `batchSize` records; a failed
 * commit drops and counts its batch instead of throwing.
 */
export class SqliteStore implements Store {
  readonly path: string;
  /** The audit chain's hash function, as recorded in the file. */
  readonly hashAlgorithm: HashAlgorithm;
  /**
   * The chained tables the file has: all of them, but for an older file opened read-only, which is never
   * migrated and reads as having no alerts or actions.
   */
  private readonly tables: ReadonlySet<ChainedTable>;
  private readonly database: Database.Database;
  private readonly batchSize: number;
  private readonly writeTransaction: (records: readonly PendingRecord[], drops: DropCounts) => void;
  private readonly countersTransaction: (drops: DropCounts) => void;
  private readonly statements = new Map<string, Database.Statement>();
  private readonly failures: DropBurstLog;
  private pending: PendingRecord[] = [];
  /** Drops not yet in the `counters` table because the write that would carry them failed. */
  private unpersistedDrops = 0;
  private accepted = 0;
  private written = 0;
  private dropped = 0;
  private closed = false;
  /** Commits since the open were not synced ({@link SqliteStoreOptions.bulkLoad}); `close` syncs them. */
  private unsynced = false;

  /** Whether commits are synced to disk as they are made: false only during a bulk load (`bulkLoad`). */
  get syncsCommits(): boolean {
    return !this.unsynced;
  }

  constructor(path: string, options: SqliteStoreOptions = {}) {
    const {
      busyTimeoutMs = DEFAULT_BUSY_TIMEOUT_MS,
      batchSize = 1000,
      hashAlgorithm = DEFAULT_HASH_ALGORITHM,
      retentionMs = 0,
      readonly = false,
      bulkLoad = false,
      maxPageCount,
      log = stderrLog,
    } = options;
    this.path = path;
    this.batchSize = Math.max(1, batchSize);
    this.failures = new DropBurstLog(log, `store write to ${path} failed`);
    try {
      if (!readonly && path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
      this.database = new Database(path, { readonly, fileMustExist: readonly, timeout: busyTimeoutMs });
    } catch (error) {
      throw new ToolwatchError("store_unavailable", `cannot open ${path}: ${describeError(error)}`, { cause: error });
    }
    try {
      if (readonly) {
        checkSchema(this.database, path);
      } else {
        // Takes effect only while the file is still empty. 16 KiB pages hold several ~3 KB records each, which
        // cut insert CPU by about a third against the 4 KiB default (fewer WAL frames, syscalls and checksums).
        this.database.pragma(`page_size = ${PAGE_SIZE}`);
        this.database.pragma("journal_mode = WAL");
        this.database.pragma("synchronous = NORMAL");
        const created = migrate(this.database, path, hashAlgorithm) === 0;
        if (bulkLoad && created && path !== ":memory:") {
          // Syncing is most of the system time of an insert (measured: 7.5 µs per 3 KB record with it, 5.6
          // without), and a WAL writes every page twice, once to the log and once when checkpointing it; a
          // rollback journal kept in memory writes each page once (4.4 to 5 µs against 6.3 to 7.4 per 3 KB
          // record, side by side). Switching out of WAL needs the file to itself: if another process already has
          // it open, the load stays in WAL and is only unsynced. Another process that opens it later switches it
          // back to WAL, as every opening does, and this connection follows.
          this.database.pragma("synchronous = OFF");
          this.database.pragma("journal_mode = MEMORY");
          this.unsynced = true;
        }
      }
      this.hashAlgorithm = chainAlgorithm(this.database, path);
      const version = schemaVersion(this.database);
      this.tables = new Set(CHAINED_TABLES.filter(([, since]) => version >= since).map(([table]) => table));
      if (maxPageCount !== undefined) this.database.pragma(`max_page_count = ${Math.floor(maxPageCount)}`);
    } catch (error) {
      this.database.close();
      if (error instanceof ToolwatchError) throw error;
      throw new ToolwatchError("store_unavailable", `cannot use ${path}: ${describeError(error)}`, { cause: error });
    }

    const readHead = this.database.prepare("SELECT head_seq, head_hash FROM chain WHERE id = 1");
    const updateHead = this.database.prepare("UPDATE chain SET head_seq = ?, head_hash = ? WHERE id = 1");
    // A record given as UTF-8 bytes binds as a blob; the cast stores it as TEXT, byte for byte, so it reads back
    // as a string and SQLite's JSON functions keep working. Strings go through the cast unchanged.
    const insertExchange = this.database.prepare(
      "INSERT INTO exchanges (seq, time_ms, session, server, tool, method, record, hash) VALUES (?, ?, ?, ?, ?, ?, CAST(? AS TEXT), ?)",
    );
    const insertFinding = this.database.prepare(
      "INSERT INTO findings (seq, time_ms, session, server, tool, detector, category, severity, record, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS TEXT), ?)",
    );
    // An older file opened read-only has no alerts or actions table to prepare against; it is never written either.
    const insertAlert = this.tables.has("alerts")
      ? this.database.prepare(
          "INSERT INTO alerts (seq, time_ms, rule, group_key, state, severity, record, hash) VALUES (?, ?, ?, ?, ?, ?, CAST(? AS TEXT), ?)",
        )
      : null;
    const insertAction = this.tables.has("actions")
      ? this.database.prepare(
          "INSERT INTO actions (seq, time_ms, actor, action, target, record, hash) VALUES (?, ?, ?, ?, ?, CAST(? AS TEXT), ?)",
        )
      : null;
    const addCounter = this.database.prepare(
      "INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
    );
    const persistDrops = (drops: DropCounts): void => {
      for (const name of DROP_COUNTERS) {
        const value = drops[name];
        if (value) addCounter.run(name, value);
      }
    };
    const algorithm = this.hashAlgorithm;
    this.writeTransaction = this.database.transaction((records: readonly PendingRecord[], drops: DropCounts) => {
      const head = readHead.get() as { head_seq: number; head_hash: string } | undefined;
      if (!head) throw new ToolwatchError("store_unavailable", `${path}: the chain table has lost its row`);
      let seq = head.head_seq;
      let hash = head.head_hash;
      for (const record of records) {
        seq++;
        hash = chainHash(hash, record.text, algorithm);
        if (record.kind === "exchange") {
          insertExchange.run(
            seq,
            record.time_ms,
            record.session,
            record.server,
            record.tool,
            record.method,
            record.text,
            hash,
          );
        } else if (record.kind === "finding") {
          insertFinding.run(
            seq,
            record.time_ms,
            record.session,
            record.server,
            record.tool,
            record.detector,
            record.category,
            record.severity,
            record.text,
            hash,
          );
        } else if (record.kind === "alert") {
          if (insertAlert === null) throw new ToolwatchError("store_unavailable", `${path}: opened read-only`);
          insertAlert.run(
            seq,
            record.time_ms,
            record.rule,
            record.group_key,
            record.state,
            record.severity,
            record.text,
            hash,
          );
        } else {
          if (insertAction === null) throw new ToolwatchError("store_unavailable", `${path}: opened read-only`);
          insertAction.run(seq, record.time_ms, record.actor, record.action, record.target, record.text, hash);
        }
      }
      if (records.length > 0) updateHead.run(seq, hash);
      persistDrops(drops);
    }).immediate;
    this.countersTransaction = this.database.transaction(persistDrops).immediate;

    if (!readonly && retentionMs > 0) {
      // A failed clean-up must not stop the store from recording; the next periodic run tries again.
      try {
        this.applyRetentionSync(Date.now() - retentionMs);
      } catch (error) {
        log(`retention at open failed: ${describeError(error)}`);
      }
    }
  }

  /**
   * Commits records as one transaction, chaining them after whatever any process wrote last, and adds
   * `drops` to the persisted drop counters in the same transaction. Throws on failure (nothing is written then).
   */
  writeBatch(records: readonly PendingRecord[], drops: DropCounts = {}): void {
    this.writeTransaction(records, drops);
  }

  /** Adds to the persisted drop counters on their own; throws on failure. */
  persistDrops(drops: DropCounts): void {
    this.countersTransaction(drops);
  }

  /** The drop counters persisted by every writer of this file, by name. */
  persistedCounters(): Record<DropCounterName, number> {
    this.assertOpen();
    const rows = this.statement("SELECT name, value FROM counters").all() as { name: string; value: number }[];
    const result: Record<DropCounterName, number> = { dropped_queue_full: 0, dropped_write_failed: 0 };
    for (const row of rows) {
      if ((DROP_COUNTERS as readonly string[]).includes(row.name)) result[row.name as DropCounterName] = row.value;
    }
    return result;
  }

  /**
   * Buffers an exchange; the buffer is committed every `batchSize` records.
   * @param text the exchange's JSON when the caller already has it, to save serialising it again.
   */
  appendExchange(exchange: CapturedExchange, text?: RecordText): void {
    this.enqueue(pendingExchange(exchange, text));
  }

  /** Buffers a finding; `text`, when given, is its JSON. */
  appendFinding(finding: Finding, text?: RecordText): void {
    this.enqueue(pendingFinding(finding, text));
  }

  /** Buffers an alert state change; `text`, when given, is its JSON. */
  appendAlert(event: AlertEvent, text?: RecordText): void {
    this.enqueue(pendingAlert(event, text));
  }

  /**
   * Buffers an operator action. Actions are rare and an operator waits on them, so a caller that answers the operator
   * (the admin API) flushes right after; the CLI commits each one at once through `writeBatch` instead.
   */
  appendAction(action: OperatorAction): void {
    this.enqueue(pendingAction(action));
  }

  counters(): StoreCounters {
    return { accepted: this.accepted, written: this.written, dropped: this.dropped };
  }

  /** Commits whatever is buffered. A failure drops and counts the buffer and is logged once per burst. */
  flush(): void {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    const carriedDrops = this.unpersistedDrops;
    try {
      this.writeBatch(batch, { dropped_write_failed: carriedDrops });
      this.written += batch.length;
      this.unpersistedDrops -= carriedDrops;
      this.failures.succeeded();
    } catch (error) {
      this.dropped += batch.length;
      this.unpersistedDrops += batch.length;
      this.failures.failed(batch.length, describeError(error));
      this.tryPersistDrops();
    }
  }

  exchangesSync(query: ExchangeQuery = {}): StoredExchange[] {
    this.assertOpen();
    this.flush();
    const conditions: string[] = [];
    const parameters: (string | number)[] = [];
    if (query.session !== undefined) condition(conditions, parameters, "session = ?", query.session);
    if (query.server !== undefined) condition(conditions, parameters, "server = ?", query.server);
    if (query.tool !== undefined) condition(conditions, parameters, "tool = ?", query.tool);
    if (query.since_ms !== undefined) condition(conditions, parameters, "time_ms >= ?", query.since_ms);
    if (query.until_ms !== undefined) condition(conditions, parameters, "time_ms < ?", query.until_ms);
    if (query.after_seq !== undefined) condition(conditions, parameters, "seq > ?", query.after_seq);
    const rows = this.select("exchanges", conditions, parameters, query.limit);
    return rows.map((row) => ({ seq: row.seq, exchange: JSON.parse(row.record) as CapturedExchange, hash: row.hash }));
  }

  findingsSync(query: FindingQuery = {}): Finding[] {
    this.assertOpen();
    this.flush();
    const conditions: string[] = [];
    const parameters: (string | number)[] = [];
    if (query.session !== undefined) condition(conditions, parameters, "session = ?", query.session);
    if (query.since_ms !== undefined) condition(conditions, parameters, "time_ms >= ?", query.since_ms);
    if (query.until_ms !== undefined) condition(conditions, parameters, "time_ms < ?", query.until_ms);
    const rows = this.select("findings", conditions, parameters, query.limit);
    return rows.map((row) => JSON.parse(row.record) as Finding);
  }

  alertsSync(query: AlertQuery = {}): AlertEvent[] {
    this.assertOpen();
    this.flush();
    if (!this.tables.has("alerts")) return [];
    const conditions: string[] = [];
    const parameters: (string | number)[] = [];
    if (query.rule !== undefined) condition(conditions, parameters, "rule = ?", query.rule);
    if (query.state !== undefined) condition(conditions, parameters, "state = ?", query.state);
    if (query.since_ms !== undefined) condition(conditions, parameters, "time_ms >= ?", query.since_ms);
    if (query.until_ms !== undefined) condition(conditions, parameters, "time_ms < ?", query.until_ms);
    const rows = this.select("alerts", conditions, parameters, query.limit);
    return rows.map((row) => JSON.parse(row.record) as AlertEvent);
  }

  actionsSync(query: ActionQuery = {}): OperatorAction[] {
    this.assertOpen();
    this.flush();
    if (!this.tables.has("actions")) return [];
    const conditions: string[] = [];
    const parameters: (string | number)[] = [];
    if (query.action !== undefined) condition(conditions, parameters, "action = ?", query.action);
    if (query.actor !== undefined) condition(conditions, parameters, "actor = ?", query.actor);
    if (query.since_ms !== undefined) condition(conditions, parameters, "time_ms >= ?", query.since_ms);
    if (query.until_ms !== undefined) condition(conditions, parameters, "time_ms < ?", query.until_ms);
    const rows = this.select("actions", conditions, parameters, query.limit);
    return rows.map((row) => JSON.parse(row.record) as OperatorAction);
  }

  /**
   * Walks the chain over every chained table (exchanges, findings, alerts, actions) in `seq` order inside one read transaction, so writers in other
   * processes can go on while it runs and it sees one consistent snapshot. Rows are streamed, never all loaded.
   */
  verifyAuditSync(): AuditVerification {
    this.assertOpen();
    this.flush();
    const walk = this.database.transaction((): AuditVerification => {
      const chain = this.statement(
        "SELECT head_seq, head_hash, anchor_seq, anchor_hash FROM chain WHERE id = 1",
      ).get() as ChainRow | undefined;
      if (!chain) return { ok: false, records: 0, broken_seq: 0, reason: "chain state missing (its row was deleted)" };
      const verifier = new ChainVerifier({ seq: chain.anchor_seq, hash: chain.anchor_hash }, this.hashAlgorithm);
      const union = [...this.tables].map((table) => `SELECT seq, record, hash FROM ${table}`).join(" UNION ALL ");
      const rows = this.statement(`${union} ORDER BY seq`).iterate() as IterableIterator<RecordRow>;
      for (const row of rows) {
        const verdict = verifier.add(row);
        if (verdict) return verdict;
      }
      return verifier.finish({ seq: chain.head_seq, hash: chain.head_hash });
    });
    return walk.deferred();
  }

  /**
   * Deletes the oldest records, in one transaction, and anchors the chain at the last one deleted.
   *
   * Only a prefix of the chain can go (a hole in the middle would be indistinguishable from tampering), so this
   * deletes every record before the first one, in `seq` order, whose event time is at or after `before_ms`.
   * A record that arrived late with an old time is kept until the records before it age out.
   */
  applyRetentionSync(before_ms: number): number {
    this.assertOpen();
    this.flush();
    const retain = this.database.transaction((): number => {
      const chain = this.statement("SELECT head_seq, anchor_seq FROM chain WHERE id = 1").get() as
        | Pick<ChainRow, "head_seq" | "anchor_seq">
        | undefined;
      if (!chain) return 0;
      const tables = [...this.tables];
      const firstKept = tables
        .map((table) => this.statement(`SELECT min(seq) FROM ${table} WHERE time_ms >= ?`).pluck().get(before_ms))
        .filter((seq): seq is number => typeof seq === "number");
      const cut = firstKept.length > 0 ? Math.min(...firstKept) - 1 : chain.head_seq;
      if (cut <= chain.anchor_seq) return 0;
      // Anchor at the last record that exists: if `cut` itself was deleted behind toolwatch's back the gap
      // stays visible to the verifier instead of being papered over.
      const last = this.statement(
        `${tables.map((table) => `SELECT seq, hash FROM ${table} WHERE seq <= ?`).join(" UNION ALL ")} ORDER BY seq DESC LIMIT 1`,
      ).get(...tables.map(() => cut)) as { seq: number; hash: string } | undefined;
      if (!last) return 0;
      let removed = 0;
      for (const table of tables) removed += this.statement(`DELETE FROM ${table} WHERE seq <= ?`).run(cut).changes;
      this.statement("UPDATE chain SET anchor_seq = ?, anchor_hash = ?, anchor_time_ms = ? WHERE id = 1").run(
        last.seq,
        last.hash,
        Date.now(),
      );
      return removed;
    });
    return retain.immediate();
  }

  async exchanges(query?: ExchangeQuery): Promise<StoredExchange[]> {
    return this.exchangesSync(query);
  }

  async findings(query?: FindingQuery): Promise<Finding[]> {
    return this.findingsSync(query);
  }

  async alerts(query?: AlertQuery): Promise<AlertEvent[]> {
    return this.alertsSync(query);
  }

  async actions(query?: ActionQuery): Promise<OperatorAction[]> {
    return this.actionsSync(query);
  }

  async verifyAudit(): Promise<AuditVerification> {
    return this.verifyAuditSync();
  }

  async applyRetention(before_ms: number): Promise<number> {
    return this.applyRetentionSync(before_ms);
  }

  async forceFlush(): Promise<void> {
    this.flush();
  }

  /** Commits the buffer and closes the connection. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    try {
      // Back to WAL, as every other opening leaves the file (a no-op when another process already switched it,
      // and a switch that another process's open connection prevents is left to the next opening), and the
      // log emptied into the file.
      if (this.unsynced) {
        this.database.pragma("synchronous = NORMAL");
        try {
          this.database.pragma("journal_mode = WAL");
        } catch {
          // Another process held the file past the busy timeout: the next opening switches it instead.
        }
        this.database.pragma("wal_checkpoint(TRUNCATE)");
      }
    } finally {
      this.database.close();
    }
    // The load wrote without syncing: one sync of the closed file makes it as durable as any other write.
    if (this.unsynced) syncFile(this.path);
  }

  async shutdown(): Promise<void> {
    this.close();
  }

  private enqueue(record: PendingRecord): void {
    this.accepted++;
    if (this.closed) {
      this.dropped++;
      return;
    }
    this.pending.push(record);
    if (this.pending.length >= this.batchSize) this.flush();
  }

  private assertOpen(): void {
    if (this.closed) throw new ToolwatchError("store_unavailable", `${this.path}: the store is closed`);
  }

  private tryPersistDrops(): void {
    // Updating existing counter rows needs no new pages, so this often succeeds on a full disk.
    try {
      this.persistDrops({ dropped_write_failed: this.unpersistedDrops });
      this.unpersistedDrops = 0;
    } catch {
      // Kept in unpersistedDrops and carried by the next batch that commits.
    }
  }

  private select(
    table: ChainedTable,
    conditions: string[],
    parameters: (string | number)[],
    limit: number | undefined,
  ): RecordRow[] {
    const where = conditions.length > 0 ? ` WHERE ${conditions.join(" AND ")}` : "";
    const limited = limit !== undefined;
    if (limited) parameters.push(Math.max(0, Math.floor(limit)));
    const sql = `SELECT seq, record, hash FROM ${table}${where} ORDER BY seq${limited ? " LIMIT ?" : ""}`;
    return this.statement(sql).all(...parameters) as RecordRow[];
  }

  /** Prepares each distinct statement once; query shapes are few, so the cache stays small. */
  private statement(sql: string): Database.Statement {
    let prepared = this.statements.get(sql);
    if (!prepared) {
      prepared = this.database.prepare(sql);
      this.statements.set(sql, prepared);
    }
    return prepared;
  }
}

/** Flushes a file's data to disk. */
function syncFile(path: string): void {
  const descriptor = openSync(path, "r+");
  try {
    fsyncSync(descriptor);
  } finally {
    closeSync(descriptor);
  }
}

function condition(conditions: string[], parameters: (string | number)[], sql: string, value: string | number): void {
  conditions.push(sql);
  parameters.push(value);
}

/**
 * Brings the schema to {@link SCHEMA_VERSION} and returns the version the file had (0: this call created the schema).
 * @param newFileAlgorithm the chain's hash function if this creates the schema; an existing chain keeps its own.
 */
function migrate(database: Database.Database, path: string, newFileAlgorithm: HashAlgorithm): number {
  const current = schemaVersion(database);
  if (current === SCHEMA_VERSION) return current;
  return database
    .transaction((): number => {
      // Read again under the write lock: another process may have migrated while this one waited.
      const version = schemaVersion(database);
      assertKnownVersion(version, path);
      for (let index = version; index < SCHEMA_VERSION; index++) database.exec(MIGRATIONS[index]!);
      // Only a file created right here can choose: a version 1 file may hold SHA-256 records, and a process
      // running an older toolwatch may still be appending SHA-256 records to it.
      if (version === 0) database.prepare("UPDATE chain SET hash_algorithm = ? WHERE id = 1").run(newFileAlgorithm);
      database.pragma(`user_version = ${SCHEMA_VERSION}`);
      return version;
    })
    .immediate();
}

function checkSchema(database: Database.Database, path: string): void {
  const version = schemaVersion(database);
  assertKnownVersion(version, path);
  if (version < OLDEST_READABLE_VERSION) {
    throw new ToolwatchError("store_unavailable", `${path} is not a toolwatch database (schema version ${version})`);
  }
}

/** The hash function the file's chain was written with: recorded since schema version 2, SHA-256 before. */
function chainAlgorithm(database: Database.Database, path: string): HashAlgorithm {
  if (schemaVersion(database) < 2) return "sha256";
  const algorithm = database.prepare("SELECT hash_algorithm FROM chain WHERE id = 1").pluck().get();
  // Writers and the verifier report a missing chain row before hashing anything, so this value goes unused.
  if (algorithm === undefined) return DEFAULT_HASH_ALGORITHM;
  if (!isHashAlgorithm(algorithm)) {
    throw new ToolwatchError(
      "store_unavailable",
      `${path}: unknown audit chain hash algorithm ${JSON.stringify(algorithm)} (this toolwatch knows blake3 and sha256)`,
    );
  }
  return algorithm;
}

function assertKnownVersion(version: number, path: string): void {
  if (version > SCHEMA_VERSION) {
    throw new ToolwatchError(
      "store_unavailable",
      `${path} was written by a newer toolwatch (schema version ${version}; this one knows ${SCHEMA_VERSION})`,
    );
  }
}

function schemaVersion(database: Database.Database): number {
  return database.pragma("user_version", { simple: true }) as number;
}
