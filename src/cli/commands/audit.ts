import type { Command } from "commander";
import { loadConfig } from "../../config/config.js";
import { resolveDatabasePath } from "../../config/paths.js";
import { runAuditVerify } from "../../store/index.js";

export function registerAuditCommand(program: Command): void {
  const audit = program.command("audit").description("The tamper-evident audit log.");
  audit
    .command("verify")
    .description("Prove the hash chain of the database; names the first broken record (exit 1).")
    .option(
      "--db <file>",
      "database file (default: TOOLWATCH_DB, the config's database, or ~/.local/share/toolwatch/toolwatch.db)",
    )
    .option("--config <file>", "configuration file")
    .action(async (options: { db?: string; config?: string }) => {
      const config = loadConfig(options.config);
      const path = resolveDatabasePath(options.db, config.database);
      process.exitCode = await runAuditVerify(path, process.stdout);
    });
}
