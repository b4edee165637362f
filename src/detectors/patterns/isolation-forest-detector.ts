import { z } from "zod";
import type { Detector, ExchangePosition, FindingSink } from "../../core/detector.js";
import type { CapturedExchange } from "../../core/exchange.js";
import { type Finding, type FindingOrigin, findingOrigin, type Severity } from "../../core/finding.js";
import { describeStateError } from "../state-errors.js";
import {
  addToolLengths,
  CALL_FEATURE_COUNT,
  CALL_FEATURE_NAMES,
  type CallContext,
  callFeatures,
  callLengths,
  type ToolLengthStats,
  writeCallFeatures,
} from "./call-features.js";
import { IsolationForest, SeededRandom } from "./isolation-forest.js";

/** Options of {@link IsolationForestDetector}. */
export interface IsolationForestDetectorOptions {
  /** Training rows kept (a reservoir sample of the baseline calls). Default 4096. */
  reservoir?: number;
  /** Trees in the forest. Default 50: scores settle well before 100 trees, and each tree costs scoring time. */
  trees?: number;
  /** Points per tree. Default 256. */
  sampleSize?: number;
  seed?: number;
  /** Fewest training calls before the detector scores anything. Default 200. */
  minimum_training?: number;
  /** Score quantile of the training sample above which a call is reported (low). Default 0.995. */
  low_quantile?: number;
  /** Score quantile of the training sample above which a call is reported medium. Default 0.9995. */
  medium_quantile?: number;
  /** Findings per session at most: a weak signal must not flood an investigation. Default 3. */
  max_findings_per_session?: number;
}

const DETECTOR_NAME = "isolation_forest";
const STATE_VERSION = 1;
/** Scores never reported whatever the training quantiles say: at or below 0.5 a point is not isolated early. */
const LOW_FLOOR = 0.6;
const MEDIUM_FLOOR = 0.68;
/** Most (agent, tool) pairs whose lengths are learned. */
const MAX_TOOLS = 4096;
/** Most training sessions tracked for gaps at once; older ones are forgotten (baseline traffic has no session ends). */
const MAX_LEARN_SESSIONS = 10_000;

interface SessionState {
  last_ms: number;
  findings: number;
}

const featureVectorSchema = z.array(z.number()).length(CALL_FEATURE_COUNT);
const toolLengthStatsSchema = z.object({
  count: z.number().int().nonnegative(),
  argumentMean: z.number(),
  argumentM2: z.number(),
  resultMean: z.number(),
  resultM2: z.number(),
});
/** The saved form of the detector ({@link IsolationForestDetector.saveBaseline}'s output), checked on load. */
const isolationForestBaselineSchema = z.object({
  version: z.literal(STATE_VERSION),
  forest: IsolationForest.schema.superRefine((forest, context) => {
    if (forest.dimensions !== CALL_FEATURE_COUNT) {
      context.addIssue({
        code: "custom",
        path: ["dimensions"],
        message: `the forest splits ${forest.dimensions} features, but this code computes ${CALL_FEATURE_COUNT} per call`,
      });
    }
  }),
  means: featureVectorSchema,
  deviations: featureVectorSchema,
  low_threshold: z.number(),
  medium_threshold: z.number(),
  // Absent reads as 0, as the loader has always allowed: it only words the findings.
  training_calls: z.number().int().nonnegative().optional(),
  tools: z.array(z.tuple([z.string(), toolLengthStatsSchema])),
});
type SavedState = z.input<typeof isolationForestBaselineSchema>;

/**
 * Point anomalies among tool calls: an Isolation Forest over per-call feature vectors (argument count and
 * lengths, digit ratio, URLs, e-mail addresses and paths in the arguments, result length, the gap since the
 * session's previous exchange, the call's position, whether the tool is new for the agent type, and how far
 * the argument and result lengths stray from what this tool usually gets).
 *
 * Trained in `learn` on a bounded reservoir sample of baseline calls and fitted at the first `observe`;
 * thresholds are quantiles of the training sample's own scores. Without a baseline it reports nothing.
 * Findings are `argument_anomaly`, low or medium only: an unusual call is a weak signal on its own. The
 * message names the features that stand out, as z-scores against the training sample.
 */
