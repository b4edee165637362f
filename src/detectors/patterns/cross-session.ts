import { z } from "zod";
import type { Detector, ExchangePosition, FindingSink } from "../../core/detector.js";
import type { CapturedExchange } from "../../core/exchange.js";
import { compareSeverity, type Finding, type Severity } from "../../core/finding.js";
import { describeStateError } from "../state-errors.js";
import { textEntropy } from "./call-traits.js";
import { bandKeys, hashRange, minHashSignature, signatureSimilarity } from "./min-hash.js";

/** Options of {@link CrossSessionDetector}. */
export interface CrossSessionDetectorOptions {
  /** Sliding event-time window in which similar calls are grouped. Default 10 minutes. */
  window_ms?: number;
  /** Fewest distinct sessions sending similar arguments to one tool for a finding. Default 8. */
  min_sessions?: number;
  /** Distinct users needed (besides twice the session threshold) for a high finding. Default 5. */
  high_users?: number;
  /** Estimated Jaccard similarity of argument shingles at which two calls count as alike. Default 0.6. */
  similarity?: number;
  /** Shortest argument content (characters) considered: short values are templates, not payloads. Default 32. */
  min_content_chars?: number;
  /** Lowest Shannon entropy (bits per character) of the content considered. Default 3.3. */
  min_content_entropy?: number;
  /** Calls kept in the window at most (the oldest go first). Default 20,000. */
  max_entries?: number;
}

const DETECTOR_NAME = "cross_session";
const STATE_VERSION = 1;
const BANDS = 6;
const ROWS = 4;
const BINS = BANDS * ROWS;
/** Characters of argument content read per call: enough to tell payloads apart, cheap to shingle. */
const MAX_CONTENT_CHARS = 512;
/** Band keys of baseline content remembered at most. */
const MAX_TEMPLATES = 100_000;
/** Entries per LSH bucket at most. */
const MAX_BUCKET = 256;
/** Findings about one cluster at most, so a large campaign does not flood the sink. */
const MAX_FINDINGS_PER_CLUSTER = 200;
/** Contents whose sketch is remembered at most: the same content comes again and again (templates, campaigns). */
const MAX_SKETCHES = 2048;

/** What a content is reduced to: its MinHash signature and LSH band keys (before the tool is folded in). */
interface Sketch {
  signature: readonly number[];
  bands: readonly number[];
}

interface Entry {
  id: number;
  session: string;
  user: string | null;
  agent: string | null;
  server: string;
  tool: string;
  call_index: number;
  time_ms: number;
  signature: readonly number[];
  keys: number[];
  raised: Severity | null;
  cluster: number | null;
  /** The last search for alike calls that met this entry (see {@link Window.alike}). */
  visit: number;
}

/** The grouping state: the window of recent calls and their LSH buckets. Learning and scoring keep one each. */
class Window {
  readonly entries: Entry[] = [];
  private head = 0;
  readonly buckets = new Map<number, Entry[]>();
  /** Searches for alike calls so far: marks which entries the current one has judged. */
  private visits = 0;

  get size(): number {
    return this.entries.length - this.head;
  }

  add(entry: Entry): void {
    this.entries.push(entry);
    for (const key of entry.keys) {
      const bucket = this.buckets.get(key);
      if (bucket === undefined) this.buckets.set(key, [entry]);
      else {
        // A bucket is capped: past this many alike calls the count is decided, and candidates stay cheap.
        if (bucket.length >= MAX_BUCKET) bucket.shift();
        bucket.push(entry);
      }
    }
  }

  /** Drops entries older than `cutoff`, and the oldest beyond `limit`. Entries arrive in time order. */
  evict(cutoff: number, limit: number): void {
    while (this.head < this.entries.length) {
      const oldest = this.entries[this.head]!;
      if (oldest.time_ms >= cutoff && this.size < limit) break;
      this.head++;
      for (const key of oldest.keys) {
        const bucket = this.buckets.get(key);
        if (bucket === undefined) continue;
        // Buckets fill in time order, so the oldest entry is usually first, often alone: no search, no splice.
        if (bucket[0] === oldest) {
          if (bucket.length === 1) {
            this.buckets.delete(key);
            continue;
          }
          bucket.shift();
        } else {
          const at = bucket.indexOf(oldest);
          if (at >= 0) bucket.splice(at, 1);
        }
        if (bucket.length === 0) this.buckets.delete(key);
      }
    }
    // Compact now and then so the array does not grow without bound.
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries.splice(0, this.head);
      this.head = 0;
    }
  }

  /**
   * Earlier calls to the same tool from other sessions whose content is alike: entries sharing a band with
   * `entry` (keys include the tool), in the order they are first met, each judged once.
   */
  alike(entry: Entry, similarity: number): Entry[] {
    const found: Entry[] = [];
    const visit = ++this.visits;
    for (const key of entry.keys) {
      const bucket = this.buckets.get(key);
      if (bucket === undefined) continue;
      for (const other of bucket) {
        if (other.visit === visit) continue;
        other.visit = visit;
        if (
          other.tool === entry.tool &&
          other.session !== entry.session &&
          signatureSimilarity(other.signature, entry.signature) >= similarity
        ) {
          found.push(other);
        }
      }
    }
    return found;
  }

  clear(): void {
    this.entries.length = 0;
    this.head = 0;
    this.buckets.clear();
  }
}

