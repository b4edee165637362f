/**
 * `npm run eval`: scores every detector on the shared data sets.
 *
 *   node dist/src/evaluation/evaluate-detection.js [--datasets folder] [--json] [--skip-bipia]
 *
 * agentdojo: learns `baseline.jsonl.gz` (as `replay --baseline` does), replays `test.jsonl.gz` through the same
 * replay machinery as `toolwatch replay`, and scores the findings against `labels.jsonl.gz` (test split):
 *
 * - compromise recall: compromised sessions with a high or critical finding;
 * - poisoning recall: sessions whose results carried the injection (`injection_seen`) with a `tool_poisoning` finding;
 * - false positives: benign sessions with a high or critical finding, and with a medium or higher one;
 * - prevention: compromised sessions with a high or critical finding at or before their first attacker-directed
 *   call, by two definitions: (next) the first call after the first injected result; (flow) the first call after
 *   the first injected result whose arguments carry an identifier (address, account, URL, id, path) that an
 *   injected result held, falling back to (next) when no call does;
 *
 * overall, per attack type, and as an ablation over detectors (each alone, all but each), computed from one
 * replay by keeping only the chosen detectors' findings (detectors do not see each other's findings).
 * The inline guard is scored apart: the shipped defaults, with the request sources the replay learned from the
 * baseline, in front of the test capture's tool calls; what it would have held, in compromised and benign sessions.
 * bipia (one call per session): poisoning recall and benign false positives.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseConfig } from "../config/config.js";
import type { Detector, ExchangeObserver, ExchangePosition } from "../core/detector.js";
import type { CapturedExchange } from "../core/exchange.js";
import type { Finding, Severity } from "../core/finding.js";
import { readJsonLines } from "../defence/poisoning/dataset-files.js";
import { RequestSources } from "../detectors/flow/request-sources.js";
import { identifierTokens, normalizeValue } from "../detectors/flow/value-tokens.js";
import { defaultDetectors } from "../detectors/index.js";
import { replay } from "../replay/replay.js";
import { createDefence } from "../runtime/defence.js";
import { type GuardedRecord, guardOverCapture } from "./guard-over-capture.js";

/** A session's labels, as `labels.jsonl.gz` has them. */
export interface EvaluationLabel {
  session: string;
  kind: string;
  injection_seen: boolean;
  injected_calls: number[];
  compromised: boolean;
  attack_type: string | null;
  /** The environment (tool set) the session ran in, when the labels say (`suite`). */
  environment: string | null;
  /** The agent model or defended pipeline that ran the session, when the labels say (`pipeline`). */
  agent_model: string | null;
}

/** What is kept of a finding for scoring. */
interface ScoredFinding {
  detector: string;
  category: string;
  severity: Severity;
  call_index: number | null;
}

/** The figures for one set of detectors over one group of sessions. */
export interface DetectionScores {
  compromised: number;
  compromised_detected: number;
  injected: number;
  injected_poisoning_found: number;
  benign: number;
  benign_high: number;
  benign_medium: number;
  prevented_next: number;
  prevented_flow: number;
}

/**
 * The inline guard at the shipped defaults (poisoned results flagged, tainted high-risk calls held), with the
 * request sources the detectors learned from the baseline, in front of the test capture: what a deployment would
 * have refused before the server saw it.
 */
export interface InlineGuardScores {
  compromised: number;
  /** Compromised sessions with a held call at or before their first attacker-directed call (next, flow). */
  held_next: number;
  held_flow: number;
  /** Compromised sessions with a held call anywhere. */
  held_any: number;
  benign: number;
  /** Benign sessions with a held call: each one stopped an agent doing its job. */
  benign_held: number;
  /** Guard time per tool call, in µs (CPU). */
  cpu_us_per_call: number;
}