export class IsolationForestDetector implements Detector {
  readonly name = DETECTOR_NAME;
  private readonly options: Required<IsolationForestDetectorOptions>;
  private readonly random: SeededRandom;
  private readonly reservoir: number[][] = [];
  private seen = 0;
  private readonly tools = new Map<string, ToolLengthStats>();
  private readonly learnSessions = new Map<string, number>();
  private readonly sessions = new Map<string, SessionState>();
  private forest: IsolationForest | null = null;
  private means: number[] = [];
  private deviations: number[] = [];
  private lowThreshold = 1;
  private mediumThreshold = 1;
  private fitted = false;
  /** The feature vector of the call being scored, reused from call to call. */
  private readonly row = new Float64Array(CALL_FEATURE_COUNT);
  /** Tool keys made so far, by agent type and tool: the same few pairs come on every call. */
  private readonly toolKeys = new Map<string, Map<string, string>>();

  constructor(options: IsolationForestDetectorOptions = {}) {
    this.options = {
      reservoir: options.reservoir ?? 4096,
      trees: options.trees ?? 50,
      sampleSize: options.sampleSize ?? 256,
      seed: options.seed ?? 5,
      minimum_training: options.minimum_training ?? 200,
      low_quantile: options.low_quantile ?? 0.995,
      medium_quantile: options.medium_quantile ?? 0.9995,
      max_findings_per_session: options.max_findings_per_session ?? 3,
    };
    this.random = new SeededRandom(this.options.seed);
  }

  learn(exchange: CapturedExchange, position: ExchangePosition): void {
    if (position.call_index === null || exchange.tool == null) return;
    const previous = this.learnSessions.get(exchange.session);
    if (previous === undefined && this.learnSessions.size >= MAX_LEARN_SESSIONS) this.learnSessions.clear();
    this.learnSessions.set(exchange.session, position.time_ms);
    const key = this.toolKey(exchange);
    let stats = this.tools.get(key);
    if (stats === undefined && this.tools.size < MAX_TOOLS) {
      stats = { count: 0, argumentMean: 0, argumentM2: 0, resultMean: 0, resultM2: 0 };
      this.tools.set(key, stats);
    }
    const row = callFeatures(exchange, {
      gap_ms: previous === undefined ? 0 : position.time_ms - previous,
      call_index: position.call_index,
      tool: stats,
      trained: false,
    });
    if (stats !== undefined) addToolLengths(stats, callLengths(exchange));
    // Reservoir sampling (algorithm R): every training call has the same chance to be kept, in bounded memory.
    this.seen++;
    if (this.reservoir.length < this.options.reservoir) this.reservoir.push(row);
    else {
      const slot = this.random.integer(this.seen);
      if (slot < this.options.reservoir) this.reservoir[slot] = row;
    }
    this.fitted = false;
  }

  observe(exchange: CapturedExchange, position: ExchangePosition, emit: FindingSink): void {
    if (position.call_index === null || exchange.tool == null) return;
    if (!this.fitted) this.fit();
    let session = this.sessions.get(exchange.session);
    const gap = session === undefined ? 0 : position.time_ms - session.last_ms;
    if (session === undefined) {
      session = { last_ms: position.time_ms, findings: 0 };
      this.sessions.set(exchange.session, session);
    } else session.last_ms = position.time_ms;
    const forest = this.forest;
    if (forest === null || session.findings >= this.options.max_findings_per_session) return;
    const context: CallContext = {
      gap_ms: gap,
      call_index: position.call_index,
      tool: this.tools.get(this.toolKey(exchange)),
      trained: true,
    };
    const row = writeCallFeatures(exchange, context, this.row);
    const score = forest.scoreReaching(row, this.lowThreshold);
    if (score < this.lowThreshold) return;
    session.findings++;
    emit(this.finding(exchange, position, row, score));
  }

