import { z } from "zod";
import type { Detector, ExchangePosition, FindingSink } from "../../core/detector.js";
import type { CapturedExchange } from "../../core/exchange.js";
import { type JsonForm, jsonMap } from "../json-map.js";
import { describeStateError } from "../state-errors.js";
import { agentType, baselineFinding, MIN_BASELINE_SESSIONS, sessionFinding } from "./baseline-finding.js";
import { Reservoir, RunningStatistics, round } from "./running-statistics.js";

export const SEQUENCE_DETECTOR = "baseline_sequence";
const VERSION = 1;
const START = 0;
const END = 1;
const UNKNOWN = 2;
const RESERVED = ["<start>", "<end>", "<unknown>"];
/** Distinct tools per agent type; n-gram keys are packed into integers in this base. */
const VOCABULARY_CAP = 1024;
/** Calls of one learned session that are kept; longer sessions are learned from their start. */
const MAX_LEARNED_CALLS = 256;
const SAMPLE_SIZE = 2048;
/** Below this surprisal a transition is never flagged, whatever the percentiles say (a tiny, tidy baseline). */
const MIN_TRANSITION_BITS = 4;
/** Improbable-transition findings per session: one odd session should not write a page of findings. */
const MAX_TRANSITION_FINDINGS = 3;
const MAX_UNSEEN_PER_SESSION = 8;
/**
 * Scored sessions of one agent type that must have called a tool missing from its baseline before the next ones
 * are told it at low severity: past this, the tool looks rolled out to the whole type after the baseline was
 * learned, rather than reached for by one compromised agent.
 */
export const DEFAULT_ROLLOUT_SESSIONS = 5;
/** Unseen tools counted per agent type; a type that keeps meeting new ones past this reports them at medium. */
const MAX_ROLLOUT_TOOLS = 256;

/** Options of {@link SequenceDetector}. */
export interface SequenceDetectorOptions {
  /**
   * Sessions of an agent type that call a tool its baseline lacks, each at medium, before later sessions calling
   * it are reported at low as a likely rollout (default {@link DEFAULT_ROLLOUT_SESSIONS}; 0 never lowers).
   */
  rollout_sessions?: number;
}

interface ContextCounts {
  total: number;
  /** Distinct followers: Witten-Bell's estimate of how often this context meets something new. */
  types: number;
}

/** The n-gram counts and settled figures of one agent type. */
class AgentSequences {
  readonly ids = new Map<string, number>();
  readonly names: string[] = [...RESERVED];
  readonly unigram = new Map<number, number>();
  unigramTotal = 0;
  readonly bigram = new Map<number, number>();
  readonly bigramContext = new Map<number, ContextCounts>();
  readonly trigram = new Map<number, number>();
  readonly trigramContext = new Map<number, ContextCounts>();
  sessions = 0;
  /** Leave-one-out surprisal of every learned transition. */
  readonly transitions = new RunningStatistics();
  transitionSample = new Reservoir(SAMPLE_SIZE);
  /** Leave-one-out mean surprisal of every learned session. */
  sessionMeans = new Reservoir(SAMPLE_SIZE);
  /** Settled thresholds (bits). */
  transitionThreshold = Number.POSITIVE_INFINITY;
  sessionThreshold = Number.POSITIVE_INFINITY;

  /** The id of `tool`, adding it when `grow` and there is room; {@link UNKNOWN} otherwise. */
  id(tool: string, grow: boolean): number {
    const known = this.ids.get(tool);
    if (known !== undefined) return known;
    if (!grow || this.names.length >= VOCABULARY_CAP) return UNKNOWN;
    const id = this.names.length;
    this.names.push(tool);
    this.ids.set(tool, id);
    return id;
  }

  count(a: number, b: number, next: number, times = 1): void {
    this.unigram.set(next, (this.unigram.get(next) ?? 0) + times);
    this.unigramTotal += times;
    bump(this.bigram, this.bigramContext, b * VOCABULARY_CAP + next, b, times);
    bump(
      this.trigram,
      this.trigramContext,
      (a * VOCABULARY_CAP + b) * VOCABULARY_CAP + next,
      a * VOCABULARY_CAP + b,
      times,
    );
  }

