import { z } from "zod";
import type { Detector, ExchangePosition, FindingSink } from "../../core/detector.js";
import type { CapturedExchange } from "../../core/exchange.js";
import { type JsonForm, jsonMap } from "../json-map.js";
import { describeStateError } from "../state-errors.js";
import {
  agentType,
  type BaselineVerdict,
  baselineFinding,
  MIN_BASELINE_SESSIONS,
  sessionFinding,
} from "./baseline-finding.js";
import { Reservoir, round } from "./running-statistics.js";
import { MAX_AGENT_TYPES } from "./sequence-model.js";

export const TEMPORAL_DETECTOR = "baseline_temporal";
const VERSION = 1;
const HOURS_OF_WEEK = 168;
const SAMPLE_SIZE = 2048;
/** Calls an hour-of-week histogram needs before an empty hour means "never active then". */
const MIN_HOURLY_CALLS = 200;
/** A burst is this many consecutive calls ... */
const BURST_CALLS = 20;
/** ... within this many milliseconds: ten calls a second, sustained, is faster than a model writes tool calls. */
const BURST_MS = 2_000;
/** Session length (calls, duration) findings need this multiple of the baseline's 99th percentile. */
const LENGTH_FACTOR = 3;
const MAX_USERS = 10_000;
const DAY_NAMES = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/** What the model learned about one agent type. */
class AgentTiming {
  sessions = 0;
  hours: number[] = new Array<number>(HOURS_OF_WEEK).fill(0);
  durations = new Reservoir(SAMPLE_SIZE);
  calls = new Reservoir(SAMPLE_SIZE);
  /** The fastest span of {@link BURST_CALLS} consecutive calls, for sessions that had that many. */
  fastestBursts = new Reservoir(SAMPLE_SIZE);
}

interface SessionTiming {
  agent: string;
  user: string | null;
  server: string;
  first_ms: number;
  last_ms: number;
  calls: number;
  /** The last {@link BURST_CALLS} call times, a ring (a plain array: V8 makes a small typed array far more slowly). */
  times: number[];
  fastest: number;
  reportedBurst: boolean;
  reportedCalls: boolean;
}

const reservoirSchema = z.object({ seen: z.number().int().nonnegative(), items: z.array(z.number()) });
const hoursSchema = z.array(z.number().nonnegative()).length(HOURS_OF_WEEK);
/** The saved form of the temporal model, checked on load. */
export const temporalBaselineSchema = z.object({
  version: z.literal(VERSION),
  agents: jsonMap(
    z.object({
      sessions: z.number().int().nonnegative(),
      hours: hoursSchema,
      durations_ms: reservoirSchema,
      calls: reservoirSchema,
      fastest_bursts_ms: reservoirSchema,
    }),
  ),
  users: jsonMap(hoursSchema),
});
export type TemporalBaselineState = JsonForm<z.infer<typeof temporalBaselineSchema>>;

/**
 * Temporal patterns per agent type and per user, learned from baseline traffic. Raises `temporal_anomaly` findings:
 *
 * - a session that starts in an hour of the week (UTC, ±1 hour) in which the user (or, without a user baseline, the
 *   agent type) made no call among at least 200 learned calls (low);
 * - a burst: 20 consecutive calls within 2 s, i.e. sustained sub-100 ms gaps, faster than a model writes calls and
 *   faster than any learned session of the type (medium);
 * - a session with more calls, or lasting longer, than 3× the type's 99th percentile (low; medium at 10×).
 */
export class TemporalDetector implements Detector {
  readonly name = TEMPORAL_DETECTOR;
  private readonly agents = new Map<string, AgentTiming>();
  private readonly users = new Map<string, number[]>();
  private readonly learning = new Map<string, SessionTiming>();
  private readonly sessions = new Map<string, SessionTiming>();
  private settled = true;

