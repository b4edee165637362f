import type { Command } from "commander";
import {
  addSilenceToFile,
  createSilence,
  parseSilenceMatchers,
  readSilences,
  removeSilenceFromFile,
  type Silence,
  silencesPathFor,
} from "../../alerts/silences.js";
import { parseDuration, parseSince } from "../../config/duration.js";
import { ToolwatchError } from "../../core/errors.js";
import type { AlertEvent } from "../../core/notifier.js";
import type { AlertQuery } from "../../core/store.js";
import { SqliteStore } from "../../store/sqlite-store.js";
import { databasePath, existingDatabasePath, withDatabaseLocation } from "../database-location.js";
import { localOperator, OperatorAuditTrail } from "../operator-audit.js";

/** Where a command writes; the process's streams unless a test passes its own. */
export interface CommandOutput {
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

interface LocationOptions {
  config?: string;
  db?: string;
  silences?: string;
}

interface SilenceOptions extends LocationOptions {
  rule: string;
  group: string[];
  for: string;
  comment?: string;
}

interface ListOptions extends LocationOptions {
  all?: boolean;
  json?: boolean;
}

interface HistoryOptions {
  config?: string;
  db?: string;
  since?: string;
  rule?: string;
  json?: boolean;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

function withLocation(command: Command): Command {
  return command
    .option("--config <file>", "configuration file (YAML), for the database location")
    .option("--db <file>", "database file; silences live next to it in <name>.silences.json")
    .option("--silences <file>", "the silences file itself");
}

function silencesFile(options: LocationOptions): string {
  if (options.silences) return options.silences;
  return silencesPathFor(databasePath(options));
}

/**
 * Makes a change to the silences and records it in the database's audit chain (which undoes it when it cannot be
 * recorded). The chain is opened first: a database that cannot be written stops the command before anything changed.
 */
function auditedChange(
  options: LocationOptions,
  action: "silence.add" | "silence.remove",
  change: () => { target: string; detail: Record<string, unknown>; undo: () => void },
): void {
  const trail = OperatorAuditTrail.open(databasePath(options));
  try {
    const { target, detail, undo } = change();
    trail.record(action, target, detail, undo);
  } finally {
    trail.close();
  }
}

/** Registers `toolwatch alerts list|silence|silences|unsilence`. */
export function registerAlertsCommand(program: Command, io: CommandOutput = {}): void {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const alerts = program
    .command("alerts")
    .description("List stored alert state changes, silence alerts and list silences.");

  withDatabaseLocation(
    alerts
      .command("list")
      .description("List the alert state changes stored in the database, oldest first, with the values behind each."),
  )
    .option(
      "--since <when>",
      "only changes at or after this: a duration back from now (30m, 1h, 7d) or an RFC 3339 time",
    )
    .option("--rule <name>", "only this rule")
    .option("--json", "one alert event per line, as notifiers receive it")
    .action((options: HistoryOptions) => {
      const events = storedAlerts(options);
      if (options.json) {
        stdout.write(events.map((event) => `${JSON.stringify(event)}\n`).join(""));
        return;
      }
      if (events.length === 0) {
        stdout.write("no alert state changes stored\n");
        return;
      }
      stdout.write(alertTable(events));
    });

  withLocation(
    alerts
      .command("silence")
      .description(
        "Hold back notifications of a rule (optionally one group) for a while; state changes are still recorded.",
      )
      .requiredOption("--rule <name>", "the rule to silence")
      .option("--group <label=value>", "only alerts whose group has this label value (repeatable)", collect, [])
      .requiredOption("--for <duration>", "how long, e.g. 2h or 30m")
      .option("--comment <text>", "why, for whoever reads the silences list"),
  ).action((options: SilenceOptions) => {
    const duration = parseDuration(options.for);
    if (duration === null || duration <= 0) {
      throw new ToolwatchError("usage", `--for: expected a duration such as 2h, got ${JSON.stringify(options.for)}`);
    }
    const file = silencesFile(options);
    const now = Date.now();
    const silence = createSilence(
      {
        rule: options.rule,
        matchers: parseSilenceMatchers(options.group),
        starts_at_ms: now,
        duration_ms: duration,
        ...(options.comment === undefined ? {} : { comment: options.comment }),
        created_by: localOperator(),
      },
      now,
    );
    auditedChange(options, "silence.add", () => {
      addSilenceToFile(file, silence, now);
      return { target: silence.id, detail: { silence }, undo: () => removeSilenceFromFile(file, silence.id) };
    });
    stdout.write(`${silence.id}\n`);
    stderr.write(`toolwatch: silenced ${describe(silence)} until ${silence.ends_at} (${file})\n`);
  });

  withLocation(
    alerts
      .command("silences")
      .description("List silences in force.")
      .option("--all", "include expired silences")
      .option("--json", "print JSON"),
  ).action((options: ListOptions) => {
    const now = Date.now();
    const silences = readSilences(silencesFile(options)).filter(
      (silence) => options.all || Date.parse(silence.ends_at) > now,
    );
    if (options.json) {
      stdout.write(`${JSON.stringify(silences, null, 2)}\n`);
      return;
    }
    if (silences.length === 0) {
      stdout.write("no silences in force\n");
      return;
    }
    for (const silence of silences) {
      const expired = Date.parse(silence.ends_at) <= now ? " (expired)" : "";
      const comment = silence.comment === undefined ? "" : `  # ${silence.comment}`;
      stdout.write(`${silence.id}  ${describe(silence)}  until ${silence.ends_at}${expired}${comment}\n`);
    }
  });

  withLocation(alerts.command("unsilence").description("Remove a silence.").argument("<id>", "the silence id")).action(
    (id: string, options: LocationOptions) => {
      const file = silencesFile(options);
      auditedChange(options, "silence.remove", () => {
        const silence = readSilences(file).find((candidate) => candidate.id === id);
        if (silence === undefined || removeSilenceFromFile(file, id) === null) {
          throw new ToolwatchError("usage", `no silence with id ${id} in ${file}`);
        }
        return { target: id, detail: { silence }, undo: () => addSilenceToFile(file, silence, Date.now()) };
      });
      stderr.write(`toolwatch: removed silence ${id}\n`);
    },
  );
}

function storedAlerts(options: HistoryOptions): AlertEvent[] {
  const path = existingDatabasePath(options);
  const query: AlertQuery = {};
  if (options.rule !== undefined) query.rule = options.rule;
  if (options.since !== undefined) query.since_ms = parseSince(options.since, Date.now());
  // Read-only: listing must neither migrate an older file nor wait for the write lock of a running proxy.
  const store = new SqliteStore(path, { readonly: true });
  try {
    return store.alertsSync(query);
  } finally {
    store.close();
  }
}

const ALERT_COLUMNS = ["TIME", "RULE", "STATE", "SEVERITY", "GROUP", "VALUES"] as const;

/** One row per state change, columns as wide as their widest cell; the values come last as they vary in length. */
export function alertTable(events: readonly AlertEvent[]): string {
  const rows = [
    [...ALERT_COLUMNS],
    ...events.map((event) => [
      event.time,
      event.rule,
      event.silenced_by === undefined ? event.state : `${event.state} (silenced)`,
      event.severity,
      event.group_key,
      Object.entries(event.values)
        .map(([name, value]) => `${name}=${formatValue(value)}`)
        .join(" "),
    ]),
  ];
  const widths = ALERT_COLUMNS.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map((row) =>
      row
        .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!)))
        .join("  ")
        .trimEnd(),
    )
    .map((line) => `${line}\n`)
    .join("");
}

/** Rates and quantiles come out of the engine with many decimals that nobody reads. */
function formatValue(value: number): string {
  // JSON has no NaN or Infinity: such a value was stored as null.
  if (typeof value !== "number") return String(value);
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
}

function describe(silence: Silence): string {
  const groups = Object.entries(silence.matchers).map(([label, value]) => `${label}=${value}`);
  return `${silence.rule ?? "every rule"}${groups.length > 0 ? ` {${groups.join(", ")}}` : ""}`;
}
