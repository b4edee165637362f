/**
 * Silences: "do not notify about rule R for group G until T". A silenced alert still changes state
 * and is still recorded (with `silenced_by`); only delivery is held back.
 *
 * Silences are kept in a small JSON file next to the database (`toolwatch.db` →
 * `toolwatch.silences.json`) until the store has a table for them. The CLI writes it atomically
 * (temporary file, then rename); a live process re-reads it when it changes.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, parse } from "node:path";
import { z } from "zod";
import { ToolwatchError } from "../core/errors.js";

export interface Silence {
  id: string;
  /** The rule's name; `null` matches every rule. */
  rule: string | null;
  /** Labels the alert must carry, with these exact values (`tool`, `source`, `session`, ...). */
  matchers: Record<string, string>;
  /** RFC 3339 UTC. */
  starts_at: string;
  ends_at: string;
  comment?: string;
  created_by?: string;
}

export interface SilenceRequest {
  rule?: string | null;
  matchers?: Record<string, string>;
  /** Default: now (the engine's clock when it has one). */
  starts_at_ms?: number;
  /** Give an end or a duration. */
  ends_at_ms?: number;
  duration_ms?: number;
  comment?: string;
  created_by?: string;
}

const silenceSchema = z.object({
  id: z.string().min(1),
  rule: z.string().nullable(),
  matchers: z.record(z.string(), z.string()),
  starts_at: z.string(),
  ends_at: z.string(),
  comment: z.string().optional(),
  created_by: z.string().optional(),
});

const fileSchema = z.object({ version: z.literal(1), silences: z.array(silenceSchema) });

/** Builds a silence; throws a `usage` error when neither an end nor a positive duration is given. */
export function createSilence(request: SilenceRequest, now_ms: number): Silence {
  const start = request.starts_at_ms ?? now_ms;
  const end = request.ends_at_ms ?? (request.duration_ms === undefined ? Number.NaN : start + request.duration_ms);
  if (!Number.isFinite(end) || end <= start) {
    throw new ToolwatchError("usage", "a silence needs an end after its start (a positive duration)");
  }
  return {
    id: randomBytes(6).toString("hex"),
    rule: request.rule ?? null,
    matchers: { ...(request.matchers ?? {}) },
    starts_at: new Date(start).toISOString(),
    ends_at: new Date(end).toISOString(),
    ...(request.comment === undefined ? {} : { comment: request.comment }),
    ...(request.created_by === undefined ? {} : { created_by: request.created_by }),
  };
}

/** True when `silence` is in force at `time_ms` and matches the rule and every matcher. */
export function silenceMatches(
  silence: Silence,
  rule: string,
  labels: Readonly<Record<string, string>>,
  time_ms: number,
): boolean {
  if (silence.rule !== null && silence.rule !== rule) return false;
  if (time_ms < Date.parse(silence.starts_at) || time_ms >= Date.parse(silence.ends_at)) return false;
  for (const [label, value] of Object.entries(silence.matchers)) if (labels[label] !== value) return false;
  return true;
}

export function isSilenceActive(silence: Silence, time_ms: number): boolean {
  return time_ms < Date.parse(silence.ends_at);
}

/** `k=v` pairs from the command line. */
export function parseSilenceMatchers(pairs: readonly string[]): Record<string, string> {
  const matchers: Record<string, string> = {};
  for (const pair of pairs) {
    const equals = pair.indexOf("=");
    if (equals <= 0) throw new ToolwatchError("usage", `expected label=value, got ${JSON.stringify(pair)}`);
    matchers[pair.slice(0, equals)] = pair.slice(equals + 1);
  }
  return matchers;
}

/** The silences file for a database: same folder, same stem, `.silences.json`. */
export function silencesPathFor(databasePath: string): string {
  const parsed = parse(databasePath);
  return join(parsed.dir, `${parsed.name}.silences.json`);
}

/** Reads the silences file; a missing file is an empty list, a broken one an error. */
export function readSilences(file: string): Silence[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new ToolwatchError("config_invalid", `${file}: cannot read (${(error as Error).message})`, { cause: error });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ToolwatchError("config_invalid", `${file}: not JSON (${(error as Error).message})`, { cause: error });
  }
  const parsed = fileSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ToolwatchError("config_invalid", `${file}: ${issue.path.join(".")}: ${issue.message}`);
  }
  return parsed.data.silences.map((silence) => ({
    id: silence.id,
    rule: silence.rule,
    matchers: silence.matchers,
    starts_at: silence.starts_at,
    ends_at: silence.ends_at,
    ...(silence.comment === undefined ? {} : { comment: silence.comment }),
    ...(silence.created_by === undefined ? {} : { created_by: silence.created_by }),
  }));
}

/** Writes the silences file atomically, so a process reading it never sees half a file. */
export function writeSilences(file: string, silences: readonly Silence[]): void {
  mkdirSync(dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  writeFileSync(temporary, `${JSON.stringify({ version: 1, silences }, null, 2)}\n`, { mode: 0o600 });
  renameSync(temporary, file);
}

/**
 * Adds `silence` to the file, dropping expired silences on the way so the file stays small.
 * @returns the silences the file now holds.
 */
export function addSilenceToFile(file: string, silence: Silence, now_ms: number): Silence[] {
  const kept = readSilences(file).filter((existing) => Date.parse(existing.ends_at) > now_ms);
  const next = [...kept, silence];
  writeSilences(file, next);
  return next;
}

/** Removes the silence `id` from the file; the silences it now holds, or `null` when it held none with that id. */
export function removeSilenceFromFile(file: string, id: string): Silence[] | null {
  const silences = readSilences(file);
  const kept = silences.filter((silence) => silence.id !== id);
  if (kept.length === silences.length) return null;
  writeSilences(file, kept);
  return kept;
}

/**
 * Re-reads a silences file when its modification time changes, for a live process to call from
 * its tick. Returns the new list, or `null` when nothing changed (or the file is broken: the last
 * good list stays in force and the error goes to `onError`).
 */
export function createSilenceFileWatcher(
  file: string,
  onError: (error: Error) => void = () => {},
): { poll(): Silence[] | null } {
  let lastModified = Number.NaN;
  return {
    poll() {
      let modified: number;
      try {
        modified = statSync(file).mtimeMs;
      } catch {
        modified = 0;
      }
      if (modified === lastModified) return null;
      lastModified = modified;
      try {
        return readSilences(file);
      } catch (error) {
        onError(error as Error);
        return null;
      }
    },
  };
}
