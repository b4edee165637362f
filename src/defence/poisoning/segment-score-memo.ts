/**
 * A bounded memo of segment scores, so that a segment met again in another document is neither prefiltered
 * nor scored again.
 *
 * Distinct tool results are mostly near-duplicates (the same inbox with one more e-mail, the same file listing
 * with another date): in agentdojo's test capture the 4,461 distinct result texts hold 68,407 segments that
 * pass the prefilter, but only 3,036 distinct ones. A segment's score depends on more than its own characters:
 * `extractFeatures` and `mayBeInstruction` also read a few characters around the span (a `|` before it, an
 * address or a number running on past its end) and, in a table, whether its line is a table row. The key is
 * all of that: the span with {@link SPAN_CONTEXT_BEFORE} characters before and {@link SPAN_CONTEXT_AFTER}
 * after it (fewer at the edges of the text), where the span sits in those characters, the kind of document
 * and the table flag. Two spans with equal keys read equal characters everywhere the score looks, so they
 * score the same.
 *
 * The lookup is by a hash of the key's shape and characters worked out in place, confirmed by comparing the
 * whole key: no string is hashed by the engine, which measured a little slower than this. Keys that share a
 * hash are chained, a few at most: past that a new one is not kept, so no lookup compares against many.
 *
 * Documents that share nothing must not pay much for it: a key is kept only the second time it is met (the
 * first time only its hash is noted, in a table of slots), and while most lookups miss, only a fixed eighth of
 * the segments are looked up, enough to notice when documents start to repeat. On a stream of results whose
 * segments never repeat, classifying then costs within a few percent of no memo (a quarter more when every
 * segment was looked up and kept).
 *
 * Memory is bounded by a byte budget (the slots, keys at 2 bytes a character and a fixed allowance per entry); past it
 * the oldest entries go first (first in, first out, as in the flow detectors' text memo: moving an entry on
 * each hit would cost more than the rare re-computation it saves).
 */
import { type DocumentKind, SPAN_CONTEXT_AFTER, SPAN_CONTEXT_BEFORE } from "./text-features.js";

/** What is remembered of one segment in its context; the caller fills in what it works out. */
export interface SegmentMemoEntry {
  /**
   * Whether the segment is worth scoring (`mayBeInstruction`, or a line of its own in a table): 1 or 0, -1
   * until worked out.
   */
  prefilter: number;
  /** The model's score of the segment (`PoisoningClassifier.scoreSpan`); NaN until worked out. */
  score: number;
}

interface StoredEntry extends SegmentMemoEntry {
  /** The span with its context, a string of its own. */
  key: string;
  /** Where the span sits in `key`, the kind of document and the table flag. */
  shape: number;
  hash: number;
  bytes: number;
  /** The next entry with the same hash. */
  next: StoredEntry | undefined;
}

/** Default budget of a `SegmentScoreMemo`: enough for every distinct segment of agentdojo's capture, twice over. */
export const DEFAULT_SEGMENT_MEMO_BYTES = 4 * 1024 * 1024;

/** Longer spans (never a segment of `segmentInto`, whose windows are at most 360 characters) are not kept. */
const MAX_SPAN = 1024;
/** What an entry costs besides its key's characters: the entry object, the `Map` slot, the string's header. */
const ENTRY_OVERHEAD_BYTES = 128;

/** Entries that share a hash, at most; past that a new one is not kept. */
const CHAIN_LIMIT = 4;
/** Lookups in a window; the window's share of hits decides how many segments the next window looks up. */
const WINDOW = 1024;
/**
 * Below this share of hits, looking every segment up costs more than the hits save (a lookup costs about a
 * quarter of scoring a segment that passes the prefilter), so the next window looks up one in `SPARSE_SHARE`.
 */
const MIN_HIT_SHARE = 0.25;
const SPARSE_SHARE = 8;
/** Most slots for the hashes of keys met once: 64 KB, several times the distinct segments of agentdojo's capture. */
const MAX_SEEN_SLOTS = 16384;

