import type { ExchangePosition } from "../../src/core/detector.js";
import type { CapturedExchange, InlineDecision } from "../../src/core/exchange.js";

/** 2026-03-02T08:00:00Z: synthetic streams start here. */
export const START_MS = Date.parse("2026-03-02T08:00:00.000Z");

export interface CallShape {
  /** Milliseconds after {@link START_MS}. */
  at: number;
  session?: string;
  agent?: string | null;
  server?: string;
  method?: string;
  tool?: string | null;
  arguments?: Record<string, unknown> | null;
  result?: string | null;
  error?: CapturedExchange["error"];
  duration_ms?: number | null;
  decisions?: InlineDecision[];
  kind?: CapturedExchange["kind"];
}

/** A `tools/call` exchange (by default) at `START_MS + at`. */
export function call(shape: CallShape): CapturedExchange {
  const exchange: CapturedExchange = {
    time: new Date(START_MS + shape.at).toISOString(),
    session: shape.session ?? "session-1",
    user: "alice",
    agent: shape.agent === undefined ? "banking" : shape.agent,
    server: shape.server ?? "bank",
    method: shape.method ?? "tools/call",
    tool: shape.tool === undefined ? "get_balance" : shape.tool,
    arguments: shape.arguments === undefined ? {} : shape.arguments,
    result: shape.result === undefined ? "ok" : shape.result,
    error: shape.error ?? null,
    duration_ms: shape.duration_ms === undefined ? 100 : shape.duration_ms,
  };
  if (shape.decisions !== undefined) exchange.decisions = shape.decisions;
  if (shape.kind !== undefined) exchange.kind = shape.kind;
  return exchange;
}

/** The position a pipeline would give: only `time_ms` matters to the metrics. */
export function positionOf(exchange: CapturedExchange): ExchangePosition {
  return { index: 0, call_index: 0, time_ms: Date.parse(exchange.time) };
}

export { seededRandom } from "../../src/core/seeded-random.js";
