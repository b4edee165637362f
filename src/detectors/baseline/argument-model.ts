import { z } from "zod";
import type { Detector, ExchangePosition, FindingSink } from "../../core/detector.js";
import type { CapturedExchange } from "../../core/exchange.js";
import { type JsonForm, jsonMap } from "../json-map.js";
import { describeStateError } from "../state-errors.js";
import {
  type ArgumentLeaf,
  type ArgumentProvenance,
  argumentLeaves,
  CONTENT_CLASSES,
  type ContentClass,
  clipValue,
  ENCODED_CLASSES,
  leafContentClass,
  topLevelArgument,
} from "./argument-values.js";
import { agentType, type BaselineVerdict, baselineFinding } from "./baseline-finding.js";
import { type ArgumentRole, argumentRole, isOutboundTool } from "./generic-vocabulary.js";
import { HashedSet, hashText } from "./hashed-set.js";
import { RunningStatistics, round } from "./running-statistics.js";

export const ARGUMENT_DETECTOR = "baseline_arguments";
const VERSION = 1;
/** Values a key needs before its length, content or range is judged. */
const MIN_VALUES = 20;
/** Destination values (repeats included) an agent type needs to have learned before a new one means anything. */
const MIN_DESTINATIONS = 20;
/** A key whose training values were new at most this often keeps to a few destinations: a new one is worth a medium. */
const TIGHT_NOVELTY_RATE = 0.2;
/** A key whose training values were new this often is one where new values are the norm (a new customer each time): not flagged. */
const ROUTINE_NOVELTY_RATE = 0.5;
const MAX_KEYS = 50_000;
const MAX_USERS = 10_000;
const AGENT_DESTINATIONS = 50_000;
const USER_DESTINATIONS = 4_096;
const MAX_FINDINGS_PER_CALL = 3;
const MAX_REPORTED_PER_SESSION = 16;
/** Values per drift window: the recent content mix is compared with the baseline's every this many values. */
const DRIFT_WINDOW = 50;
/** Total variation distance between the recent and the learned content mix that counts as drift. */
const DRIFT_DISTANCE = 0.5;
const NUMERIC_TEXT = /^[-+]?\d+(?:\.\d+)?$/;

/** What the model knows about one (agent type, tool, argument). */
class ArgumentStatistics {
  count = 0;
  lengths = new RunningStatistics();
  numbers = new RunningStatistics();
  classes: number[] = CONTENT_CLASSES.map(() => 0);
  destinations = 0;
  /** Destination values that were new to the agent type when learned. */
  newDestinations = 0;
  readonly role: ArgumentRole;
  /** Live content mix since the last drift check (not saved). */
  recent: number[] = CONTENT_CLASSES.map(() => 0);
  recentTotal = 0;

  constructor(
    readonly agent: string,
    readonly tool: string,
    readonly path: string,
  ) {
    this.role = argumentRole(path);
  }

  get noveltyRate(): number {
    return this.destinations === 0 ? 1 : this.newDestinations / this.destinations;
  }

  dominantClass(): ContentClass {
    let best = 0;
    for (let index = 1; index < this.classes.length; index++) {
      if ((this.classes[index] ?? 0) > (this.classes[best] ?? 0)) best = index;
    }
    return CONTENT_CLASSES[best]!;
  }
}

interface SessionReports {
  reported: number[];
}

const statisticsSchema = z.object({
  count: z.number(),
  mean: z.number(),
  m2: z.number(),
  min: z.number(),
  max: z.number(),
});
const keySchema = z.object({
  agent: z.string(),
  tool: z.string(),
  path: z.string(),
  count: z.number().int().nonnegative(),
  lengths: statisticsSchema,
  numbers: statisticsSchema,
  classes: z.record(z.string(), z.number().int().nonnegative()),
  destinations: z.number().int().nonnegative(),
  new_destinations: z.number().int().nonnegative(),
});
/** The saved form of the argument model, checked on load. */
export const argumentBaselineSchema = z.object({
  version: z.literal(VERSION),
  keys: z.array(keySchema),
  agent_destinations: jsonMap(z.array(z.number())),
  user_destinations: jsonMap(z.array(z.number())),
  agent_observations: jsonMap(z.number().int().nonnegative()),
});
export type ArgumentBaselineState = JsonForm<z.infer<typeof argumentBaselineSchema>>;