/** One environment scored with a baseline that never saw it. */
export interface UnseenEnvironmentRow {
  environment: string;
  /**
   * `own`: the sessions keep their agent type, which the baseline has never seen (a new kind of agent);
   * `shared`: every session, learned and scored, is given one agent type, so the baseline models know the agent
   * and meet new tools, arguments and resources (a known agent given a new tool set).
   */
  agent_type: "own" | "shared";
  /** Baseline events learned, all from other environments. */
  learned: number;
  events: number;
  scores: DetectionScores;
}

/** One row of the ablation. */
export interface AblationRow {
  name: string;
  detectors: string[];
  scores: DetectionScores;
}

/** The evaluation of one data set. */
export interface DatasetEvaluation {
  dataset: string;
  events: number;
  learned: number;
  sessions: number;
  elapsed_ms: number;
  events_per_second: number;
  detectors: string[];
  findings_by_detector: Record<string, Record<string, number>>;
  overall: DetectionScores;
  by_attack_type: Record<string, DetectionScores>;
  /** Per environment, each with its own benign sessions; empty when the labels name none. */
  by_environment: Record<string, DetectionScores>;
  /** Per agent model, each with its own benign sessions; empty when the labels name none. */
  by_agent_model: Record<string, DetectionScores>;
  /**
   * Each environment scored by detectors whose baseline was learned from the other environments only: how they
   * behave on a tool set they have never seen. Empty when the labels name fewer than two environments.
   */
  unseen_environment: UnseenEnvironmentRow[];
  ablation: AblationRow[];
  inline_guard: InlineGuardScores;
  /** Benign sessions with a high or critical finding: the detectors and messages, to read when the rate moves. */
  false_positive_examples: { session: string; detector: string; message: string }[];
}

/**
 * The detectors evaluated: the defaults plus the flow detectors, the poisoning model shared between them, plus
 * `extraDetectors` (optional detectors measured in the same ablation, such as the sequence autoencoder).
 */
export function evaluatedDetectors(
  extraDetectors: readonly Detector[] = [],
  requestSources?: RequestSources,
): Detector[] {
  const detectors = defaultDetectors(requestSources === undefined ? {} : { request_sources: requestSources });
  const names = new Set(detectors.map((detector) => detector.name));
  for (const detector of extraDetectors) if (!names.has(detector.name)) detectors.push(detector);
  return detectors;
}

/** Reads the labels of one split (`test` by default; all labels when the file has no `split`). */
export function readEvaluationLabels(file: string, split = "test"): Map<string, EvaluationLabel> {
  const labels = new Map<string, EvaluationLabel>();
  for (const row of readJsonLines(file)) {
    if (row.split !== undefined && row.split !== split) continue;
    labels.set(String(row.session), {
      session: String(row.session),
      kind: String(row.kind),
      injection_seen: row.injection_seen === true,
      injected_calls: Array.isArray(row.injected_calls)
        ? row.injected_calls.filter((value): value is number => typeof value === "number")
        : [],
      compromised: row.compromised === true,
      attack_type: typeof row.attack_type === "string" ? row.attack_type : null,
      environment: typeof row.suite === "string" ? row.suite : null,
      agent_model: typeof row.pipeline === "string" ? row.pipeline : null,
    });
  }
  return labels;
}

/**
 * Works out each compromised session's first attacker-directed call by both definitions, watching the replay:
 * it keeps only the identifiers of injected results of compromised sessions.
 */
class AttackerCallObserver implements ExchangeObserver {
  readonly name = "evaluation-attacker-calls";
  /** Session → [next definition, flow definition]. */
  readonly attackerCalls = new Map<string, { next: number | null; flow: number | null }>();
  private readonly injectedValues = new Map<string, Set<string>>();

  constructor(private readonly labels: ReadonlyMap<string, EvaluationLabel>) {}

