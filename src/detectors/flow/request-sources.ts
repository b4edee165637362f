/**
 * Learned per agent type: which tools' results read as requests in known-normal traffic (a help desk's tickets,
 * an assistant's inbox), and which tools the agent type calls after such a request. Where both hold, a request in
 * such a result, acted on with such a tool, is the agent's work, not someone else's instruction: the poisoning
 * and flow detectors report it low instead of high (see docs/detection.md, "Routine requests").
 */

import { z } from "zod";
import { jsonMap } from "../json-map.js";
import { describeStateError } from "../state-errors.js";

/** How a source tool's results read in the baseline, for evidence. */
export interface RequestSourceStats {
  /** Results of the tool the baseline classified (at most {@link MAX_CLASSIFIED}). */
  results: number;
  /** Of those, how many the poisoning model flagged, without a rule signal. */
  flagged: number;
  /** Of those, how many carried a rule signal (a cue phrase, concealed text): injection craft, not requests. */
  rule_flagged: number;
}

/** A routine request source and a tool that routinely follows it, for evidence. */
export interface RoutineRequest extends RequestSourceStats {
  source: string;
  tool: string;
  /** Baseline sessions in which `tool` was called after a result of `source`. */
  follow_sessions: number;
}

/** Saved state: only source tools with at least one flagged result are kept. */
export interface RequestSourcesState {
  [agent: string]: {
    sources: Record<string, RequestSourceStats>;
    follows: Record<string, Record<string, number>>;
  };
}

/** Fewest classified results before a tool's rate means anything. */
const MIN_RESULTS = 10;
/** Share of a tool's baseline results flagged at or above which its results are requests by nature. */
const ROUTINE_SHARE = 0.2;
/**
 * Share of a tool's baseline results with a rule signal above which it is never routine: customers do not write
 * "ignore previous instructions", so such results mean the baseline held attacks (a store learned from while under
 * one), and learning them as requests would teach the attack.
 */
const MAX_RULE_SHARE = 0.01;
/** Fewest baseline sessions in which a tool followed a result of the source. */
const MIN_FOLLOW_SESSIONS = 3;
/** Results classified per agent type and tool: enough for the share; bounds the cost of learning. */
const MAX_CLASSIFIED = 4096;
const MAX_AGENTS = 256;
const MAX_TOOLS = 512;
const MAX_FOLLOWS = 4096;
/** Sessions being learned at once (interleaved traffic); the oldest is forgotten beyond it. */
const MAX_LEARNING_SESSIONS = 4096;
/** Source tools remembered per learning session, and pairs counted per session. */
const MAX_SESSION_ITEMS = 64;

const countSchema = z.number().int().nonnegative();
const sourceStatsSchema = z
  .object({ results: countSchema, flagged: countSchema, rule_flagged: countSchema })
  .superRefine((stats, context) => {
    // Both kinds of flagged result are among the results classified: more would make the shares meaningless.
    if (stats.flagged + stats.rule_flagged > stats.results) {
      context.addIssue({
        code: "custom",
        message: `flagged (${stats.flagged}) + rule_flagged (${stats.rule_flagged}) is more than results (${stats.results})`,
      });
    }
  });

/**
 * The saved form of {@link RequestSources} ({@link RequestSources.save}'s output), checked on load. Objects are read
 * as Maps: keys are agent types and tool names, and save writes a follower tool named `__proto__` like any other.
 */
export const requestSourcesSchema = jsonMap(
  z.object({
    sources: jsonMap(sourceStatsSchema),
    // Absent reads as nothing followed yet, as the loader has always allowed.
    follows: jsonMap(jsonMap(countSchema)).optional(),
  }),
);
/** Request sources as {@link requestSourcesSchema} reads them. */
export type SavedRequestSources = z.infer<typeof requestSourcesSchema>;

interface AgentRequests {
  sources: Map<string, RequestSourceStats>;
  /** Source tool → following tool → sessions. */
  follows: Map<string, Map<string, number>>;
  followCount: number;
}

interface LearningSession {
  /** Tools that returned a result so far in the session. */
  sources: Set<string>;
  /** `source\0tool` pairs already counted for the session. */
  counted: Set<string>;
}

export class RequestSources {
  private readonly agents = new Map<string, AgentRequests>();
  private readonly learning = new Map<string, LearningSession>();

  /**
   * Learns a call of `tool` in a baseline session: it follows every tool that returned a result earlier in the
   * session. Call before {@link learnResult} of the same exchange.
   */
  learnCall(agent: string, session: string, tool: string): void {
    const state = this.learning.get(session);
    if (state === undefined) return;
    const requests = this.agents.get(agent);
    if (requests === undefined) return;
    for (const source of state.sources) {
      if (source === tool) continue;
      const pair = `${source}\u0000${tool}`;
      if (state.counted.has(pair) || state.counted.size >= MAX_SESSION_ITEMS) continue;
      state.counted.add(pair);
      let following = requests.follows.get(source);
      if (following === undefined) {
        following = new Map();
        requests.follows.set(source, following);
      }
      const sessions = following.get(tool);
      if (sessions !== undefined) following.set(tool, sessions + 1);
      else if (requests.followCount < MAX_FOLLOWS) {
        following.set(tool, 1);
        requests.followCount++;
      }
    }
  }