  /** The key of the call's (agent type, tool) pair in {@link tools}, made once per pair. */
  private toolKey(exchange: CapturedExchange): string {
    const agent = exchange.agent ?? "";
    const tool = exchange.tool ?? "";
    let byTool = this.toolKeys.get(agent);
    if (byTool === undefined) {
      if (this.toolKeys.size >= MAX_TOOLS) this.toolKeys.clear();
      byTool = new Map();
      this.toolKeys.set(agent, byTool);
    }
    let key = byTool.get(tool);
    if (key === undefined) {
      if (byTool.size >= MAX_TOOLS) byTool.clear();
      key = `${agent}\u0000${tool}`;
      byTool.set(tool, key);
    }
    return key;
  }

  endSession(session: string): void {
    this.sessions.delete(session);
  }

  async shutdown(): Promise<void> {
    this.sessions.clear();
    this.learnSessions.clear();
  }

  saveBaseline(): unknown {
    if (!this.fitted) this.fit();
    if (this.forest === null) return null;
    const state: SavedState = {
      version: STATE_VERSION,
      forest: this.forest.toJSON(),
      means: this.means,
      deviations: this.deviations,
      low_threshold: this.lowThreshold,
      medium_threshold: this.mediumThreshold,
      training_calls: this.seen,
      tools: [...this.tools],
    };
    return state;
  }

  loadBaseline(state: unknown): string | null {
    const parsed = isolationForestBaselineSchema.safeParse(state);
    if (!parsed.success) return `isolation forest baseline: ${describeStateError(parsed.error)}`;
    const saved = parsed.data;
    this.tools.clear();
    for (const [tool, stats] of saved.tools.slice(0, MAX_TOOLS)) this.tools.set(tool, stats);
    this.forest = saved.forest;
    this.means = saved.means;
    this.deviations = saved.deviations;
    this.lowThreshold = saved.low_threshold;
    this.mediumThreshold = saved.medium_threshold;
    this.seen = saved.training_calls ?? 0;
    this.reservoir.length = 0;
    this.fitted = true;
    return null;
  }

  /** Fits the forest and its thresholds to the reservoir; leaves it unfitted (silent) with too little training. */
  private fit(): void {
    this.fitted = true;
    if (this.reservoir.length < this.options.minimum_training) {
      // A loaded baseline stays in force when no new training arrived.
      return;
    }
    const rows = this.reservoir;
    const forest = IsolationForest.fit(rows, {
      trees: this.options.trees,
      sampleSize: this.options.sampleSize,
      seed: this.options.seed,
    });
    // Only the two quantiles are wanted, and both sit among the highest scores: those are scored exactly, the rest
    // only until they are certainly below the lowest of them.
    const lowIndex = quantileIndex(rows.length, this.options.low_quantile);
    const mediumIndex = quantileIndex(rows.length, this.options.medium_quantile);
    const first = Math.min(lowIndex ?? rows.length, mediumIndex ?? rows.length);
    const highest = highestScores(forest, rows, rows.length - first);
    const quantile = (index: number | null): number => (index === null ? 1 : (highest[index - first] ?? 1));
    this.lowThreshold = Math.max(LOW_FLOOR, quantile(lowIndex));
    this.mediumThreshold = Math.max(MEDIUM_FLOOR, this.lowThreshold, quantile(mediumIndex));
    // Summed in typed arrays (the same additions in the same order as over plain arrays, so the same numbers).
    const means = new Float64Array(CALL_FEATURE_COUNT);
    const deviations = new Float64Array(CALL_FEATURE_COUNT);
    for (const row of rows)
      for (let feature = 0; feature < CALL_FEATURE_COUNT; feature++) means[feature]! += row[feature]!;
    for (let feature = 0; feature < CALL_FEATURE_COUNT; feature++) means[feature]! /= rows.length;
    for (const row of rows) {
      for (let feature = 0; feature < CALL_FEATURE_COUNT; feature++) {
        deviations[feature]! += (row[feature]! - means[feature]!) ** 2;
      }
    }
    for (let feature = 0; feature < CALL_FEATURE_COUNT; feature++) {
      deviations[feature] = Math.sqrt(deviations[feature]! / Math.max(1, rows.length - 1));
    }
    this.means = Array.from(means);
    this.deviations = Array.from(deviations);
    this.forest = forest;
  }

