import type { CapturedExchange } from "./exchange.js";
import type { Finding } from "./finding.js";
import type { AlertEvent, AlertState } from "./notifier.js";
import type { OperatorAction, OperatorActionName } from "./operator-action.js";

/** Counters every store keeps so that nothing is lost silently. */
export interface StoreCounters {
  /** Records (exchanges, findings, alerts, operator actions) handed to the store. */
  accepted: number;
  /** Records committed to disk. */
  written: number;
  /** Records dropped (queue full, disk full, write error). Every drop is counted here. */
  dropped: number;
}

/** A stored exchange with its place in the audit chain. */
export interface StoredExchange {
  /** Position in the store (monotonic across every process sharing the file). */
  seq: number;
  exchange: CapturedExchange;
  /** Lowercase hex hash chaining this record to the previous one (BLAKE3, or SHA-256 in older databases). */
  hash: string;
}

/** Filters for reading exchanges back. All optional; results come in `seq` order. */
export interface ExchangeQuery {
  session?: string;
  server?: string;
  tool?: string;
  /** Inclusive lower bound on event time, ms since epoch. */
  since_ms?: number;
  /** Exclusive upper bound on event time, ms since epoch. */
  until_ms?: number;
  /** Only records after this `seq`. */
  after_seq?: number;
  limit?: number;
}

export interface FindingQuery {
  session?: string;
  since_ms?: number;
  until_ms?: number;
  limit?: number;
}

/** Filters for reading alert state changes back. All optional; results come in `seq` order. */
export interface AlertQuery {
  rule?: string;
  state?: AlertState;
  /** Inclusive lower bound on the change's event time, ms since epoch. */
  since_ms?: number;
  /** Exclusive upper bound on the change's event time, ms since epoch. */
  until_ms?: number;
  limit?: number;
}

/** Filters for reading operator actions back. All optional; results come in `seq` order. */
export interface ActionQuery {
  action?: OperatorActionName;
  actor?: string;
  /** Inclusive lower bound on the action's time, ms since epoch. */
  since_ms?: number;
  /** Exclusive upper bound on the action's time, ms since epoch. */
  until_ms?: number;
  limit?: number;
}

/** Outcome of walking the tamper-evident chain. */
export type AuditVerification =
  | { ok: true; records: number; first_seq: number | null; last_seq: number | null }
  | { ok: false; records: number; broken_seq: number; reason: string };

/**
 * Where exchanges, findings, alert state changes and operator actions are kept, in one audit chain.
 *
 * The write side never blocks and never throws into the caller: `append*` hand records to a bounded
 * queue and a full queue drops and counts. `forceFlush` waits until everything accepted so far is
 * written or counted as dropped; `shutdown` flushes and closes and is idempotent.
 */
export interface Store {
  /**
   * @param text the exchange's JSON when the caller already has it (replay reads it from the file), as a string
   * or as its UTF-8 bytes; it is what gets stored and hashed. Bytes must not change after the call.
   */
  appendExchange(exchange: CapturedExchange, text?: string | Uint8Array): void;
  /** @param text the finding's JSON when the caller already has it, as a string or as its UTF-8 bytes. */
  appendFinding(finding: Finding, text?: string | Uint8Array): void;
  /**
   * Keeps an alert state change with the values that caused it, so it can be shown and audited later.
   * @param text the event's JSON when the caller already has it, as a string or as its UTF-8 bytes.
   */
  appendAlert(event: AlertEvent, text?: string | Uint8Array): void;
  /** Keeps something an operator did (a silence, an approval), so the audit chain shows who changed what. */
  appendAction(action: OperatorAction): void;
  counters(): StoreCounters;
  exchanges(query?: ExchangeQuery): Promise<StoredExchange[]>;
  findings(query?: FindingQuery): Promise<Finding[]>;
  alerts(query?: AlertQuery): Promise<AlertEvent[]>;
  actions(query?: ActionQuery): Promise<OperatorAction[]>;
  verifyAudit(): Promise<AuditVerification>;
  /** Deletes records (exchanges, findings, alerts, actions) older than the cut-off, keeping the audit chain verifiable. Returns how many were removed. */
  applyRetention(before_ms: number): Promise<number>;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}
