import { homedir } from "node:os";
import { join } from "node:path";

/**
 * Where the embedded database lives when nobody says: `--db`, then `TOOLWATCH_DB`, then the config file,
 * then `$XDG_DATA_HOME/toolwatch/toolwatch.db` (`~/.local/share/toolwatch/toolwatch.db`).
 * One file for every proxy an MCP client starts, so their records land in one audit chain.
 */
export function defaultDatabasePath(environment: NodeJS.ProcessEnv = process.env): string {
  const explicit = environment.TOOLWATCH_DB;
  if (explicit) return explicit;
  const dataHome = environment.XDG_DATA_HOME || join(homedir(), ".local", "share");
  return join(dataHome, "toolwatch", "toolwatch.db");
}

export function resolveDatabasePath(flag: string | undefined, configured: string | undefined): string {
  if (flag) return flag;
  if (process.env.TOOLWATCH_DB) return process.env.TOOLWATCH_DB;
  return configured ?? defaultDatabasePath();
}
