/**
 * Per-session values (unique tools, calls) and their baseline per session type.
 *
 * The baseline of a session type is the median of the value over its sessions: learn traffic
 * (`replay --baseline`, `engine.learn`) counts each learned session as it grows; a live session
 * joins when it ends, unless an alert fired for it (an attacked session must not raise the bar).
 * The median is used rather than a high percentile because `3x baseline` reads as "three times
 * what a typical session does".
 */
import type { CapturedExchange } from "../core/exchange.js";

export type SessionMetric = "tool_diversity" | "session_calls";

/** Counts of small non-negative integers, with a cached lower median. */
export class IntegerDistribution {
  private readonly counts = new Map<number, number>();
  private cachedMedian: number | null = null;
  private dirty = false;
  total = 0;

  add(value: number): void {
    this.counts.set(value, (this.counts.get(value) ?? 0) + 1);
    this.total++;
    this.dirty = true;
  }

  remove(value: number): void {
    const count = this.counts.get(value);
    if (count === undefined) return;
    if (count === 1) this.counts.delete(value);
    else this.counts.set(value, count - 1);
    this.total--;
    this.dirty = true;
  }

  /** The lower median; `null` when empty. */
  median(): number | null {
    if (this.total === 0) return null;
    if (!this.dirty && this.cachedMedian !== null) return this.cachedMedian;
    const values = [...this.counts.keys()].sort((a, b) => a - b);
    const half = Math.ceil(this.total / 2);
    let seen = 0;
    let median = values[values.length - 1]!;
    for (const value of values) {
      seen += this.counts.get(value)!;
      if (seen >= half) {
        median = value;
        break;
      }
    }
    this.cachedMedian = median;
    this.dirty = false;
    return median;
  }
}

interface Distributions {
  tool_diversity: IntegerDistribution;
  session_calls: IntegerDistribution;
}

function newDistributions(): Distributions {
  return { tool_diversity: new IntegerDistribution(), session_calls: new IntegerDistribution() };
}

export interface BaselineValue {
  median: number | null;
  sessions: number;
}

/** The baselines of every session type, and of all sessions together. */
export class BaselineBook {
  private readonly byAgent = new Map<string, Distributions>();
  private readonly all = newDistributions();
  /** Session types beyond the cap count only towards the overall baseline. */
  overflow = 0;

  constructor(private readonly max_agents = 1_000) {}

  private distributions(agent: string): Distributions | null {
    let found = this.byAgent.get(agent);
    if (found === undefined) {
      if (this.byAgent.size >= this.max_agents) {
        this.overflow++;
        return null;
      }
      found = newDistributions();
      this.byAgent.set(agent, found);
    }
    return found;
  }

  /** A session's value moved from `from` to `to` (0 means "not counted yet"). */
  move(agent: string, metric: SessionMetric, from: number, to: number): void {
    const own = this.distributions(agent);
    for (const distributions of own === null ? [this.all] : [own, this.all]) {
      if (from > 0) distributions[metric].remove(from);
      if (to > 0) distributions[metric].add(to);
    }
  }

  /** `agent` `null` is the baseline over every session type. */
  baseline(agent: string | null, metric: SessionMetric): BaselineValue {
    const distributions = agent === null ? this.all : this.byAgent.get(agent);
    if (distributions === undefined) return { median: null, sessions: 0 };
    const distribution = distributions[metric];
    return { median: distribution.median(), sessions: distribution.total };
  }

  /** A JSON-able summary: median and session count per type. */
  snapshot(): Record<string, Record<SessionMetric, BaselineValue>> {
    const result: Record<string, Record<SessionMetric, BaselineValue>> = {};
    const describe = (distributions: Distributions): Record<SessionMetric, BaselineValue> => ({
      tool_diversity: { median: distributions.tool_diversity.median(), sessions: distributions.tool_diversity.total },
      session_calls: { median: distributions.session_calls.median(), sessions: distributions.session_calls.total },
    });
    for (const [agent, distributions] of this.byAgent) result[agent] = describe(distributions);
    result["*"] = describe(this.all);
    return result;
  }
}

