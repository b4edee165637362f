/**
 * A sliding window of a few running sums, cut into a fixed number of slices of equal length.
 *
 * The window covers the newest slice and the `slice_count - 1` before it, so its length is exact
 * to one slice (1/60 of the window). Memory is fixed (`slice_count × fields` numbers) whatever the
 * traffic, and adding or reading is O(1) amortised: slices are cleared only as time passes them.
 */
export class SlidingWindow {
  /** Running sums over the window, one per field. */
  readonly sums: Float64Array;
  private readonly slices: Float64Array;
  /** Index (time / slice length) of the newest slice; -1 before anything was added. */
  private head = -1;
  /**
   * Ring position of the newest slice. Positions move by counting, never by `slice % count`: slice
   * indexes exceed 2^31 (epoch milliseconds), where a modulo is a slow floating-point call.
   */
  private headPosition = 0;
  /** Which ring positions hold something: bits 0-29 and 30-59 (slice counts never exceed 60). */
  private usedLow = 0;
  private usedHigh = 0;

  constructor(
    readonly fields: number,
    readonly slice_count: number,
    readonly slice_ms: number,
  ) {
    this.sums = new Float64Array(fields);
    this.slices = new Float64Array(fields * slice_count);
  }

  /** Slides the window so that it ends at `time_ms`; never slides backwards. */
  advance(time_ms: number): void {
    const slice = Math.floor(time_ms / this.slice_ms);
    if (slice <= this.head) return;
    // Nothing counted: nothing to clear, and the ring can be re-anchored anywhere.
    if (this.head < 0 || (this.usedLow === 0 && this.usedHigh === 0)) {
      this.head = slice;
      return;
    }
    const steps = slice - this.head;
    if (steps >= this.slice_count) {
      this.reset();
      this.head = slice;
      return;
    }
    const fields = this.fields;
    let position = this.headPosition;
    for (let step = 0; step < steps; step++) {
      position++;
      if (position === this.slice_count) position = 0;
      // Most slices of a quiet group are empty: test a bit before touching the arrays.
      if (position < 30) {
        const bit = 1 << position;
        if ((this.usedLow & bit) === 0) continue;
        this.usedLow &= ~bit;
      } else {
        const bit = 1 << (position - 30);
        if ((this.usedHigh & bit) === 0) continue;
        this.usedHigh &= ~bit;
      }
      const base = position * fields;
      for (let field = 0; field < fields; field++) {
        this.sums[field]! -= this.slices[base + field]!;
        this.slices[base + field] = 0;
      }
    }
    this.headPosition = position;
    this.head = slice;
  }

  /**
   * Where a value at `time_ms` goes: the offset of its slice, after sliding the window forward if
   * needed; -1 when `time_ms` is older than the window (a late, out-of-order event).
   */
  slot(time_ms: number): number {
    this.advance(time_ms);
    const back = this.head - Math.floor(time_ms / this.slice_ms);
    if (back >= this.slice_count) return -1;
    let position = this.headPosition - back;
    if (position < 0) position += this.slice_count;
    if (position < 30) this.usedLow |= 1 << position;
    else this.usedHigh |= 1 << (position - 30);
    return position * this.fields;
  }

  /** Adds `amount` to `field` of the slice at `slot` (from `slot()`). */
  add(slot: number, field: number, amount: number): void {
    this.slices[slot + field]! += amount;
    this.sums[field]! += amount;
  }

  /** Empties the window for reuse by another group. */
  reset(): void {
    this.slices.fill(0);
    this.sums.fill(0);
    this.usedLow = 0;
    this.usedHigh = 0;
    this.head = -1;
    this.headPosition = 0;
  }

  /** The oldest time the window still covers, ms since the epoch. */
  startMs(): number {
    return (this.head - this.slice_count + 1) * this.slice_ms;
  }

  /** True when nothing in the window was counted. */
  isEmpty(): boolean {
    return this.usedLow === 0 && this.usedHigh === 0;
  }
}

/** Slices per window: the window's length is exact to 1/60, like a minute to the second. At most 60 (see `SlidingWindow`). */
export const SLICES_PER_WINDOW = 60;

export function sliceLength(window_ms: number): number {
  return Math.max(1, Math.ceil(window_ms / SLICES_PER_WINDOW));
}

export function newWindow(fields: number, window_ms: number): SlidingWindow {
  const sliceMs = sliceLength(window_ms);
  return new SlidingWindow(fields, Math.ceil(window_ms / sliceMs), sliceMs);
}

/**
 * The most recent latency samples of a group, for reporting the quantile's value when an alert
 * changes state. The decision itself never reads these (it uses exact counts against the threshold),
 * so the ring can stay small; it grows on demand up to `limit`.
 */
export class SampleRing {
  private values = new Float64Array(8);
  private times = new Float64Array(8);
  private next = 0;
  private size = 0;

  constructor(private readonly limit: number) {}

  push(time_ms: number, value: number): void {
    if (this.size === this.values.length && this.values.length < this.limit) this.grow();
    this.values[this.next] = value;
    this.times[this.next] = time_ms;
    this.next = (this.next + 1) % this.values.length;
    if (this.size < this.values.length) this.size++;
  }

  clear(): void {
    this.next = 0;
    this.size = 0;
  }

  /** The nearest-rank quantile of the samples at or after `since_ms`; `NaN` when there are none. */
  quantile(q: number, since_ms: number): { value: number; samples: number } {
    const kept: number[] = [];
    for (let index = 0; index < this.size; index++) {
      if (this.times[index]! >= since_ms) kept.push(this.values[index]!);
    }
    if (kept.length === 0) return { value: Number.NaN, samples: 0 };
    kept.sort((a, b) => a - b);
    const rank = Math.max(1, Math.ceil(q * kept.length));
    return { value: kept[rank - 1]!, samples: kept.length };
  }

  private grow(): void {
    const length = Math.min(this.limit, this.values.length * 2);
    const values = new Float64Array(length);
    const times = new Float64Array(length);
    // Full ring: oldest entry is at `next`; unroll it in order.
    for (let index = 0; index < this.size; index++) {
      const from = (this.next + index) % this.size;
      values[index] = this.values[from]!;
      times[index] = this.times[from]!;
    }
    this.values = values;
    this.times = times;
    this.next = this.size;
  }
}