  private finding(
    exchange: CapturedExchange,
    position: ExchangePosition,
    row: ArrayLike<number>,
    score: number,
  ): Finding {
    // Loops rather than map, filter and fromEntries: findings are rare, so this code mostly runs uncompiled.
    const standouts: Array<{ feature: string; value: number; z: number }> = [];
    const features: Record<string, number> = {};
    for (let feature = 0; feature < row.length; feature++) {
      const value = row[feature]!;
      const name = CALL_FEATURE_NAMES[feature]!;
      features[name] = round(value);
      const deviation = this.deviations[feature] ?? 0;
      const difference = value - (this.means[feature] ?? 0);
      // A feature constant in training that moved now is as far out as the cap says.
      const z = deviation > 1e-9 ? difference / deviation : difference === 0 ? 0 : Math.sign(difference) * 99;
      const entry = { feature: name, value: round(value), z: round(Math.max(-99, Math.min(99, z))) };
      if (Math.abs(entry.z) >= 2) standouts.push(entry);
    }
    standouts.sort((a, b) => Math.abs(b.z) - Math.abs(a.z));
    if (standouts.length > 3) standouts.length = 3;
    const severity: Severity = score >= this.mediumThreshold ? "medium" : "low";
    const described =
      standouts.length === 0
        ? "an unusual combination of features"
        : standouts.map((entry) => `${entry.feature} ${entry.value} (z ${entry.z})`).join(", ");
    // Object.assign, not a spread of the origin: V8 copies a spread object far more slowly.
    return Object.assign<FindingOrigin, Omit<Finding, keyof FindingOrigin>>(
      findingOrigin(exchange, position.call_index, DETECTOR_NAME),
      {
        category: "argument_anomaly",
        severity,
        score: round(score),
        message: `Call ${position.call_index} to ${exchange.tool} is an outlier against the isolation-forest baseline of ${this.seen} training calls (score ${round(score)}, report threshold ${round(this.lowThreshold)}): ${described}; review its arguments.`,
        evidence: {
          call_index: position.call_index,
          anomaly_score: round(score),
          low_threshold: round(this.lowThreshold),
          medium_threshold: round(this.mediumThreshold),
          baseline: "isolation forest over per-call features of the training calls",
          training_calls: this.seen,
          standout_features: standouts,
          features,
        },
      },
    );
  }
}

/**
 * Where the `fraction` quantile of `count` sorted scores sits (the last one at most); `null` when nowhere (a fraction
 * below 0 or not a number), which reads as a quantile of 1.
 */
function quantileIndex(count: number, fraction: number): number | null {
  const index = Math.min(count - 1, Math.floor(fraction * count));
  return index >= 0 ? index : null;
}

/**
 * The `count` highest scores of `rows`, lowest first: the same numbers as the top of all scores sorted. Once `count`
 * rows are scored, a row is scored only as far as it can still reach the lowest of them (see `scoreReaching`).
 */
function highestScores(forest: IsolationForest, rows: readonly (readonly number[])[], count: number): number[] {
  // A min-heap of the highest scores so far: its root is the score a row must reach to matter.
  const heap: number[] = [];
  for (const row of rows) {
    if (heap.length < count) {
      heap.push(forest.score(row));
      let child = heap.length - 1;
      while (child > 0) {
        const parent = (child - 1) >> 1;
        if (heap[parent]! <= heap[child]!) break;
        [heap[parent], heap[child]] = [heap[child]!, heap[parent]!];
        child = parent;
      }
      continue;
    }
    const lowest = heap[0];
    if (lowest === undefined) break;
    const score = forest.scoreReaching(row, lowest);
    if (score <= lowest) continue;
    heap[0] = score;
    let parent = 0;
    for (;;) {
      const left = 2 * parent + 1;
      const right = left + 1;
      let smallest = parent;
      if (left < heap.length && heap[left]! < heap[smallest]!) smallest = left;
      if (right < heap.length && heap[right]! < heap[smallest]!) smallest = right;
      if (smallest === parent) break;
      [heap[parent], heap[smallest]] = [heap[smallest]!, heap[parent]!];
      parent = smallest;
    }
  }
  return heap.sort((a, b) => a - b);
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
