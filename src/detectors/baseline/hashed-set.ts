/**
 * Bounded sets of hashed values, the memory of "seen before" for every baseline model.
 *
 * Values are kept as 53-bit hashes (two FNV-1a passes with different offsets), never as text: a baseline file
 * then holds no recipient, path or account in clear, and a set costs 8 bytes a value whatever the value's length.
 */

const FNV_PRIME = 0x01000193;
const FIRST_OFFSET = 0x811c9dc5;
const SECOND_OFFSET = 0x050c5d1f;
/** 2^21: the second hash contributes the low 21 bits, so the result stays a safe integer. */
const LOW_BITS = 0x200000;

/** A 53-bit hash of `text`, stable across processes and versions (baseline files store it). */
export function hashText(text: string): number {
  let first = FIRST_OFFSET;
  let second = SECOND_OFFSET;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    first = Math.imul(first ^ code, FNV_PRIME);
    second = Math.imul(second ^ code, FNV_PRIME) ^ (second >>> 15);
  }
  return (first >>> 0) * LOW_BITS + ((second >>> 0) % LOW_BITS);
}

/**
 * A set of hashes that stops growing at `capacity`. Once full it answers "seen" for nothing new and counts what it
 * refused, so a model can say its memory of this key is saturated instead of flagging everything as novel.
 */
export class HashedSet {
  private readonly values: Set<number>;
  /** Values refused because the set was full. */
  overflow = 0;

  constructor(
    readonly capacity: number,
    values: Iterable<number> = [],
  ) {
    this.values = new Set();
    for (const value of values) {
      if (this.values.size >= capacity) break;
      this.values.add(value);
    }
  }

  get size(): number {
    return this.values.size;
  }

  /** True when the set refused values: "never seen" then means less. */
  get saturated(): boolean {
    return this.overflow > 0;
  }

  has(hash: number): boolean {
    return this.values.has(hash);
  }

  /** Adds `hash`; returns true when it was new (whether or not there was room to keep it). */
  add(hash: number): boolean {
    if (this.values.has(hash)) return false;
    if (this.values.size >= this.capacity) this.overflow++;
    else this.values.add(hash);
    return true;
  }

  /** The hashes, ascending, for a baseline file. */
  toJSON(): number[] {
    return [...this.values].sort((a, b) => a - b);
  }
}