const KIND_INDEX: Record<DocumentKind, number> = { table: 0, structured: 1, code: 2, prose: 3 };
const BEFORE_SHAPES = SPAN_CONTEXT_BEFORE + 1;
const AFTER_SHAPES = SPAN_CONTEXT_AFTER + 1;

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
/** Starting values of the other lanes of {@link keyHash}: distinct, so that the lanes differ. */
const SECOND_LANE_SEED = 0x2f1a3c5b;
const THIRD_LANE_SEED = 0x6b43a9b5;
const FOURTH_LANE_SEED = 0x1b873593;

/**
 * A hash of `shape` and of the characters of `text[from, to)`, kept to 30 bits so that V8 keeps it a small
 * integer and a `Map` keyed by it allocates nothing.
 */
function keyHash(text: string, from: number, to: number, shape: number): number {
  // Four interleaved FNV lanes, one per character of each group of four: one lane waits on each multiplication,
  // so four keep the processor busy and hash a key about twice as fast (every segment looked up is hashed).
  let first = Math.imul(FNV_OFFSET ^ shape, FNV_PRIME);
  let second = SECOND_LANE_SEED;
  let third = THIRD_LANE_SEED;
  let fourth = FOURTH_LANE_SEED;
  let index = from;
  for (; index + 3 < to; index += 4) {
    first = Math.imul(first ^ text.charCodeAt(index), FNV_PRIME);
    second = Math.imul(second ^ text.charCodeAt(index + 1), FNV_PRIME);
    third = Math.imul(third ^ text.charCodeAt(index + 2), FNV_PRIME);
    fourth = Math.imul(fourth ^ text.charCodeAt(index + 3), FNV_PRIME);
  }
  for (; index < to; index++) first = Math.imul(first ^ text.charCodeAt(index), FNV_PRIME);
  let hash = Math.imul(first ^ (second >>> 7), FNV_PRIME);
  hash = Math.imul(hash ^ (third >>> 13), FNV_PRIME);
  hash = Math.imul(hash ^ (fourth >>> 3), FNV_PRIME);
  return hash & 0x3fffffff;
}

/**
 * Entries by (kind, table flag, characters of context before and after, text of the span with its context),
 * within a byte budget.
 */
export class SegmentScoreMemo {
  /** The most recent entry of each hash; the others follow it through `next`. */
  private readonly chains = new Map<number, StoredEntry>();
  /** Entries in insertion order from `head` on; the ones before `head` are gone. */
  private queue: (StoredEntry | undefined)[] = [];
  private head = 0;
  private readonly budget: number;
  private used = 0;
  private hitCount = 0;
  private missCount = 0;
  private windowLookups = 0;
  private windowHits = 0;
  /** Whether the last window's segments were mostly new, so that only some are looked up now. */
  private sparse = false;

  /** Hashes (plus one) of keys met once and not kept, by slot; a later key may take the slot. */
  private seenOnce: Int32Array | null = null;
  private readonly seenSlots: number;

  /** @param budgetBytes the most the memo holds, keys, entries and the hashes of keys met once together; 0 turns it off. */
  constructor(budgetBytes: number = DEFAULT_SEGMENT_MEMO_BYTES) {
    const total = Math.max(0, Math.floor(budgetBytes));
    // Up to a sixteenth of the budget (4-byte slots, a power of two of them, at most MAX_SEEN_SLOTS) for the
    // keys met once, set aside now and allocated at the first miss: a classifier made for one text would
    // otherwise clear them for nothing.
    let slots = 64;
    while (slots < MAX_SEEN_SLOTS && slots * 2 * 4 <= total / 16) slots *= 2;
    this.seenSlots = total === 0 ? 0 : slots;
    this.budget = Math.max(0, total - this.seenSlots * 4);
  }