/** Options of {@link ArgumentDetector}. */
export interface ArgumentDetectorOptions {
  /**
   * Where destinations came from. A new destination read from data in the session (the customer's address on the
   * ticket being answered) is low: novelty alone is weak evidence, and the flow detectors judge data-directed
   * calls. Absent: novelty is judged alone.
   */
  provenance?: ArgumentProvenance;
}

/**
 * Argument distributions per (agent type, tool, argument), learned from baseline traffic. Raises
 * `argument_anomaly` findings:
 *
 * - a destination (recipient, account, address, URL, channel: judged from the argument's name, or an e-mail/URL
 *   value of a sending tool) that neither this user nor this agent type ever used: medium for a sending tool whose
 *   baseline rarely saw new destinations (at most 20% of learned values new) and that did not read it from a result
 *   of the session (`provenance`), low otherwise, and nothing where new destinations are the norm (over 50% of
 *   learned values new: a new customer each time); free text and record ids are never novelty-checked, since they
 *   are expected to vary;
 * - a string longer than any learned and more than 3σ above the learned mean length (low);
 * - content of a class this argument had in under 1% of learned values (low; medium when the new class is an
 *   encoding, code/base64/hex, where people's text belongs);
 * - a number (not a record id) outside the learned range by more than the range's width (low; medium beyond ten
 *   widths on a sending tool);
 * - drift: the content mix of the last 50 values departs from the learned mix by a total variation distance over
 *   0.5 (low).
 */
export class ArgumentDetector implements Detector {
  readonly name = ARGUMENT_DETECTOR;
  /** (agent type, tool) → argument path → statistics. */
  private readonly keys = new Map<string, Map<string, ArgumentStatistics>>();
  /** The same maps by agent type, then tool: found without joining the two names on every call. */
  private readonly keysByAgent = new Map<string, Map<string, Map<string, ArgumentStatistics>>>();
  private keyCount = 0;
  private readonly agentDestinations = new Map<string, HashedSet>();
  private readonly userDestinations = new Map<string, HashedSet>();
  /** Destination values learned per agent type, repeats included. */
  private readonly agentObservations = new Map<string, number>();
  private readonly sessions = new Map<string, SessionReports>();
  private readonly provenance: ArgumentProvenance | null;

  constructor(options: ArgumentDetectorOptions = {}) {
    this.provenance = options.provenance ?? null;
  }

  learn(exchange: CapturedExchange, position: ExchangePosition): void {
    if (position.call_index === null || typeof exchange.tool !== "string") return;
    const agent = agentType(exchange);
    const outbound = isOutboundTool(exchange.tool);
    const leaves = argumentLeaves(exchange.arguments);
    const keys = leaves.length === 0 ? null : this.toolKeys(agent, exchange.tool, true);
    for (const leaf of leaves) {
      const statistics = this.statistics(keys, agent, exchange.tool, leaf.path, true);
      if (statistics === null) continue;
      statistics.count++;
      const text = typeof leaf.value === "string" ? leaf.value : null;
      const kind = leafContentClass(leaf);
      statistics.classes[CONTENT_CLASSES.indexOf(kind)]!++;
      if (text !== null) statistics.lengths.add(text.length);
      const number = numericValue(leaf.value);
      if (number !== null) statistics.numbers.add(number);
      if (isDestination(statistics.role, kind, outbound)) {
        const hash = destinationHash(leaf.value);
        statistics.destinations++;
        this.agentObservations.set(agent, (this.agentObservations.get(agent) ?? 0) + 1);
        const agentSet = this.destinationSet(this.agentDestinations, agent, AGENT_DESTINATIONS);
        if (agentSet?.add(hash) === true) statistics.newDestinations++;
        if (exchange.user !== null)
          this.destinationSet(this.userDestinations, exchange.user, USER_DESTINATIONS)?.add(hash);
      }
    }
  }

