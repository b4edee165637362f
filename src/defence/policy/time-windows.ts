/** The days of a week as written in policies; index = `Date.getUTCDay()` of the local time. */
export const DAY_NAMES = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] as const;
export type DayName = (typeof DAY_NAMES)[number];

/**
 * One allowed window: from `from_minute` (inclusive) to `to_minute` (exclusive), minutes after local
 * midnight, on the given days. When `to_minute <= from_minute` the window crosses midnight and its
 * days are the days it starts on: `mon 22:00–06:00` runs from Monday 22:00 to Tuesday 06:00.
 */
export interface TimeWindow {
  /** Bit `d` set = the window starts on day `d` (0 = Sunday). */
  days: number;
  from_minute: number;
  to_minute: number;
}

/** Local weekday and minute of the day of an instant in a time zone. */
export interface LocalTime {
  day: number;
  minute: number;
}

/** Whether `time` lies inside `window`. */
export function isInsideWindow(time: LocalTime, window: TimeWindow): boolean {
  const startsToday = (window.days & (1 << time.day)) !== 0;
  if (window.from_minute < window.to_minute) {
    return startsToday && time.minute >= window.from_minute && time.minute < window.to_minute;
  }
  const startedYesterday = (window.days & (1 << ((time.day + 6) % 7))) !== 0;
  return (startsToday && time.minute >= window.from_minute) || (startedYesterday && time.minute < window.to_minute);
}

/** Parses `HH:MM` (00:00 to 24:00) into minutes after midnight; `null` when it is not one. */
export function parseClock(text: string): number | null {
  const match = /^(\d{2}):(\d{2})$/.exec(text);
  if (!match) return null;
  const hours = Number(match[1]);
  const minutes = Number(match[2]);
  if (minutes > 59 || hours > 24 || (hours === 24 && minutes > 0)) return null;
  return hours * 60 + minutes;
}

/** Whether the runtime knows an IANA time zone name. */
export function isKnownTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const QUARTER_HOUR_MS = 900_000;
const CACHED_OFFSETS = 4096;

/**
 * Converts event times to local weekday and minute in one time zone. `Intl` costs microseconds per
 * call, so the zone's UTC offset is cached per quarter hour of UTC time: every offset change in the
 * tz database since 1970 falls on a quarter hour.
 */
export class LocalClock {
  readonly zone: string;
  private readonly format: Intl.DateTimeFormat | null;
  private readonly offsets = new Map<number, number>();

  constructor(zone: string) {
    this.zone = zone;
    this.format =
      zone === "UTC"
        ? null
        : new Intl.DateTimeFormat("en-US", {
            timeZone: zone,
            hourCycle: "h23",
            year: "numeric",
            month: "numeric",
            day: "numeric",
            hour: "numeric",
            minute: "numeric",
          });
  }

  /** The local weekday and minute of the day at `time_ms` (milliseconds since the epoch). */
  at(time_ms: number): LocalTime {
    const local = time_ms + this.offset(time_ms);
    const minutes = Math.floor(local / 60_000);
    const days = Math.floor(minutes / 1440);
    // 1970-01-01 was a Thursday (day 4).
    return { day: (((days + 4) % 7) + 7) % 7, minute: minutes - days * 1440 };
  }

  private offset(time_ms: number): number {
    if (this.format === null) return 0;
    const quarter = Math.floor(time_ms / QUARTER_HOUR_MS);
    const cached = this.offsets.get(quarter);
    if (cached !== undefined) return cached;
    const start = quarter * QUARTER_HOUR_MS;
    const parts: Record<string, number> = {};
    for (const part of this.format.formatToParts(start)) {
      if (part.type !== "literal") parts[part.type] = Number(part.value);
    }
    const asUtc = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!);
    const offset = asUtc - start;
    if (this.offsets.size >= CACHED_OFFSETS) this.offsets.clear();
    this.offsets.set(quarter, offset);
    return offset;
  }
}
