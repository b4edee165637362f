import type { Command } from "commander";
import { parseSince } from "../../config/duration.js";
import { collectStats, formatStats, type StoredStats } from "../../runtime/stored-stats.js";
import { SqliteStore } from "../../store/sqlite-store.js";
import { existingDatabasePath, withDatabaseLocation } from "../database-location.js";

interface StatsOptions {
  config?: string;
  db?: string;
  since?: string;
  json?: boolean;
}

/** Registers `toolwatch stats`: the metrics of stored traffic, per server and tool, and per session. */
export function registerStatsCommand(program: Command): void {
  withDatabaseLocation(
    program
      .command("stats")
      .description(
        "Metrics of the stored traffic: calls, rates, errors and latency per server and tool; sessions, DLP blocks, policy denials and cross-tool flow.",
      ),
  )
    .option(
      "--since <when>",
      "only events at or after this: a duration back from now (30m, 1h, 7d) or an RFC 3339 time",
    )
    .option("--json", "the figures as one JSON object instead of tables")
    .action(async (options: StatsOptions) => {
      const path = existingDatabasePath(options);
      const since_ms = options.since === undefined ? undefined : parseSince(options.since, Date.now());
      const store = new SqliteStore(path, { readonly: true });
      let stats: StoredStats;
      try {
        stats = await collectStats((query) => store.exchangesSync(query), since_ms === undefined ? {} : { since_ms });
      } finally {
        store.close();
      }
      process.stdout.write(options.json ? `${JSON.stringify(stats, null, 2)}\n` : formatStats(stats));
    });
}
