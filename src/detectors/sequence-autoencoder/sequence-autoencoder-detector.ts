import type { LayersModel } from "@tensorflow/tfjs";
import { z } from "zod";
import type { Detector, ExchangePosition, FindingSink } from "../../core/detector.js";
import type { CapturedExchange } from "../../core/exchange.js";
import type { Finding } from "../../core/finding.js";
import { agentType, MIN_BASELINE_SESSIONS } from "../baseline/baseline-finding.js";
import { round, SeededRandom } from "../baseline/running-statistics.js";
import { type JsonForm, jsonMap } from "../json-map.js";
import { describeStateError } from "../state-errors.js";
import {
  type AutoencoderShape,
  buildAutoencoder,
  exportWeights,
  importWeights,
  PAD,
  RESERVED_IDS,
  type SavedWeight,
  scoreWindows,
  trainAutoencoder,
  UNKNOWN,
} from "./autoencoder-model.js";
import { loadTensorFlow, type TensorFlow, type TensorFlowLoader } from "./tensorflow-loader.js";

export const SEQUENCE_AUTOENCODER_DETECTOR = "sequence_autoencoder";
const VERSION = 1;
/** Distinct tools per agent type; more are all `<unknown>`. */
const VOCABULARY_CAP = 512;
/** Agent types one detector learns (a misconfigured gateway could invent one per session). */
const MAX_AGENT_TYPES = 64;
/** Calls kept per session, learned or scored: longer sessions are judged on their first calls. */
const MAX_SESSION_CALLS = 256;
/** Ended sessions waiting for the model; past this the oldest are dropped (and counted). */
const MAX_PENDING_SESSIONS = 20_000;
/**
 * Loss a window must exceed the threshold by: a tidy baseline (every session alike) has a threshold equal to its one
 * window's loss, and float noise between batches must not flag that window.
 */
const MIN_EXCESS_NATS = 0.05;
/** Scored windows remembered per agent type: benign traffic repeats itself, and a repeat costs no inference. */
const SCORE_CACHE_CAP = 50_000;

/** Options of {@link SequenceAutoencoderDetector}; the defaults are the ones the ablation measured. */
export interface SequenceAutoencoderOptions {
  /** Calls per window (W). */
  window?: number;
  embedding?: number;
  /** LSTM units of the encoder and of the decoder. */
  units?: number;
  epochs?: number;
  batchSize?: number;
  /** Training windows kept per agent type (a seeded reservoir). */
  maxTrainingWindows?: number;
  /** Seed of the initial weights and of the reservoir. */
  seed?: number;
  /** The held-out quantile of window loss above which a window is anomalous. */
  thresholdQuantile?: number;
  /** Learned sessions an agent type needs before it gets a model. */
  minSessions?: number;
  /** Ended sessions scored together once the model is ready. */
  scoringBatch?: number;
  /** How TensorFlow.js is loaded; tests replace it to simulate a missing install. */
  loader?: TensorFlowLoader;
  /** Told once when TensorFlow.js cannot be loaded (the detector then stays silent). Standard error by default. */
  onUnavailable?: (message: string) => void;
}

/** Where the detector stands: models are trained or restored asynchronously, off the capture path. */
export type AutoencoderStatus = "idle" | "training" | "ready" | "unavailable";

const savedWeightSchema = z.object({ shape: z.array(z.number().int().positive()), values: z.array(z.number()) });
const agentStateSchema = z.object({
  sessions: z.number().int().nonnegative(),
  tools: z.array(z.string()),
  training_windows: z.number().int().nonnegative(),
  calibration_windows: z.number().int().positive(),
  threshold: z.number().nonnegative(),
  calibration_median: z.number().nonnegative(),
  calibration_max: z.number().nonnegative(),
  final_training_loss: z.number().nullable(),
  weights: z.array(savedWeightSchema),
});
/** The saved form of the autoencoder detector, checked on load. */
export const sequenceAutoencoderBaselineSchema = z.object({
  version: z.literal(VERSION),
  window: z.number().int().min(2).max(64),
  embedding: z.number().int().positive().max(256),
  units: z.number().int().positive().max(256),
  threshold_quantile: z.number().min(0.5).max(1),
  agents: jsonMap(agentStateSchema),
});
/** A baseline as the schema reads it: agent types in a Map. */
type ParsedBaseline = z.infer<typeof sequenceAutoencoderBaselineSchema>;
export type SequenceAutoencoderBaselineState = JsonForm<ParsedBaseline>;
type AgentState = z.infer<typeof agentStateSchema>;

