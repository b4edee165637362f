import { z } from "zod";
import type { Detector, ExchangePosition, FindingSink } from "../../core/detector.js";
import type { CapturedExchange } from "../../core/exchange.js";
import { type JsonForm, jsonMap } from "../json-map.js";
import { describeStateError } from "../state-errors.js";
import {
  type ArgumentLeaf,
  type ArgumentProvenance,
  argumentLeaves,
  leafContentClass,
  topLevelArgument,
} from "./argument-values.js";
import { agentType, type BaselineVerdict, baselineFinding } from "./baseline-finding.js";
import { isOutboundTool } from "./generic-vocabulary.js";
import { HashedSet } from "./hashed-set.js";
import { extractResources, RESOURCE_KINDS, type Resource, type ResourceKind } from "./resource-extraction.js";
import { round } from "./running-statistics.js";
import { MAX_AGENT_TYPES } from "./sequence-model.js";

export const RESOURCE_DETECTOR = "baseline_resources";
const VERSION = 1;
/** Learned accesses of a kind an owner needs before a new resource of that kind means anything. */
const MIN_ACCESSES = 20;
const AGENT_RESOURCES = 50_000;
const USER_RESOURCES = 4_096;
const MAX_USERS = 10_000;
/** Kinds whose learned novelty rate is at most this are a tight neighbourhood: leaving it is worth a medium. */
const TIGHT_NOVELTY_RATE: Record<ResourceKind, number> = { domain: 0.2, directory: 0.1, channel: 0.1 };
const MAX_REPORTED_PER_SESSION = 16;
/** Kinds whose learned novelty rate is above this are open-ended (a new customer's domain each time): not flagged. */
const ROUTINE_NOVELTY_RATE = 0.5;

/** The resources one owner (an agent type or a user) touched, by kind, with how often learning met new ones. */
class Neighbourhood {
  readonly sets: Record<ResourceKind, HashedSet>;
  readonly accesses: Record<ResourceKind, number> = { domain: 0, directory: 0, channel: 0 };
  readonly fresh: Record<ResourceKind, number> = { domain: 0, directory: 0, channel: 0 };
  /** A few names per kind in clear, for `baseline show` and findings' evidence. */
  readonly examples: Record<ResourceKind, string[]> = { domain: [], directory: [], channel: [] };

  constructor(readonly capacity: number) {
    this.sets = {
      domain: new HashedSet(capacity),
      directory: new HashedSet(capacity),
      channel: new HashedSet(capacity),
    };
  }

  learn(resource: Resource): void {
    this.accesses[resource.kind]++;
    if (this.sets[resource.kind].add(resourceHash(resource))) {
      this.fresh[resource.kind]++;
      const examples = this.examples[resource.kind];
      if (examples.length < 10) examples.push(resource.name);
    }
  }

  knows(resource: Resource): boolean {
    return this.sets[resource.kind].has(resourceHash(resource));
  }

  noveltyRate(kind: ResourceKind): number {
    return this.accesses[kind] === 0 ? 1 : this.fresh[kind] / this.accesses[kind];
  }
}

const kindRecord = <T extends z.ZodType>(schema: T) => z.object({ domain: schema, directory: schema, channel: schema });
const neighbourhoodSchema = z.object({
  accesses: kindRecord(z.number().int().nonnegative()),
  fresh: kindRecord(z.number().int().nonnegative()),
  examples: kindRecord(z.array(z.string())),
  hashes: kindRecord(z.array(z.number())),
});
/** The saved form of the resource model, checked on load. */
export const resourceBaselineSchema = z.object({
  version: z.literal(VERSION),
  agents: jsonMap(neighbourhoodSchema),
  users: jsonMap(neighbourhoodSchema),
});
export type ResourceBaselineState = JsonForm<z.infer<typeof resourceBaselineSchema>>;

/** Options of {@link ResourceDetector}. */
export interface ResourceDetectorOptions {
  /** Where argument values came from; a new domain read from the session's data is low. Absent: novelty alone. */
  provenance?: ArgumentProvenance;
}

/**
 * The resource access graph per agent type and per user: external domains (of e-mail addresses and URLs, also inside
 * free text), directories (a path's first one or two levels) and channels named in arguments. Raises
 * `resource_anomaly` findings once per session and resource:
 *
 * - a resource neither the user nor the agent type touched in the baseline: medium when the neighbourhood is tight
 *   (at most 20% of learned domains, 10% of directories or channels, were new when learned) and, for domains, the
 *   tool sends data out; low otherwise; nothing where new resources are the norm (over half the learned accesses
 *   met a new one, as a support desk meets a new customer's domain every time); low, too, for the domain of an
 *   address or URL that is a whole argument value read from a result of the session (`provenance`: the customer
 *   whose ticket is being answered);
 * - a resource the agent type knows but this user never touched, where the user has a baseline of their own (low).
 */
