import type { AlertEngine } from "../../src/alerts/alert-engine.js";
import { parseRules, type RuleSet } from "../../src/alerts/rules-file.js";
import type { ExchangePosition } from "../../src/core/detector.js";
import type { CapturedExchange, InlineDecision } from "../../src/core/exchange.js";
import type { AlertEvent, ExportResult, Notifier } from "../../src/core/notifier.js";

/** A fixed replay epoch: Monday 2 March 2026, 08:00 UTC. */
export const EPOCH = Date.parse("2026-03-02T08:00:00.000Z");

export interface ExchangeFields {
  session?: string;
  tool?: string | null;
  agent?: string | null;
  user?: string | null;
  server?: string;
  method?: string;
  source?: string | null;
  error?: CapturedExchange["error"];
  duration_ms?: number | null;
  decisions?: InlineDecision[];
}

/** One `tools/call` exchange at `time_ms`. */
export function exchangeAt(time_ms: number, fields: ExchangeFields = {}): CapturedExchange {
  const exchange: CapturedExchange = {
    time: new Date(time_ms).toISOString(),
    session: fields.session ?? "s-1",
    user: fields.user === undefined ? "alice" : fields.user,
    agent: fields.agent === undefined ? "banking" : fields.agent,
    server: fields.server ?? "bank",
    method: fields.method ?? "tools/call",
    tool: fields.tool === undefined ? "read_file" : fields.tool,
    arguments: {},
    result: "ok",
    error: fields.error ?? null,
    duration_ms: fields.duration_ms === undefined ? 100 : fields.duration_ms,
  };
  if (fields.decisions !== undefined) exchange.decisions = fields.decisions;
  if (fields.source !== undefined) exchange.source = fields.source;
  return exchange;
}

export const DLP_BLOCK: InlineDecision = {
  stage: "dlp",
  action: "block",
  rule: "aws-key",
  reason: "secret in arguments",
  direction: "arguments",
};
export const AUTH_DENY: InlineDecision = { stage: "auth", action: "deny", reason: "bad API key" };

/** A request the gateway refused with 401 from `source`, as the gateway records it: six in 30 s fire `auth_failure_burst`. */
export function refusedRequest(time_ms: number, source: string, server = "files"): CapturedExchange {
  return {
    time: new Date(time_ms).toISOString(),
    session: "-",
    user: null,
    agent: null,
    server,
    method: null,
    error: { type: "http_401", message: "invalid API key" },
    duration_ms: null,
    kind: "protocol_error",
    transport: "http",
    source,
    decisions: [{ stage: "auth", action: "deny", reason: "invalid API key" }],
  };
}
export const TOOL_ERROR = { type: "tool_error", message: "failed" };

/** Feeds exchanges in order, the way the pipeline does. */
export function feed(engine: AlertEngine, exchanges: readonly CapturedExchange[]): void {
  let index = 0;
  for (const exchange of exchanges) {
    const position: ExchangePosition = { index: index++, call_index: null, time_ms: Date.parse(exchange.time) };
    engine.observer.observe(exchange, position);
  }
}

/** Parses rules YAML that must be valid. */
export function rulesFrom(yaml: string): RuleSet {
  const result = parseRules(yaml, "test.yaml");
  if (!result.ok)
    throw new Error(result.errors.map((error) => `${error.line}:${error.column} ${error.message}`).join("\n"));
  return result.rules;
}

/** A notifier that keeps what it is given, for lifecycle tests. */
export class MemoryNotifier implements Notifier {
  readonly events: AlertEvent[] = [];
  constructor(
    readonly name = "memory",
    readonly repeat_interval_ms?: number,
  ) {}
  async notify(event: AlertEvent): Promise<ExportResult> {
    this.events.push(event);
    return { code: "success" };
  }
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}
