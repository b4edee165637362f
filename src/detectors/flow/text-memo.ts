/**
 * A bounded memo keyed by text. Real agent traffic repeats result texts (the same document,
 * inbox or file listing read again in session after session: agentdojo's 26,133 events hold 4,462 distinct
 * result texts), so work that depends only on the text is done once per distinct text and reused.
 *
 * The key is the text itself: a JavaScript `Map` hashes strings natively and compares them exactly, so there is
 * no collision to reason about, at the price of keeping the texts. Memory is bounded by a byte budget that
 * counts each key at 2 bytes per character (the worst case for a V8 string) plus the size each value declares;
 * past the budget the oldest entries go (first in, first out: moving an entry on every hit costs more than the
 * rare re-computation it saves). Texts larger than a sixteenth of the budget are not kept.
 */
export class TextMemo<Value> {
  /** Insertion order is age order. */
  private readonly entries = new Map<string, { value: Value; bytes: number }>();
  private readonly budget: number;
  private readonly largest: number;
  private used = 0;

  /** @param budgetBytes the most the memo holds, keys and values together; 0 turns it off. */
  constructor(budgetBytes: number) {
    this.budget = Math.max(0, budgetBytes);
    this.largest = Math.floor(this.budget / 16);
  }

  /** Bytes held now (keys at 2 bytes per character plus values' declared sizes). */
  get bytes(): number {
    return this.used;
  }

  /** Entries held now. */
  get size(): number {
    return this.entries.size;
  }

  /** The value kept for `text`, or `undefined`. */
  get(text: string): Value | undefined {
    return this.entries.get(text)?.value;
  }

  /** Keeps `value` for `text` when it fits, dropping the oldest entries to make room. */
  set(text: string, value: Value, valueBytes: number): void {
    const bytes = text.length * 2 + valueBytes + 64;
    if (bytes > this.largest) return;
    const old = this.entries.get(text);
    if (old !== undefined) {
      this.used -= old.bytes;
      this.entries.delete(text);
    }
    while (this.used + bytes > this.budget) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.used -= this.entries.get(oldest.value)!.bytes;
      this.entries.delete(oldest.value);
    }
    this.entries.set(text, { value, bytes });
    this.used += bytes;
  }

  clear(): void {
    this.entries.clear();
    this.used = 0;
  }
}