/** The saved form of the detector ({@link CrossSessionDetector.saveBaseline}'s output), checked on load. */
const crossSessionBaselineSchema = z.object({
  version: z.literal(STATE_VERSION),
  /** Per tool, the most distinct sessions training saw sending alike content in one window. */
  usual_sessions: z.array(z.tuple([z.string(), z.number().int().nonnegative()])),
  /** LSH band keys of training content (unsigned 32-bit hashes). */
  templates: z.array(z.number().int().nonnegative()),
});
type SavedState = z.infer<typeof crossSessionBaselineSchema>;

/**
 * Cross-session correlation: many sessions (or users) sending near-identical argument content to the same
 * tool within a sliding event-time window, as a coordinated attack or an injection spreading through shared
 * content does.
 *
 * Each call's argument values (sorted by name, lower-cased, first 512 characters) are shingled into 5-grams
 * and summarised by a one-permutation MinHash of 24 bins; 6 LSH bands of 4 bins find earlier calls to the
 * same tool that may be alike, and the signatures confirm it (estimated Jaccard ≥ 0.6). Short or low-entropy
 * content (empty arguments, ids, template values such as the same `get_balance` call from everyone) is never
 * grouped. The threshold rises above the tool's usual cross-session similarity: training records, per tool,
 * the most distinct sessions seen sending alike content in one window, and content seen in training needs
 * three times as many sessions. Medium at `min_sessions` distinct sessions; high at twice that from at least
 * `high_users` distinct users with content training never saw. Memory is the window (bounded in entries).
 */
export class CrossSessionDetector implements Detector {
  readonly name = DETECTOR_NAME;
  private readonly windowMs: number;
  private readonly minSessions: number;
  private readonly highUsers: number;
  private readonly similarity: number;
  private readonly minChars: number;
  private readonly minEntropy: number;
  private readonly maxEntries: number;
  private readonly window = new Window();
  private readonly learning = new Window();
  private readonly usualSessions = new Map<string, number>();
  private readonly templates = new Set<number>();
  private nextId = 0;
  private nextCluster = 0;
  private readonly clusterFindings = new Map<number, number>();
  /** Sketches of recent argument contents by their joined values, `null` for content too short or too plain. */
  private readonly sketches = new Map<string, Sketch | null>();

  constructor(options: CrossSessionDetectorOptions = {}) {
    this.windowMs = options.window_ms ?? 10 * 60_000;
    this.minSessions = options.min_sessions ?? 8;
    this.highUsers = options.high_users ?? 5;
    this.similarity = options.similarity ?? 0.6;
    this.minChars = options.min_content_chars ?? 32;
    this.minEntropy = options.min_content_entropy ?? 3.3;
    this.maxEntries = options.max_entries ?? 20_000;
  }

  learn(exchange: CapturedExchange, position: ExchangePosition): void {
    const entry = this.entryFor(exchange, position);
    if (entry === null) return;
    this.learning.evict(position.time_ms - this.windowMs, this.maxEntries);
    const alike = this.learning.alike(entry, this.similarity);
    const sessions = distinct(alike, (other) => other.session, entry.session);
    if (sessions > (this.usualSessions.get(entry.tool) ?? 0)) this.usualSessions.set(entry.tool, sessions);
    this.learning.add(entry);
    for (const key of entry.keys) if (this.templates.size < MAX_TEMPLATES) this.templates.add(key);
  }