/** The vocabulary of one agent type, and once trained its model and thresholds. */
class AgentVocabulary {
  readonly ids = new Map<string, number>();
  readonly names: string[] = ["<pad>", "<unknown>"];
  model: LayersModel | null = null;
  state: Omit<AgentState, "weights" | "tools"> | null = null;
  readonly cache = new Map<string, number>();

  id(tool: string, grow: boolean): number {
    const known = this.ids.get(tool);
    if (known !== undefined) return known;
    if (!grow || this.names.length >= VOCABULARY_CAP) return UNKNOWN;
    const id = this.names.length;
    this.names.push(tool);
    this.ids.set(tool, id);
    return id;
  }
}

interface LearnedSession {
  agent: string;
  tokens: number[];
}

interface ScoredSession {
  session: string;
  agent: string;
  user: string | null;
  server: string;
  tokens: number[];
  tools: string[];
  calls: number[];
  times: number[];
}

/** The windows of a session: every W consecutive calls, or one left-padded window when it is shorter. */
export function slidingWindows(tokens: readonly number[], window: number): number[][] {
  if (tokens.length === 0) return [];
  if (tokens.length <= window) return [[...new Array<number>(window - tokens.length).fill(PAD), ...tokens]];
  const windows: number[][] = [];
  for (let start = 0; start + window <= tokens.length; start++) windows.push(tokens.slice(start, start + window));
  return windows;
}

function quantile(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1));
  return sorted[rank]!;
}

/**
 * Tool-call sequences per agent type, learned by an LSTM autoencoder (TensorFlow.js, wasm backend, loaded lazily):
 * windows of W tool ids are embedded, encoded by an LSTM, repeated and decoded by a second LSTM into a softmax over
 * the agent type's tools. A window's score is its mean per-call negative log-likelihood; the threshold is the
 * {@link SequenceAutoencoderOptions.thresholdQuantile} of held-out baseline windows (every fifth learned session is
 * held out, so the threshold is not the model's memory of its own training data).
 *
 * Inference never runs in `observe`: a session's windows are scored in batches after the session ends (on a later
 * turn of the event loop once {@link SequenceAutoencoderOptions.scoringBatch} sessions wait, or at `forceFlush`),
 * so its `sequence_anomaly` finding (low, or medium when far past every held-out window; never higher: an unusual
 * order is weak evidence alone) arrives after the session, not before its calls reach the server.
 */
export class SequenceAutoencoderDetector implements Detector {
  readonly name = SEQUENCE_AUTOENCODER_DETECTOR;
  private readonly shape: Omit<AutoencoderShape, "vocabulary">;
  private readonly options: Required<
    Pick<
      SequenceAutoencoderOptions,
      "epochs" | "batchSize" | "maxTrainingWindows" | "seed" | "thresholdQuantile" | "minSessions" | "scoringBatch"
    >
  >;
  private readonly loader: TensorFlowLoader;
  private readonly onUnavailable: (message: string) => void;
  private readonly agents = new Map<string, AgentVocabulary>();
  private readonly learning = new Map<string, LearnedSession>();
  private readonly active = new Map<string, ScoredSession>();
  private pending: Array<{ session: ScoredSession; emit: FindingSink }> = [];
  private tf: TensorFlow | null = null;
  private loading: Promise<TensorFlow | null> | null = null;
  private work: Promise<void> | null = null;
  private restoring: ParsedBaseline | null = null;
  private flushScheduled = false;
  private currentStatus: AutoencoderStatus = "idle";
  /** Ended sessions dropped because the model was not ready and the queue was full. */
  dropped = 0;
  /** Milliseconds spent training, all agent types. */
  trainingMs = 0;
  /** Milliseconds spent scoring ended sessions (inference and judging), off the capture path. */
  scoringMs = 0;
  /** Windows run through the model (repeats are answered from a cache). */
  windowsInferred = 0;