  /**
   * P(next | a, b): Witten-Bell interpolation of trigram, bigram and add-one unigram estimates. With `leaveOut`,
   * the transition's own count is taken out first, so a learned transition is scored as if it were new traffic.
   */
  probability(a: number, b: number, next: number, leaveOut: boolean): number {
    const discount = leaveOut ? 1 : 0;
    const outcomes = this.names.length - 1;
    const unigram = ((this.unigram.get(next) ?? 0) - discount + 1) / (this.unigramTotal - discount + outcomes);
    const bigram = interpolate(this.bigram, this.bigramContext, b * VOCABULARY_CAP + next, b, discount, unigram);
    const context = a * VOCABULARY_CAP + b;
    return interpolate(this.trigram, this.trigramContext, context * VOCABULARY_CAP + next, context, discount, bigram);
  }

  surprisal(a: number, b: number, next: number, leaveOut = false): number {
    return -Math.log2(this.probability(a, b, next, leaveOut));
  }

  /** Learns a finished session's figures (after its n-grams were counted with everyone else's). */
  scoreLearned(tokens: readonly number[]): void {
    let a = START;
    let b = START;
    let sum = 0;
    for (const next of tokens) {
      const bits = this.surprisal(a, b, next, true);
      this.transitions.add(bits);
      this.transitionSample.add(bits);
      sum += bits;
      a = b;
      b = next;
    }
    if (tokens.length > 0) this.sessionMeans.add(sum / tokens.length);
  }

  settle(): void {
    const transitionDeviation = this.transitions.standardDeviation;
    this.transitionThreshold = Math.max(
      MIN_TRANSITION_BITS,
      this.transitionSample.quantile(0.99),
      this.transitions.mean + 3 * transitionDeviation,
    );
    this.sessionThreshold = Math.max(MIN_TRANSITION_BITS / 2, this.sessionMeans.quantile(0.99));
  }
}

function bump(
  counts: Map<number, number>,
  contexts: Map<number, ContextCounts>,
  key: number,
  context: number,
  times: number,
): void {
  const previous = counts.get(key) ?? 0;
  counts.set(key, previous + times);
  let totals = contexts.get(context);
  if (totals === undefined) {
    totals = { total: 0, types: 0 };
    contexts.set(context, totals);
  }
  totals.total += times;
  if (previous === 0) totals.types++;
}

function interpolate(
  counts: Map<number, number>,
  contexts: Map<number, ContextCounts>,
  key: number,
  context: number,
  discount: number,
  lower: number,
): number {
  const totals = contexts.get(context);
  if (totals === undefined) return lower;
  const count = (counts.get(key) ?? 0) - discount;
  const total = totals.total - discount;
  const types = totals.types - (discount === 1 && count === 0 ? 1 : 0);
  if (total <= 0 || types <= 0) return lower;
  return (count + types * lower) / (total + types);
}

interface LearningSession {
  agent: string;
  tokens: number[];
}

interface ScoredSession {
  model: AgentSequences;
  agent: string;
  user: string | null;
  server: string;
  a: number;
  b: number;
  calls: number;
  transitions: number;
  sum: number;
  worstBits: number;
  worstCall: number;
  worstTransition: string;
  transitionFindings: number;
  unseen: string[];
  last_ms: number;
}

const countsSchema = z.array(z.array(z.number().int().nonnegative()));
const statisticsSchema = z.object({
  count: z.number(),
  mean: z.number(),
  m2: z.number(),
  min: z.number(),
  max: z.number(),
});
const reservoirSchema = z.object({ seen: z.number().int().nonnegative(), items: z.array(z.number()) });
const agentStateSchema = z.object({
  sessions: z.number().int().nonnegative(),
  tools: z.array(z.string()),
  unigram: countsSchema,
  bigram: countsSchema,
  trigram: countsSchema,
  transitions: statisticsSchema,
  transition_sample: reservoirSchema,
  session_means: reservoirSchema,
});
/** The saved form of the sequence model, checked on load. */
export const sequenceBaselineSchema = z.object({
  version: z.literal(VERSION),
  agents: jsonMap(agentStateSchema),
});
export type SequenceBaselineState = JsonForm<z.infer<typeof sequenceBaselineSchema>>;

/**
 * Tool-call sequences per agent type: a Witten-Bell smoothed trigram model over tool names (with session start
 * and end), learned from baseline traffic. Raises `sequence_anomaly` findings:
 *
 * - a tool this agent type never called in its baseline (medium, 0.6): strong, yet novelty alone; low (0.3) once
 *   `rollout_sessions` scored sessions of the type have called it, which reads as a rollout, not one agent astray;
 * - a transition whose surprisal is above the type's 99th percentile (and mean + 3σ) of leave-one-out surprisal
 *   over learned transitions (low);
 * - at session end, a mean surprisal above the 99th percentile of learned sessions (low).
 *
 * Agent types with fewer than {@link MIN_BASELINE_SESSIONS} learned sessions are not scored.
 */
