import type { ToolPattern } from "./tool-pattern.js";

/** Whose calls one rate limit counts together. */
export type RateLimitScope = "session" | "user" | "agent" | "global";

/** One compiled `rate_limits` entry. */
export interface RateLimit {
  /** `<policy>/rate_limits[<index>]`: the rule name in decisions and the key of its state. */
  rule: string;
  tool: ToolPattern;
  per: RateLimitScope;
  max: number;
  window_ms: number;
  /** Count each tool separately rather than every matching tool together. */
  each_tool: boolean;
}

/** The calls one key made in the last window: event times, oldest first, from `head` on. */
interface Bucket {
  times: number[];
  head: number;
  /** The window of the rule that last recorded here, so that a sweep knows when the bucket is idle. */
  window_ms: number;
}

/** Counters of the rate-limit state, for metrics and tests. */
export interface RateLimitCounters {
  buckets: number;
  sessions: number;
  /** Buckets dropped because the cap on tracked keys was reached before they went idle. */
  evicted: number;
}

/** A rule's state for one scope value: one bucket, or with `each_tool` one per server and tool. */
type Slot = Bucket | Map<string, Map<string, Bucket>>;

/**
 * The sliding-window state of every rate limit: exact (a log of event times per key, at most `max`
 * of them), so that replaying a capture gives the decisions the live run gave. Session buckets are
 * grouped by session and dropped at `endSession`; the number of buckets is capped, idle ones are
 * swept first and then the oldest are evicted. One store outlives policy reloads: buckets are keyed
 * by rule name, which stays the same while a policy keeps its name. Keys are nested maps over the
 * strings a call already holds, since building a composite key per call cost more than the check.
 */
export class RateLimitStore {
  /** session → rule → slot, for `per: session`. */
  private readonly sessions = new Map<string, Map<string, Slot>>();
  /** rule → user, agent or "" (global) → slot. A missing user or agent is the key `null`: callers without one share a count. */
  private readonly shared = new Map<string, Map<string | null, Slot>>();
  private bucketCount = 0;
  private evicted = 0;
  /** Scratch space for the buckets of one call, so that each is looked up once. */
  private readonly found: Array<Bucket | undefined> = [];
  readonly max_buckets: number;

  constructor(options: { max_buckets?: number | undefined } = {}) {
    this.max_buckets = options.max_buckets ?? 100_000;
  }

  /**
   * Admits one call under every limit in `limits` or none: returns the first limit the call would
   * exceed (nothing is recorded then), or null once the call is counted under each of them.
   */
  admit(limits: readonly RateLimit[], key: RateLimitKey, now: number): RateLimit | null {
    const found = this.found;
    for (let index = 0; index < limits.length; index++) {
      const limit = limits[index]!;
      const bucket = this.bucket(limit, key, false);
      found[index] = bucket;
      if (bucket === undefined) continue;
      prune(bucket, now - limit.window_ms);
      if (bucket.times.length - bucket.head >= limit.max) return limit;
    }
    for (let index = 0; index < limits.length; index++) {
      const limit = limits[index]!;
      let bucket = found[index];
      if (bucket === undefined) {
        if (this.bucketCount >= this.max_buckets) this.makeRoom(now);
        bucket = this.bucket(limit, key, true)!;
      }
      bucket.window_ms = limit.window_ms;
      bucket.times.push(now);
    }
    found.length = 0;
    return null;
  }

  /** Forgets the session's buckets. */
  endSession(session: string): void {
    const rules = this.sessions.get(session);
    if (rules === undefined) return;
    for (const slot of rules.values()) this.bucketCount -= countBuckets(slot);
    this.sessions.delete(session);
  }

  counters(): RateLimitCounters {
    return { buckets: this.bucketCount, sessions: this.sessions.size, evicted: this.evicted };
  }

