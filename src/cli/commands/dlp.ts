import { createReadStream, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { createGunzip } from "node:zlib";
import type { Command } from "commander";
import { z } from "zod";
import { formatYamlError, parseYamlFile } from "../../config/yaml-file.js";
import { ToolwatchError } from "../../core/errors.js";
import {
  DlpEngine,
  type DlpRule,
  type DlpSettings,
  defaultDlpSettings,
  dlpSettingsSchema,
  loadDlpRulesFile,
} from "../../defence/dlp/index.js";

interface DlpCommandOptions {
  jsonl: string;
  rules?: string;
  config?: string;
}

/** What a JSON-lines run saw: lines read, and lines answered with an error instead of findings. */
export interface DlpJsonLinesSummary {
  lines: number;
  errors: number;
}

const inputLineSchema = z.object({ id: z.unknown().optional(), text: z.string() });

/**
 * Reads lines `{"id": ..., "text": ...}` and writes one line per input, in input order:
 * `{"id": ..., "findings": [{"type", "rule", "start", "end"}]}`, or `{"id": ..., "error": "..."}` for a
 * line that is not JSON or has no string `text`. Blank lines are skipped.
 */
export async function runDlpJsonLines(
  input: Readable,
  output: Writable,
  engine: DlpEngine,
): Promise<DlpJsonLinesSummary> {
  const summary: DlpJsonLinesSummary = { lines: 0, errors: 0 };
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) {
    if (line.trim() === "") continue;
    summary.lines++;
    const answer = answerLine(line, summary.lines, engine);
    if ("error" in answer) summary.errors++;
    if (!output.write(`${JSON.stringify(answer)}\n`))
      await new Promise((resolveDrain) => output.once("drain", resolveDrain));
  }
  return summary;
}

type AnswerLine =
  | { id: unknown; findings: Array<{ type: string; rule: string; start: number; end: number }> }
  | { id: unknown; error: string };

function answerLine(line: string, number: number, engine: DlpEngine): AnswerLine {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch (error) {
    return { id: null, error: `line ${number}: not JSON: ${(error as Error).message}` };
  }
  const id = parsed !== null && typeof parsed === "object" ? ((parsed as { id?: unknown }).id ?? null) : null;
  const checked = inputLineSchema.safeParse(parsed);
  if (!checked.success) {
    return { id, error: `line ${number}: expected an object with a string "text"` };
  }
  const findings = engine
    .scanText(checked.data.text)
    .map((match) => ({ type: match.type, rule: match.rule, start: match.start, end: match.end }));
  return { id, findings };
}

/** The `dlp:` section of a configuration file, with `rules_file` resolved against the file's folder. */
function readDlpSettings(file: string): DlpSettings {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new ToolwatchError("config_invalid", `${file}: cannot read: ${(error as Error).message}`);
  }
  const parsed = parseYamlFile(z.looseObject({ dlp: dlpSettingsSchema.optional() }), text, file);
  if (!parsed.ok) throw new ToolwatchError("config_invalid", formatYamlError(parsed.error));
  const settings = parsed.value.dlp ?? defaultDlpSettings();
  if (settings.rules_file !== undefined) settings.rules_file = resolve(dirname(file), settings.rules_file);
  return settings;
}

/** Builds the engine the command scans with: settings from `--config`, custom rules from `rules_file` and `--rules`. */
export function dlpEngineFor(options: { rules?: string; config?: string }): DlpEngine {
  const settings = options.config !== undefined ? readDlpSettings(options.config) : defaultDlpSettings();
  const customRules: DlpRule[] = [];
  for (const file of [settings.rules_file, options.rules]) {
    if (file === undefined) continue;
    const loaded = loadDlpRulesFile(file);
    if (!loaded.ok) throw new ToolwatchError("config_invalid", loaded.error);
    customRules.push(...loaded.rules);
  }
  // Offline evaluation scans every line whatever `enabled` says in the live configuration.
  return new DlpEngine({ ...settings, enabled: true }, { customRules });
}

function openInput(file: string): Readable {
  const raw: Readable = file === "-" ? process.stdin : createReadStream(file);
  return file.endsWith(".gz") ? raw.pipe(createGunzip()) : raw;
}

/** Registers `toolwatch dlp --jsonl FILE`: scan texts offline to evaluate and tune rules. */
export function registerDlpCommand(program: Command): void {
  program
    .command("dlp")
    .description(
      "Scan texts for secrets and personal data offline (docs/dlp.md): one JSON line of findings per input line.",
    )
    .requiredOption("--jsonl <file>", 'input lines {"id", "text"} (.jsonl or .jsonl.gz; - for stdin)')
    .option("--rules <file>", "custom rules file (YAML)")
    .option("--config <file>", "configuration file whose dlp: section (actions, allow-lists, rules_file) applies")
    .action(async (options: DlpCommandOptions) => {
      const engine = dlpEngineFor(options);
      const input = openInput(options.jsonl);
      const summary = await new Promise<DlpJsonLinesSummary>((resolveRun, reject) => {
        input.once("error", (error) =>
          reject(new ToolwatchError("usage", `${options.jsonl}: ${(error as Error).message}`)),
        );
        runDlpJsonLines(input, process.stdout, engine).then(resolveRun, reject);
      });
      if (summary.errors > 0) {
        process.stderr.write(`toolwatch: ${summary.errors} of ${summary.lines} lines could not be scanned\n`);
        process.exitCode = 1;
      }
    });
}