export class SequenceDetector implements Detector {
  readonly name = SEQUENCE_DETECTOR;
  private readonly agents = new Map<string, AgentSequences>();
  private readonly learning = new Map<string, LearningSession>();
  private readonly sessions = new Map<string, ScoredSession>();
  /** Per agent type, the scored sessions that called each tool its baseline lacks. */
  private readonly unseenToolSessions = new Map<string, Map<string, number>>();
  private readonly rolloutSessions: number;
  private settled = true;

  constructor(options: SequenceDetectorOptions = {}) {
    this.rolloutSessions = Math.max(0, Math.floor(options.rollout_sessions ?? DEFAULT_ROLLOUT_SESSIONS));
  }

  learn(exchange: CapturedExchange, position: ExchangePosition): void {
    if (position.call_index === null || typeof exchange.tool !== "string") return;
    const agent = agentType(exchange);
    let session = this.learning.get(exchange.session);
    if (session === undefined) {
      session = { agent, tokens: [] };
      this.learning.set(exchange.session, session);
    }
    if (session.tokens.length >= MAX_LEARNED_CALLS) return;
    const model = this.model(agent);
    if (model === null) return;
    session.tokens.push(model.id(exchange.tool, true));
    this.settled = false;
  }

  observe(exchange: CapturedExchange, position: ExchangePosition, emit: FindingSink): void {
    if (position.call_index === null || typeof exchange.tool !== "string") return;
    if (!this.settled) this.settle();
    let session = this.sessions.get(exchange.session);
    if (session === undefined) {
      const model = this.agents.get(agentType(exchange));
      if (model === undefined || model.sessions < MIN_BASELINE_SESSIONS) return;
      session = {
        model,
        agent: agentType(exchange),
        user: exchange.user,
        server: exchange.server,
        a: START,
        b: START,
        calls: 0,
        transitions: 0,
        sum: 0,
        worstBits: 0,
        worstCall: -1,
        worstTransition: "",
        transitionFindings: 0,
        unseen: [],
        last_ms: position.time_ms,
      };
      this.sessions.set(exchange.session, session);
    }
    const model = session.model;
    const tool = exchange.tool;
    const next = model.id(tool, false);
    const previous = session.b === START ? "<start>" : (model.names[session.b] ?? "<unknown>");
    session.calls++;
    session.last_ms = position.time_ms;
    if (next === UNKNOWN) {
      // An unseen tool has no meaningful surprisal (it is the smoothing's guess); it is reported as itself.
      if (!session.unseen.includes(tool) && session.unseen.length < MAX_UNSEEN_PER_SESSION) {
        session.unseen.push(tool);
        const before = this.countUnseenTool(session.agent, tool);
        const rollout = this.rolloutSessions > 0 && before >= this.rolloutSessions;
        const baselineText = `agent type ${session.agent} never called ${tool} in its baseline (${model.sessions} sessions, ${model.names.length - RESERVED.length} tools)`;
        emit(
          baselineFinding(this.name, exchange, position, {
            category: "sequence_anomaly",
            severity: rollout ? "low" : "medium",
            score: rollout ? 0.3 : 0.6,
            message: rollout
              ? `${baselineText}, but ${before} other sessions of this type have called it since: likely a tool rolled out after the baseline was learned (retrain the baseline if so)`
              : `${baselineText}: check why this session needs it`,
            evidence: {
              kind: "unseen_tool",
              tool,
              previous_tool: previous,
              sessions_since_baseline: before,
              baseline: {
                agent: session.agent,
                sessions: model.sessions,
                tools: model.names.slice(RESERVED.length, 40),
              },
            },
          }),
        );
      }
    } else {
      const bits = model.surprisal(session.a, session.b, next);
      session.transitions++;
      session.sum += bits;
      if (bits > session.worstBits) {
        session.worstBits = bits;
        session.worstCall = position.call_index;
        session.worstTransition = `${previous} → ${tool}`;
      }
      if (bits > model.transitionThreshold && session.transitionFindings < MAX_TRANSITION_FINDINGS) {
        session.transitionFindings++;
        const excess = (bits - model.transitionThreshold) / model.transitionThreshold;
        emit(
          baselineFinding(this.name, exchange, position, {
            category: "sequence_anomaly",
            severity: "low",
            score: 0.3 + 0.4 * Math.min(1, excess),
            message: `${tool} after ${previous} is improbable for agent type ${session.agent}: ${bits.toFixed(1)} bits of surprisal against a baseline 99th percentile of ${model.transitionThreshold.toFixed(1)} bits (mean ${model.transitions.mean.toFixed(1)}, ${model.sessions} sessions)`,
            evidence: {
              kind: "improbable_transition",
              transition: [previous, tool],
              surprisal_bits: round(bits),
              baseline: {
                agent: session.agent,
                threshold_bits: round(model.transitionThreshold),
                mean_bits: round(model.transitions.mean),
                sessions: model.sessions,
              },
            },
          }),
        );
      }
    }
    session.a = session.b;
    session.b = next;
  }

