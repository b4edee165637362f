/**
 * A bounded least-recently-used memo of poisoning verdicts by (kind, text).
 *
 * Tool traffic repeats documents: agentdojo's test capture holds 26,133 results but only 4,462 distinct
 * texts. The classifier is deterministic, so a verdict remembered for a text is exactly the verdict it
 * would compute again, and a repeat costs a lookup instead of a pass of the rules and the model.
 *
 * The lookup is by a hash of a sample of the text (its length, its head and tail, and characters spread
 * over the rest), confirmed by comparing the whole text: a text parsed from a new event is a new string,
 * and a `Map` keyed by it would hash every character of it first, which cost more than the comparison.
 * Texts that share a sample (a document whose timestamp changed) are told apart by the comparison, a
 * few at most per sample: past that, a sample's texts move to a `Map` keyed by the text itself, so no
 * text can make a lookup compare against many others.
 */

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

/** Texts that share a sample hash held in a list before they move to the `Map` keyed by text. */
const BUCKET_LIMIT = 4;
/** Texts up to this length are hashed whole; longer ones by a sample of about as many characters. */
const WHOLE_TEXT = 128;
const EDGE = 16;
const SPREAD = 96;

/**
 * A hash of `text`'s length and of a sample of its characters (all of them for a short text): what memos keyed by
 * long texts look up by, confirming a hit by comparing the whole text.
 */
export function sampleHash(text: string): number {
  const length = text.length;
  let hash = Math.imul(0x811c9dc5 ^ length, 0x01000193);
  if (length <= WHOLE_TEXT) {
    for (let index = 0; index < length; index++) hash = Math.imul(hash ^ text.charCodeAt(index), 0x01000193);
    return hash;
  }
  for (let index = 0; index < EDGE; index++) hash = Math.imul(hash ^ text.charCodeAt(index), 0x01000193);
  for (let index = length - EDGE; index < length; index++) hash = Math.imul(hash ^ text.charCodeAt(index), 0x01000193);
  const step = Math.floor((length - 2 * EDGE) / SPREAD);
  for (let index = EDGE; index < length - EDGE; index += step) {
    hash = Math.imul(hash ^ text.charCodeAt(index), 0x01000193);
  }
  return hash;
}

/** One remembered text: its values by kind, and its place in the recency list. */
interface MemoNode<Kind, Value> {
  text: string;
  sample: number;
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
  // Texts by sample hash, a few per sample; the texts of a crowded sample by themselves.
  private readonly bySample = new Map<number, MemoNode<Kind, Value>[]>();
  private readonly crowdedSamples = new Map<number, number>();
  private readonly crowded = new Map<string, MemoNode<Kind, Value>>();
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
    const node = this.entryCount === 0 ? undefined : this.find(sampleHash(text), text);
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
    let node = this.find(sample, text);
    if (node === undefined) {
      node = { text, sample, kinds: [kind], values: [value], older: this.newest, newer: null };
      if (this.newest === null) this.oldest = node;
      else this.newest.newer = node;
      this.newest = node;
      this.index(node);
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
    this.bySample.clear();
    this.crowdedSamples.clear();
    this.crowded.clear();
    this.oldest = null;
    this.newest = null;
    this.entryCount = 0;
    this.characterCount = 0;
    this.hitCount = 0;
    this.missCount = 0;
  }

  private find(sample: number, text: string): MemoNode<Kind, Value> | undefined {
    const nodes = this.bySample.get(sample);
    if (nodes !== undefined) {
      for (const node of nodes) if (node.text === text) return node;
      return undefined;
    }
    return this.crowdedSamples.has(sample) ? this.crowded.get(text) : undefined;
  }

  private index(node: MemoNode<Kind, Value>): void {
    const crowdedCount = this.crowdedSamples.get(node.sample);
    if (crowdedCount !== undefined) {
      this.crowded.set(node.text, node);
      this.crowdedSamples.set(node.sample, crowdedCount + 1);
      return;
    }
    const nodes = this.bySample.get(node.sample);
    if (nodes === undefined) {
      this.bySample.set(node.sample, [node]);
    } else if (nodes.length < BUCKET_LIMIT) {
      nodes.push(node);
    } else {
      for (const other of nodes) this.crowded.set(other.text, other);
      this.crowded.set(node.text, node);
      this.crowdedSamples.set(node.sample, nodes.length + 1);
      this.bySample.delete(node.sample);
    }
  }

  private unindex(node: MemoNode<Kind, Value>): void {
    const crowdedCount = this.crowdedSamples.get(node.sample);
    if (crowdedCount !== undefined) {
      this.crowded.delete(node.text);
      if (crowdedCount === 1) this.crowdedSamples.delete(node.sample);
      else this.crowdedSamples.set(node.sample, crowdedCount - 1);
      return;
    }
    const nodes = this.bySample.get(node.sample);
    if (nodes === undefined) return;
    const at = nodes.indexOf(node);
    if (at !== -1) nodes.splice(at, 1);
    if (nodes.length === 0) this.bySample.delete(node.sample);
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
      this.unindex(node);
    }
    this.entryCount--;
    this.characterCount -= node.text.length;
  }
}
