/** Streaming statistics the baseline models keep per key: Welford's mean and variance, a reservoir for percentiles. */

/** Mean and variance in one pass (Welford), plus the range. Serialises to a small plain object. */
export class RunningStatistics {
  count = 0;
  mean = 0;
  /** Sum of squared deviations from the mean. */
  m2 = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;

  add(value: number): void {
    this.count++;
    const delta = value - this.mean;
    this.mean += delta / this.count;
    this.m2 += delta * (value - this.mean);
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }

  /** Sample standard deviation; 0 below two values. */
  get standardDeviation(): number {
    return this.count < 2 ? 0 : Math.sqrt(this.m2 / (this.count - 1));
  }

  /**
   * At full precision: a baseline loaded from a file must score exactly as the training it was saved from, or a
   * finding could not be reproduced from the capture (rounding moved scores and σ in their last digits).
   */
  toJSON(): RunningStatisticsState {
    return {
      count: this.count,
      mean: this.mean,
      m2: this.m2,
      min: this.count === 0 ? 0 : this.min,
      max: this.count === 0 ? 0 : this.max,
    };
  }

  static from(state: RunningStatisticsState): RunningStatistics {
    const statistics = new RunningStatistics();
    statistics.count = state.count;
    statistics.mean = state.mean;
    statistics.m2 = state.m2;
    if (state.count > 0) {
      statistics.min = state.min;
      statistics.max = state.max;
    }
    return statistics;
  }
}

/** The saved form of {@link RunningStatistics}. */
export interface RunningStatisticsState {
  count: number;
  mean: number;
  m2: number;
  min: number;
  max: number;
}

/** A deterministic pseudo-random sequence (xorshift32), so training the same capture gives the same baseline file. */
export class SeededRandom {
  private state: number;
  constructor(seed = 0x9e3779b9) {
    this.state = seed >>> 0 || 1;
  }
  /** An integer in [0, bound). */
  below(bound: number): number {
    let value = this.state;
    value ^= value << 13;
    value ^= value >>> 17;
    value ^= value << 5;
    this.state = value >>> 0;
    return this.state % bound;
  }
}

/**
 * A uniform sample of at most `capacity` values (reservoir sampling), for percentiles of session-level figures
 * (durations, call counts, mean surprisal) without keeping every session.
 */
export class Reservoir {
  private readonly items: number[];
  private seen: number;
  private sorted: number[] | null = null;
  private readonly random: SeededRandom;

  constructor(
    readonly capacity: number,
    items: readonly number[] = [],
    seen = items.length,
  ) {
    this.items = items.slice(0, capacity);
    this.seen = Math.max(seen, this.items.length);
    this.random = new SeededRandom(capacity * 7919 + this.seen);
  }

  /** How many values were offered, kept or not. */
  get count(): number {
    return this.seen;
  }

  add(value: number): void {
    this.seen++;
    this.sorted = null;
    if (this.items.length < this.capacity) {
      this.items.push(value);
      return;
    }
    const slot = this.random.below(this.seen);
    if (slot < this.capacity) this.items[slot] = value;
  }

  /** The value at `fraction` (0..1) of the sample, nearest rank; `NaN` when empty. */
  quantile(fraction: number): number {
    if (this.items.length === 0) return Number.NaN;
    this.sorted ??= [...this.items].sort((a, b) => a - b);
    const rank = Math.min(this.sorted.length - 1, Math.max(0, Math.ceil(fraction * this.sorted.length) - 1));
    return this.sorted[rank]!;
  }

  /** At full precision, as {@link RunningStatistics.toJSON} is. */
  toJSON(): ReservoirState {
    return { seen: this.seen, items: [...this.items] };
  }

  static from(state: ReservoirState, capacity: number): Reservoir {
    return new Reservoir(capacity, state.items, state.seen);
  }
}

/** The saved form of {@link Reservoir}. */
export interface ReservoirState {
  seen: number;
  items: number[];
}

/** Four decimals: enough for every figure a finding's evidence shows. */
export function round(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}
