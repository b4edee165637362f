// Precision and recall of the DLP rules on the gitleaks rule-test examples, overall and per rule family.
// Run: `node dist/src/defence/dlp/evaluate-dlp.js [file]` (markdown tables; `--json` for JSON). The file
// defaults to dlp/gitleaks-examples.jsonl.gz under TOOLWATCH_DATASETS, else ../shared/datasets/.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { gunzipSync } from "node:zlib";
import { defaultDlpSettings } from "./dlp-config.js";
import { DlpEngine } from "./dlp-scanner.js";

/** One example from the data set: the gitleaks rule it tests, the text, and whether that rule should fire. */
export interface DlpExample {
  rule: string;
  text: string;
  positive: boolean;
}

/** Counts and ratios for one slice of the examples. */
export interface DlpScore {
  examples: number;
  truePositives: number;
  falsePositives: number;
  falseNegatives: number;
  trueNegatives: number;
  precision: number;
  recall: number;
}

/** The evaluation: overall, per family (the gitleaks rule id's first word), and the gitleaks rules no positive of which is found. */
export interface DlpEvaluation {
  overall: DlpScore;
  /** The same, without texts the data set labels both positive and negative (fragments such as `file.php`). */
  consistent: DlpScore;
  families: Record<string, DlpScore>;
  uncoveredRules: string[];
}

/** The default data-set file, or null when it is absent. */
export function defaultExamplesFile(): string | null {
  const root = fileURLToPath(new URL("../../../..", import.meta.url));
  const folder = process.env.TOOLWATCH_DATASETS || join(root, "..", "shared", "datasets");
  const file = join(folder, "dlp", "gitleaks-examples.jsonl.gz");
  return existsSync(file) ? file : null;
}

/** Reads `{"rule","text","positive"}` lines from a `.jsonl` or `.jsonl.gz` file. */
export function readExamples(file: string): DlpExample[] {
  const raw = readFileSync(file);
  const text = (file.endsWith(".gz") ? gunzipSync(raw) : raw).toString("utf8");
  const examples: DlpExample[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const parsed = JSON.parse(line) as { rule?: unknown; text?: unknown; positive?: unknown };
    if (typeof parsed.rule === "string" && typeof parsed.text === "string" && typeof parsed.positive === "boolean") {
      examples.push({ rule: parsed.rule, text: parsed.text, positive: parsed.positive });
    }
  }
  return examples;
}

function emptyCounts(): Omit<DlpScore, "precision" | "recall"> {
  return { examples: 0, truePositives: 0, falsePositives: 0, falseNegatives: 0, trueNegatives: 0 };
}

function finish(counts: Omit<DlpScore, "precision" | "recall">): DlpScore {
  const flagged = counts.truePositives + counts.falsePositives;
  const positives = counts.truePositives + counts.falseNegatives;
  return {
    ...counts,
    precision: flagged === 0 ? 1 : counts.truePositives / flagged,
    recall: positives === 0 ? 1 : counts.truePositives / positives,
  };
}

/**
 * Scores `engine` on the examples: a positive example is a true positive when any secret finding is
 * reported on it; a negative example with any secret finding is a false positive. Personal-data rules
 * are left out: the data set tests secret rules, and an e-mail address in a negative example is not a
 * mistake of the secret rules.
 */
export function evaluateDlp(engine: DlpEngine, examples: readonly DlpExample[]): DlpEvaluation {
  const overall = emptyCounts();
  const consistent = emptyCounts();
  const families = new Map<string, ReturnType<typeof emptyCounts>>();
  const labels = new Map<string, Set<boolean>>();
  for (const example of examples) {
    const seen = labels.get(example.text) ?? new Set<boolean>();
    seen.add(example.positive);
    labels.set(example.text, seen);
  }
  const foundByRule = new Map<string, number>();
  for (const example of examples) {
    const flagged = engine.scanText(example.text).some((match) => match.category === "secret");
    const family = example.rule.split("-")[0]!;
    const familyCounts = families.get(family) ?? emptyCounts();
    families.set(family, familyCounts);
    const targets = [overall, familyCounts];
    if (labels.get(example.text)!.size === 1) targets.push(consistent);
    for (const counts of targets) {
      counts.examples++;
      if (example.positive && flagged) counts.truePositives++;
      else if (example.positive) counts.falseNegatives++;
      else if (flagged) counts.falsePositives++;
      else counts.trueNegatives++;
    }
    if (example.positive) foundByRule.set(example.rule, (foundByRule.get(example.rule) ?? 0) + (flagged ? 1 : 0));
  }
  const uncoveredRules = [...foundByRule]
    .filter(([, found]) => found === 0)
    .map(([rule]) => rule)
    .sort();
  return {
    overall: finish(overall),
    consistent: finish(consistent),
    families: Object.fromEntries(
      [...families].sort(([a], [b]) => a.localeCompare(b)).map(([name, counts]) => [name, finish(counts)]),
    ),
    uncoveredRules,
  };
}

const percent = (value: number): string => `${(value * 100).toFixed(1)}%`;

/** The evaluation as markdown tables, as published in docs/dlp.md. */
export function formatEvaluation(evaluation: DlpEvaluation): string {
  const row = (name: string, score: DlpScore): string =>
    `| ${name} | ${score.examples} | ${score.truePositives} | ${score.falsePositives} | ${score.falseNegatives} | ${percent(score.precision)} | ${percent(score.recall)} |`;
  const lines = [
    "| slice | examples | TP | FP | FN | precision | recall |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    row("all examples", evaluation.overall),
    row("consistently labelled", evaluation.consistent),
    "",
    "| family | examples | TP | FP | FN | precision | recall |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...Object.entries(evaluation.families).map(([name, score]) => row(name, score)),
    "",
    `gitleaks rules with positives none of which is found (${evaluation.uncoveredRules.length}): ${evaluation.uncoveredRules.join(", ")}`,
  ];
  return `${lines.join("\n")}\n`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const argument = process.argv.slice(2).find((value) => !value.startsWith("--"));
  const file = argument ?? defaultExamplesFile();
  if (file === null) {
    process.stderr.write("dlp/gitleaks-examples.jsonl.gz not found (set TOOLWATCH_DATASETS or pass the file)\n");
    process.exit(2);
  }
  const evaluation = evaluateDlp(new DlpEngine(defaultDlpSettings()), readExamples(file));
  process.stdout.write(
    process.argv.includes("--json") ? `${JSON.stringify(evaluation, null, 2)}\n` : formatEvaluation(evaluation),
  );
}
