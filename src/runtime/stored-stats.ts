import type { ExchangeQuery, StoredExchange } from "../core/store.js";
import {
  MetricsObserver,
  type MetricsSnapshot,
  type OperationRow,
  type Quantiles,
} from "../metrics/metrics-observer.js";
import { Pipeline } from "../pipeline/pipeline.js";
import { type Column, fitCell, formatRow } from "./text-table.js";

/** Rows read from the store at a time, so a large database never sits in memory at once. */
const PAGE_SIZE = 1000;

/** The figures `toolwatch stats` shows. */
export interface StoredStats {
  /** Lower bound asked for, ms since the epoch; `null` for everything stored. */
  since_ms: number | null;
  exchanges: number;
  /** Event time of the first and last exchange read. */
  first_ms: number | null;
  last_ms: number | null;
  snapshot: MetricsSnapshot;
}

/**
 * Runs stored exchanges through a pipeline with a {@link MetricsObserver}, exactly as live traffic
 * and replay do (positions and session ends on event time), then ends every session and takes the
 * cumulative snapshot. `read` is a store query (`SqliteStore.exchangesSync`); it is paged by `seq`.
 */
export async function collectStats(
  read: (query: ExchangeQuery) => StoredExchange[] | Promise<StoredExchange[]>,
  query: Pick<ExchangeQuery, "since_ms" | "until_ms" | "server" | "tool"> = {},
): Promise<StoredStats> {
  const observer = new MetricsObserver();
  const pipeline = new Pipeline({ store: null, observers: [observer] });
  let exchanges = 0;
  let first_ms: number | null = null;
  let last_ms: number | null = null;
  let after_seq: number | undefined;
  for (;;) {
    const page = await read({ ...query, ...(after_seq === undefined ? {} : { after_seq }), limit: PAGE_SIZE });
    for (const stored of page) {
      pipeline.process(stored.exchange);
      exchanges++;
      const time = Date.parse(stored.exchange.time);
      if (!Number.isNaN(time)) {
        if (first_ms === null || time < first_ms) first_ms = time;
        if (last_ms === null || time > last_ms) last_ms = time;
      }
    }
    if (page.length < PAGE_SIZE) break;
    after_seq = page[page.length - 1]!.seq;
  }
  await pipeline.finish();
  return {
    since_ms: query.since_ms ?? null,
    exchanges,
    first_ms,
    last_ms,
    snapshot: observer.snapshot(last_ms ?? 0),
  };
}

const OPERATION_COLUMNS: readonly Column[] = [
  { title: "SERVER", width: 16 },
  { title: "TOOL", width: 28 },
  { title: "CALLS", width: 8, alignRight: true },
  { title: "PER MIN", width: 8, alignRight: true },
  { title: "ERR TOOL", width: 8, alignRight: true },
  { title: "ERR SRV", width: 8, alignRight: true },
  { title: "P50 MS", width: 8, alignRight: true },
  { title: "P95 MS", width: 8, alignRight: true },
  { title: "P99 MS", width: 8, alignRight: true },
  { title: "DLP", width: 5, alignRight: true },
  { title: "DENIED", width: 6, alignRight: true },
  { title: "FLOW B", width: 9, alignRight: true },
];

/** The tables of `toolwatch stats`: one row per tool, per other method, per server, then the sessions. */
export function formatStats(stats: StoredStats): string {
  const { snapshot } = stats;
  const lines: string[] = [];
  const range =
    stats.first_ms === null || stats.last_ms === null
      ? "no exchanges"
      : `${new Date(stats.first_ms).toISOString()} to ${new Date(stats.last_ms).toISOString()}`;
  lines.push(`${count(stats.exchanges)} exchanges, ${range}`);
  lines.push("");
  lines.push(row(OPERATION_COLUMNS.map((column) => column.title)));
  for (const operation of snapshot.tools) lines.push(row(operationCells(operation, operation.tool ?? "")));
  for (const operation of snapshot.methods) {
    // Records with no method are refusals and protocol errors.
    lines.push(row(operationCells(operation, `[${operation.method || "refused"}]`)));
  }
  for (const operation of snapshot.servers) lines.push(row(operationCells(operation, "(all tools)")));
  lines.push(row(operationCells(snapshot.total, "(everything)", "*")));
  lines.push("");
  const sessions = snapshot.sessions;
  lines.push("SESSIONS");
  lines.push(`  sessions              ${count(sessions.ended + sessions.open)}`);
  lines.push(`  duration              ${spread(sessions.duration_seconds, seconds)}`);
  lines.push(`  calls per session     ${spread(sessions.calls, count)}`);
  lines.push(`  unique tools          ${spread(sessions.unique_tools, count)}`);
  lines.push(`  DLP blocks            ${count(snapshot.total.dlp_blocks)}`);
  lines.push(`  policy denials        ${count(snapshot.total.policy_denials)}`);
  lines.push(
    `  cross-tool flow       ${count(snapshot.total.flow_bytes)} bytes in all; per session ${spread(sessions.flow_bytes, count)}`,
  );
  if (sessions.baselines.length > 0) {
    lines.push("");
    lines.push("UNIQUE TOOLS PER SESSION BY AGENT TYPE (baseline)");
    for (const baseline of sessions.baselines) {
      lines.push(
        `  ${fitCell(baseline.agent || "(none)", { title: "", width: 20 })}  sessions ${count(baseline.sessions)}  p50 ${baseline.unique_tools_p50}  p95 ${baseline.unique_tools_p95}  max ${baseline.unique_tools_max}`,
      );
    }
  }
  return `${lines.join("\n")}\n`;
}

function operationCells(operation: OperationRow, label: string, server = operation.server): string[] {
  return [
    server,
    label,
    count(operation.requests),
    operation.calls_per_minute.toFixed(operation.calls_per_minute >= 10 ? 0 : 2),
    percent(operation.tool_error_rate),
    percent(operation.server_error_rate),
    milliseconds(operation.latency_p50_seconds),
    milliseconds(operation.latency_p95_seconds),
    milliseconds(operation.latency_p99_seconds),
    count(operation.dlp_blocks),
    count(operation.policy_denials),
    count(operation.flow_bytes),
  ];
}

function spread(quantiles: Quantiles, format: (value: number) => string): string {
  if (quantiles.p50 === null || quantiles.p95 === null) return "-";
  return `p50 ${format(quantiles.p50)}  p95 ${format(quantiles.p95)}  max ${format(quantiles.max ?? quantiles.p95)}`;
}

function count(value: number): string {
  return Math.round(value).toLocaleString("en-US");
}

function percent(rate: number): string {
  return `${(rate * 100).toFixed(1)}%`;
}

function milliseconds(value: number | null): string {
  if (value === null) return "-";
  const ms = value * 1000;
  return ms >= 100 ? Math.round(ms).toString() : ms.toFixed(1);
}

function seconds(value: number): string {
  if (value < 60) return `${value.toFixed(1)}s`;
  const minutes = Math.floor(value / 60);
  return minutes < 60 ? `${minutes}m${Math.floor(value % 60)}s` : `${Math.floor(minutes / 60)}h${minutes % 60}m`;
}

function row(cells: readonly string[]): string {
  return formatRow(OPERATION_COLUMNS, cells);
}
