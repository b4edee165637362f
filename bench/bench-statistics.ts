/** Small statistics every benchmark uses, in one place. */

/** CPU time (user + system) one synchronous run takes, in nanoseconds: steadier than wall time on a shared machine. */
export function cpuNanoseconds(run: () => void): number {
  const before = process.cpuUsage();
  run();
  const used = process.cpuUsage(before);
  return (used.user + used.system) * 1000;
}

/** The middle value (the upper middle for an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** The value at `fraction` (0 to 1) of an ascending array, nearest rank below. */
export function percentile(sorted: number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * (sorted.length - 1)))] ?? Number.NaN;
}
