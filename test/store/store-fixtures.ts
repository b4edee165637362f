/** Shared helpers for the store tests: records shaped like real captures, and throwaway database folders. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import Database from "better-sqlite3";
import type { CapturedExchange } from "../../src/core/exchange.js";
import type { Finding } from "../../src/core/finding.js";
import type { AlertEvent } from "../../src/core/notifier.js";
import type { OperatorAction } from "../../src/core/operator-action.js";

const BASE_MS = Date.parse("2026-03-02T08:00:00.000Z");

/** An exchange like those in the AgentDojo capture, `index` seconds after a fixed start. */
export function makeExchange(index: number, overrides: Partial<CapturedExchange> = {}): CapturedExchange {
  return {
    time: new Date(BASE_MS + index * 1000).toISOString(),
    session: `s-${index % 3}`,
    user: "emma.johnson",
    agent: "banking",
    server: index % 2 === 0 ? "banking" : "workspace",
    method: "tools/call",
    tool: index % 4 === 0 ? "send_money" : "read_file",
    arguments: { file_path: `notes-${index}.txt`, amount: index },
    result: `result ${index}: ${"x".repeat(index % 50)}`,
    error: null,
    duration_ms: 100 + index,
    ...overrides,
  };
}

export function makeFinding(index: number, overrides: Partial<Finding> = {}): Finding {
  return {
    time: new Date(BASE_MS + index * 1000).toISOString(),
    session: `s-${index % 3}`,
    user: "emma.johnson",
    agent: "banking",
    server: "banking",
    tool: "send_money",
    call_index: index,
    detector: "read-then-exfiltrate",
    category: "read_then_exfiltrate",
    severity: "high",
    score: 0.9,
    message: `money sent to a new recipient after reading an untrusted file (${index})`,
    evidence: { read_call: index - 1, recipient: "US133000000121212121212" },
    ...overrides,
  };
}

/** An alert state change shaped like the engine's, `index` seconds after the same start as the exchanges. */
export function makeAlert(index: number, overrides: Partial<AlertEvent> = {}): AlertEvent {
  const time = new Date(BASE_MS + index * 1000).toISOString();
  return {
    rule: "auth_failure_burst",
    group_key: '{source="198.51.100.7"}',
    state: "firing",
    previous_state: "inactive",
    severity: "critical",
    time,
    active_since: time,
    summary: `auth_failure_burst: auth_failures for source=198.51.100.7 is ${index + 6} (> 5 over 30s)`,
    condition: "auth_failures > 5 in 30s from same source",
    action: "Block source IP. Investigate credential compromise.",
    labels: { alertname: "auth_failure_burst", severity: "critical", source: "198.51.100.7" },
    values: { value: index + 6, threshold: 5, window_seconds: 30 },
    ...overrides,
  };
}

/** Milliseconds since the epoch of `makeExchange(index).time`. */
export function timeOf(index: number): number {
  return BASE_MS + index * 1000;
}

/** A fresh folder removed when the test ends. */
export function temporaryDirectory(context: TestContext): string {
  const directory = mkdtempSync(join(tmpdir(), "toolwatch-store-"));
  context.after(() => rmSync(directory, { recursive: true, force: true }));
  return directory;
}

/** Collects what a store logs, for asserting on it. */
export function collectLog(): { lines: string[]; log: (message: string) => void } {
  const lines: string[] = [];
  return { lines, log: (message) => lines.push(message) };
}

/** The `seq`s of one table's rows, read straight from the file. */
export function tableSeqs(path: string, table: "alerts" | "actions"): number[] {
  const raw = new Database(path, { readonly: true });
  try {
    return raw.prepare(`SELECT seq FROM ${table} ORDER BY seq`).pluck().all() as number[];
  } finally {
    raw.close();
  }
}

/** A silence added through the admin API, `index` seconds after the same start as the exchanges. */
export function makeAction(index: number, overrides: Partial<OperatorAction> = {}): OperatorAction {
  return {
    time: new Date(BASE_MS + index * 1000).toISOString(),
    actor: "alice",
    via: "admin_api",
    action: "silence.add",
    target: `silence-${index}`,
    source: "198.51.100.20",
    detail: { silence: { id: `silence-${index}`, rule: "auth_failure_burst", ends_at: "2026-03-02T09:00:00.000Z" } },
    ...overrides,
  };
}
