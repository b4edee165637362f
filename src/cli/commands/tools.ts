import type { Command } from "commander";
import type { ToolPin } from "../../core/defence-state.js";
import { ToolwatchError } from "../../core/errors.js";
import { formatTable } from "../../runtime/text-table.js";
import { SqliteDefenceState } from "../../store/defence-state-store.js";
import { databasePath } from "../database-location.js";
import { OperatorAuditTrail } from "../operator-audit.js";
import type { CommandOutput } from "./alerts.js";

interface LocationOptions {
  config?: string;
  db?: string;
}

interface ListOptions extends LocationOptions {
  server?: string;
  changed?: boolean;
  json?: boolean;
}

interface ApproveOptions extends LocationOptions {
  all?: boolean;
}

function withLocation(command: Command): Command {
  return command
    .option("--config <file>", "configuration file (YAML), for the database location")
    .option("--db <file>", "database file holding the pins");
}

function openState(options: LocationOptions): SqliteDefenceState {
  return new SqliteDefenceState(databasePath(options));
}

/** `toolwatch tools list|approve`: the operator's side of tool pinning. */
export function registerToolsCommand(program: Command, io: CommandOutput = {}): void {
  const stdout = io.stdout ?? process.stdout;
  const tools = program.command("tools").description("pinned tool definitions: list them, approve changes");
  withLocation(tools.command("list"))
    .description("list pinned tools; a changed tool awaits approval")
    .option("--server <name>", "only this server's tools")
    .option("--changed", "only tools whose definition changed since they were pinned")
    .option("--json", "one JSON object per line instead of a table")
    .action((options: ListOptions) => {
      const state = openState(options);
      try {
        let pins = state.pins(options.server);
        if (options.changed) pins = pins.filter((pin) => pin.changed_hash !== null);
        if (options.json) {
          for (const pin of pins) stdout.write(`${JSON.stringify(pin)}\n`);
          return;
        }
        if (pins.length === 0) {
          stdout.write("no pinned tools\n");
          return;
        }
        stdout.write(
          formatTable(
            ["server", "tool", "status", "pinned at", "changed at"],
            pins.map((pin) => [
              pin.server,
              pin.tool,
              pin.changed_hash === null ? "pinned" : "CHANGED",
              pin.pinned_at,
              pin.changed_at ?? "",
            ]),
          ),
        );
      } finally {
        state.close();
      }
    });
  withLocation(tools.command("approve"))
    .description("accept a changed tool definition as the new pin")
    .argument("<server>", "server name")
    .argument("[tool]", "tool name (or --all)")
    .option("--all", "approve every changed tool of the server")
    .action((server: string, tool: string | undefined, options: ApproveOptions) => {
      if (tool === undefined && !options.all) throw new ToolwatchError("usage", "name a tool or pass --all");
      // Opened first: a database whose audit chain cannot be written stops the approval before any pin moves.
      const path = databasePath(options);
      const trail = OperatorAuditTrail.open(path);
      const state = new SqliteDefenceState(path);
      try {
        const changed = state
          .pins(server)
          .filter((pin) => pin.changed_hash !== null && (options.all || pin.tool === tool));
        if (changed.length === 0) {
          throw new ToolwatchError(
            "usage",
            tool === undefined ? `no changed tool of server ${server}` : `${server}/${tool} has no change to approve`,
          );
        }
        const now = new Date().toISOString();
        for (const pin of changed) {
          state.savePin(approved(pin, now));
          // Without its trace the pin does not move: the change stays pending.
          trail.record(
            "tool.approve",
            `${pin.server}/${pin.tool}`,
            { server: pin.server, tool: pin.tool, previous_hash: pin.hash, approved_hash: pin.changed_hash },
            () => state.savePin(pin),
          );
          stdout.write(`approved ${pin.server}/${pin.tool} (${pin.changed_hash})\n`);
        }
      } finally {
        state.close();
        trail.close();
      }
    });
}

/** `toolwatch quarantine list|show`: what inline defence withheld from the model. */
export function registerQuarantineCommand(program: Command, io: CommandOutput = {}): void {
  const stdout = io.stdout ?? process.stdout;
  const quarantine = program.command("quarantine").description("content inline defence withheld from the model");
  withLocation(quarantine.command("list"))
    .description("list quarantined results, newest first")
    .option("--session <id>", "only this session's")
    .option("--limit <n>", "at most this many", "50")
    .option("--json", "one JSON object per line")
    .action((options: LocationOptions & { session?: string; limit: string; json?: boolean }) => {
      const state = openState(options);
      try {
        const limit = Number.parseInt(options.limit, 10);
        const items = state.quarantined({
          ...(options.session === undefined ? {} : { session: options.session }),
          limit: Number.isFinite(limit) ? limit : 50,
        });
        if (options.json) {
          for (const item of items) stdout.write(`${JSON.stringify(item)}\n`);
          return;
        }
        if (items.length === 0) {
          stdout.write("nothing quarantined\n");
          return;
        }
        stdout.write(
          formatTable(
            ["id", "time", "session", "server", "tool", "reason"],
            items.map((item) => [
              item.id,
              item.time,
              item.session,
              item.server,
              item.tool ?? "",
              item.reason.slice(0, 80),
            ]),
          ),
        );
      } finally {
        state.close();
      }
    });
  withLocation(quarantine.command("show"))
    .description("print one quarantined result as JSON, with the content the model did not see")
    .argument("<id>", "quarantine id")
    .action((id: string, options: LocationOptions) => {
      const path = databasePath(options);
      const trail = OperatorAuditTrail.open(path);
      const state = new SqliteDefenceState(path);
      try {
        const [item] = state.quarantined({ id, limit: 1 });
        if (item === undefined) throw new ToolwatchError("usage", `no quarantined content with id ${id}`);
        // Recorded before it is shown: withheld content may hold what the model was not to see, and nobody reads
        // it without a trace.
        trail.record("quarantine.show", id, { session: item.session, server: item.server, tool: item.tool });
        stdout.write(`${JSON.stringify({ ...item, content: JSON.parse(item.content) as unknown }, null, 2)}\n`);
      } finally {
        state.close();
        trail.close();
      }
    });
}

/** The pin with its pending change accepted as the definition. */
export function approved(pin: ToolPin, time: string): ToolPin {
  if (pin.changed_hash === null || pin.changed_definition === null) return pin;
  return {
    ...pin,
    hash: pin.changed_hash,
    definition: pin.changed_definition,
    pinned_at: time,
    changed_hash: null,
    changed_definition: null,
    changed_at: null,
  };
}
