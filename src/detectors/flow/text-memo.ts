import { SampledTextIndex, sampleHash as textSampleHash } from "../../defence/poisoning/sampled-text-index.js";

/**
 * A bounded memo keyed by text. Real agent traffic repeats result texts (the same document,
 * inbox or file listing read again in session after session: agentdojo's 26,133 events hold 4,462 distinct
 * result texts), so work that depends only on the text is done once per distinct text and reused.
 *
 * Texts are looked up through a {@link SampledTextIndex}: a hash of a sample of the text, confirmed by comparing it.
 *
 * Memory is bounded by a byte budget that counts each key at 2 bytes per character (the worst case for a V8
 * string) plus the size each value declares; past the budget the oldest entries go (first in, first out: moving
 * an entry on every hit costs more than the rare re-computation it saves). Texts larger than a sixteenth of the
 * budget are not kept.
 */
export class TextMemo<Value> {
  /** The newest entry per hash of a text's first {@link HEAD} characters, when asked for (see {@link similar}). */
  private readonly heads: Map<number, MemoEntry<Value>> | null;
  private readonly index = new SampledTextIndex<MemoEntry<Value>>();
  /** Age order, oldest first. */
  private oldest: MemoEntry<Value> | null = null;
  private newest: MemoEntry<Value> | null = null;
  private count = 0;
  private readonly budget: number;
  private readonly largest: number;
  private used = 0;

  /**
   * @param budgetBytes the most the memo holds, keys and values together; 0 turns it off.
   * @param options.similar keep an index for {@link similar} (32 more bytes counted per entry).
   */
  constructor(budgetBytes: number, options: { similar?: boolean } = {}) {
    this.budget = Math.max(0, budgetBytes);
    this.largest = Math.floor(this.budget / 16);
    this.heads = options.similar === true ? new Map() : null;
  }

  /** Bytes held now (keys at 2 bytes per character plus values' declared sizes). */
  get bytes(): number {
    return this.used;
  }

  /** Entries held now. */
  get size(): number {
    return this.count;
  }

  /** The value kept for `text`, or `undefined`. */
  get(text: string): Value | undefined {
    if (this.count === 0) return undefined;
    return this.find(sampleHash(text), text)?.value;
  }

  /**
   * The newest entry, other than `text`'s own, whose text starts with the same {@link HEAD} characters as `text`
   * (by a hash of them: the caller compares the texts), or `undefined`; always `undefined` unless the memo was
   * made with `similar`. A text read before that starts the same is often the same document with a part changed.
   */
  similar(text: string): { text: string; value: Value } | undefined {
    if (this.heads === null || text.length <= HEAD) return undefined;
    const entry = this.heads.get(headHash(text));
    return entry === undefined || entry.text === text ? undefined : entry;
  }

  /** Keeps `value` for `text` when it fits, dropping the oldest entries to make room. */
  set(text: string, value: Value, valueBytes: number): void {
    const bytes = text.length * 2 + valueBytes + (this.heads === null ? 64 : 96);
    if (bytes > this.largest) return;
    const sample = sampleHash(text);
    const old = this.find(sample, text);
    if (old !== undefined) this.remove(old);
    while (this.used + bytes > this.budget && this.oldest !== null) this.remove(this.oldest);
    // A text set again keeps the string it was kept under: other memos likely hold that one too.
    const key = old === undefined ? text : old.text;
    const head = this.heads === null || text.length <= HEAD ? -1 : (old?.head ?? headHash(text));
    const entry: MemoEntry<Value> = { text: key, sample, head, value, bytes, older: this.newest, newer: null };
    if (this.newest === null) this.oldest = entry;
    else this.newest.newer = entry;
    this.newest = entry;
    this.index.add(entry);
    if (head !== -1) this.heads!.set(head, entry);
    this.count++;
    this.used += bytes;
  }

  clear(): void {
    this.heads?.clear();
    this.index.clear();
    this.oldest = null;
    this.newest = null;
    this.count = 0;
    this.used = 0;
  }

  private find(sample: number, text: string): MemoEntry<Value> | undefined {
    if (text !== lastSampled) return this.index.find(sample, text);
    // The key another memo found equal to this very text: comparing with it is comparing two references.
    const entry = this.index.find(sample, text, lastKey ?? text);
    if (entry !== undefined) lastKey = entry.text;
    return entry;
  }

  /** Drops `entry` from the indexes and the age order. */
  private remove(entry: MemoEntry<Value>): void {
    if (entry.head !== -1 && this.heads!.get(entry.head) === entry) this.heads!.delete(entry.head);
    this.index.delete(entry);
    if (entry.older === null) this.oldest = entry.newer;
    else entry.older.newer = entry.newer;
    if (entry.newer === null) this.newest = entry.older;
    else entry.newer.older = entry.older;
    entry.older = null;
    entry.newer = null;
    this.count--;
    this.used -= entry.bytes;
  }
}

/** One remembered text, its value, and its place in the age order. */
interface MemoEntry<Value> {
  readonly text: string;
  readonly sample: number;
  /** Hash of the text's first {@link HEAD} characters when the memo indexes them, else -1. */
  readonly head: number;
  readonly value: Value;
  readonly bytes: number;
  older: MemoEntry<Value> | null;
  newer: MemoEntry<Value> | null;
}

/** Characters of the start of a text that {@link TextMemo.similar} matches. */
const HEAD = 64;

/** A hash of a text's first {@link HEAD} characters (31 bits, so never -1). */
function headHash(text: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < HEAD; index++) hash = Math.imul(hash ^ text.charCodeAt(index), 0x01000193);
  return hash & 0x7fffffff;
}

/**
 * The last text sampled and its hash, and the key a memo found equal to it (`null` until one did): the flow
 * analysis looks the same result text up in two memos (fingerprints and DLP scans) one after the other, so the
 * second lookup neither samples it again nor compares it character by character with a key that is usually the
 * very string the first lookup compared it with.
 */
let lastSampled = "";
let lastSample = 0;
let lastKey: string | null = null;

/** {@link textSampleHash} of `text`, remembered for the last text asked about. */
function sampleHash(text: string): number {
  if (text === lastSampled) return lastSample;
  lastSampled = text;
  lastSample = textSampleHash(text);
  lastKey = null;
  return lastSample;
}
