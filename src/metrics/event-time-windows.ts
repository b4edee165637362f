import { DDSketch } from "./dd-sketch.js";
import type { ExchangeSignals } from "./exchange-signals.js";
import { addCounts, COUNT_FIELDS, type OperationStats } from "./operation-stats.js";

/** One ring of buckets: `buckets` buckets of `width_ms` each, covering `width_ms × buckets`. */
export interface WindowResolution {
  width_ms: number;
  buckets: number;
  /** Whether the buckets hold a latency sketch as well as counts. */
  latency: boolean;
}

/**
 * The rings every series keeps: counts in 1 s buckets for windows up to a minute, 5 s buckets up to
 * five minutes, 1 min buckets up to an hour. Latency sketches only in the 5 s and 1 min rings: a sketch
 * per second per series would cost more than everything else together, and a latency quantile over a
 * minute does not need one-second edges.
 */
export const WINDOW_RESOLUTIONS: readonly WindowResolution[] = [
  { width_ms: 1_000, buckets: 60, latency: false },
  { width_ms: 5_000, buckets: 60, latency: true },
  { width_ms: 60_000, buckets: 60, latency: true },
];

/** The longest window the rings answer; longer windows are answered for this long. */
export const LONGEST_WINDOW_MS = 3_600_000;

const FIELDS = COUNT_FIELDS.length;

/** Buckets on event time: bucket `n` holds exchanges with `n·width ≤ time < (n+1)·width`; a slot is reused when time moves on. */
class BucketRing {
  readonly width_ms: number;
  readonly size: number;
  /** The bucket number each slot holds; NaN while unused. */
  private readonly numbers: Float64Array;
  /** {@link COUNT_FIELDS} of each slot, one after the other. */
  private readonly counts: Float64Array;
  private readonly sketches: (DDSketch | undefined)[] | null;
  /** The latest bucket number counted into. */
  private newest = Number.NEGATIVE_INFINITY;
  /** The slot of {@link newest}: most exchanges fall in it, and bucket numbers past 2^30 make `%` a slow float call. */
  private newestSlot = 0;

  constructor(resolution: WindowResolution) {
    this.width_ms = resolution.width_ms;
    this.size = resolution.buckets;
    this.numbers = new Float64Array(this.size).fill(Number.NaN);
    this.counts = new Float64Array(this.size * FIELDS);
    this.sketches = resolution.latency ? new Array<DDSketch | undefined>(this.size).fill(undefined) : null;
  }

  /** Counts one exchange; `false` when it is older than the ring spans behind the latest one (too late for this ring). */
  add(time_ms: number, signals: ExchangeSignals, latencyKey: number | null, flowBytes: number): boolean {
    const number = Math.floor(time_ms / this.width_ms);
    if (number <= this.newest - this.size) return false;
    let slot: number;
    if (number === this.newest) {
      slot = this.newestSlot;
    } else {
      slot = this.slotOf(number);
      if (number > this.newest) {
        this.newest = number;
        this.newestSlot = slot;
      }
    }
    const base = slot * FIELDS;
    if (this.numbers[slot] !== number) {
      this.numbers[slot] = number;
      // A loop: `fill` on a typed array range is a builtin call costing more than these few stores.
      for (let field = 0; field < FIELDS; field++) this.counts[base + field] = 0;
      this.sketches?.[slot]?.clear();
    }
    addCounts(this.counts, base, signals, flowBytes);
    const latency = signals.latency_seconds;
    if (this.sketches !== null && latency !== null) {
      let sketch = this.sketches[slot];
      if (sketch === undefined) {
        sketch = new DDSketch();
        this.sketches[slot] = sketch;
      }
      sketch.addWithKey(latency, latencyKey);
    }
    return true;
  }

  /** Adds the counts of the `count` buckets ending with the one holding `now_ms` to `into`. */
  collectCounts(now_ms: number, count: number, into: OperationStats): void {
    const last = Math.floor(now_ms / this.width_ms);
    for (let number = last - count + 1; number <= last; number++) {
      const slot = this.slotOf(number);
      if (this.numbers[slot] === number) into.mergeCounts(this.counts, slot * FIELDS);
    }
  }

