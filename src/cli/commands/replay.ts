import type { Command } from "commander";
import { loadConfig } from "../../config/config.js";
import type { AlertEvent } from "../../core/notifier.js";
import { JsonLinesWriter } from "../../replay/json-lines-writer.js";
import { formatReplaySummary, type ReplaySummary, replay } from "../../replay/replay.js";
import { createAnalysis, loadSavedBaseline } from "../../runtime/analysis.js";
import { configuredHashAlgorithm } from "../../store/index.js";

interface ReplayCommandOptions {
  baseline?: string[];
  findings?: string;
  alerts?: string;
  rules?: string;
  config?: string;
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
      "known-normal capture file learned before scoring, or a saved baseline (.json from `toolwatch baseline train`); repeatable",
      (file: string, files: string[] | undefined) => [...(files ?? []), file],
    )
    .option("--findings <file>", "write findings as JSON lines to this file (- for stdout)")
    .option("--alerts <file>", "write every alert state change as JSON lines to this file (- for stdout)")
    .option("--rules <file>", "alert rules (default: the config's alerts.rules, else the shipped config/alerts.yaml)")
    .option("--config <file>", "configuration file (YAML)")
    .option("--db <file>", "store the replayed exchanges and findings in this SQLite file (default: store nothing)")
    .option("--strict", "stop at the first bad line instead of reporting and skipping it")
    .action(async (files: string[], options: ReplayCommandOptions) => {
      const config = loadConfig(options.config);
      const alertsWriter = options.alerts === undefined ? null : new JsonLinesWriter(options.alerts);
      const alertCounts = { firing: 0, resolved: 0, pending: 0 };
      // Old traffic pages nobody: alert state changes go to the file, never to the notifiers.
      const analysis = createAnalysis({
        config,
        ...(options.rules === undefined ? {} : { rules: options.rules }),
        notify: false,
        log: (line) => process.stderr.write(`toolwatch: ${line}\n`),
        onAlert: (event: AlertEvent) => {
          alertCounts[event.state]++;
          alertsWriter?.write(event);
        },
      });
      // Saved baselines are loaded first; capture files given as baselines are then learned on top of them.
      const captureBaselines: string[] = [];
      for (const file of options.baseline ?? []) {
        if (!file.endsWith(".json")) {
          captureBaselines.push(file);
          continue;
        }
        process.stderr.write(`toolwatch: ${loadSavedBaseline(file, analysis.detectors)}\n`);
      }
      let summary: ReplaySummary;
      try {
        summary = await replay({
          files,
          baseline: captureBaselines,
          findings: options.findings,
          db: options.db,
          store_hash_algorithm: configuredHashAlgorithm(config.store.hash_algorithm),
          strict: options.strict ?? false,
          detectors: analysis.detectors,
          observers: analysis.observers,
          findingSinks: analysis.findingSinks,
        });
      } finally {
        // Shutting the engine down resolves what is still open, so the counts below are final.
        await analysis.shutdown();
        await alertsWriter?.close();
      }
      process.stderr.write(formatReplaySummary(summary));
      const destination =
        options.alerts === undefined ? "" : ` -> ${options.alerts === "-" ? "stdout" : options.alerts}`;
      process.stderr.write(
        `  alerts: ${alertCounts.firing} fired, ${alertCounts.resolved} resolved, ${alertCounts.pending} pending transitions${destination}\n`,
      );
    });
}