export class ResourceDetector implements Detector {
  readonly name = RESOURCE_DETECTOR;
  private readonly agents = new Map<string, Neighbourhood>();
  private readonly users = new Map<string, Neighbourhood>();
  private readonly sessions = new Map<string, number[]>();
  private readonly provenance: ArgumentProvenance | null;

  constructor(options: ResourceDetectorOptions = {}) {
    this.provenance = options.provenance ?? null;
  }

  learn(exchange: CapturedExchange, position: ExchangePosition): void {
    if (position.call_index === null) return;
    const resources = extractResources(argumentLeaves(exchange.arguments));
    if (resources.length === 0) return;
    const agent = owner(this.agents, agentType(exchange), AGENT_RESOURCES, MAX_AGENT_TYPES);
    const user = exchange.user === null ? null : owner(this.users, exchange.user, USER_RESOURCES, MAX_USERS);
    for (const resource of resources) {
      agent?.learn(resource);
      user?.learn(resource);
    }
  }

  observe(exchange: CapturedExchange, position: ExchangePosition, emit: FindingSink): void {
    if (position.call_index === null || exchange.arguments === undefined || exchange.arguments === null) return;
    const agentName = agentType(exchange);
    const agent = this.agents.get(agentName);
    if (agent === undefined) return;
    const leaves = argumentLeaves(exchange.arguments);
    const resources = extractResources(leaves);
    if (resources.length === 0) return;
    const user = exchange.user === null ? undefined : this.users.get(exchange.user);
    for (const resource of resources) {
      if (agent.accesses[resource.kind] < MIN_ACCESSES) continue;
      if (agent.noveltyRate(resource.kind) > ROUTINE_NOVELTY_RATE) continue;
      if (user?.knows(resource)) continue;
      const knownToAgent = agent.knows(resource);
      if (knownToAgent && (user === undefined || user.accesses[resource.kind] < MIN_ACCESSES)) continue;
      if (!this.firstReport(exchange.session, resource)) continue;
      const verdict = knownToAgent
        ? this.outsideUser(exchange, resource, agentName, user!)
        : this.newToAll(exchange, position, leaves, resource, agentName, agent, user);
      emit(baselineFinding(this.name, exchange, position, verdict));
    }
  }

  endSession(session: string): void {
    this.sessions.delete(session);
  }

  async shutdown(): Promise<void> {
    this.sessions.clear();
  }

  private newToAll(
    exchange: CapturedExchange,
    position: ExchangePosition,
    leaves: readonly ArgumentLeaf[],
    resource: Resource,
    agentName: string,
    agent: Neighbourhood,
    user: Neighbourhood | undefined,
  ): BaselineVerdict {
    const rate = agent.noveltyRate(resource.kind);
    const outbound = isOutboundTool(exchange.tool ?? "");
    const tight = rate <= TIGHT_NOVELTY_RATE[resource.kind] && !agent.sets[resource.kind].saturated;
    const surprising = tight && (resource.kind !== "domain" || outbound);
    const source = surprising ? this.readFrom(exchange, position, leaves, resource) : null;
    const medium = surprising && source === null;
    const label = resource.kind === "domain" ? "external domain" : resource.kind;
    return {
      category: "resource_anomaly",
      severity: medium ? "medium" : "low",
      score: medium ? 0.5 : 0.15 + 0.2 * (1 - rate),
      message: `${exchange.tool ?? "the call"} reaches ${label} ${resource.name} (in ${resource.argument}), outside every ${label} agent type ${agentName}${exchange.user === null ? "" : ` and user ${exchange.user}`} touched in the baseline (${agent.sets[resource.kind].size} known; ${(100 * rate).toFixed(0)}% of learned accesses were new)${source === null ? "" : `; the address was read from the result of call ${source.from_call} (${source.from_tool})`}`,
      evidence: {
        kind: `new_${resource.kind}`,
        resource: resource.name,
        argument: resource.argument,
        outbound_tool: outbound,
        ...(source === null ? {} : { read_from: source }),
        baseline: {
          agent: agentName,
          known: agent.sets[resource.kind].size,
          accesses: agent.accesses[resource.kind],
          novelty_rate: round(rate),
          user_known: user?.sets[resource.kind].size ?? 0,
          examples: agent.examples[resource.kind].slice(0, 5),
        },
      },
    };
  }

  /**
   * Where the address or URL that named a domain came from, when it is a whole argument value (an address inside
   * free text is not traced by itself: the argument's other words may be what flowed).
   */
  private readFrom(
    exchange: CapturedExchange,
    position: ExchangePosition,
    leaves: readonly ArgumentLeaf[],
    resource: Resource,
  ): { from_call: number; from_tool: string } | null {
    if (this.provenance === null || resource.kind !== "domain") return null;
    const leaf = leaves.find((item) => item.path === resource.argument);
    if (leaf === undefined) return null;
    const kind = leafContentClass(leaf);
    if (kind !== "email" && kind !== "url") return null;
    return this.provenance(exchange, position, topLevelArgument(leaf.path));
  }