  /**
   * The entry of `text[start, end)` read as a segment of a document of `kind`, created empty the second time
   * it is met, or `null` when it is not kept (met once so far, the memo is off, the span is out of the text or
   * too long). The caller fills in an unknown field before any other call. `proseLineInTable` is
   * `isProseLineInTable(text, start)`, and only read for a table.
   */
  entry(
    text: string,
    start: number,
    end: number,
    kind: DocumentKind,
    proseLineInTable: boolean,
  ): SegmentMemoEntry | null {
    if (this.budget === 0 || !(start >= 0 && start <= end && end <= text.length) || end - start > MAX_SPAN) return null;
    // Segments chosen by their length and first character, so that a segment met again is looked up again.
    if (this.sparse && ((end - start) * 31 + text.charCodeAt(start)) % SPARSE_SHARE !== 0) return null;
    const from = Math.max(0, start - SPAN_CONTEXT_BEFORE);
    const to = Math.min(text.length, end + SPAN_CONTEXT_AFTER);
    const flag = kind === "table" && proseLineInTable ? 1 : 0;
    const shape = ((KIND_INDEX[kind] * 2 + flag) * BEFORE_SHAPES + (start - from)) * AFTER_SHAPES + (to - end);
    if (++this.windowLookups === WINDOW) {
      this.sparse = this.windowHits < WINDOW * MIN_HIT_SHARE;
      this.windowLookups = 0;
      this.windowHits = 0;
    }
    const hash = keyHash(text, from, to, shape);
    const first = this.chains.get(hash);
    let chained = 0;
    if (first !== undefined) {
      const key = text.slice(from, to);
      for (let known: StoredEntry | undefined = first; known !== undefined; known = known.next) {
        if (known.shape === shape && known.key === key) {
          this.hitCount++;
          this.windowHits++;
          return known;
        }
        chained++;
      }
    }
    this.missCount++;
    // Kept the second time it is met: a segment met once (a date, a name, most of a document never seen
    // again) costs a hash and a slot, not an entry whose allocation and eviction cost more than its score.
    if (this.seenOnce === null) this.seenOnce = new Int32Array(this.seenSlots);
    const slot = (hash ^ (hash >>> 13)) & (this.seenSlots - 1);
    if (this.seenOnce[slot] !== hash + 1) {
      this.seenOnce[slot] = hash + 1;
      return null;
    }
    const key = text.slice(from, to);
    const bytes = 2 * key.length + ENTRY_OVERHEAD_BYTES;
    if (bytes > this.budget || chained >= CHAIN_LIMIT) return null;
    while (this.used + bytes > this.budget) this.evictOldest();
    const entry: StoredEntry = {
      prefilter: -1,
      score: Number.NaN,
      key: this.ownCopy(key),
      shape,
      hash,
      bytes,
      next: this.chains.get(hash),
    };
    this.chains.set(hash, entry);
    this.queue.push(entry);
    this.used += bytes;
    return entry;
  }

  /** Bytes held now, as the budget counts them: the entries and the slots of the keys met once. */
  get bytes(): number {
    return this.used + this.seenSlots * 4;
  }

  /** Entries held now. */
  get size(): number {
    return this.queue.length - this.head;
  }

  /** Lookups that found an entry and lookups that did not. */
  get stats(): { hits: number; misses: number } {
    return { hits: this.hitCount, misses: this.missCount };
  }

  /** Forgets everything. */
  clear(): void {
    this.chains.clear();
    this.seenOnce?.fill(0);
    this.queue = [];
    this.head = 0;
    this.used = 0;
    this.hitCount = 0;
    this.missCount = 0;
    this.windowLookups = 0;
    this.windowHits = 0;
    this.sparse = false;
  }

  private evictOldest(): void {
    const oldest = this.queue[this.head];
    if (oldest === undefined) return;
    this.queue[this.head] = undefined;
    this.head++;
    this.unchain(oldest);
    this.used -= oldest.bytes;
    // Drops the gone entries' slots once they are most of the queue, so the queue stays within twice the entries.
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  private unchain(entry: StoredEntry): void {
    let known = this.chains.get(entry.hash);
    if (known === entry) {
      if (entry.next === undefined) this.chains.delete(entry.hash);
      else this.chains.set(entry.hash, entry.next);
      return;
    }
    while (known !== undefined && known.next !== entry) known = known.next;
    if (known !== undefined) known.next = entry.next;
  }

  /**
   * A string with `key`'s characters that shares nothing with the text: a slice of a long string may keep
   * the whole string alive, and the budget counts only the key. V8 flattens the concatenation into a new
   * string before slicing it, so the copy holds the key's characters and one more.
   */
  private ownCopy(key: string): string {
    return ` ${key}`.slice(1);
  }
}