  learn(exchange: CapturedExchange, position: ExchangePosition): void {
    if (position.call_index === null) return;
    const agent = agentType(exchange);
    const timing = this.agent(agent);
    if (timing === null) return;
    const bin = hourOfWeek(position.time_ms);
    timing.hours[bin]!++;
    if (exchange.user !== null) {
      let hours = this.users.get(exchange.user);
      if (hours === undefined && this.users.size < MAX_USERS) {
        hours = new Array<number>(HOURS_OF_WEEK).fill(0);
        this.users.set(exchange.user, hours);
      }
      if (hours !== undefined) hours[bin]!++;
    }
    let session = this.learning.get(exchange.session);
    if (session === undefined) {
      session = newSession(exchange, agent, position.time_ms);
      this.learning.set(exchange.session, session);
    }
    advance(session, position.time_ms);
    this.settled = false;
  }

  observe(exchange: CapturedExchange, position: ExchangePosition, emit: FindingSink): void {
    if (position.call_index === null) return;
    if (!this.settled) this.settle();
    const agent = agentType(exchange);
    const timing = this.agents.get(agent);
    if (timing === undefined || timing.sessions < MIN_BASELINE_SESSIONS) return;
    let session = this.sessions.get(exchange.session);
    if (session === undefined) {
      session = newSession(exchange, agent, position.time_ms);
      this.sessions.set(exchange.session, session);
      const verdict = this.judgeHour(exchange, agent, timing, position.time_ms);
      if (verdict !== null) emit(baselineFinding(this.name, exchange, position, verdict));
    }
    advance(session, position.time_ms);
    if (!session.reportedBurst && session.calls >= BURST_CALLS) {
      const span = position.time_ms - (session.times[session.calls % BURST_CALLS] ?? position.time_ms);
      const learnedFastest =
        timing.fastestBursts.count > 0 ? timing.fastestBursts.quantile(0) : Number.POSITIVE_INFINITY;
      if (span < BURST_MS && span < learnedFastest / 2) {
        session.reportedBurst = true;
        emit(
          baselineFinding(this.name, exchange, position, {
            category: "temporal_anomaly",
            severity: "medium",
            score: 0.6,
            message: `${BURST_CALLS} calls in ${span} ms (${((1000 * (BURST_CALLS - 1)) / Math.max(1, span)).toFixed(0)} calls/s): faster than a model writes tool calls and than any baseline session of agent type ${agent}; look for a script driving this session`,
            evidence: {
              kind: "call_burst",
              calls: BURST_CALLS,
              span_ms: span,
              baseline: {
                agent,
                sessions: timing.sessions,
                fastest_learned_span_ms: Number.isFinite(learnedFastest) ? learnedFastest : null,
              },
            },
          }),
        );
      }
    }
    const callLimit = LENGTH_FACTOR * Math.max(timing.calls.quantile(0.99), 5);
    if (!session.reportedCalls && session.calls > callLimit) {
      session.reportedCalls = true;
      emit(baselineFinding(this.name, exchange, position, this.lengthVerdict(agent, timing, "calls", session.calls)));
    }
  }

  endSession(session: string, _time_ms: number, emit: FindingSink): void {
    const state = this.sessions.get(session);
    if (state === undefined) return;
    this.sessions.delete(session);
    const timing = this.agents.get(state.agent);
    if (timing === undefined) return;
    const duration = state.last_ms - state.first_ms;
    const limit = LENGTH_FACTOR * Math.max(timing.durations.quantile(0.99), 60_000);
    if (duration <= limit) return;
    emit(
      sessionFinding(
        this.name,
        { session, user: state.user, agent: state.agent, server: state.server, time_ms: state.last_ms },
        this.lengthVerdict(state.agent, timing, "duration", duration),
      ),
    );
  }

  async shutdown(): Promise<void> {
    this.sessions.clear();
  }