  constructor(options: SequenceAutoencoderOptions = {}) {
    this.shape = { window: options.window ?? 8, embedding: options.embedding ?? 8, units: options.units ?? 16 };
    this.options = {
      epochs: options.epochs ?? 20,
      batchSize: options.batchSize ?? 64,
      maxTrainingWindows: options.maxTrainingWindows ?? 4096,
      seed: options.seed ?? 20_260_302,
      thresholdQuantile: options.thresholdQuantile ?? 0.995,
      minSessions: options.minSessions ?? MIN_BASELINE_SESSIONS,
      scoringBatch: options.scoringBatch ?? 64,
    };
    this.loader = options.loader ?? loadTensorFlow;
    this.onUnavailable =
      options.onUnavailable ??
      ((message) => process.stderr.write(`toolwatch: ${SEQUENCE_AUTOENCODER_DETECTOR} disabled: ${message}\n`));
  }

  /** Where the detector stands (training and restoring run asynchronously). */
  get status(): AutoencoderStatus {
    return this.currentStatus;
  }

  learn(exchange: CapturedExchange, position: ExchangePosition): void {
    if (this.currentStatus === "unavailable") return;
    if (position.call_index === null || typeof exchange.tool !== "string") return;
    const agent = agentType(exchange);
    let session = this.learning.get(exchange.session);
    if (session === undefined) {
      session = { agent, tokens: [] };
      this.learning.set(exchange.session, session);
    }
    if (session.tokens.length >= MAX_SESSION_CALLS) return;
    const vocabulary = this.vocabulary(agent, true);
    if (vocabulary === null) return;
    session.tokens.push(vocabulary.id(exchange.tool, true));
    // Start the import now, so the model is usually ready by the time scored traffic arrives.
    void this.loadOnce();
  }

  observe(exchange: CapturedExchange, position: ExchangePosition, _emit: FindingSink): void {
    if (this.currentStatus === "unavailable") return;
    if (position.call_index === null || typeof exchange.tool !== "string") return;
    if ((this.learning.size > 0 || this.restoring !== null) && this.work === null) this.startWork();
    let session = this.active.get(exchange.session);
    if (session === undefined) {
      const agent = agentType(exchange);
      if (!this.agents.has(agent)) return;
      session = {
        session: exchange.session,
        agent,
        user: exchange.user,
        server: exchange.server,
        tokens: [],
        tools: [],
        calls: [],
        times: [],
      };
      this.active.set(exchange.session, session);
    }
    if (session.tokens.length >= MAX_SESSION_CALLS) return;
    session.tokens.push(this.agents.get(session.agent)?.id(exchange.tool, false) ?? UNKNOWN);
    session.tools.push(exchange.tool);
    session.calls.push(position.call_index);
    session.times.push(position.time_ms);
  }