  observe(exchange: CapturedExchange, position: ExchangePosition, emit: FindingSink): void {
    if (position.call_index === null || typeof exchange.tool !== "string") return;
    const agent = agentType(exchange);
    const outbound = isOutboundTool(exchange.tool);
    let emitted = 0;
    const leaves = argumentLeaves(exchange.arguments);
    if (leaves.length === 0) return;
    const keys = this.toolKeys(agent, exchange.tool, false);
    for (const leaf of leaves) {
      if (emitted >= MAX_FINDINGS_PER_CALL) return;
      const statistics = this.statistics(keys, agent, exchange.tool, leaf.path, false);
      const verdict = this.judge(exchange, position, agent, outbound, leaf, statistics);
      if (verdict !== null) {
        emitted++;
        emit(baselineFinding(this.name, exchange, position, verdict));
      }
      // Drift is about the argument over many calls, not this value: it is tracked whatever the value says.
      const drift =
        statistics === null ? null : this.trackDrift(statistics, leafContentClass(leaf), exchange.tool, leaf.path);
      if (drift !== null && emitted < MAX_FINDINGS_PER_CALL) {
        emitted++;
        emit(baselineFinding(this.name, exchange, position, drift));
      }
    }
  }

  endSession(session: string): void {
    this.sessions.delete(session);
  }

  async shutdown(): Promise<void> {
    this.sessions.clear();
  }

  private judge(
    exchange: CapturedExchange,
    position: ExchangePosition,
    agent: string,
    outbound: boolean,
    leaf: ArgumentLeaf,
    statistics: ArgumentStatistics | null,
  ): BaselineVerdict | null {
    const tool = exchange.tool ?? "";
    const text = typeof leaf.value === "string" ? leaf.value : null;
    const kind = leafContentClass(leaf);
    const role = statistics?.role ?? argumentRole(leaf.path);
    if (isDestination(role, kind, outbound)) {
      const verdict = this.judgeDestination(exchange, position, agent, outbound, leaf, statistics);
      if (verdict !== null) return verdict;
    }
    if (statistics === null) return null;
    if (statistics.count < MIN_VALUES) return null;
    const classIndex = CONTENT_CLASSES.indexOf(kind);
    const classShare = (statistics.classes[classIndex] ?? 0) / statistics.count;
    if (classShare < 0.01 && text !== null && kind !== "empty") {
      const encoded = ENCODED_CLASSES.has(kind) && !ENCODED_CLASSES.has(statistics.dominantClass());
      return {
        category: "argument_anomaly",
        severity: encoded ? "medium" : "low",
        score: encoded ? 0.5 : 0.3,
        message: `${tool}.${leaf.path} carries ${kind.replace("_", " ")} content, which it had in ${(100 * classShare).toFixed(1)}% of ${statistics.count} baseline values for agent type ${agent} (usually ${statistics.dominantClass().replace("_", " ")})`,
        evidence: {
          kind: "content_class",
          argument: leaf.path,
          value: clipValue(text),
          content_class: kind,
          baseline: { agent, values: statistics.count, classes: classShares(statistics.classes, statistics.count) },
        },
      };
    }
    if (text !== null && statistics.lengths.count >= MIN_VALUES) {
      const lengths = statistics.lengths;
      const deviation = Math.max(lengths.standardDeviation, 0.1 * lengths.mean, 1);
      const sigmas = (text.length - lengths.mean) / deviation;
      if (sigmas > 3 && text.length > lengths.max) {
        return {
          category: "argument_anomaly",
          severity: "low",
          score: Math.min(0.5, 0.2 + 0.02 * sigmas),
          message: `${tool}.${leaf.path} is ${text.length} characters long, ${sigmas.toFixed(1)}σ above its baseline mean of ${lengths.mean.toFixed(0)} for agent type ${agent} (longest learned ${lengths.max})`,
          evidence: {
            kind: "length",
            argument: leaf.path,
            length: text.length,
            sigmas: round(sigmas),
            value: clipValue(text),
            baseline: {
              agent,
              values: lengths.count,
              mean: round(lengths.mean),
              std: round(lengths.standardDeviation),
              max: lengths.max,
            },
          },
        };
      }
    }
    const number = numericValue(leaf.value);
    // Record ids are numbers that say nothing by size: only quantities are range-checked.
    if (number !== null && role !== "identifier" && statistics.numbers.count >= MIN_VALUES) {
      const numbers = statistics.numbers;
      const span = Math.max(numbers.max - numbers.min, Math.abs(numbers.max), 1);
      const beyond =
        number > numbers.max ? (number - numbers.max) / span : number < numbers.min ? (numbers.min - number) / span : 0;
      if (beyond > 1) {
        const strong = beyond > 10 && outbound;
        return {
          category: "argument_anomaly",
          severity: strong ? "medium" : "low",
          score: strong ? 0.55 : Math.min(0.45, 0.25 + 0.02 * beyond),
          message: `${tool}.${leaf.path} = ${number} is outside its baseline range ${numbers.min}..${numbers.max} for agent type ${agent} by ${beyond.toFixed(1)} times the range's width`,
          evidence: {
            kind: "numeric_range",
            argument: leaf.path,
            value: number,
            widths_beyond: round(beyond),
            baseline: { agent, values: numbers.count, min: numbers.min, max: numbers.max, mean: round(numbers.mean) },
          },
        };
      }
    }
    return null;
  }

