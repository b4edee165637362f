/** What every benchmark returns: a name and its figures (units in the metric names). */
export interface BenchResult {
  name: string;
  metrics: Record<string, number>;
  /** Bounds some figures should stay within, by metric name; a runner reports the ones missed. */
  targets?: Record<string, { max?: number; min?: number }>;
}
