/**
 * A bounded least-recently-used memo of poisoning verdicts by (kind, text).
 *
 * Tool traffic repeats documents: agentdojo's test capture holds 26,133 results but only 4,462 distinct
 * texts. The classifier is deterministic, so a verdict remembered for a text is exactly the verdict it
 * would compute again, and a repeat costs one Map lookup (V8 hashes a string once and keeps the hash in
 * it) instead of a pass of the rules and the model.
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

/**
 * Remembers values by (kind, text) within a bound on entries and on the total length of the texts.
 * A text longer than an eighth of the character budget is not remembered: one huge document would
 * otherwise evict everything else for a single hit.
 */
export class VerdictMemo<Kind extends string, Value> {
  readonly maxEntries: number;
  readonly maxCharacters: number;
  // One Map per kind, so the key is the text itself: a `kind + text` key would copy every text to hash it.
  private readonly byKind = new Map<Kind, Map<string, Value>>();
  // Texts by recency, least recently used first (a Map keeps insertion order and a hit moves its text
  // last), each with the kinds it is remembered for, least recently used kind first.
  private readonly order = new Map<string, Kind[]>();
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
    const values = this.byKind.get(kind);
    const value = values?.get(text);
    if (value === undefined || values === undefined) {
      this.missCount++;
      return undefined;
    }
    this.hitCount++;
    this.touch(kind, text);
    return value;
  }

  /** Remembers `value` for (kind, text), evicting the least recently used entries past the limits. */
  set(kind: Kind, text: string, value: Value): void {
    if (this.maxEntries === 0 || text.length > this.maxCharacters / 8) return;
    let values = this.byKind.get(kind);
    if (values === undefined) {
      values = new Map();
      this.byKind.set(kind, values);
    }
    if (values.has(text)) {
      values.set(text, value);
      this.touch(kind, text);
      return;
    }
    values.set(text, value);
    const kinds = this.order.get(text);
    if (kinds === undefined) this.order.set(text, [kind]);
    else kinds.push(kind);
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
    this.byKind.clear();
    this.order.clear();
    this.entryCount = 0;
    this.characterCount = 0;
    this.hitCount = 0;
    this.missCount = 0;
  }

  private touch(kind: Kind, text: string): void {
    const kinds = this.order.get(text);
    if (kinds === undefined) return;
    this.order.delete(text);
    this.order.set(text, kinds);
    // The touched kind moves last among the text's kinds, so eviction takes the other one first.
    const at = kinds.indexOf(kind);
    if (at !== -1 && at !== kinds.length - 1) {
      kinds.splice(at, 1);
      kinds.push(kind);
    }
  }

  private evictOldest(): void {
    const oldest = this.order.keys().next();
    if (oldest.done === true) return;
    const text = oldest.value;
    const kinds = this.order.get(text) ?? [];
    const kind = kinds.shift();
    if (kinds.length === 0) this.order.delete(text);
    if (kind === undefined) return;
    this.byKind.get(kind)?.delete(text);
    this.entryCount--;
    this.characterCount -= text.length;
  }
}
