import { join } from "node:path";
import type { Command } from "commander";
import { defaultDatabasePath } from "../../config/paths.js";
import { runDemo } from "../../demo/demo.js";

export function registerDemoCommand(program: Command): void {
  program
    .command("demo")
    .description(
      "Run the gateway in front of real MCP servers from npm, drive scripted agent sessions through it, and show what was captured.",
    )
    .option("--db <file>", "database the demo writes (replaced on each run)")
    .action(async (options: { db?: string }) => {
      // Next to the default database, never the default database itself: each run starts clean.
      const databasePath = options.db ?? join(defaultDatabasePath(), "..", "demo.db");
      const result = await runDemo({ databasePath, write: (text) => process.stdout.write(text) });
      if (!result.audit_ok || result.exchanges === 0) process.exitCode = 1;
    });
}