  /** Merges the latency sketches of the `count` buckets ending with the one holding `now_ms` into `into`. */
  collectLatency(now_ms: number, count: number, into: DDSketch): void {
    if (this.sketches === null) return;
    const last = Math.floor(now_ms / this.width_ms);
    for (let number = last - count + 1; number <= last; number++) {
      const slot = this.slotOf(number);
      const sketch = this.sketches[slot];
      if (sketch !== undefined && this.numbers[slot] === number) into.merge(sketch);
    }
  }

  private slotOf(number: number): number {
    return ((number % this.size) + this.size) % this.size;
  }
}

/** The buckets of one ring that answer a window. */
export interface RingCoverage {
  width_ms: number;
  buckets: number;
  /** Start of the oldest bucket counted. */
  from_ms: number;
}

/** How a window ending at `now_ms` falls on the rings. */
export interface WindowCoverage {
  /** The window actually answered: the one asked for, or {@link LONGEST_WINDOW_MS} when it asked for more. */
  window_ms: number;
  /** The buckets the counts come from. */
  counts: RingCoverage;
  /** The buckets the latency quantiles come from (a coarser ring for windows up to a minute). */
  latency: RingCoverage;
}

function ringCoverage(now_ms: number, window_ms: number, latency: boolean): RingCoverage {
  const candidates = WINDOW_RESOLUTIONS.filter((resolution) => resolution.latency || !latency);
  let resolution = candidates[candidates.length - 1]!;
  for (const candidate of candidates) {
    if (candidate.width_ms * candidate.buckets >= window_ms) {
      resolution = candidate;
      break;
    }
  }
  const buckets = Math.min(resolution.buckets, Math.ceil(window_ms / resolution.width_ms));
  const from_ms = (Math.floor(now_ms / resolution.width_ms) - buckets + 1) * resolution.width_ms;
  return { width_ms: resolution.width_ms, buckets, from_ms };
}

/**
 * Where a window of `window_ms` ending at `now_ms` falls: in the finest ring that spans it, the
 * `⌈window / width⌉` buckets ending with the one holding `now_ms`. The window so covers between
 * `window − width` and `window` of event time before `now_ms` (the current bucket is partial).
 */
export function windowCoverage(now_ms: number, window_ms: number): WindowCoverage {
  const answered = Math.min(Math.max(window_ms, 1), LONGEST_WINDOW_MS);
  return {
    window_ms: answered,
    counts: ringCoverage(now_ms, answered, false),
    latency: ringCoverage(now_ms, answered, true),
  };
}

/** Rolling windows of one series on event time: one ring per {@link WINDOW_RESOLUTIONS} entry. */
export class EventTimeWindows {
  private readonly rings = WINDOW_RESOLUTIONS.map((resolution) => new BucketRing(resolution));

  /**
   * Counts one exchange into the bucket of its time in every ring. Returns `false` when it was too late
   * for at least one ring (older than the ring spans behind the series' latest exchange), so it is
   * missing from that ring's windows.
   */
  add(time_ms: number, signals: ExchangeSignals, latencyKey: number | null, flowBytes: number): boolean {
    let counted = true;
    for (const ring of this.rings) {
      if (!ring.add(time_ms, signals, latencyKey, flowBytes)) counted = false;
    }
    return counted;
  }

  /** Adds the window described by `coverage` (from {@link windowCoverage}) to `into`: counts and latency. */
  collect(now_ms: number, coverage: WindowCoverage, into: OperationStats): void {
    for (const ring of this.rings) {
      if (ring.width_ms === coverage.counts.width_ms) ring.collectCounts(now_ms, coverage.counts.buckets, into);
      if (ring.width_ms === coverage.latency.width_ms)
        ring.collectLatency(now_ms, coverage.latency.buckets, into.latency);
    }
  }
}