  private judgeDestination(
    exchange: CapturedExchange,
    position: ExchangePosition,
    agent: string,
    outbound: boolean,
    leaf: ArgumentLeaf,
    statistics: ArgumentStatistics | null,
  ): BaselineVerdict | null {
    const agentSet = this.agentDestinations.get(agent);
    if (agentSet === undefined || (this.agentObservations.get(agent) ?? 0) < MIN_DESTINATIONS) return null;
    const hash = destinationHash(leaf.value);
    if (agentSet.has(hash)) return null;
    const userSet = exchange.user === null ? undefined : this.userDestinations.get(exchange.user);
    if (userSet?.has(hash)) return null;
    let reports = this.sessions.get(exchange.session);
    if (reports === undefined) {
      reports = { reported: [] };
      this.sessions.set(exchange.session, reports);
    }
    if (reports.reported.includes(hash) || reports.reported.length >= MAX_REPORTED_PER_SESSION) return null;
    reports.reported.push(hash);
    const learned = statistics !== null && statistics.destinations >= MIN_VALUES;
    const rate = learned ? statistics.noveltyRate : 1;
    if (learned && rate > ROUTINE_NOVELTY_RATE) return null;
    // New destinations are only surprising where the baseline kept sending to the same few, and from nowhere: one
    // read from the session's data is who the data is about or from, and the flow detectors judge that.
    const tight = outbound && learned && rate <= TIGHT_NOVELTY_RATE && !agentSet.saturated;
    const source =
      tight && this.provenance !== null ? this.provenance(exchange, position, topLevelArgument(leaf.path)) : null;
    const medium = tight && source === null;
    const value = clipValue(String(leaf.value));
    const history = learned
      ? `${(100 * rate).toFixed(0)}% of its ${statistics.destinations} baseline values were new`
      : "it has no baseline of its own";
    return {
      category: "argument_anomaly",
      severity: medium ? "medium" : "low",
      score: medium ? 0.55 : 0.2 + 0.2 * (1 - rate),
      message: `${exchange.tool ?? ""}.${leaf.path} names ${value}, a destination this ${exchange.user === null ? "agent type" : "user and agent type"} never used (${agentSet.size} known to agent type ${agent}; ${history})${source === null ? ": confirm the recipient" : `, read from the result of call ${source.from_call} (${source.from_tool})`}`,
      evidence: {
        kind: "new_destination",
        argument: leaf.path,
        value,
        outbound_tool: outbound,
        ...(source === null ? {} : { read_from: source }),
        baseline: {
          agent,
          known_destinations: agentSet.size,
          user_destinations: userSet?.size ?? 0,
          argument_values: statistics?.destinations ?? 0,
          novelty_rate: round(rate),
        },
      },
    };
  }