/** What a session has done so far. */
export interface SessionRecord {
  id: string;
  agent: string;
  tools: Set<string>;
  calls: number;
  last_ms: number;
  /** An alert fired for this session: it will not join the baseline. */
  alerted: boolean;
  /** The last call used a tool the session had not used before. */
  new_tool: boolean;
}

export const UNKNOWN_LABEL = "unknown";

/** Open sessions, bounded; updated by `tools/call` exchanges. */
export class SessionTracker {
  readonly sessions = new Map<string, SessionRecord>();
  overflow = 0;

  constructor(private readonly max_sessions: number) {}

  /** Counts a call; returns the session, or `null` when the cap is reached. */
  observeCall(exchange: CapturedExchange, time_ms: number): SessionRecord | null {
    const session = this.touch(exchange, time_ms);
    if (session === null) return null;
    session.calls++;
    const tool = exchange.tool;
    const before = session.tools.size;
    if (typeof tool === "string" && tool !== "") session.tools.add(tool);
    session.new_tool = session.tools.size > before;
    return session;
  }

  /** Keeps a session open on any exchange, so a session idle in calls but busy otherwise is not ended. */
  touch(exchange: CapturedExchange, time_ms: number): SessionRecord | null {
    let session = this.sessions.get(exchange.session);
    if (session === undefined) {
      if (this.sessions.size >= this.max_sessions) {
        this.overflow++;
        return null;
      }
      session = {
        id: exchange.session,
        agent: exchange.agent || UNKNOWN_LABEL,
        tools: new Set(),
        calls: 0,
        last_ms: time_ms,
        alerted: false,
        new_tool: false,
      };
      this.sessions.set(exchange.session, session);
    } else if (session.agent === UNKNOWN_LABEL && exchange.agent) {
      session.agent = exchange.agent;
    }
    if (time_ms > session.last_ms) session.last_ms = time_ms;
    return session;
  }
}

/** Learns the baseline from known-normal traffic; learned sessions are forgotten once idle, their counts stay. */
export class BaselineLearner {
  private readonly sessions = new Map<string, { agent: string; tools: Set<string>; calls: number; last_ms: number }>();
  private clock = 0;
  private nextSweep = 0;

  /** Learned sessions not tracked because too many were open at once (their calls are not learned). */
  overflow = 0;

  constructor(
    private readonly book: BaselineBook,
    private readonly idle_ms: number,
    private readonly max_sessions = 100_000,
  ) {}

  learn(exchange: CapturedExchange, time_ms: number): void {
    if (exchange.method !== "tools/call" || exchange.kind === "protocol_error") return;
    if (time_ms > this.clock) this.clock = time_ms;
    if (this.clock >= this.nextSweep) this.sweep();
    let session = this.sessions.get(exchange.session);
    if (session === undefined) {
      if (this.sessions.size >= this.max_sessions) {
        this.overflow++;
        return;
      }
      session = { agent: exchange.agent || UNKNOWN_LABEL, tools: new Set(), calls: 0, last_ms: time_ms };
      this.sessions.set(exchange.session, session);
    }
    session.last_ms = Math.max(session.last_ms, time_ms);
    this.book.move(session.agent, "session_calls", session.calls, session.calls + 1);
    session.calls++;
    const tool = exchange.tool;
    if (typeof tool === "string" && tool !== "" && !session.tools.has(tool)) {
      this.book.move(session.agent, "tool_diversity", session.tools.size, session.tools.size + 1);
      session.tools.add(tool);
    }
  }

  private sweep(): void {
    this.nextSweep = this.clock + Math.max(1_000, Math.floor(this.idle_ms / 4));
    const cutoff = this.clock - this.idle_ms;
    for (const [id, session] of this.sessions) if (session.last_ms < cutoff) this.sessions.delete(id);
  }
}