  observe(exchange: CapturedExchange, position: ExchangePosition): void {
    const label = this.labels.get(exchange.session);
    const call = position.call_index;
    if (label === undefined || !label.compromised || call === null || label.injected_calls.length === 0) return;
    const first = Math.min(...label.injected_calls);
    let entry = this.attackerCalls.get(exchange.session);
    if (entry === undefined) {
      entry = { next: null, flow: null };
      this.attackerCalls.set(exchange.session, entry);
    }
    if (call > first) {
      entry.next ??= call;
      const values = this.injectedValues.get(exchange.session);
      if (entry.flow === null && values !== undefined && carriesAny(exchange.arguments, values)) entry.flow = call;
    }
    if (label.injected_calls.includes(call) && typeof exchange.result === "string") {
      let values = this.injectedValues.get(exchange.session);
      if (values === undefined) {
        values = new Set();
        this.injectedValues.set(exchange.session, values);
      }
      for (const token of identifierTokens(exchange.result, 512, 262_144)) values.add(token.value);
    }
  }
}

function carriesAny(args: Record<string, unknown> | null | undefined, values: ReadonlySet<string>): boolean {
  if (args === null || args === undefined) return false;
  let found = false;
  const visit = (value: unknown): void => {
    if (found) return;
    if (typeof value === "string") {
      if (values.has(normalizeValue(value))) found = true;
      else for (const token of identifierTokens(value)) if (values.has(token.value)) found = true;
    } else if (typeof value === "object" && value !== null) {
      for (const item of Array.isArray(value) ? value : Object.values(value)) visit(item);
    }
  };
  visit(args);
  return found;
}

const HIGH: ReadonlySet<Severity> = new Set(["high", "critical"]);
const MEDIUM_UP: ReadonlySet<Severity> = new Set(["medium", "high", "critical"]);

function emptyScores(): DetectionScores {
  return {
    compromised: 0,
    compromised_detected: 0,
    injected: 0,
    injected_poisoning_found: 0,
    benign: 0,
    benign_high: 0,
    benign_medium: 0,
    prevented_next: 0,
    prevented_flow: 0,
  };
}

function score(
  labels: Iterable<EvaluationLabel>,
  findings: ReadonlyMap<string, ScoredFinding[]>,
  attackerCalls: ReadonlyMap<string, { next: number | null; flow: number | null }>,
  included: ReadonlySet<string>,
): DetectionScores {
  const scores = emptyScores();
  for (const label of labels) {
    const all = (findings.get(label.session) ?? []).filter((finding) => included.has(finding.detector));
    const high = all.filter((finding) => HIGH.has(finding.severity));
    if (label.kind === "benign") {
      scores.benign++;
      if (high.length > 0) scores.benign_high++;
      if (all.some((finding) => MEDIUM_UP.has(finding.severity))) scores.benign_medium++;
    }
    if (label.injection_seen) {
      scores.injected++;
      if (all.some((finding) => finding.category === "tool_poisoning")) scores.injected_poisoning_found++;
    }
    if (label.compromised) {
      scores.compromised++;
      if (high.length > 0) scores.compromised_detected++;
      const calls = attackerCalls.get(label.session);
      const next = calls?.next ?? null;
      const flow = calls?.flow ?? next;
      const before = (limit: number | null): boolean =>
        high.some((finding) => finding.call_index !== null && (limit === null || finding.call_index <= limit));
      if (before(next)) scores.prevented_next++;
      if (before(flow)) scores.prevented_flow++;
    }
  }
  return scores;
}

/** What one replay leaves for scoring. */
interface ReplayFindings {
  events: number;
  learned: number;
  sessions: number;
  elapsed_ms: number;
  events_per_second: number;
  names: string[];
  findings: Map<string, ScoredFinding[]>;
  byDetector: Record<string, Record<string, number>>;
  examples: DatasetEvaluation["false_positive_examples"];
  attackerCalls: ReadonlyMap<string, { next: number | null; flow: number | null }>;
  /** What the flow analysis learned of routine requests from the baseline. */
  requestSources: RequestSources;
}

