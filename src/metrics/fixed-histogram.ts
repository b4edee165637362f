/**
 * Bucket boundaries of `mcp.server.operation.duration` and `mcp.server.session.duration` in seconds,
 * as the OpenTelemetry MCP semantic conventions advise them.
 */
export const MCP_DURATION_BOUNDARIES: readonly number[] = [
  0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300,
];
/** `tools/call` exchanges per session. */
export const SESSION_CALLS_BOUNDARIES: readonly number[] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000];
/** Distinct tools called per session. */
export const UNIQUE_TOOLS_BOUNDARIES: readonly number[] = [1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 30, 50];
/** Cross-tool flow bytes per session; the first bucket holds the sessions without any. */
export const FLOW_BYTES_BOUNDARIES: readonly number[] = [0, 64, 256, 1024, 4096, 16_384, 65_536, 262_144, 1_048_576];

/**
 * A histogram with fixed upper bounds, kept for the Prometheus exposition (which wants fixed
 * buckets); quantiles come from the sketches. `counts[i]` holds values in `(bounds[i-1], bounds[i]]`,
 * the last slot values above every bound.
 */
export class FixedHistogram {
  readonly boundaries: readonly number[];
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(boundaries: readonly number[]) {
    this.boundaries = boundaries;
    this.counts = new Float64Array(boundaries.length + 1);
  }

  add(value: number): void {
    const boundaries = this.boundaries;
    let index = 0;
    while (index < boundaries.length && value > boundaries[index]!) index++;
    this.counts[index]!++;
    this.sum += value;
    this.count++;
  }

  /** Counts at or below each bound, then the total: the `le` buckets of the exposition. */
  cumulative(): number[] {
    const result: number[] = [];
    let running = 0;
    for (const count of this.counts) {
      running += count;
      result.push(running);
    }
    return result;
  }
}
