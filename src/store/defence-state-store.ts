import { randomUUID } from "node:crypto";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import type { PinStore, QuarantinedContent, QuarantineQuery, QuarantineStore, ToolPin } from "../core/defence-state.js";
import { ToolwatchError } from "../core/errors.js";
import type { ToolDefinition } from "../core/exchange.js";
import { DEFAULT_BUSY_TIMEOUT_MS, PAGE_SIZE } from "./sqlite-store.js";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS tool_pins (
  server TEXT NOT NULL,
  tool TEXT NOT NULL,
  hash TEXT NOT NULL,
  definition TEXT NOT NULL,
  pinned_at TEXT NOT NULL,
  changed_hash TEXT,
  changed_definition TEXT,
  changed_at TEXT,
  PRIMARY KEY (server, tool)
);
CREATE TABLE IF NOT EXISTS quarantine (
  id TEXT PRIMARY KEY,
  time TEXT NOT NULL,
  session TEXT NOT NULL,
  server TEXT NOT NULL,
  tool TEXT,
  request_id TEXT,
  reason TEXT NOT NULL,
  content TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS quarantine_session ON quarantine (session, time);
`;

interface PinRow {
  server: string;
  tool: string;
  hash: string;
  definition: string;
  pinned_at: string;
  changed_hash: string | null;
  changed_definition: string | null;
  changed_at: string | null;
}

interface QuarantineRow {
  id: string;
  time: string;
  session: string;
  server: string;
  tool: string | null;
  request_id: string | null;
  reason: string;
  content: string;
}

/**
 * Tool pins and quarantined content, in the same SQLite file as the events.
 *
 * A connection of its own on the caller's thread, unlike the event store's writer thread: pins are read
 * when a `tools/list` answer passes and must be current at once, and both tables see a handful of writes a
 * day. They sit outside the audit chain: pins are state an operator changes (`tools approve`), not events.
 */
export class SqliteDefenceState implements PinStore, QuarantineStore {
  private readonly database: Database.Database;
  private readonly selectPins: Database.Statement<[], PinRow>;
  private readonly selectServerPins: Database.Statement<[string], PinRow>;
  private readonly upsertPin: Database.Statement<PinRow>;
  private readonly insertQuarantine: Database.Statement<QuarantineRow>;

  constructor(path: string) {
    try {
      if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
      this.database = new Database(path, { timeout: DEFAULT_BUSY_TIMEOUT_MS });
      // The event store may not have created the file yet: choose its page size, which only an empty file takes.
      this.database.pragma(`page_size = ${PAGE_SIZE}`);
      this.database.pragma("journal_mode = WAL");
      this.database.exec(SCHEMA);
    } catch (error) {
      throw new ToolwatchError("store_unavailable", `cannot open ${path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    this.selectPins = this.database.prepare("SELECT * FROM tool_pins ORDER BY server, tool");
    this.selectServerPins = this.database.prepare("SELECT * FROM tool_pins WHERE server = ? ORDER BY tool");
    this.upsertPin = this.database.prepare(
      `INSERT INTO tool_pins (server, tool, hash, definition, pinned_at, changed_hash, changed_definition, changed_at)
       VALUES (@server, @tool, @hash, @definition, @pinned_at, @changed_hash, @changed_definition, @changed_at)
       ON CONFLICT (server, tool) DO UPDATE SET hash = excluded.hash, definition = excluded.definition,
         pinned_at = excluded.pinned_at, changed_hash = excluded.changed_hash,
         changed_definition = excluded.changed_definition, changed_at = excluded.changed_at`,
    );
    this.insertQuarantine = this.database.prepare(
      `INSERT INTO quarantine (id, time, session, server, tool, request_id, reason, content)
       VALUES (@id, @time, @session, @server, @tool, @request_id, @reason, @content)`,
    );
  }

  pins(server?: string): ToolPin[] {
    const rows = server === undefined ? this.selectPins.all() : this.selectServerPins.all(server);
    return rows.map(pinFromRow);
  }

  savePin(pin: ToolPin): void {
    this.upsertPin.run({
      server: pin.server,
      tool: pin.tool,
      hash: pin.hash,
      definition: JSON.stringify(pin.definition),
      pinned_at: pin.pinned_at,
      changed_hash: pin.changed_hash,
      changed_definition: pin.changed_definition === null ? null : JSON.stringify(pin.changed_definition),
      changed_at: pin.changed_at,
    });
  }

  quarantine(content: Omit<QuarantinedContent, "id">): string {
    const id = randomUUID();
    this.insertQuarantine.run({
      ...content,
      id,
      request_id: content.request_id === null ? null : JSON.stringify(content.request_id),
    });
    return id;
  }

  quarantined(query: QuarantineQuery = {}): QuarantinedContent[] {
    const where: string[] = [];
    const values: string[] = [];
    if (query.id !== undefined) {
      where.push("id = ?");
      values.push(query.id);
    }
    if (query.session !== undefined) {
      where.push("session = ?");
      values.push(query.session);
    }
    const limit = Math.max(1, Math.min(query.limit ?? 100, 10_000));
    const sql = `SELECT * FROM quarantine ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY time DESC LIMIT ${limit}`;
    return (this.database.prepare(sql).all(...values) as QuarantineRow[]).map((row) => ({
      ...row,
      request_id: row.request_id === null ? null : (JSON.parse(row.request_id) as string | number),
    }));
  }

  close(): void {
    this.database.close();
  }
}

function pinFromRow(row: PinRow): ToolPin {
  return {
    server: row.server,
    tool: row.tool,
    hash: row.hash,
    definition: JSON.parse(row.definition) as ToolDefinition,
    pinned_at: row.pinned_at,
    changed_hash: row.changed_hash,
    changed_definition: row.changed_definition === null ? null : (JSON.parse(row.changed_definition) as ToolDefinition),
    changed_at: row.changed_at,
  };
}
