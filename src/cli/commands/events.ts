import type { Command } from "commander";
import { parseSince } from "../../config/duration.js";
import { ToolwatchError } from "../../core/errors.js";
import type { CapturedExchange } from "../../core/exchange.js";
import type { ExchangeQuery } from "../../core/store.js";
import { type Column, formatRow } from "../../runtime/text-table.js";
import { SqliteStore } from "../../store/sqlite-store.js";
import { existingDatabasePath, withDatabaseLocation } from "../database-location.js";

interface EventsOptions {
  config?: string;
  db?: string;
  session?: string;
  tool?: string;
  since?: string;
  limit?: number;
  json?: boolean;
}

/** Rows read from the store at a time: an export of millions of records never sits in memory at once. */
const PAGE_SIZE = 1000;

/** Registers `toolwatch events`: the stored exchanges, as a table or as capture records. */
export function registerEventsCommand(program: Command): void {
  withDatabaseLocation(
    program
      .command("events")
      .description(
        "List stored exchanges, oldest first: a table, or with --json capture records that `toolwatch replay` reads.",
      ),
  )
    .option("--session <id>", "only this session")
    .option("--tool <name>", "only calls of this tool")
    .option(
      "--since <when>",
      "only events at or after this: a duration back from now (30m, 1h, 7d) or an RFC 3339 time",
    )
    .option("--limit <n>", "at most this many events (the oldest that match)", parseLimit)
    .option("--json", "one JSON capture record per line (replayable) instead of a table")
    .action(async (options: EventsOptions) => {
      await listEvents(options);
    });
}

async function listEvents(options: EventsOptions): Promise<void> {
  const path = existingDatabasePath(options);
  const query: ExchangeQuery = {};
  if (options.session !== undefined) query.session = options.session;
  if (options.tool !== undefined) query.tool = options.tool;
  if (options.since !== undefined) query.since_ms = parseSince(options.since, Date.now());
  const output = new LineOutput();
  if (!options.json) output.write(tableRow(TABLE_HEADER));
  const store = new SqliteStore(path, { readonly: true });
  try {
    let remaining = options.limit ?? Number.POSITIVE_INFINITY;
    let afterSeq: number | undefined;
    while (remaining > 0 && !output.closed) {
      const page = store.exchangesSync({
        ...query,
        ...(afterSeq === undefined ? {} : { after_seq: afterSeq }),
        limit: Math.min(PAGE_SIZE, remaining),
      });
      for (const stored of page) {
        output.write(options.json ? JSON.stringify(stored.exchange) : tableRow(tableCells(stored.exchange)));
      }
      if (page.length === 0) break;
      remaining -= page.length;
      afterSeq = page[page.length - 1]!.seq;
      // Let stdout drain between pages, so a large export does not pile up in memory.
      await output.drain();
    }
  } finally {
    store.close();
  }
  await output.drain();
}

function parseLimit(value: string): number {
  const limit = Number(value);
  if (!Number.isInteger(limit) || limit < 1) {
    throw new ToolwatchError("usage", `--limit expects a positive whole number, got ${JSON.stringify(value)}`);
  }
  return limit;
}

const COLUMNS: readonly Column[] = [
  { title: "TIME", width: 24 },
  { title: "SESSION", width: 14 },
  { title: "SERVER", width: 14 },
  { title: "METHOD", width: 16 },
  { title: "TOOL", width: 28 },
  { title: "STATUS", width: 12 },
  { title: "DURATION", width: 10, alignRight: true },
];

const TABLE_HEADER = COLUMNS.map((column) => column.title);

/** The table cells of one exchange: time, session prefix, server, method, tool, status, duration. */
export function tableCells(exchange: CapturedExchange): string[] {
  const target = exchange.tool ?? exchange.prompt ?? exchange.uri ?? "";
  const status = exchange.error === null ? "ok" : exchange.error.type;
  const duration = exchange.duration_ms === null ? "-" : `${formatDuration(exchange.duration_ms)} ms`;
  return [exchange.time, exchange.session, exchange.server, exchange.method ?? "-", target, status, duration];
}

function tableRow(cells: readonly string[]): string {
  return formatRow(COLUMNS, cells);
}

function formatDuration(ms: number): string {
  return ms >= 100 ? Math.round(ms).toString() : (Math.round(ms * 10) / 10).toString();
}

/** Lines to stdout, buffered; a reader that goes away (`| head`) ends the output quietly. */
class LineOutput {
  closed = false;
  private pending: string[] = [];

  constructor() {
    process.stdout.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EPIPE") this.closed = true;
    });
  }

  write(line: string): void {
    this.pending.push(line);
  }

  async drain(): Promise<void> {
    if (this.pending.length === 0 || this.closed) return;
    const text = `${this.pending.join("\n")}\n`;
    this.pending = [];
    await new Promise<void>((resolve) => {
      process.stdout.write(text, () => resolve());
    });
  }
}
