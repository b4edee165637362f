import { existsSync } from "node:fs";
import type { Command } from "commander";
import { loadConfig } from "../config/config.js";
import { resolveDatabasePath } from "../config/paths.js";
import { ToolwatchError } from "../core/errors.js";

/** Where a command finds the database: its `--db` and `--config` options. */
export interface DatabaseLocation {
  db?: string;
  config?: string;
}

/** Adds `--config` and `--db` to a command that reads the database, described as {@link databasePath} resolves them. */
export function withDatabaseLocation(command: Command): Command {
  return command
    .option("--config <file>", "configuration file (YAML), for its database")
    .option("--db <file>", "database file (default: TOOLWATCH_DB, the config's database, or the user data folder)");
}

/** The database a command uses: `--db`, then `TOOLWATCH_DB`, then the config's `database`, then the default. */
export function databasePath(location: DatabaseLocation): string {
  return resolveDatabasePath(location.db, loadConfig(location.config).database);
}

/**
 * The same, for a command that only reads: a usage error when there is no file yet, instead of an empty
 * database created as a side effect of looking.
 */
export function existingDatabasePath(location: DatabaseLocation): string {
  const path = databasePath(location);
  if (path !== ":memory:" && !existsSync(path)) {
    throw new ToolwatchError("usage", `no database at ${path} (record some traffic, or give --db)`);
  }
  return path;
}