  observe(exchange: CapturedExchange, position: ExchangePosition, emit: FindingSink): void {
    if (this.learning.size > 0) this.learning.clear();
    const entry = this.entryFor(exchange, position);
    if (entry === null) return;
    this.window.evict(position.time_ms - this.windowMs, this.maxEntries);
    const alike = this.window.alike(entry, this.similarity);
    this.window.add(entry);
    if (alike.length === 0) return;
    const group = [...alike, entry];
    const sessions = distinct(group, (other) => other.session);
    const known = entry.keys.some((key) => this.templates.has(key));
    const usual = this.usualSessions.get(entry.tool) ?? 0;
    const needed = Math.max(this.minSessions, 2 * usual + 1) * (known ? 3 : 1);
    if (sessions < needed) return;
    const users = distinct(group, (other) => other.user ?? "");
    const severity: Severity = sessions >= 2 * needed && users >= this.highUsers && !known ? "high" : "medium";
    let cluster = group.find((other) => other.cluster !== null)?.cluster ?? null;
    if (cluster === null) cluster = this.nextCluster++;
    for (const member of group) member.cluster = cluster;
    // Every session of the group gets a finding on its own latest alike call, once per severity.
    const latest = new Map<string, Entry>();
    for (const member of group) {
      const held = latest.get(member.session);
      if (held === undefined || member.time_ms >= held.time_ms) latest.set(member.session, member);
    }
    for (const [session, member] of latest) {
      const raised = group
        .filter((other) => other.session === session)
        .reduce<Severity | null>(
          (highest, other) =>
            other.raised !== null && (highest === null || compareSeverity(other.raised, highest) > 0)
              ? other.raised
              : highest,
          null,
        );
      if (raised !== null && compareSeverity(severity, raised) <= 0) continue;
      const count = this.clusterFindings.get(cluster) ?? 0;
      if (count >= MAX_FINDINGS_PER_CLUSTER) break;
      this.clusterFindings.set(cluster, count + 1);
      for (const other of group) if (other.session === session) other.raised = severity;
      emit(this.finding(exchange, member, group, sessions, users, needed, usual, known, severity));
    }
    if (this.clusterFindings.size > 4096) this.clusterFindings.clear();
  }

  async shutdown(): Promise<void> {
    this.window.clear();
    this.learning.clear();
    this.sketches.clear();
  }

  saveBaseline(): unknown {
    const state: SavedState = {
      version: STATE_VERSION,
      usual_sessions: [...this.usualSessions],
      templates: [...this.templates],
    };
    return state;
  }

  loadBaseline(state: unknown): string | null {
    const parsed = crossSessionBaselineSchema.safeParse(state);
    if (!parsed.success) return `cross-session baseline: ${describeStateError(parsed.error)}`;
    this.usualSessions.clear();
    for (const [tool, sessions] of parsed.data.usual_sessions) this.usualSessions.set(tool, sessions);
    this.templates.clear();
    for (const key of parsed.data.templates.slice(0, MAX_TEMPLATES)) this.templates.add(key);
    return null;
  }

  /** The window entry of a call, or `null` when its arguments carry too little content to correlate. */
  private entryFor(exchange: CapturedExchange, position: ExchangePosition): Entry | null {
    if (position.call_index === null || typeof exchange.tool !== "string" || !exchange.arguments) return null;
    // Most calls carry a few characters: they are skipped without joining their values. Lower-casing at most doubles
    // a text (İ becomes two characters); collapsing spaces and trimming only shorten it.
    if (2 * valueChars(exchange.arguments, 0, Math.ceil(this.minChars / 2)) < this.minChars) return null;
    const sketch = this.sketch(joinedValues(exchange.arguments));
    if (sketch === null) return null;
    const toolHash = hashRange(exchange.tool, 0, exchange.tool.length);
    const bands = sketch.bands;
    const keys = new Array<number>(bands.length);
    for (let band = 0; band < bands.length; band++) keys[band] = (bands[band]! ^ toolHash) >>> 0;
    return {
      id: this.nextId++,
      session: exchange.session,
      user: exchange.user,
      agent: exchange.agent,
      server: exchange.server,
      tool: exchange.tool,
      call_index: position.call_index,
      time_ms: position.time_ms,
      signature: sketch.signature,
      keys,
      raised: null,
      cluster: null,
      visit: 0,
    };
  }

  /**
   * The sketch of the content of `joined` (see {@link joinedValues}), `null` when the content is too short or of too
   * little entropy to correlate. Worked out once per text and remembered by the joined values themselves, so that
   * calls seen before skip normalising them too.
   */
  private sketch(joined: string): Sketch | null {
    const known = this.sketches.get(joined);
    if (known !== undefined) return known;
    const content = normalisedContent(joined);
    const sketch = content.length < this.minChars || textEntropy(content) < this.minEntropy ? null : newSketch(content);
    if (this.sketches.size >= MAX_SKETCHES) this.sketches.clear();
    this.sketches.set(joined, sketch);
    return sketch;
  }