  /** Counts the value's class towards the recent mix; a verdict when a full window departs from the baseline's. */
  private trackDrift(
    statistics: ArgumentStatistics,
    kind: ContentClass,
    tool: string,
    path: string,
  ): BaselineVerdict | null {
    statistics.recent[CONTENT_CLASSES.indexOf(kind)]!++;
    statistics.recentTotal++;
    if (statistics.recentTotal < DRIFT_WINDOW) return null;
    const recent = statistics.recent;
    const recentTotal = statistics.recentTotal;
    statistics.recent = CONTENT_CLASSES.map(() => 0);
    statistics.recentTotal = 0;
    if (statistics.count < DRIFT_WINDOW) return null;
    let distance = 0;
    for (let index = 0; index < CONTENT_CLASSES.length; index++) {
      distance += Math.abs((recent[index] ?? 0) / recentTotal - (statistics.classes[index] ?? 0) / statistics.count);
    }
    distance /= 2;
    if (distance <= DRIFT_DISTANCE) return null;
    return {
      category: "argument_anomaly",
      severity: "low",
      score: Math.min(0.5, distance / 2),
      message: `the content of ${tool}.${path} has drifted for agent type ${statistics.agent}: the last ${recentTotal} values differ from the baseline mix by a total variation distance of ${distance.toFixed(2)}`,
      evidence: {
        kind: "content_drift",
        argument: statistics.path,
        distance: round(distance),
        recent: classShares(recent, recentTotal),
        baseline: {
          agent: statistics.agent,
          values: statistics.count,
          classes: classShares(statistics.classes, statistics.count),
        },
      },
    };
  }

  /** The arguments of one tool of one agent type: looked up once per call, then by argument path. */
  private toolKeys(agent: string, tool: string, create: boolean): Map<string, ArgumentStatistics> | null {
    const found = this.keysByAgent.get(agent)?.get(tool);
    if (found !== undefined) return found;
    const key = `${agent}\u0000${tool}`;
    let keys = this.keys.get(key);
    if (keys === undefined) {
      if (!create) return null;
      keys = new Map();
      this.keys.set(key, keys);
    }
    let byTool = this.keysByAgent.get(agent);
    if (byTool === undefined) {
      byTool = new Map();
      this.keysByAgent.set(agent, byTool);
    }
    byTool.set(tool, keys);
    return keys;
  }

  private statistics(
    keys: Map<string, ArgumentStatistics> | null,
    agent: string,
    tool: string,
    path: string,
    create: boolean,
  ): ArgumentStatistics | null {
    if (keys === null) return null;
    let statistics = keys.get(path);
    if (statistics === undefined) {
      if (!create || this.keyCount >= MAX_KEYS) return null;
      statistics = new ArgumentStatistics(agent, tool, path);
      keys.set(path, statistics);
      this.keyCount++;
    }
    return statistics;
  }

  private destinationSet(sets: Map<string, HashedSet>, owner: string, capacity: number): HashedSet | null {
    let set = sets.get(owner);
    if (set === undefined) {
      if (sets.size >= MAX_USERS) return null;
      set = new HashedSet(capacity);
      sets.set(owner, set);
    }
    return set;
  }

  saveBaseline(): ArgumentBaselineState {
    const keys: ArgumentBaselineState["keys"] = [];
    for (const statistics of [...this.keys.values()].flatMap((tool) => [...tool.values()])) {
      const classes: Record<string, number> = {};
      CONTENT_CLASSES.forEach((name, index) => {
        const count = statistics.classes[index] ?? 0;
        if (count > 0) classes[name] = count;
      });
      keys.push({
        agent: statistics.agent,
        tool: statistics.tool,
        path: statistics.path,
        count: statistics.count,
        lengths: statistics.lengths.toJSON(),
        numbers: statistics.numbers.toJSON(),
        classes,
        destinations: statistics.destinations,
        new_destinations: statistics.newDestinations,
      });
    }
    return {
      version: VERSION,
      keys,
      agent_destinations: Object.fromEntries([...this.agentDestinations].map(([agent, set]) => [agent, set.toJSON()])),
      user_destinations: Object.fromEntries([...this.userDestinations].map(([user, set]) => [user, set.toJSON()])),
      agent_observations: Object.fromEntries(this.agentObservations),
    };
  }

