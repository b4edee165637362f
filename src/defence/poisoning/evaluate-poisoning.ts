/**
 * Measures the poisoning classifier on the shared data sets' `test.jsonl.gz` files:
 *
 *   node dist/src/defence/poisoning/evaluate-poisoning.js [--datasets folder] [--model file.json] [--json]
 *
 * Session level: a session with `injection_seen` is caught when any of its results is flagged; a benign
 * session flagged at all is a false positive. Call level: injected results flagged, benign results
 * (every result of a benign session) flagged.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { datasetsFolder, readLabels, readSessions } from "./dataset-files.js";
import { PoisoningClassifier } from "./poisoning-classifier.js";
import { packageRoot, parsePoisoningModel } from "./poisoning-model.js";

/** Figures for one data set. */
export interface PoisoningEvaluation {
  dataset: string;
  injected_sessions: number;
  injected_sessions_caught: number;
  benign_sessions: number;
  benign_sessions_flagged: number;
  injected_calls: number;
  injected_calls_caught: number;
  benign_calls: number;
  benign_calls_flagged: number;
  /** A few flagged benign results (explanations), to read when the false-positive rate moves. */
  false_positive_examples: string[];
  /**
   * Session figures by the labels' `suite` (the environment or document family, such as `bipia-email`):
   * aggregates only, so the weakest kind of document shows without reading any test text.
   */
  by_suite: Record<string, SuiteFigures>;
}

/** Session figures of one suite of a data set. */
export interface SuiteFigures {
  injected_sessions: number;
  injected_sessions_caught: number;
  benign_sessions: number;
  benign_sessions_flagged: number;
}

/** Evaluates `classifier` on `<folder>/<dataset>/test.jsonl.gz` with its labels. */
export function evaluateDataset(classifier: PoisoningClassifier, folder: string, dataset: string): PoisoningEvaluation {
  const sessions = readSessions(join(folder, dataset, "test.jsonl.gz"));
  const labels = readLabels(join(folder, dataset, "labels.jsonl.gz"));
  const evaluation: PoisoningEvaluation = {
    dataset,
    injected_sessions: 0,
    injected_sessions_caught: 0,
    benign_sessions: 0,
    benign_sessions_flagged: 0,
    injected_calls: 0,
    injected_calls_caught: 0,
    benign_calls: 0,
    benign_calls_flagged: 0,
    false_positive_examples: [],
    by_suite: {},
  };
  // Identical results recur across sessions (the same mailbox, the same files): classify each text once.
  const cache = new Map<string, boolean>();
  const flagged = (text: string): boolean => {
    let verdict = cache.get(text);
    if (verdict === undefined) {
      const result = classifier.inspect(text, "result");
      verdict = result.poisoned;
      cache.set(text, verdict);
    }
    return verdict;
  };
  for (const [session, calls] of sessions) {
    const label = labels.get(session);
    if (label === undefined) continue;
    const benign = label.kind === "benign";
    const injectedSession = label.injection_seen;
    if (!benign && !injectedSession) continue;
    const injected = new Set(label.injected_calls);
    let any = false;
    calls.forEach((call, index) => {
      const hit = flagged(call.result);
      any ||= hit;
      if (benign) {
        evaluation.benign_calls++;
        if (hit) {
          evaluation.benign_calls_flagged++;
          if (evaluation.false_positive_examples.length < 8) {
            evaluation.false_positive_examples.push(classifier.inspect(call.result, "result").explanation);
          }
        }
      } else if (injected.has(index)) {
        evaluation.injected_calls++;
        if (hit) evaluation.injected_calls_caught++;
      }
    });
    const suiteName = label.suite ?? "(none)";
    const suite = evaluation.by_suite[suiteName] ?? {
      injected_sessions: 0,
      injected_sessions_caught: 0,
      benign_sessions: 0,
      benign_sessions_flagged: 0,
    };
    evaluation.by_suite[suiteName] = suite;
    if (benign) {
      evaluation.benign_sessions++;
      suite.benign_sessions++;
      if (any) {
        evaluation.benign_sessions_flagged++;
        suite.benign_sessions_flagged++;
      }
    } else {
      evaluation.injected_sessions++;
      suite.injected_sessions++;
      if (any) {
        evaluation.injected_sessions_caught++;
        suite.injected_sessions_caught++;
      }
    }
  }
  return evaluation;
}

function percent(part: number, whole: number): string {
  return whole === 0 ? "n/a" : `${((100 * part) / whole).toFixed(2)}%`;
}

/** One line per figure, for people. */
export function formatEvaluation(evaluation: PoisoningEvaluation): string {
  const e = evaluation;
  return [
    `${e.dataset}:`,
    `  sessions  recall ${percent(e.injected_sessions_caught, e.injected_sessions)} (${e.injected_sessions_caught}/${e.injected_sessions})` +
      `  benign flagged ${percent(e.benign_sessions_flagged, e.benign_sessions)} (${e.benign_sessions_flagged}/${e.benign_sessions})`,
    `  calls     recall ${percent(e.injected_calls_caught, e.injected_calls)} (${e.injected_calls_caught}/${e.injected_calls})` +
      `  benign flagged ${percent(e.benign_calls_flagged, e.benign_calls)} (${e.benign_calls_flagged}/${e.benign_calls})`,
    ...Object.entries(e.by_suite)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(
        ([name, suite]) =>
          `  ${name}: recall ${percent(suite.injected_sessions_caught, suite.injected_sessions)} ` +
          `(${suite.injected_sessions_caught}/${suite.injected_sessions})  benign flagged ` +
          `${percent(suite.benign_sessions_flagged, suite.benign_sessions)} (${suite.benign_sessions_flagged}/${suite.benign_sessions})`,
      ),
    ...e.false_positive_examples.map((example) => `  false positive: ${example}`),
  ].join("\n");
}

function main(): void {
  const at = process.argv.indexOf("--datasets");
  const folder =
    at !== -1 && process.argv[at + 1] !== undefined ? process.argv[at + 1]! : datasetsFolder(packageRoot());
  const modelAt = process.argv.indexOf("--model");
  const modelPath = modelAt !== -1 ? process.argv[modelAt + 1] : undefined;
  let classifier = new PoisoningClassifier();
  if (modelPath !== undefined) {
    const parsed = parsePoisoningModel(JSON.parse(readFileSync(modelPath, "utf8")));
    if (!parsed.ok) throw new Error(`${modelPath}: ${parsed.message}`);
    classifier = new PoisoningClassifier({ model: parsed.value });
  }
  const results: PoisoningEvaluation[] = [];
  for (const dataset of ["agentdojo", "bipia"]) {
    if (!existsSync(join(folder, dataset, "test.jsonl.gz"))) {
      process.stdout.write(`${dataset}: not found under ${folder}, skipped\n`);
      continue;
    }
    const evaluation = evaluateDataset(classifier, folder, dataset);
    results.push(evaluation);
    if (!process.argv.includes("--json")) process.stdout.write(`${formatEvaluation(evaluation)}\n`);
  }
  if (process.argv.includes("--json")) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) main();