  private judgeHour(
    exchange: CapturedExchange,
    agent: string,
    timing: AgentTiming,
    time_ms: number,
  ): BaselineVerdict | null {
    const userHours = exchange.user === null ? undefined : this.users.get(exchange.user);
    const userTotal = userHours === undefined ? 0 : sum(userHours);
    const [owner, hours, total] =
      userHours !== undefined && userTotal >= MIN_HOURLY_CALLS
        ? [`user ${exchange.user}`, userHours, userTotal]
        : [`agent type ${agent}`, timing.hours, sum(timing.hours)];
    if (total < MIN_HOURLY_CALLS) return null;
    const bin = hourOfWeek(time_ms);
    const nearby =
      (hours[(bin + HOURS_OF_WEEK - 1) % HOURS_OF_WEEK] ?? 0) +
      (hours[bin] ?? 0) +
      (hours[(bin + 1) % HOURS_OF_WEEK] ?? 0);
    if (nearby > 0) return null;
    const active = activeHours(hours);
    return {
      category: "temporal_anomaly",
      severity: "low",
      score: 0.3,
      message: `session started ${describeHour(bin)} UTC, an hour of the week in which ${owner} made none of ${total} baseline calls (usually active ${active}): confirm the user is at work`,
      evidence: {
        kind: "unusual_hour",
        hour_of_week: bin,
        at: describeHour(bin),
        baseline: { owner, calls: total, active_hours: active },
      },
    };
  }

  private lengthVerdict(
    agent: string,
    timing: AgentTiming,
    what: "calls" | "duration",
    value: number,
  ): BaselineVerdict {
    const sample = what === "calls" ? timing.calls : timing.durations;
    const p99 = sample.quantile(0.99);
    const factor = value / Math.max(1, p99);
    const strong = factor >= 10;
    const shown = what === "calls" ? `${value} calls` : `${(value / 60_000).toFixed(1)} minutes`;
    const baseline = what === "calls" ? `${p99} calls` : `${(p99 / 60_000).toFixed(1)} minutes`;
    return {
      category: "temporal_anomaly",
      severity: strong ? "medium" : "low",
      score: strong ? 0.5 : 0.3,
      message: `this session has run ${shown}, ${factor.toFixed(1)}× the 99th percentile of ${baseline} over ${timing.sessions} baseline sessions of agent type ${agent}`,
      evidence: {
        kind: what === "calls" ? "session_calls" : "session_duration",
        value,
        baseline: { agent, sessions: timing.sessions, p50: sample.quantile(0.5), p99 },
      },
    };
  }

  /** Folds the learned sessions into the agent types' samples. Runs once, on first use after learning. */
  settle(): void {
    this.settled = true;
    for (const session of this.learning.values()) {
      const timing = this.agents.get(session.agent);
      if (timing === undefined) continue;
      timing.sessions++;
      timing.calls.add(session.calls);
      timing.durations.add(session.last_ms - session.first_ms);
      if (Number.isFinite(session.fastest)) timing.fastestBursts.add(session.fastest);
    }
    this.learning.clear();
  }

  saveBaseline(): TemporalBaselineState {
    if (!this.settled) this.settle();
    const agents: TemporalBaselineState["agents"] = Object.fromEntries(
      [...this.agents].map(([agent, timing]) => [
        agent,
        {
          sessions: timing.sessions,
          hours: timing.hours,
          durations_ms: timing.durations.toJSON(),
          calls: timing.calls.toJSON(),
          fastest_bursts_ms: timing.fastestBursts.toJSON(),
        },
      ]),
    );
    return { version: VERSION, agents, users: Object.fromEntries(this.users) };
  }

  loadBaseline(state: unknown): string | null {
    const parsed = temporalBaselineSchema.safeParse(state);
    if (!parsed.success) return `temporal baseline: ${describeStateError(parsed.error)}`;
    this.agents.clear();
    this.users.clear();
    this.learning.clear();
    for (const [agent, saved] of parsed.data.agents) {
      const timing = new AgentTiming();
      timing.sessions = saved.sessions;
      timing.hours = [...saved.hours];
      timing.durations = Reservoir.from(saved.durations_ms, SAMPLE_SIZE);
      timing.calls = Reservoir.from(saved.calls, SAMPLE_SIZE);
      timing.fastestBursts = Reservoir.from(saved.fastest_bursts_ms, SAMPLE_SIZE);
      this.agents.set(agent, timing);
    }
    for (const [user, hours] of parsed.data.users) this.users.set(user, [...hours]);
    this.settled = true;
    return null;
  }