/** Learns the baseline files, replays the test files with every evaluated detector and keeps the findings. */
async function replayForScoring(options: {
  labels: ReadonlyMap<string, EvaluationLabel>;
  test: string[];
  baseline: string[];
  extraDetectors?: readonly Detector[] | undefined;
}): Promise<ReplayFindings> {
  const { labels } = options;
  // Learned from the baseline by the flow analysis, then read by the inline guard's run (see guardScores).
  const requestSources = new RequestSources();
  const detectors = evaluatedDetectors(options.extraDetectors, requestSources);
  const observer = new AttackerCallObserver(labels);
  const findings = new Map<string, ScoredFinding[]>();
  const byDetector: Record<string, Record<string, number>> = {};
  const examples: DatasetEvaluation["false_positive_examples"] = [];
  const summary = await replay({
    files: options.test,
    baseline: options.baseline,
    detectors,
    observers: [observer],
    progress: null,
    onFinding: (finding: Finding) => {
      const counts = byDetector[finding.detector] ?? {};
      byDetector[finding.detector] = counts;
      counts[finding.severity] = (counts[finding.severity] ?? 0) + 1;
      let list = findings.get(finding.session);
      if (list === undefined) {
        list = [];
        findings.set(finding.session, list);
      }
      list.push({
        detector: finding.detector,
        category: finding.category,
        severity: finding.severity,
        call_index: finding.call_index,
      });
      const label = labels.get(finding.session);
      if (label?.kind === "benign" && HIGH.has(finding.severity) && examples.length < 12) {
        examples.push({ session: finding.session, detector: finding.detector, message: finding.message });
      }
    },
  });
  return {
    events: summary.events,
    learned: summary.learned,
    sessions: summary.sessions,
    elapsed_ms: Math.round(summary.elapsed_ms),
    events_per_second: Math.round(summary.events_per_second),
    names: detectors.map((detector) => detector.name),
    findings,
    byDetector,
    examples,
    attackerCalls: observer.attackerCalls,
    requestSources,
  };
}

/** Runs the inline guard over the test capture's tool calls and scores what it held against the labels. */
function guardScores(
  testFile: string,
  labels: ReadonlyMap<string, EvaluationLabel>,
  attackerCalls: ReadonlyMap<string, { next: number | null; flow: number | null }>,
  requests: RequestSources,
): InlineGuardScores {
  const defence = createDefence(parseConfig(""), { database: null, log: () => {}, requests });
  const records = readJsonLines(testFile).filter(
    (row) => row.method === "tools/call" && typeof row.tool === "string" && labels.has(String(row.session)),
  ) as unknown as GuardedRecord[];
  const started = process.cpuUsage();
  const outcomes = defence.guard === null ? [] : guardOverCapture(defence.guard, records);
  const cpu = process.cpuUsage(started);
  defence.close();
  const firstHold = new Map<string, number>();
  for (const outcome of outcomes) {
    if (outcome.held && !firstHold.has(outcome.record.session)) {
      firstHold.set(outcome.record.session, outcome.call_index);
    }
  }
  const scores: InlineGuardScores = {
    compromised: 0,
    held_next: 0,
    held_flow: 0,
    held_any: 0,
    benign: 0,
    benign_held: 0,
    cpu_us_per_call: records.length === 0 ? 0 : Math.round(((cpu.user + cpu.system) / records.length) * 10) / 10,
  };
  for (const label of labels.values()) {
    const held = firstHold.get(label.session);
    if (label.kind === "benign") {
      scores.benign++;
      if (held !== undefined) scores.benign_held++;
    }
    if (!label.compromised) continue;
    scores.compromised++;
    if (held === undefined) continue;
    scores.held_any++;
    const calls = attackerCalls.get(label.session);
    const next = calls?.next ?? null;
    const flow = calls?.flow ?? next;
    if (next === null || held <= next) scores.held_next++;
    if (flow === null || held <= flow) scores.held_flow++;
  }
  return scores;
}