  /** The bucket of `limit` for this call; with `create`, made (and counted) when missing. */
  private bucket(limit: RateLimit, key: RateLimitKey, create: boolean): Bucket | undefined {
    let slot: Slot | undefined;
    if (limit.per === "session") {
      let rules = this.sessions.get(key.session);
      if (rules === undefined) {
        if (!create) return undefined;
        rules = new Map();
        this.sessions.set(key.session, rules);
      }
      slot = rules.get(limit.rule);
      if (slot === undefined) {
        if (!create) return undefined;
        slot = limit.each_tool ? new Map() : this.newBucket(limit);
        rules.set(limit.rule, slot);
      }
    } else {
      let scopes = this.shared.get(limit.rule);
      if (scopes === undefined) {
        if (!create) return undefined;
        scopes = new Map();
        this.shared.set(limit.rule, scopes);
      }
      const scope = limit.per === "user" ? key.user : limit.per === "agent" ? key.agent : "";
      slot = scopes.get(scope);
      if (slot === undefined) {
        if (!create) return undefined;
        slot = limit.each_tool ? new Map() : this.newBucket(limit);
        scopes.set(scope, slot);
      }
    }
    if (!(slot instanceof Map)) return slot;
    // A rule whose `each_tool` changed in a reload keeps the kind of slot it had until the slot is dropped.
    let tools = slot.get(key.server);
    if (tools === undefined) {
      if (!create) return undefined;
      tools = new Map();
      slot.set(key.server, tools);
    }
    let bucket = tools.get(key.tool);
    if (bucket === undefined && create) {
      bucket = this.newBucket(limit);
      tools.set(key.tool, bucket);
    }
    return bucket;
  }

  private newBucket(limit: RateLimit): Bucket {
    this.bucketCount++;
    return { times: [], head: 0, window_ms: limit.window_ms };
  }

  /** Drops idle buckets; when too few are idle, whole sessions and then scopes go, oldest first (their counts restart). */
  private makeRoom(now: number): void {
    const idle = (bucket: Bucket) => {
      const last = bucket.times[bucket.times.length - 1];
      return last === undefined || last <= now - bucket.window_ms;
    };
    for (const [session, rules] of this.sessions) {
      this.sweep(rules, idle);
      if (rules.size === 0) this.sessions.delete(session);
    }
    for (const [rule, scopes] of this.shared) {
      this.sweep(scopes, idle);
      if (scopes.size === 0) this.shared.delete(rule);
    }
    const target = Math.floor(this.max_buckets * 0.9);
    for (const [session, rules] of this.sessions) {
      if (this.bucketCount <= target) return;
      this.sessions.delete(session);
      for (const slot of rules.values()) this.drop(slot);
    }
    for (const scopes of this.shared.values()) {
      for (const [scope, slot] of scopes) {
        if (this.bucketCount <= target) return;
        scopes.delete(scope);
        this.drop(slot);
      }
    }
  }

  private sweep<Key>(slots: Map<Key, Slot>, idle: (bucket: Bucket) => boolean): void {
    for (const [name, slot] of slots) {
      if (!(slot instanceof Map)) {
        if (idle(slot)) {
          slots.delete(name);
          this.bucketCount--;
        }
        continue;
      }
      for (const [server, tools] of slot) {
        for (const [tool, bucket] of tools) {
          if (idle(bucket)) {
            tools.delete(tool);
            this.bucketCount--;
          }
        }
        if (tools.size === 0) slot.delete(server);
      }
      if (slot.size === 0) slots.delete(name);
    }
  }

  private drop(slot: Slot): void {
    const count = countBuckets(slot);
    this.bucketCount -= count;
    this.evicted += count;
  }
}

function countBuckets(slot: Slot): number {
  if (!(slot instanceof Map)) return 1;
  let count = 0;
  for (const tools of slot.values()) count += tools.size;
  return count;
}

/** What a call contributes to finding its buckets. */
export interface RateLimitKey {
  session: string;
  user: string | null;
  agent: string | null;
  server: string;
  tool: string;
}

/** Drops the times at or before `cutoff` from the front, compacting now and then so the array stays bounded. */
function prune(bucket: Bucket, cutoff: number): void {
  const times = bucket.times;
  let head = bucket.head;
  while (head < times.length && times[head]! <= cutoff) head++;
  if (head > 32 && head * 2 > times.length) {
    times.splice(0, head);
    head = 0;
  }
  bucket.head = head;
}
