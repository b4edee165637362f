import type { Command } from "commander";
import { formatReplaySummary, replay } from "../../replay/replay.js";

interface ReplayCommandOptions {
  baseline?: string[];
  findings?: string;
  db?: string;
  strict?: boolean;
}

/** Registers `toolwatch replay`: capture files through the live pipeline, on event time. */
export function registerReplayCommand(program: Command): void {
  program
    .command("replay")
    .description(
      "Run capture files (.jsonl or .jsonl.gz, several merged by time) through the detectors exactly as live traffic, on event time.",
    )
    .argument("<events...>", "capture files to score")
    .option(
      "--baseline <file>",
      "known-normal capture file, learned before scoring (repeatable)",
      (file: string, files: string[] | undefined) => [...(files ?? []), file],
    )
    .option("--findings <file>", "write findings as JSON lines to this file (- for stdout)")
    .option("--db <file>", "store the replayed exchanges and findings in this SQLite file (default: store nothing)")
    .option("--strict", "stop at the first bad line instead of reporting and skipping it")
    .action(async (files: string[], options: ReplayCommandOptions) => {
      const summary = await replay({
        files,
        baseline: options.baseline ?? [],
        findings: options.findings,
        db: options.db,
        strict: options.strict ?? false,
      });
      process.stderr.write(formatReplaySummary(summary));
    });
}
