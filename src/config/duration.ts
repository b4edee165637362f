import { ToolwatchError } from "../core/errors.js";

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Parses `250ms`, `60s`, `5m`, `1h`, `30d`, `2w` (or a bare number of milliseconds) into milliseconds; `null` when it is not one. */
export function parseDuration(text: string | number): number | null {
  if (typeof text === "number") return Number.isFinite(text) && text >= 0 ? text : null;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$/.exec(text);
  if (!match) return null;
  const value = Number(match[1]);
  const unit = UNIT_MS[match[2] ?? "ms"];
  return unit === undefined ? null : value * unit;
}

/** Parses `--since`: a duration back from `now`, or an absolute RFC 3339 time. */
export function parseSince(value: string, now: number): number {
  const duration = parseDuration(value);
  if (duration !== null) return now - duration;
  const time = Date.parse(value);
  if (/^\d{4}-\d{2}-\d{2}/.test(value) && !Number.isNaN(time)) return time;
  throw new ToolwatchError(
    "usage",
    `--since expects a duration such as 30m, 1h or 7d, or a time such as 2026-03-02T08:00:00Z, got ${JSON.stringify(value)}`,
  );
}