  loadBaseline(state: unknown): string | null {
    const parsed = argumentBaselineSchema.safeParse(state);
    if (!parsed.success) return `argument baseline: ${describeStateError(parsed.error)}`;
    this.keys.clear();
    this.keysByAgent.clear();
    this.keyCount = 0;
    this.agentDestinations.clear();
    this.userDestinations.clear();
    this.agentObservations.clear();
    for (const [agent, count] of parsed.data.agent_observations) this.agentObservations.set(agent, count);
    for (const saved of parsed.data.keys) {
      const keys = this.toolKeys(saved.agent, saved.tool, true);
      const statistics = this.statistics(keys, saved.agent, saved.tool, saved.path, true);
      if (statistics === null) break;
      statistics.count = saved.count;
      statistics.lengths = RunningStatistics.from(saved.lengths);
      statistics.numbers = RunningStatistics.from(saved.numbers);
      statistics.classes = CONTENT_CLASSES.map((name) => saved.classes[name] ?? 0);
      statistics.destinations = saved.destinations;
      statistics.newDestinations = saved.new_destinations;
    }
    for (const [agent, hashes] of parsed.data.agent_destinations) {
      this.agentDestinations.set(agent, new HashedSet(AGENT_DESTINATIONS, hashes));
    }
    for (const [user, hashes] of parsed.data.user_destinations) {
      this.userDestinations.set(user, new HashedSet(USER_DESTINATIONS, hashes));
    }
    return null;
  }
}

/** Destination arguments by name, or address-like values handed to a tool that sends. */
function isDestination(role: ArgumentRole, kind: ContentClass, outbound: boolean): boolean {
  if (role === "destination") return kind !== "empty" && kind !== "natural_language";
  return outbound && role === "other" && (kind === "email" || kind === "url");
}

function destinationHash(value: string | number | boolean): number {
  return hashText(String(value).trim().toLowerCase());
}

function numericValue(value: string | number | boolean): number | null {
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (typeof value === "string" && value.length < 32 && NUMERIC_TEXT.test(value)) return Number(value);
  return null;
}

function classShares(counts: readonly number[], total: number): Record<string, number> {
  const shares: Record<string, number> = {};
  CONTENT_CLASSES.forEach((name, index) => {
    const count = counts[index] ?? 0;
    if (count > 0) shares[name] = round(count / Math.max(1, total));
  });
  return shares;
}

/** Lines of `toolwatch baseline show` for a saved argument model; `null` when `state` is not one. */
export function describeArgumentBaseline(state: unknown): string[] | null {
  const parsed = argumentBaselineSchema.safeParse(state);
  if (!parsed.success) return null;
  const lines: string[] = [];
  for (const [agent, hashes] of parsed.data.agent_destinations) {
    lines.push(`agent type ${agent}: ${hashes.length} known destinations`);
  }
  lines.push(`users with known destinations: ${parsed.data.user_destinations.size}`);
  const keys = [...parsed.data.keys].sort((a, b) => b.count - a.count);
  for (const key of keys.slice(0, 40)) {
    const dominant = Object.entries(key.classes).sort((a, b) => b[1] - a[1])[0]?.[0] ?? "-";
    const parts = [`${key.count} values`, `mostly ${dominant}`];
    if (key.lengths.count > 0) {
      const std = key.lengths.count < 2 ? 0 : Math.sqrt(key.lengths.m2 / (key.lengths.count - 1));
      parts.push(`length ${key.lengths.mean.toFixed(0)}±${std.toFixed(0)} (max ${key.lengths.max})`);
    }
    if (key.numbers.count > 0) parts.push(`range ${key.numbers.min}..${key.numbers.max}`);
    if (key.destinations > 0) {
      parts.push(`destination, ${((100 * key.new_destinations) / key.destinations).toFixed(0)}% new in training`);
    }
    lines.push(`  ${key.agent} ${key.tool}.${key.path}: ${parts.join(", ")}`);
  }
  if (keys.length > 40) lines.push(`  … and ${keys.length - 40} more arguments`);
  return lines;
}