  /** Whether a baseline result of `tool` still needs classifying (the share is settled after enough of them). */
  wantsResult(agent: string, tool: string): boolean {
    const stats = this.agents.get(agent)?.sources.get(tool);
    return stats === undefined
      ? this.agents.has(agent) || this.agents.size < MAX_AGENTS
      : stats.results < MAX_CLASSIFIED;
  }

  /**
   * Learns one baseline result of `tool`: `clean`, flagged by the model alone (`model`), flagged with a rule signal
   * (`rules`), or `null` when it was not classified ({@link wantsResult} said no). Later calls of the session follow it.
   */
  learnResult(agent: string, session: string, tool: string, verdict: "clean" | "model" | "rules" | null): void {
    let requests = this.agents.get(agent);
    if (requests === undefined) {
      if (this.agents.size >= MAX_AGENTS) return;
      requests = { sources: new Map(), follows: new Map(), followCount: 0 };
      this.agents.set(agent, requests);
    }
    let stats = requests.sources.get(tool);
    if (stats === undefined) {
      if (requests.sources.size >= MAX_TOOLS) return;
      stats = { results: 0, flagged: 0, rule_flagged: 0 };
      requests.sources.set(tool, stats);
    }
    if (verdict !== null && stats.results < MAX_CLASSIFIED) {
      stats.results++;
      if (verdict === "model") stats.flagged++;
      else if (verdict === "rules") stats.rule_flagged++;
    }
    let state = this.learning.get(session);
    if (state === undefined) {
      if (this.learning.size >= MAX_LEARNING_SESSIONS) {
        const oldest = this.learning.keys().next();
        if (!oldest.done) this.learning.delete(oldest.value);
      }
      state = { sources: new Set(), counted: new Set() };
      this.learning.set(session, state);
    }
    if (state.sources.size < MAX_SESSION_ITEMS) state.sources.add(tool);
  }

  /** The agent type's baseline figures for `tool` when its results read as requests by nature; `null` otherwise. */
  routineSource(agent: string, tool: string): RequestSourceStats | null {
    const stats = this.agents.get(agent)?.sources.get(tool);
    if (
      stats === undefined ||
      stats.results < MIN_RESULTS ||
      stats.flagged < stats.results * ROUTINE_SHARE ||
      stats.rule_flagged > stats.results * MAX_RULE_SHARE
    ) {
      return null;
    }
    return stats;
  }

  /** The routine request when `source` is a routine source and the agent type routinely calls `tool` after it. */
  routineRequest(agent: string, source: string, tool: string): RoutineRequest | null {
    const stats = this.routineSource(agent, source);
    if (stats === null) return null;
    const sessions = this.agents.get(agent)?.follows.get(source)?.get(tool) ?? 0;
    if (sessions < MIN_FOLLOW_SESSIONS) return null;
    return {
      source,
      tool,
      results: stats.results,
      flagged: stats.flagged,
      rule_flagged: stats.rule_flagged,
      follow_sessions: sessions,
    };
  }

  /** Learning sessions tracked now (for tests of bounded memory). */
  get learningSessions(): number {
    return this.learning.size;
  }

  /** Sources with a flagged result, and what followed them, as plain JSON. */
  save(): RequestSourcesState {
    const state: RequestSourcesState = {};
    for (const [agent, requests] of [...this.agents].sort(byKey)) {
      const sources: Record<string, RequestSourceStats> = {};
      const follows: Record<string, Record<string, number>> = {};
      for (const [tool, stats] of [...requests.sources].sort(byKey)) {
        if (stats.flagged + stats.rule_flagged === 0) continue;
        sources[tool] = { results: stats.results, flagged: stats.flagged, rule_flagged: stats.rule_flagged };
        const following = requests.follows.get(tool);
        if (following !== undefined) follows[tool] = Object.fromEntries([...following].sort(byKey));
      }
      if (Object.keys(sources).length > 0) state[agent] = { sources, follows };
    }
    return state;
  }

  /** Replaces what was learned with {@link save}'s output; returns why it cannot, or `null`. */
  load(state: unknown): string | null {
    const parsed = requestSourcesSchema.safeParse(state);
    if (!parsed.success) return `request_sources: ${describeStateError(parsed.error)}`;
    this.restore(parsed.data);
    return null;
  }

  /**
   * Replaces what was learned with a state already checked against {@link requestSourcesSchema} (a flow baseline's
   * schema checks its request sources with the rest of the file). The caps of learning apply.
   */
  restore(saved: SavedRequestSources): void {
    this.agents.clear();
    for (const [agent, { sources, follows }] of saved) {
      if (this.agents.size >= MAX_AGENTS) break;
      const requests: AgentRequests = { sources: new Map(), follows: new Map(), followCount: 0 };
      for (const [tool, stats] of sources) {
        if (requests.sources.size >= MAX_TOOLS) break;
        requests.sources.set(tool, {
          results: stats.results,
          flagged: stats.flagged,
          rule_flagged: stats.rule_flagged,
        });
      }
      for (const [source, following] of follows ?? []) {
        const map = new Map<string, number>();
        for (const [tool, sessions] of following) {
          if (requests.followCount >= MAX_FOLLOWS) break;
          map.set(tool, sessions);
          requests.followCount++;
        }
        // Set even when the cap leaves it empty, as learning does, so that save writes back what was loaded.
        requests.follows.set(source, map);
      }
      this.agents.set(agent, requests);
    }
    this.learning.clear();
  }
}

/** Orders map entries by key, so a saved baseline is the same for the same learning. */
function byKey([a]: [string, unknown], [b]: [string, unknown]): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