  private outsideUser(
    exchange: CapturedExchange,
    resource: Resource,
    agentName: string,
    user: Neighbourhood,
  ): BaselineVerdict {
    const label = resource.kind === "domain" ? "external domain" : resource.kind;
    return {
      category: "resource_anomaly",
      severity: "low",
      score: 0.2,
      message: `user ${exchange.user} reaches ${label} ${resource.name} (in ${resource.argument}) for the first time: agent type ${agentName} knows it, but it is outside the ${user.sets[resource.kind].size} this user touched in the baseline`,
      evidence: {
        kind: `user_new_${resource.kind}`,
        resource: resource.name,
        argument: resource.argument,
        baseline: { agent: agentName, user: exchange.user, user_known: user.sets[resource.kind].size },
      },
    };
  }

  private firstReport(session: string, resource: Resource): boolean {
    let reported = this.sessions.get(session);
    if (reported === undefined) {
      reported = [];
      this.sessions.set(session, reported);
    }
    const hash = resourceHash(resource);
    if (reported.includes(hash) || reported.length >= MAX_REPORTED_PER_SESSION) return false;
    reported.push(hash);
    return true;
  }

  saveBaseline(): ResourceBaselineState {
    return {
      version: VERSION,
      agents: Object.fromEntries([...this.agents].map(([name, item]) => [name, saveNeighbourhood(item)])),
      users: Object.fromEntries([...this.users].map(([name, item]) => [name, saveNeighbourhood(item)])),
    };
  }

  loadBaseline(state: unknown): string | null {
    const parsed = resourceBaselineSchema.safeParse(state);
    if (!parsed.success) return `resource baseline: ${describeStateError(parsed.error)}`;
    this.agents.clear();
    this.users.clear();
    for (const [name, saved] of parsed.data.agents) {
      this.agents.set(name, loadNeighbourhood(saved, AGENT_RESOURCES));
    }
    for (const [name, saved] of parsed.data.users) {
      this.users.set(name, loadNeighbourhood(saved, USER_RESOURCES));
    }
    return null;
  }
}

function owner(owners: Map<string, Neighbourhood>, name: string, capacity: number, most: number): Neighbourhood | null {
  let item = owners.get(name);
  if (item === undefined) {
    if (owners.size >= most) return null;
    item = new Neighbourhood(capacity);
    owners.set(name, item);
  }
  return item;
}

function resourceHash(resource: Resource): number {
  return resource.hash;
}

function saveNeighbourhood(item: Neighbourhood): z.infer<typeof neighbourhoodSchema> {
  return {
    accesses: { ...item.accesses },
    fresh: { ...item.fresh },
    examples: {
      domain: [...item.examples.domain],
      directory: [...item.examples.directory],
      channel: [...item.examples.channel],
    },
    hashes: {
      domain: item.sets.domain.toJSON(),
      directory: item.sets.directory.toJSON(),
      channel: item.sets.channel.toJSON(),
    },
  };
}

function loadNeighbourhood(saved: z.infer<typeof neighbourhoodSchema>, capacity: number): Neighbourhood {
  const item = new Neighbourhood(capacity);
  for (const kind of RESOURCE_KINDS) {
    item.sets[kind] = new HashedSet(capacity, saved.hashes[kind]);
    item.accesses[kind] = saved.accesses[kind];
    item.fresh[kind] = saved.fresh[kind];
    item.examples[kind] = [...saved.examples[kind]];
  }
  return item;
}

/** Lines of `toolwatch baseline show` for a saved resource model; `null` when `state` is not one. */
export function describeResourceBaseline(state: unknown): string[] | null {
  const parsed = resourceBaselineSchema.safeParse(state);
  if (!parsed.success) return null;
  const lines: string[] = [];
  const describe = (label: string, saved: z.infer<typeof neighbourhoodSchema>): void => {
    const parts = RESOURCE_KINDS.filter((kind) => saved.accesses[kind] > 0).map(
      (kind) =>
        `${saved.hashes[kind].length} ${kind === "directory" ? "directories" : `${kind}s`} (${saved.accesses[kind]} accesses, ${((100 * saved.fresh[kind]) / saved.accesses[kind]).toFixed(0)}% new; e.g. ${saved.examples[kind].slice(0, 5).join(", ")})`,
    );
    lines.push(`${label}: ${parts.length === 0 ? "no resources" : parts.join("; ")}`);
  };
  for (const [name, saved] of parsed.data.agents) describe(`agent type ${name}`, saved);
  for (const [name, saved] of [...parsed.data.users].slice(0, 20)) describe(`user ${name}`, saved);
  return lines;
}