  private agent(agent: string): AgentTiming | null {
    let timing = this.agents.get(agent);
    if (timing === undefined) {
      if (this.agents.size >= MAX_AGENT_TYPES) return null;
      timing = new AgentTiming();
      this.agents.set(agent, timing);
    }
    return timing;
  }
}

function newSession(exchange: CapturedExchange, agent: string, time_ms: number): SessionTiming {
  return {
    agent,
    user: exchange.user,
    server: exchange.server,
    first_ms: time_ms,
    last_ms: time_ms,
    calls: 0,
    times: new Array<number>(BURST_CALLS).fill(0),
    fastest: Number.POSITIVE_INFINITY,
    reportedBurst: false,
    reportedCalls: false,
  };
}

/** Counts a call; keeps the ring of recent times and the fastest burst span. */
function advance(session: SessionTiming, time_ms: number): void {
  const slot = session.calls % BURST_CALLS;
  if (session.calls >= BURST_CALLS - 1) {
    // The oldest of the last BURST_CALLS calls (this one included) sits in the slot after this call's.
    const span = time_ms - session.times[(slot + 1) % BURST_CALLS]!;
    if (span < session.fastest) session.fastest = span;
  }
  session.times[slot] = time_ms;
  session.calls++;
  if (time_ms > session.last_ms) session.last_ms = time_ms;
}

function hourOfWeek(time_ms: number): number {
  const date = new Date(time_ms);
  return date.getUTCDay() * 24 + date.getUTCHours();
}

function describeHour(bin: number): string {
  return `${DAY_NAMES[Math.floor(bin / 24)]} ${String(bin % 24).padStart(2, "0")}:00`;
}

function sum(values: readonly number[]): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
}

/** The hours of the day with activity and the days of the week, compactly: "Mon–Fri 08–18". */
function activeHours(hours: readonly number[]): string {
  const days = DAY_NAMES.filter((_, day) => hours.slice(day * 24, day * 24 + 24).some((count) => count > 0));
  const byHour = Array.from({ length: 24 }, (_, hour) => DAY_NAMES.some((_, day) => (hours[day * 24 + hour] ?? 0) > 0));
  const first = byHour.indexOf(true);
  const last = byHour.lastIndexOf(true);
  if (first < 0) return "never";
  return `${days.join(",")} ${String(first).padStart(2, "0")}–${String(last + 1).padStart(2, "0")}h`;
}

/** Lines of `toolwatch baseline show` for a saved temporal model; `null` when `state` is not one. */
export function describeTemporalBaseline(state: unknown): string[] | null {
  const parsed = temporalBaselineSchema.safeParse(state);
  if (!parsed.success) return null;
  const lines: string[] = [];
  for (const [agent, saved] of parsed.data.agents) {
    const calls = Reservoir.from(saved.calls, SAMPLE_SIZE);
    const durations = Reservoir.from(saved.durations_ms, SAMPLE_SIZE);
    lines.push(
      `agent type ${agent}: ${saved.sessions} sessions, active ${activeHours(saved.hours)} UTC; calls per session p50 ${calls.quantile(0.5)} / p99 ${calls.quantile(0.99)}; duration p50 ${round(durations.quantile(0.5) / 1000)} s / p99 ${round(durations.quantile(0.99) / 1000)} s`,
    );
  }
  for (const [user, hours] of [...parsed.data.users].slice(0, 20)) {
    lines.push(`user ${user}: ${sum(hours)} calls, active ${activeHours(hours)} UTC`);
  }
  return lines;
}
