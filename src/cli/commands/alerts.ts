import type { Command } from "commander";
import {
  createSilence,
  parseSilenceMatchers,
  readSilences,
  type Silence,
  silencesPathFor,
  writeSilences,
} from "../../alerts/silences.js";
import { loadConfig } from "../../config/config.js";
import { parseDuration } from "../../config/duration.js";
import { resolveDatabasePath } from "../../config/paths.js";
import { ToolwatchError } from "../../core/errors.js";

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

const collect = (value: string, previous: string[]): string[] => [...previous, value];

function withLocation(command: Command): Command {
  return command
    .option("--config <file>", "configuration file (YAML), for the database location")
    .option("--db <file>", "database file; silences live next to it in <name>.silences.json")
    .option("--silences <file>", "the silences file itself");
}

function silencesFile(options: LocationOptions): string {
  if (options.silences) return options.silences;
  const config = loadConfig(options.config);
  return silencesPathFor(resolveDatabasePath(options.db, config.database));
}

/** Registers `toolwatch alerts silence|silences|unsilence`. */
export function registerAlertsCommand(program: Command, io: CommandOutput = {}): void {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const alerts = program.command("alerts").description("Silence alerts and list silences.");

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
        ...(process.env.USER ? { created_by: process.env.USER } : {}),
      },
      now,
    );
    // Expired silences are dropped on every write so the file stays small.
    const kept = readSilences(file).filter((existing) => Date.parse(existing.ends_at) > now);
    writeSilences(file, [...kept, silence]);
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
      const silences = readSilences(file);
      const kept = silences.filter((silence) => silence.id !== id);
      if (kept.length === silences.length) throw new ToolwatchError("usage", `no silence with id ${id} in ${file}`);
      writeSilences(file, kept);
      stderr.write(`toolwatch: removed silence ${id}\n`);
    },
  );
}

function describe(silence: Silence): string {
  const groups = Object.entries(silence.matchers).map(([label, value]) => `${label}=${value}`);
  return `${silence.rule ?? "every rule"}${groups.length > 0 ? ` {${groups.join(", ")}}` : ""}`;
}
