import type { CapturedExchange } from "../core/exchange.js";
import type { Finding } from "../core/finding.js";
import type { AlertEvent } from "../core/notifier.js";
import type { OperatorAction } from "../core/operator-action.js";
import type { ActionQuery, AlertQuery, ExchangeQuery, FindingQuery } from "../core/store.js";

/**
 * A record ready to be written: its JSON text (what the chain hashes) plus the columns the store indexes.
 * Plain data so it crosses to the store worker by structured clone without surprises.
 */
export type PendingRecord = PendingExchange | PendingFinding | PendingAlert | PendingAction;

/**
 * A record's JSON as a string, or as its UTF-8 bytes. Replay passes the bytes it read: the chain hashes them and
 * SQLite stores them as they are, where a string would be encoded to UTF-8 once for each.
 */
export type RecordText = string | Uint8Array;

/** An exchange ready to be written. */
export interface PendingExchange {
  kind: "exchange";
  text: RecordText;
  time_ms: number;
  session: string;
  server: string;
  tool: string | null;
  method: string | null;
}

/** A finding ready to be written. */
export interface PendingFinding {
  kind: "finding";
  text: RecordText;
  time_ms: number;
  session: string;
  server: string;
  tool: string | null;
  detector: string;
  category: string;
  severity: string;
}

/** An alert state change ready to be written. */
export interface PendingAlert {
  kind: "alert";
  text: RecordText;
  time_ms: number;
  rule: string;
  group_key: string;
  state: string;
  severity: string;
}

/** An operator action ready to be written. */
export interface PendingAction {
  kind: "action";
  text: RecordText;
  time_ms: number;
  actor: string;
  action: string;
  target: string;
}

/**
 * Event time in ms since the epoch. A time that does not parse falls back to the moment of storing so that
 * retention still ages the record out instead of keeping it forever.
 */
export function eventTimeMs(time: string): number {
  const parsed = Date.parse(time);
  return Number.isNaN(parsed) ? Date.now() : parsed;
}

/** The record's JSON as a string. */
export function recordString(text: RecordText): string {
  return typeof text === "string" ? text : Buffer.from(text.buffer, text.byteOffset, text.byteLength).toString("utf8");
}

/**
 * Prepares an exchange for storage.
 * @param text the exchange's JSON when the caller already has it (replay reads it from the capture file);
 * it must be the JSON of `exchange`, since it is what is stored and hashed. Bytes are kept, not copied.
 */
export function pendingExchange(exchange: CapturedExchange, text?: RecordText): PendingExchange {
  return {
    kind: "exchange",
    text: text ?? JSON.stringify(exchange),
    time_ms: eventTimeMs(exchange.time),
    session: exchange.session,
    server: exchange.server,
    tool: exchange.tool ?? null,
    method: exchange.method,
  };
}

/** Prepares a finding for storage; `text`, when given, must be the JSON of `finding`. */
export function pendingFinding(finding: Finding, text?: RecordText): PendingFinding {
  return {
    kind: "finding",
    text: text ?? JSON.stringify(finding),
    time_ms: eventTimeMs(finding.time),
    session: finding.session,
    server: finding.server,
    tool: finding.tool,
    detector: finding.detector,
    category: finding.category,
    severity: finding.severity,
  };
}

/** Prepares an alert state change for storage; `text`, when given, must be the JSON of `event`. */
export function pendingAlert(event: AlertEvent, text?: RecordText): PendingAlert {
  return {
    kind: "alert",
    text: text ?? JSON.stringify(event),
    time_ms: eventTimeMs(event.time),
    rule: event.rule,
    group_key: event.group_key,
    state: event.state,
    severity: event.severity,
  };
}

/** Prepares an operator action for storage. */
export function pendingAction(action: OperatorAction): PendingAction {
  return {
    kind: "action",
    text: JSON.stringify(action),
    time_ms: eventTimeMs(action.time),
    actor: action.actor,
    action: action.action,
    target: action.target,
  };
}

/** Whether a pending exchange passes the filters of an {@link ExchangeQuery} (`after_seq` and `limit` aside). */
export function exchangeMatches(record: PendingExchange, query: ExchangeQuery): boolean {
  if (query.session !== undefined && record.session !== query.session) return false;
  if (query.server !== undefined && record.server !== query.server) return false;
  if (query.tool !== undefined && record.tool !== query.tool) return false;
  return timeMatches(record.time_ms, query);
}

/** Whether a pending finding passes the filters of a {@link FindingQuery} (`limit` aside). */
export function findingMatches(record: PendingFinding, query: FindingQuery): boolean {
  if (query.session !== undefined && record.session !== query.session) return false;
  return timeMatches(record.time_ms, query);
}

/** Whether a pending alert passes the filters of an {@link AlertQuery} (`limit` aside). */
export function alertMatches(record: PendingAlert, query: AlertQuery): boolean {
  if (query.rule !== undefined && record.rule !== query.rule) return false;
  if (query.state !== undefined && record.state !== query.state) return false;
  return timeMatches(record.time_ms, query);
}

/** Whether a pending operator action passes the filters of an {@link ActionQuery} (`limit` aside). */
export function actionMatches(record: PendingAction, query: ActionQuery): boolean {
  if (query.action !== undefined && record.action !== query.action) return false;
  if (query.actor !== undefined && record.actor !== query.actor) return false;
  return timeMatches(record.time_ms, query);
}

function timeMatches(time_ms: number, query: { since_ms?: number; until_ms?: number }): boolean {
  if (query.since_ms !== undefined && time_ms < query.since_ms) return false;
  if (query.until_ms !== undefined && time_ms >= query.until_ms) return false;
  return true;
}
