/**
 * A small, fast, seeded generator (mulberry32): the same seed gives the same numbers on every machine, so
 * training, synthetic data, forests and fuzz failures are reproducible. Not for anything secret.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

/** {@link seededRandom} with the helpers callers keep writing around it. */
export class SeededRandom {
  private readonly source: () => number;

  constructor(seed: number) {
    this.source = seededRandom(seed);
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.source();
  }

  /** Uniform integer in [0, bound). */
  integer(bound: number): number {
    return Math.floor(this.source() * bound);
  }

  /** One item, uniformly; throws on an empty list. */
  pick<T>(items: readonly T[]): T {
    const item = items[this.integer(items.length)];
    if (item === undefined) throw new Error("pick from an empty list");
    return item;
  }

  /** True with the given probability. */
  chance(probability: number): boolean {
    return this.source() < probability;
  }
}
