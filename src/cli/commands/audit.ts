import type { Command } from "commander";
import { parseSince } from "../../config/duration.js";
import { ToolwatchError } from "../../core/errors.js";
import { OPERATOR_ACTION_NAMES, type OperatorActionName } from "../../core/operator-action.js";
import type { ActionQuery } from "../../core/store.js";
import { formatTable } from "../../runtime/text-table.js";
import { runAuditVerify } from "../../store/index.js";
import { SqliteStore } from "../../store/sqlite-store.js";
import { databasePath, existingDatabasePath, withDatabaseLocation } from "../database-location.js";
import type { CommandOutput } from "./alerts.js";

interface LocationOptions {
  db?: string;
  config?: string;
}

interface ActionsOptions extends LocationOptions {
  since?: string;
  action?: string;
  actor?: string;
  json?: boolean;
}

export function registerAuditCommand(program: Command, io: CommandOutput = {}): void {
  const stdout = io.stdout ?? process.stdout;
  const audit = program.command("audit").description("The tamper-evident audit log.");
  withDatabaseLocation(
    audit
      .command("verify")
      .description("Prove the hash chain of the database; names the first broken record (exit 1)."),
  ).action(async (options: LocationOptions) => {
    process.exitCode = await runAuditVerify(databasePath(options), stdout);
  });

  withDatabaseLocation(
    audit
      .command("actions")
      .description(
        "List what operators did, oldest first: silences added and removed, tool changes approved, quarantined " +
          "content read. They are in the same chain as the traffic, so `audit verify` proves them too.",
      )
      .option("--since <when>", "only actions at or after this: a duration back from now (30m, 7d) or an RFC 3339 time")
      .option("--action <name>", `only this action (${OPERATOR_ACTION_NAMES.join(", ")})`)
      .option("--actor <name>", "only this operator's")
      .option("--json", "one action per line, as stored"),
  ).action((options: ActionsOptions) => {
    const path = existingDatabasePath(options);
    const query: ActionQuery = {};
    if (options.action !== undefined) {
      if (!(OPERATOR_ACTION_NAMES as readonly string[]).includes(options.action)) {
        throw new ToolwatchError(
          "usage",
          `--action: expected one of ${OPERATOR_ACTION_NAMES.join(", ")}, got ${JSON.stringify(options.action)}`,
        );
      }
      query.action = options.action as OperatorActionName;
    }
    if (options.actor !== undefined) query.actor = options.actor;
    if (options.since !== undefined) query.since_ms = parseSince(options.since, Date.now());
    // Read-only: listing must neither migrate an older file nor wait for the write lock of a running proxy.
    const store = new SqliteStore(path, { readonly: true });
    let actions: ReturnType<SqliteStore["actionsSync"]>;
    try {
      actions = store.actionsSync(query);
    } finally {
      store.close();
    }
    if (options.json) {
      stdout.write(actions.map((action) => `${JSON.stringify(action)}\n`).join(""));
      return;
    }
    if (actions.length === 0) {
      stdout.write("no operator actions stored\n");
      return;
    }
    stdout.write(
      formatTable(
        ["time", "actor", "via", "action", "target", "source"],
        actions.map((action) => [
          action.time,
          action.actor,
          action.via,
          action.action,
          action.target,
          action.source ?? "",
        ]),
      ),
    );
  });
}