/** Scores each group of sessions (by `keyOf`) on its own; sessions without a key are left out. */
function scoresByGroup(
  labels: Iterable<EvaluationLabel>,
  keyOf: (label: EvaluationLabel) => string | null,
  run: ReplayFindings,
): Record<string, DetectionScores> {
  const groups = new Map<string, EvaluationLabel[]>();
  for (const label of labels) {
    const key = keyOf(label);
    if (key === null) continue;
    const list = groups.get(key);
    if (list === undefined) groups.set(key, [label]);
    else list.push(label);
  }
  const scores: Record<string, DetectionScores> = {};
  const all = new Set(run.names);
  for (const [key, list] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
    scores[key] = score(list, run.findings, run.attackerCalls, all);
  }
  return scores;
}

/** Replays one data set and scores it. */
export async function evaluateDataset(
  folder: string,
  dataset: string,
  options: { extraDetectors?: readonly Detector[] } = {},
): Promise<DatasetEvaluation> {
  const directory = join(folder, dataset);
  const labelsFile = join(directory, "labels.jsonl.gz");
  const labels = readEvaluationLabels(labelsFile);
  const run = await replayForScoring({
    labels,
    test: [join(directory, "test.jsonl.gz")],
    baseline: [join(directory, "baseline.jsonl.gz")],
    extraDetectors: options.extraDetectors,
  });
  const { findings, attackerCalls, names } = run;
  const all = new Set(names);
  const byType = new Map<string, EvaluationLabel[]>();
  for (const label of labels.values()) {
    if (label.attack_type === null) continue;
    const list = byType.get(label.attack_type) ?? [];
    list.push(label);
    byType.set(label.attack_type, list);
  }
  const benign = [...labels.values()].filter((label) => label.kind === "benign");
  const by_attack_type: Record<string, DetectionScores> = {};
  for (const [type, list] of [...byType].sort()) {
    by_attack_type[type] = score([...list, ...benign], findings, attackerCalls, all);
  }
  const ablation: AblationRow[] = [
    { name: "all", detectors: names, scores: score(labels.values(), findings, attackerCalls, all) },
  ];
  for (const name of names) {
    ablation.push({
      name: `only ${name}`,
      detectors: [name],
      scores: score(labels.values(), findings, attackerCalls, new Set([name])),
    });
  }
  for (const name of names) {
    const rest = names.filter((other) => other !== name);
    ablation.push({
      name: `all but ${name}`,
      detectors: rest,
      scores: score(labels.values(), findings, attackerCalls, new Set(rest)),
    });
  }
  return {
    dataset,
    events: run.events,
    learned: run.learned,
    sessions: run.sessions,
    elapsed_ms: run.elapsed_ms,
    events_per_second: run.events_per_second,
    detectors: names,
    findings_by_detector: run.byDetector,
    overall: ablation[0]!.scores,
    by_attack_type,
    by_environment: scoresByGroup(labels.values(), (label) => label.environment, run),
    by_agent_model: scoresByGroup(labels.values(), (label) => label.agent_model, run),
    unseen_environment: await scoreUnseenEnvironments(directory, labels),
    ablation,
    inline_guard: guardScores(join(directory, "test.jsonl.gz"), labels, attackerCalls, run.requestSources),
    false_positive_examples: run.examples,
  };
}

/**
 * Scores each environment with a baseline learned from the others only (the evaluated detectors, without extras):
 * the baseline models meet an agent type and a tool set they have never seen, as they will in a new deployment.
 * Baseline sessions whose environment the labels do not give are left out.
 */