  /**
   * Counts one more scored session of `agent` calling `tool`, which its baseline lacks, and returns how many did
   * before it. Event-time state of the stream, like every other: a replay counts as live traffic did.
   */
  private countUnseenTool(agent: string, tool: string): number {
    let tools = this.unseenToolSessions.get(agent);
    if (tools === undefined) {
      tools = new Map();
      this.unseenToolSessions.set(agent, tools);
    }
    const before = tools.get(tool);
    if (before !== undefined) tools.set(tool, before + 1);
    else if (tools.size < MAX_ROLLOUT_TOOLS) tools.set(tool, 1);
    return before ?? 0;
  }

  endSession(session: string, _time_ms: number, emit: FindingSink): void {
    const state = this.sessions.get(session);
    if (state === undefined) return;
    this.sessions.delete(session);
    const model = state.model;
    if (state.b !== UNKNOWN) {
      state.sum += model.surprisal(state.a, state.b, END);
      state.transitions++;
    }
    // Short sessions have too few transitions for a mean to mean anything.
    if (state.transitions < 3) return;
    const mean = state.sum / state.transitions;
    if (mean <= model.sessionThreshold) return;
    emit(
      sessionFinding(
        this.name,
        { session, user: state.user, agent: state.agent, server: state.server, time_ms: state.last_ms },
        {
          category: "sequence_anomaly",
          severity: "low",
          score: 0.3 + 0.3 * Math.min(1, (mean - model.sessionThreshold) / model.sessionThreshold),
          message: `this session's ${state.calls} calls follow an unusual order for agent type ${state.agent}: mean surprisal ${mean.toFixed(1)} bits per transition against a baseline 99th percentile of ${model.sessionThreshold.toFixed(1)} bits; the least likely step was ${state.worstTransition} (call ${state.worstCall})`,
          evidence: {
            kind: "improbable_session",
            calls: state.calls,
            mean_surprisal_bits: round(mean),
            worst_transition: state.worstTransition,
            worst_call_index: state.worstCall,
            worst_surprisal_bits: round(state.worstBits),
            unseen_tools: state.unseen,
            baseline: {
              agent: state.agent,
              threshold_bits: round(model.sessionThreshold),
              median_bits: round(model.sessionMeans.quantile(0.5)),
              sessions: model.sessions,
            },
          },
        },
      ),
    );
  }

  async shutdown(): Promise<void> {
    this.sessions.clear();
  }

  /** Counts and scores the sessions learned since the last settling. Runs once, on first use after learning. */
  settle(): void {
    this.settled = true;
    const finished: Array<[AgentSequences, number[]]> = [];
    for (const session of this.learning.values()) {
      const model = this.agents.get(session.agent);
      if (model === undefined || session.tokens.length === 0) continue;
      const tokens = [...session.tokens, END];
      let a = START;
      let b = START;
      for (const next of tokens) {
        model.count(a, b, next);
        a = b;
        b = next;
      }
      model.sessions++;
      finished.push([model, tokens]);
    }
    this.learning.clear();
    for (const [model, tokens] of finished) model.scoreLearned(tokens);
    for (const model of this.agents.values()) model.settle();
  }

  saveBaseline(): SequenceBaselineState {
    if (!this.settled) this.settle();
    const agents: SequenceBaselineState["agents"] = Object.fromEntries(
      [...this.agents].map(([agent, model]) => [
        agent,
        {
          sessions: model.sessions,
          tools: model.names.slice(RESERVED.length),
          unigram: [...model.unigram].map(([next, count]) => [next, count]),
          bigram: [...model.bigram].map(([key, count]) => [...unpack(key, 2), count]),
          trigram: [...model.trigram].map(([key, count]) => [...unpack(key, 3), count]),
          transitions: model.transitions.toJSON(),
          transition_sample: model.transitionSample.toJSON(),
          session_means: model.sessionMeans.toJSON(),
        },
      ]),
    );
    return { version: VERSION, agents };
  }