  private finding(
    exchange: CapturedExchange,
    member: Entry,
    group: readonly Entry[],
    sessions: number,
    users: number,
    needed: number,
    usual: number,
    known: boolean,
    severity: Severity,
  ): Finding {
    const first = group.reduce((earliest, other) => (other.time_ms < earliest.time_ms ? other : earliest));
    const spanSeconds = Math.round((member.time_ms - first.time_ms) / 1000);
    const sessionList = [...new Set(group.map((other) => other.session))];
    const score = Math.min(1, 0.4 + (0.3 * sessions) / (2 * needed) + (0.2 * Math.min(users, 10)) / 10);
    return {
      time: exchange.time,
      session: member.session,
      user: member.user,
      agent: member.agent,
      server: member.server,
      tool: member.tool,
      call_index: member.call_index,
      detector: DETECTOR_NAME,
      category: "cross_session",
      severity,
      score: Math.round(score * 1000) / 1000,
      message: `${sessions} sessions from ${users} users sent near-identical arguments to ${member.tool} within ${Math.max(1, Math.round(spanSeconds / 60))} minutes, where this tool's baseline saw at most ${usual} alike sessions per window${known ? " (the content itself is routine in training)" : ""}; look for a shared source of the content (a poisoned document, a coordinated campaign).`,
      evidence: {
        call_index: member.call_index,
        sessions: sessionList.slice(0, 50),
        session_count: sessions,
        user_count: users,
        call_indexes: group
          .filter((other) => other.session === member.session)
          .map((other) => other.call_index)
          .slice(0, 20),
        first_time_ms: first.time_ms,
        window_ms: this.windowMs,
        similarity_threshold: this.similarity,
        sessions_needed: needed,
        baseline: { usual_alike_sessions: usual, content_seen_in_training: known },
      },
    };
  }
}

function newSketch(content: string): Sketch {
  const signature = minHashSignature(content, BINS);
  return { signature, bands: bandKeys(signature, BANDS, ROWS) };
}

/** The argument values as one normalised text: sorted by name, lower-cased, spaces collapsed, clipped. */
export function argumentContent(argumentsValue: Record<string, unknown>): string {
  return normalisedContent(joinedValues(argumentsValue));
}

/** The argument values joined by spaces, sorted by name, as far as {@link argumentContent} reads them. */
function joinedValues(argumentsValue: Record<string, unknown>): string {
  content = "";
  contentParts = 0;
  contentLength = 0;
  appendContent(argumentsValue, 0);
  const joined = content;
  content = "";
  return joined;
}

/** {@link joinedValues} lower-cased, spaces collapsed, trimmed and clipped. */
function normalisedContent(joined: string): string {
  let text = joined.toLowerCase();
  // Collapsing changes nothing when every space is a lone " ": most content skips the replacement.
  if (NEEDS_COLLAPSE.test(text)) text = text.replace(WHITESPACE_RUNS, " ");
  return text.trim().slice(0, MAX_CONTENT_CHARS);
}

/** Whitespace other than a lone " ". */
const NEEDS_COLLAPSE = /[^\S ]|\s\s/;
/** Runs of whitespace, collapsed to one space (global, so `replace` starts it afresh on every call). */
const WHITESPACE_RUNS = /\s+/g;
/** The values read so far by {@link appendContent}, joined by spaces, and how many and how long. */
let content = "";
let contentParts = 0;
let contentLength = 0;

function appendContent(value: unknown, depth: number): void {
  if (contentLength >= MAX_CONTENT_CHARS) return;
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
    const text = String(value);
    content = contentParts === 0 ? text : `${content} ${text}`;
    contentParts++;
    contentLength += text.length + 1;
    return;
  }
  if (depth >= 4 || value === null || typeof value !== "object") return;
  if (Array.isArray(value)) {
    for (const item of value) appendContent(item, depth + 1);
    return;
  }
  const keys = Object.keys(value);
  if (keys.length > 1) keys.sort();
  for (const key of keys) appendContent((value as Record<string, unknown>)[key], depth + 1);
}

/**
 * The characters {@link argumentContent} would join from `value` (each value and a space), or at least `enough` when
 * there are that many: the count stops there.
 */
function valueChars(value: unknown, depth: number, enough: number, counted = 0): number {
  if (counted >= enough) return counted;
  if (typeof value === "string") return counted + value.length + 1;
  if (typeof value === "number" || typeof value === "boolean") return counted + String(value).length + 1;
  if (depth >= 4 || value === null || typeof value !== "object") return counted;
  let total = counted;
  const items = Array.isArray(value) ? value : Object.values(value);
  for (const item of items) {
    total = valueChars(item, depth + 1, enough, total);
    if (total >= enough) break;
  }
  return total;
}

function distinct<T>(items: readonly T[], key: (item: T) => string, extra?: string): number {
  const seen = new Set<string>();
  for (const item of items) seen.add(key(item));
  if (extra !== undefined) seen.add(extra);
  return seen.size;
}