async function scoreUnseenEnvironments(
  directory: string,
  labels: ReadonlyMap<string, EvaluationLabel>,
): Promise<UnseenEnvironmentRow[]> {
  const environments = [
    ...new Set([...labels.values()].map((label) => label.environment).filter((name) => name !== null)),
  ].sort();
  if (environments.length < 2) return [];
  const baselineLabels = readEvaluationLabels(join(directory, "labels.jsonl.gz"), "baseline");
  const environmentOf = (row: Record<string, unknown>, from: ReadonlyMap<string, EvaluationLabel>): string | null =>
    from.get(String(row.session))?.environment ?? null;
  const baselineRows = readJsonLines(join(directory, "baseline.jsonl.gz"));
  const testRows = readJsonLines(join(directory, "test.jsonl.gz"));
  const scratch = mkdtempSync(join(tmpdir(), "toolwatch-eval-unseen-"));
  const rows: UnseenEnvironmentRow[] = [];
  try {
    for (const agentType of ["own", "shared"] as const) {
      // Any name will do for the shared type, as long as it is the same on both sides.
      const retype = (row: Record<string, unknown>): Record<string, unknown> =>
        agentType === "own" ? row : { ...row, agent: "agent" };
      for (const [index, environment] of environments.entries()) {
        const baseline = join(scratch, `baseline-${agentType}-${index}.jsonl`);
        const test = join(scratch, `test-${agentType}-${index}.jsonl`);
        writeJsonLines(
          baseline,
          baselineRows
            .filter((row) => {
              const other = environmentOf(row, baselineLabels);
              return other !== null && other !== environment;
            })
            .map(retype),
        );
        writeJsonLines(test, testRows.filter((row) => environmentOf(row, labels) === environment).map(retype));
        const subset = new Map([...labels].filter(([, label]) => label.environment === environment));
        const run = await replayForScoring({ labels: subset, test: [test], baseline: [baseline] });
        rows.push({
          environment,
          agent_type: agentType,
          learned: run.learned,
          events: run.events,
          scores: score(subset.values(), run.findings, run.attackerCalls, new Set(run.names)),
        });
      }
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return rows;
}

function writeJsonLines(path: string, rows: readonly Record<string, unknown>[]): void {
  writeFileSync(path, rows.map((row) => `${JSON.stringify(row)}\n`).join(""));
}

function percent(part: number, whole: number): string {
  return whole === 0 ? "n/a" : `${((100 * part) / whole).toFixed(1)}% (${part}/${whole})`;
}

function scoreCells(scores: DetectionScores): string[] {
  return [
    percent(scores.compromised_detected, scores.compromised),
    percent(scores.injected_poisoning_found, scores.injected),
    percent(scores.benign_high, scores.benign),
    percent(scores.benign_medium, scores.benign),
    percent(scores.prevented_next, scores.compromised),
    percent(scores.prevented_flow, scores.compromised),
  ];
}

const SCORE_HEADERS = [
  "compromise recall (high+)",
  "poisoning recall",
  "benign FP high+",
  "benign FP medium+",
  "prevention (next call)",
  "prevention (flow call)",
];

function table(headers: string[], rows: string[][]): string {
  const lines = [`| ${headers.join(" | ")} |`, `| ${headers.map(() => "---").join(" | ")} |`];
  for (const row of rows) lines.push(`| ${row.join(" | ")} |`);
  return lines.join("\n");
}

/** The evaluation as markdown tables. */
export function formatEvaluation(evaluations: readonly DatasetEvaluation[]): string {
  const parts: string[] = [];
  for (const evaluation of evaluations) {
    parts.push(
      `## ${evaluation.dataset}\n\n${evaluation.events} events replayed after ${evaluation.learned} baseline events, ${evaluation.sessions} sessions, in ${(evaluation.elapsed_ms / 1000).toFixed(1)} s (${evaluation.events_per_second} events/s with every detector).`,
    );
    parts.push(`### Overall\n\n${table(SCORE_HEADERS, [scoreCells(evaluation.overall)])}`);
    const types = Object.entries(evaluation.by_attack_type);
    if (types.length > 0) {
      parts.push(
        `### Per attack type (benign sessions are the same in every row)\n\n${table(
          ["attack type", ...SCORE_HEADERS],
          types.map(([type, scores]) => [type, ...scoreCells(scores)]),
        )}`,
      );
    }
    const groupTable = (title: string, column: string, groups: Record<string, DetectionScores>): void => {
      const entries = Object.entries(groups);
      if (entries.length === 0) return;
      parts.push(
        `### ${title}\n\n${table(
          [column, ...SCORE_HEADERS],
          entries.map(([name, scores]) => [name, ...scoreCells(scores)]),
        )}`,
      );
    };
    groupTable("Per environment (each with its own benign sessions)", "environment", evaluation.by_environment);
    groupTable("Per agent model (each with its own benign sessions)", "agent model", evaluation.by_agent_model);
    if (evaluation.unseen_environment.length > 0) {
      parts.push(
        `### Environment unseen in the baseline (learned from the other environments only)\n\n${table(
          ["environment", "agent type", "baseline events", ...SCORE_HEADERS],
          evaluation.unseen_environment.map((row) => [
            row.environment,
            row.agent_type === "own" ? "its own (unknown to the baseline)" : "one type for all (known)",
            String(row.learned),
            ...scoreCells(row.scores),
          ]),
        )}`,
      );
    }
    parts.push(
      `### Ablation\n\n${table(
        ["detectors", ...SCORE_HEADERS],
        evaluation.ablation.map((row) => [row.name, ...scoreCells(row.scores)]),
      )}`,
    );
    const guard = evaluation.inline_guard;
    const compromisedCell = (part: number) => (guard.compromised === 0 ? "n/a" : percent(part, guard.compromised));
    parts.push(
      `### Inline guard (shipped defaults, the baseline's request sources)\n\n${table(
        [
          "held at or before the attacker-directed call (next)",
          "(flow)",
          "compromised sessions held anywhere",
          "benign sessions held",
          "guard CPU per call",
        ],
        [
          [
            compromisedCell(guard.held_next),
            compromisedCell(guard.held_flow),
            compromisedCell(guard.held_any),
            percent(guard.benign_held, guard.benign),
            `${guard.cpu_us_per_call} µs`,
          ],
        ],
      )}`,
    );
    const counts = Object.entries(evaluation.findings_by_detector).map(([detector, bySeverity]) => [
      detector,
      ["critical", "high", "medium", "low", "info"].map((severity) => String(bySeverity[severity] ?? 0)).join(" / "),
    ]);
    parts.push(
      `### Findings by detector (critical / high / medium / low / info)\n\n${table(["detector", "findings"], counts)}`,
    );
    if (evaluation.false_positive_examples.length > 0) {
      parts.push(
        `### Benign sessions with a high finding\n\n${evaluation.false_positive_examples
          .map((example) => `- ${example.session} ${example.detector}: ${example.message}`)
          .join("\n")}`,
      );
    }
  }
  return `${parts.join("\n\n")}\n`;
}

/** The shared data sets folder: `--datasets`, `TOOLWATCH_DATASETS`, else `../shared/datasets` beside the repository. */
function datasetsFolder(argument: string | undefined): string {
  if (argument !== undefined) return argument;
  const root = fileURLToPath(new URL("../../..", import.meta.url));
  return process.env.TOOLWATCH_DATASETS || join(root, "..", "shared", "datasets");
}

async function main(argv: readonly string[]): Promise<number> {
  const json = argv.includes("--json");
  const datasetsIndex = argv.indexOf("--datasets");
  const folder = datasetsFolder(datasetsIndex === -1 ? undefined : argv[datasetsIndex + 1]);
  const wanted = argv.includes("--skip-bipia") ? ["agentdojo"] : ["agentdojo", "bipia"];
  const evaluations: DatasetEvaluation[] = [];
  for (const dataset of wanted) {
    if (!existsSync(join(folder, dataset, "test.jsonl.gz"))) {
      process.stderr.write(
        `${dataset}/test.jsonl.gz not found under ${folder} (set TOOLWATCH_DATASETS or --datasets)\n`,
      );
      continue;
    }
    process.stderr.write(`evaluating ${dataset}...\n`);
    evaluations.push(await evaluateDataset(folder, dataset));
  }
  if (evaluations.length === 0) return 1;
  process.stdout.write(json ? `${JSON.stringify(evaluations, null, 2)}\n` : formatEvaluation(evaluations));
  return 0;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = await main(process.argv.slice(2));
}
