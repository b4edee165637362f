import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";

/** One tool call of a data set, reduced to what the poisoning evaluation needs. */
export interface DatasetCall {
  session: string;
  time: string;
  tool: string;
  result: string;
}

/** A session's labels (`labels.jsonl.gz`). */
export interface SessionLabel {
  session: string;
  kind: string;
  injection_seen: boolean;
  injected_calls: number[];
  attack_type: string | null;
  /** The environment or document family (`banking`, `bipia-table`), or null. */
  suite: string | null;
}

/** Reads a gzipped JSON-lines file; lines that are not objects are skipped. */
export function readJsonLines(path: string): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  for (const line of gunzipSync(readFileSync(path)).toString("utf8").split("\n")) {
    if (line.trim() === "") continue;
    const value: unknown = JSON.parse(line);
    if (typeof value === "object" && value !== null && !Array.isArray(value))
      rows.push(value as Record<string, unknown>);
  }
  return rows;
}

/** The `tools/call` records of an event file, as `DatasetCall`s, grouped by session in session order (by time, then file order). */
export function readSessions(path: string): Map<string, DatasetCall[]> {
  const sessions = new Map<string, DatasetCall[]>();
  for (const row of readJsonLines(path)) {
    if (row.method !== undefined && row.method !== "tools/call") continue;
    const call: DatasetCall = {
      session: String(row.session ?? ""),
      time: String(row.time ?? ""),
      tool: String(row.tool ?? ""),
      result: typeof row.result === "string" ? row.result : "",
    };
    const calls = sessions.get(call.session);
    if (calls === undefined) sessions.set(call.session, [call]);
    else calls.push(call);
  }
  for (const calls of sessions.values()) calls.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  return sessions;
}

/** Labels by session. */
export function readLabels(path: string): Map<string, SessionLabel> {
  const labels = new Map<string, SessionLabel>();
  for (const row of readJsonLines(path)) {
    const injected = Array.isArray(row.injected_calls)
      ? row.injected_calls.filter((value): value is number => typeof value === "number")
      : [];
    labels.set(String(row.session), {
      session: String(row.session),
      kind: String(row.kind),
      injection_seen: row.injection_seen === true,
      injected_calls: injected,
      attack_type: typeof row.attack_type === "string" ? row.attack_type : null,
      suite: typeof row.suite === "string" ? row.suite : null,
    });
  }
  return labels;
}

/** The shared data sets folder: `TOOLWATCH_DATASETS`, else `../shared/datasets` beside the repository root. */
export function datasetsFolder(repositoryRoot: string): string {
  return process.env.TOOLWATCH_DATASETS || join(repositoryRoot, "..", "shared", "datasets");
}
