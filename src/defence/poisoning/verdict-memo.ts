/**
 * A bounded least-recently-used memo of poisoning verdicts by (kind, text).
 *
 * Tool traffic repeats documents: agentdojo's test capture holds 26,133 results but only 4,462 distinct
 * texts. The classifier is deterministic, so a verdict remembered for a text is exactly the verdict it
 * would compute again, and a repeat costs a lookup instead of a pass of the rules and the model.
 *
 * Texts are looked up through a {@link SampledTextIndex}: a hash of a sample of the text, confirmed by comparing it.
 */
import { SampledTextIndex, sampleHash } from "./sampled-text-index.js";

/** Limits of a `VerdictMemo`. */
export interface VerdictMemoOptions {
  /** Most verdicts held; the least recently used goes first. Default 4,096. */
  max_entries?: number;
  /**
   * Most characters of remembered texts held in all. Default 8 Mi characters: the keys then hold at most
   * 8 MB of Latin-1 text (V8 stores it at one byte a character) and 16 MB at worst (two bytes a
   * character), plus the verdicts, a few hundred bytes each (about 1 MB at the default entry cap).
   * On agentdojo's test capture this keeps 80% of results as hits; every repeat would be 82%.
   */
  max_characters?: number;
}

const DEFAULT_MAX_ENTRIES = 4096;
const DEFAULT_MAX_CHARACTERS = 8 * 1024 * 1024;

/** One remembered text: its values by kind, and its place in the recency list. */
interface MemoNode<Kind, Value> {
  readonly text: string;
  readonly sample: number;
  /** The kinds it is remembered for, least recently used first, and their values. */
  kinds: Kind[];
  values: Value[];
  older: MemoNode<Kind, Value> | null;
  newer: MemoNode<Kind, Value> | null;
}

/**
 * Remembers values by (kind, text) within a bound on entries and on the total length of the texts.
 * A text longer than an eighth of the character budget is not remembered: one huge document would
 * otherwise evict everything else for a single hit.
 */
export class VerdictMemo<Kind extends string, Value> {
  readonly maxEntries: number;
  readonly maxCharacters: number;
  private readonly index = new SampledTextIndex<MemoNode<Kind, Value>>();
  // Texts by recency, least recently used first (a hit moves its text last).
  private oldest: MemoNode<Kind, Value> | null = null;
  private newest: MemoNode<Kind, Value> | null = null;
  private entryCount = 0;
  private characterCount = 0;
  private hitCount = 0;
  private missCount = 0;

  constructor(options: VerdictMemoOptions = {}) {
    this.maxEntries = Math.max(0, Math.floor(options.max_entries ?? DEFAULT_MAX_ENTRIES));
    this.maxCharacters = Math.max(0, Math.floor(options.max_characters ?? DEFAULT_MAX_CHARACTERS));
  }

  /** The remembered value for (kind, text), marked as recently used, or undefined. */
  get(kind: Kind, text: string): Value | undefined {
    const node = this.entryCount === 0 ? undefined : this.index.find(sampleHash(text), text);
    const at = node === undefined ? -1 : node.kinds.indexOf(kind);
    if (node === undefined || at === -1) {
      this.missCount++;
      return undefined;
    }
    this.hitCount++;
    const value = node.values[at] as Value;
    this.touch(node, at);
    return value;
  }

  /** Remembers `value` for (kind, text), evicting the least recently used entries past the limits. */
  set(kind: Kind, text: string, value: Value): void {
    if (this.maxEntries === 0 || text.length > this.maxCharacters / 8) return;
    const sample = sampleHash(text);
    let node = this.index.find(sample, text);
    if (node === undefined) {
      node = { text, sample, kinds: [kind], values: [value], older: this.newest, newer: null };
      if (this.newest === null) this.oldest = node;
      else this.newest.newer = node;
      this.newest = node;
      this.index.add(node);
    } else {
      const at = node.kinds.indexOf(kind);
      if (at !== -1) {
        node.values[at] = value;
        this.touch(node, at);
        return;
      }
      // A new kind for a known text: the text keeps its place, the kind goes last among its kinds.
      node.kinds.push(kind);
      node.values.push(value);
    }
    this.entryCount++;
    this.characterCount += text.length;
    while (this.entryCount > this.maxEntries || this.characterCount > this.maxCharacters) this.evictOldest();
  }

  /** Number of remembered values. */
  get size(): number {
    return this.entryCount;
  }

  /** Total length of the remembered texts (each text counted once per kind it is remembered for). */
  get characters(): number {
    return this.characterCount;
  }

  /** Lookups that found a value and lookups that did not, since construction or `clear`. */
  get stats(): { hits: number; misses: number } {
    return { hits: this.hitCount, misses: this.missCount };
  }

  /** Forgets everything. */
  clear(): void {
    this.index.clear();
    this.oldest = null;
    this.newest = null;
    this.entryCount = 0;
    this.characterCount = 0;
    this.hitCount = 0;
    this.missCount = 0;
  }

  /** Marks the text most recently used, and its kind at `at` the most recently used of its kinds. */
  private touch(node: MemoNode<Kind, Value>, at: number): void {
    if (at !== node.kinds.length - 1) {
      node.kinds.push(node.kinds.splice(at, 1)[0] as Kind);
      node.values.push(node.values.splice(at, 1)[0] as Value);
    }
    if (this.newest === node) return;
    this.unlink(node);
    node.older = this.newest;
    node.newer = null;
    if (this.newest === null) this.oldest = node;
    else this.newest.newer = node;
    this.newest = node;
  }

  private unlink(node: MemoNode<Kind, Value>): void {
    if (node.older === null) this.oldest = node.newer;
    else node.older.newer = node.newer;
    if (node.newer === null) this.newest = node.older;
    else node.newer.older = node.older;
    node.older = null;
    node.newer = null;
  }

  private evictOldest(): void {
    const node = this.oldest;
    if (node === null) return;
    node.kinds.shift();
    node.values.shift();
    if (node.kinds.length === 0) {
      this.unlink(node);
      this.index.delete(node);
    }
    this.entryCount--;
    this.characterCount -= node.text.length;
  }
}