  endSession(session: string, _time_ms: number, emit: FindingSink): void {
    const state = this.active.get(session);
    if (state === undefined) return;
    this.active.delete(session);
    if (this.currentStatus === "unavailable") return;
    this.pending.push({ session: state, emit });
    if (this.pending.length > MAX_PENDING_SESSIONS) {
      this.pending.shift();
      this.dropped++;
    }
    if (this.currentStatus === "ready" && this.pending.length >= this.options.scoringBatch && !this.flushScheduled) {
      // Inference off the capture path: the batch is scored on a later turn of the event loop.
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.scorePending();
      });
    }
  }

  async forceFlush(_emit: FindingSink): Promise<void> {
    await this.train();
    this.scorePending();
  }

  /**
   * Trains a model per agent type from the learned traffic (or restores a loaded baseline). `toolwatch baseline
   * train` awaits it before `saveBaseline()`; in replay and live it starts at the first scored call. Never rejects.
   */
  async train(): Promise<void> {
    if (this.currentStatus === "unavailable") return;
    if ((this.learning.size > 0 || this.restoring !== null) && this.work === null) this.startWork();
    while (this.work !== null) await this.work;
  }

  async shutdown(): Promise<void> {
    await this.train();
    this.active.clear();
    this.pending = [];
    for (const vocabulary of this.agents.values()) {
      vocabulary.model?.dispose();
      vocabulary.model = null;
    }
  }

  saveBaseline(): SequenceAutoencoderBaselineState {
    const agents: SequenceAutoencoderBaselineState["agents"] = Object.fromEntries(
      [...this.agents].flatMap(([agent, vocabulary]) =>
        vocabulary.model === null || vocabulary.state === null
          ? []
          : [
              [
                agent,
                {
                  ...vocabulary.state,
                  tools: vocabulary.names.slice(RESERVED_IDS),
                  weights: exportWeights(vocabulary.model),
                },
              ],
            ],
      ),
    );
    return {
      version: VERSION,
      ...this.shape,
      threshold_quantile: this.options.thresholdQuantile,
      agents,
    };
  }

  loadBaseline(state: unknown): string | null {
    const parsed = sequenceAutoencoderBaselineSchema.safeParse(state);
    if (!parsed.success) return `sequence autoencoder baseline: ${describeStateError(parsed.error)}`;
    const saved = parsed.data;
    for (const [agent, agentState] of saved.agents) {
      const expected = expectedShapes({ ...saved, vocabulary: agentState.tools.length + RESERVED_IDS });
      const actual = agentState.weights.map((weight) => weight.shape.join("x"));
      if (actual.join(",") !== expected.join(",")) {
        return `sequence autoencoder baseline: agent type ${agent}: weights ${actual.join(", ")} do not fit a model of shape ${expected.join(", ")}`;
      }
      const short = agentState.weights.find(
        (weight) => weight.values.length !== weight.shape.reduce((product, dimension) => product * dimension, 1),
      );
      if (short !== undefined) {
        return `sequence autoencoder baseline: agent type ${agent}: a ${short.shape.join("x")} weight has ${short.values.length} values`;
      }
    }
    Object.assign(this.shape, { window: saved.window, embedding: saved.embedding, units: saved.units });
    this.options.thresholdQuantile = saved.threshold_quantile;
    this.agents.clear();
    this.learning.clear();
    for (const [agent, agentState] of saved.agents) {
      const vocabulary = new AgentVocabulary();
      for (const tool of agentState.tools) vocabulary.id(tool, true);
      this.agents.set(agent, vocabulary);
    }
    // The models are built when TensorFlow.js has loaded (asynchronously): see train().
    this.restoring = saved;
    this.currentStatus = "idle";
    void this.loadOnce();
    return null;
  }

  private vocabulary(agent: string, grow: boolean): AgentVocabulary | null {
    let vocabulary = this.agents.get(agent);
    if (vocabulary === undefined) {
      if (!grow || this.agents.size >= MAX_AGENT_TYPES) return null;
      vocabulary = new AgentVocabulary();
      this.agents.set(agent, vocabulary);
    }
    return vocabulary;
  }

  private loadOnce(): Promise<TensorFlow | null> {
    this.loading ??= this.loader().then(
      (result) => {
        if (result.ok) {
          this.tf = result.tf;
          return result.tf;
        }
        this.disable(result.message);
        return null;
      },
      (error: unknown) => {
        this.disable(String(error));
        return null;
      },
    );
    return this.loading;
  }

  private disable(message: string): void {
    if (this.currentStatus === "unavailable") return;
    this.currentStatus = "unavailable";
    this.learning.clear();
    this.active.clear();
    this.pending = [];
    this.restoring = null;
    this.onUnavailable(message);
  }

  private startWork(): void {
    this.currentStatus = "training";
    const work: Promise<void> = this.runWork()
      .catch((error: unknown) => this.disable(`training failed: ${String(error)}`))
      .finally(() => {
        if (this.work === work) this.work = null;
      });
    this.work = work;
  }

  private async runWork(): Promise<void> {
    const tf = await this.loadOnce();
    if (tf === null) return;
    const restoring = this.restoring;
    this.restoring = null;
    if (restoring !== null) this.restore(tf, restoring);
    const learned = [...this.learning.values()];
    this.learning.clear();
    const byAgent = new Map<string, number[][]>();
    for (const session of learned) {
      if (session.tokens.length === 0) continue;
      const list = byAgent.get(session.agent) ?? [];
      list.push(session.tokens);
      byAgent.set(session.agent, list);
    }
    const started = performance.now();
    for (const [agent, sessions] of byAgent) {
      const vocabulary = this.agents.get(agent);
      if (vocabulary === undefined || sessions.length < this.options.minSessions) continue;
      await this.trainAgent(tf, vocabulary, sessions);
    }
    this.trainingMs += performance.now() - started;
    if (this.currentStatus === "training") this.currentStatus = "ready";
  }

  private restore(tf: TensorFlow, saved: ParsedBaseline): void {
    for (const [agent, agentState] of saved.agents) {
      const vocabulary = this.agents.get(agent);
      if (vocabulary === undefined) continue;
      const shape = { ...this.shape, vocabulary: vocabulary.names.length };
      const model = buildAutoencoder(tf, shape, this.options.seed);
      const problem = importWeights(tf, model, agentState.weights);
      if (problem !== null) {
        model.dispose();
        this.disable(`agent type ${agent}: ${problem}`);
        return;
      }
      vocabulary.model?.dispose();
      vocabulary.model = model;
      vocabulary.cache.clear();
      const { weights: _weights, tools: _tools, ...state } = agentState;
      vocabulary.state = state;
    }
  }

  private async trainAgent(tf: TensorFlow, vocabulary: AgentVocabulary, sessions: number[][]): Promise<void> {
    const shape = { ...this.shape, vocabulary: vocabulary.names.length };
    const training: number[][] = [];
    const calibration: number[][] = [];
    const random = new SeededRandom(this.options.seed);
    let seen = 0;
    sessions.forEach((tokens, index) => {
      const windows = slidingWindows(tokens, shape.window);
      // Every fifth session is held out whole: its windows overlap each other, not the training windows.
      if (index % 5 === 4) {
        calibration.push(...windows);
        return;
      }
      for (const window of windows) {
        seen++;
        if (training.length < this.options.maxTrainingWindows) training.push(window);
        else {
          const slot = random.below(seen);
          if (slot < training.length) training[slot] = window;
        }
      }
    });
    if (training.length === 0 || calibration.length === 0) return;
    const model = buildAutoencoder(tf, shape, this.options.seed);
    const finalLoss = await trainAutoencoder(tf, model, training, shape, {
      epochs: this.options.epochs,
      batchSize: this.options.batchSize,
    });
    const scores = scoreWindows(tf, model, calibration, shape).sort((a, b) => a - b);
    vocabulary.model?.dispose();
    vocabulary.model = model;
    vocabulary.cache.clear();
    vocabulary.state = {
      sessions: sessions.length,
      training_windows: training.length,
      calibration_windows: calibration.length,
      // Not rounded: a threshold rounded down would flag the very windows that set it.
      threshold: quantile(scores, this.options.thresholdQuantile),
      calibration_median: round(quantile(scores, 0.5)),
      calibration_max: round(scores[scores.length - 1] ?? 0),
      final_training_loss: Number.isFinite(finalLoss) ? round(finalLoss) : null,
    };
  }

  /** Scores every waiting session whose agent type has a model, in one batch per agent type. */
  private scorePending(): void {
    const tf = this.tf;
    if (tf === null || this.currentStatus !== "ready" || this.pending.length === 0) return;
    const started = performance.now();
    const batch = this.pending;
    this.pending = [];
    const byAgent = new Map<string, typeof batch>();
    for (const item of batch) {
      const list = byAgent.get(item.session.agent) ?? [];
      list.push(item);
      byAgent.set(item.session.agent, list);
    }
    for (const [agent, items] of byAgent) {
      const vocabulary = this.agents.get(agent);
      if (vocabulary?.model === null || vocabulary?.model === undefined || vocabulary.state === null) continue;
      const shape = { ...this.shape, vocabulary: vocabulary.names.length };
      const windowsOf = items.map((item) => slidingWindows(item.session.tokens, shape.window));
      const unscored = new Map<string, number[]>();
      for (const windows of windowsOf) {
        for (const window of windows) {
          const key = window.join(",");
          if (!vocabulary.cache.has(key)) unscored.set(key, window);
        }
      }
      const fresh = [...unscored.values()];
      const scores = scoreWindows(tf, vocabulary.model, fresh, shape);
      this.windowsInferred += fresh.length;
      if (vocabulary.cache.size + fresh.length > SCORE_CACHE_CAP) vocabulary.cache.clear();
      fresh.forEach((window, index) => {
        vocabulary.cache.set(window.join(","), scores[index] ?? 0);
      });
      items.forEach((item, index) => {
        const finding = this.judge(item.session, vocabulary, windowsOf[index] ?? []);
        if (finding !== null) item.emit(finding);
      });
    }
    this.scoringMs += performance.now() - started;
  }

  private judge(session: ScoredSession, vocabulary: AgentVocabulary, windows: number[][]): Finding | null {
    const state = vocabulary.state;
    if (state === null || windows.length === 0) return null;
    let worst = -1;
    let worstIndex = 0;
    windows.forEach((window, index) => {
      const loss = vocabulary.cache.get(window.join(",")) ?? 0;
      if (loss > worst) {
        worst = loss;
        worstIndex = index;
      }
    });
    if (worst <= state.threshold + MIN_EXCESS_NATS) return null;
    // Window `worstIndex` covers calls worstIndex..worstIndex+W-1 (or the whole, shorter, session).
    const first = session.tokens.length <= this.shape.window ? 0 : worstIndex;
    const last = Math.min(session.tokens.length, first + this.shape.window) - 1;
    const tools = session.tools.slice(first, last + 1);
    const unknown = tools.filter((tool) => !vocabulary.ids.has(tool));
    const far = worst > Math.max(2 * state.threshold, state.calibration_max);
    const excess = state.threshold > 0 ? (worst - state.threshold) / state.threshold : 1;
    const sequence = tools.join(" → ");
    return {
      time: new Date(session.times[last] ?? 0).toISOString(),
      session: session.session,
      user: session.user,
      agent: session.agent,
      server: session.server,
      tool: session.tools[last] ?? null,
      call_index: session.calls[last] ?? null,
      detector: this.name,
      category: "sequence_anomaly",
      severity: far ? "medium" : "low",
      score: round(Math.min(far ? 0.6 : 0.55, 0.3 + 0.3 * Math.min(1, excess))),
      message: `tool sequence ${sequence} reconstructs with loss ${worst.toFixed(2)} nats per call, above the p${(100 * this.options.thresholdQuantile).toFixed(1)} of ${state.threshold.toFixed(2)} over ${state.calibration_windows} held-out baseline windows of agent type ${session.agent} (median ${state.calibration_median.toFixed(2)}, max ${state.calibration_max.toFixed(2)}); check why this session used its tools in this order`,
      evidence: {
        kind: "sequence_reconstruction",
        call_indexes: session.calls.slice(first, last + 1),
        tools,
        unknown_tools: unknown,
        loss_nats: round(worst),
        windows_scored: windows.length,
        baseline: {
          agent: session.agent,
          threshold_nats: state.threshold,
          quantile: this.options.thresholdQuantile,
          calibration_windows: state.calibration_windows,
          calibration_median_nats: state.calibration_median,
          calibration_max_nats: state.calibration_max,
          sessions: state.sessions,
        },
      },
    };
  }
}

/** The weight shapes, in `model.weights` order, of an autoencoder of this shape (checked before building one). */
function expectedShapes(shape: AutoencoderShape): string[] {
  const gates = 4 * shape.units;
  return [
    [shape.vocabulary, shape.embedding],
    [shape.embedding, gates],
    [shape.units, gates],
    [gates],
    [shape.units, gates],
    [shape.units, gates],
    [gates],
    [shape.units, shape.vocabulary],
    [shape.vocabulary],
  ].map((dimensions) => dimensions.join("x"));
}

export type { SavedWeight };