  loadBaseline(state: unknown): string | null {
    const parsed = sequenceBaselineSchema.safeParse(state);
    if (!parsed.success) return `sequence baseline: ${describeStateError(parsed.error)}`;
    this.agents.clear();
    this.learning.clear();
    // A new baseline may hold the tools counted so far; their count starts again against it.
    this.unseenToolSessions.clear();
    for (const [agent, saved] of parsed.data.agents) {
      const model = new AgentSequences();
      for (const tool of saved.tools) model.id(tool, true);
      const vocabulary = model.names.length;
      for (const row of saved.trigram) {
        const [a, b, next, count] = row;
        if (row.length !== 4 || !inVocabulary(vocabulary, a, b, next) || count === undefined) {
          return `sequence baseline: agent type ${agent}: trigram row ${JSON.stringify(row)} does not fit its ${vocabulary} tokens`;
        }
        model.count(a!, b!, next!, count);
      }
      model.sessions = saved.sessions;
      Object.assign(model.transitions, {
        count: saved.transitions.count,
        mean: saved.transitions.mean,
        m2: saved.transitions.m2,
        min: saved.transitions.min,
        max: saved.transitions.max,
      });
      model.transitionSample = Reservoir.from(saved.transition_sample, SAMPLE_SIZE);
      model.sessionMeans = Reservoir.from(saved.session_means, SAMPLE_SIZE);
      model.settle();
      this.agents.set(agent, model);
    }
    this.settled = true;
    return null;
  }

  /** The learned model of `agent`, or `null` when there is no room for another agent type. */
  private model(agent: string): AgentSequences | null {
    let model = this.agents.get(agent);
    if (model === undefined) {
      if (this.agents.size >= MAX_AGENT_TYPES) return null;
      model = new AgentSequences();
      this.agents.set(agent, model);
    }
    return model;
  }
}

/** Agent types one detector learns; more are ignored (a misconfigured gateway could invent one per session). */
export const MAX_AGENT_TYPES = 256;

function unpack(key: number, parts: number): number[] {
  const result: number[] = [];
  let rest = key;
  for (let part = 0; part < parts; part++) {
    result.unshift(rest % VOCABULARY_CAP);
    rest = Math.floor(rest / VOCABULARY_CAP);
  }
  return result;
}

function inVocabulary(size: number, ...ids: Array<number | undefined>): boolean {
  return ids.every((id) => id !== undefined && id < size);
}

/** Lines of `toolwatch baseline show` for a saved sequence model; `null` when `state` is not one. */
export function describeSequenceBaseline(state: unknown): string[] | null {
  const parsed = sequenceBaselineSchema.safeParse(state);
  if (!parsed.success) return null;
  const lines: string[] = [];
  for (const [agent, saved] of parsed.data.agents) {
    const names = [...RESERVED, ...saved.tools];
    const total = saved.bigram.reduce((sum, row) => sum + (row[2] ?? 0), 0);
    const top = [...saved.bigram].sort((x, y) => (y[2] ?? 0) - (x[2] ?? 0)).slice(0, 8);
    const sample = Reservoir.from(saved.session_means, SAMPLE_SIZE);
    const transitions = Reservoir.from(saved.transition_sample, SAMPLE_SIZE);
    lines.push(
      `agent type ${agent}: ${saved.sessions} sessions, ${saved.tools.length} tools; transition surprisal p50 ${fixed(transitions.quantile(0.5))} / p99 ${fixed(transitions.quantile(0.99))} bits; session mean p50 ${fixed(sample.quantile(0.5))} / p99 ${fixed(sample.quantile(0.99))} bits`,
    );
    lines.push(`  tools: ${saved.tools.join(", ")}`);
    for (const [from, to, count] of top) {
      const share = total > 0 ? ((100 * (count ?? 0)) / total).toFixed(1) : "0";
      lines.push(`  ${names[from ?? 0]} → ${names[to ?? 0]}: ${count} (${share}%)`);
    }
  }
  return lines;
}

function fixed(value: number): string {
  return Number.isNaN(value) ? "-" : value.toFixed(1);
}
