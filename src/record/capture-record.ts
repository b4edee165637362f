/**
 * The capture record: one JSON object per line of a capture file, one `CapturedExchange`.
 *
 * The zod schemas here are the schema of record: docs/event-format.schema.json is generated from
 * them and they explain every rejected line. Replay reads tens of thousands of records a second, so
 * accepting a line goes through a hand-written structural check ({@link isCapturedExchange}) that
 * agrees with the schema; zod only runs to explain a line the check refused.
 */
import { z } from "zod";
import type { CapturedExchange } from "../core/exchange.js";
import { FINDING_CATEGORIES, type Finding, SEVERITIES } from "../core/finding.js";

/** Bumped when a field changes meaning or a required field is added; new optional fields keep the version. */
export const CAPTURE_FORMAT_VERSION = 1;

const DATETIME_OPTIONS = { offset: true, local: false, precision: null } as const;

/** RFC 3339 date-time with `Z` or a numeric offset, the pattern zod's `iso.datetime` checks. */
const TIME_PATTERN: RegExp = z.regexes.datetime(DATETIME_OPTIONS);

const timeSchema = z.iso
  .datetime(DATETIME_OPTIONS)
  .describe("RFC 3339 date-time (UTC `Z` when toolwatch writes it): when the opening message was seen.");

const nullableString = (description: string) => z.string().nullable().describe(description);

/** Why an exchange failed. */
export const exchangeErrorSchema = z
  .looseObject({
    type: z
      .string()
      .min(1)
      .describe(
        "OpenTelemetry `error.type`: `tool_error` (the tool returned `isError: true`), a JSON-RPC error code as a string (`-32601`), or `timeout`, `transport`, `cancelled`, `late_response` for failures toolwatch saw itself.",
      ),
    message: z.string().describe("Human-readable error message."),
    code: z
      .number()
      .int()
      .optional()
      .describe(
        "The JSON-RPC error code, where there was one (OpenTelemetry `rpc.response.status_code`, as a string there).",
      ),
  })
  .meta({ id: "ExchangeError", title: "ExchangeError" });

/** Name and version a peer announced in `initialize`. */
export const peerInfoSchema = z
  .looseObject({
    name: z.string(),
    version: z.string().optional(),
  })
  .meta({ id: "PeerInfo", title: "PeerInfo" });

/** A tool definition as `tools/list` advertised it. */
export const toolDefinitionSchema = z
  .looseObject({
    name: z.string(),
    description: z.string().optional(),
    input_schema: z.unknown().optional(),
    output_schema: z.unknown().optional(),
    annotations: z.unknown().optional(),
  })
  .meta({ id: "ToolDefinition", title: "ToolDefinition" });

/** A decision toolwatch took in the path of the call (authentication, policy, DLP, poisoning, pinning). */
export const inlineDecisionSchema = z
  .looseObject({
    stage: z.enum(["auth", "policy", "dlp", "poisoning", "pinning"]),
    action: z.enum(["allow", "alert", "deny", "redact", "quarantine", "block"]),
    rule: z.string().optional().describe("The rule or policy that decided, when one did."),
    reason: z.string().describe("Why, for the record; never contains the secret that matched."),
    direction: z.enum(["arguments", "result"]).optional().describe("Which side of the call the decision looked at."),
  })
  .meta({ id: "InlineDecision", title: "InlineDecision" });

/**
 * One MCP exchange as seen on the wire: the v1 data-set fields plus optional extensions.
 * Unknown fields are kept (a newer writer's extensions survive a replay into the store).
 */
export const capturedExchangeSchema = z
  .looseObject({
    time: timeSchema,
    session: z.string().min(1).describe("Opaque session id (`mcp.session.id`)."),
    user: nullableString("The human principal behind the agent (`user.id`), when known."),
    agent: nullableString("The session type / agent role (`gen_ai.agent.name`), when known."),
    server: z
      .string()
      .describe("The MCP server that owns the exchange (the proxy's `--server` name or gateway route)."),
    method: nullableString(
      "MCP method (`mcp.method.name`), e.g. `tools/call`; `null` only for protocol errors whose method could not be read.",
    ),
    tool: nullableString("Tool name (`gen_ai.tool.name`) for `tools/call`.").optional(),
    arguments: z
      .record(z.string(), z.unknown())
      .nullable()
      .optional()
      .describe("`tools/call` (and `prompts/get`) arguments (`gen_ai.tool.call.arguments`)."),
    result: nullableString(
      "The text content returned (`gen_ai.tool.call.result`): tool results, resource text, prompt messages, sampling output.",
    ).optional(),
    error: exchangeErrorSchema.nullable().describe("`null` when the exchange succeeded."),
    duration_ms: z
      .number()
      .nonnegative()
      .nullable()
      .describe("Request to response in milliseconds; `null` for notifications and protocol errors."),
    kind: z
      .enum(["request", "notification", "protocol_error"])
      .optional()
      .describe("A request paired with its response, a one-way notification, or a message that broke the protocol."),
    direction: z.enum(["client_to_server", "server_to_client"]).optional().describe("Who sent the opening message."),
    transport: z
      .enum(["stdio", "http", "replay"])
      .optional()
      .describe("How the exchange reached toolwatch (`network.transport`: `pipe` for stdio, `tcp` for http)."),
    request_id: z
      .union([z.string(), z.number()])
      .nullable()
      .optional()
      .describe("JSON-RPC request id, as sent (`jsonrpc.request.id`, a string in OpenTelemetry)."),
    params: z.unknown().optional().describe("Request parameters of methods other than `tools/call` (bounded in size)."),
    uri: nullableString("Resource URI (`mcp.resource.uri`) for `resources/*`.").optional(),
    prompt: nullableString("Prompt name (`gen_ai.prompt.name`) for `prompts/get`.").optional(),
    tools: z.array(toolDefinitionSchema).optional().describe("Tool definitions a `tools/list` result advertised."),
    client: peerInfoSchema.nullable().optional().describe("Client name and version from `initialize`."),
    server_info: peerInfoSchema.nullable().optional().describe("Server name and version from the `initialize` result."),
    protocol_version: nullableString("Negotiated MCP protocol version (`mcp.protocol.version`).").optional(),
    request_bytes: z.number().int().nonnegative().optional().describe("Size of the opening message in bytes."),
    response_bytes: z.number().int().nonnegative().optional().describe("Size of the closing message in bytes."),
    truncated: z.boolean().optional().describe("True when `result` was clipped to `capture.max_text_bytes`."),
    decisions: z
      .array(inlineDecisionSchema)
      .optional()
      .describe("Inline decisions taken in the path of the call, in the order they were taken."),
    source: nullableString("The address the session came from (`client.address`, HTTP gateway).").optional(),
  })
  .meta({ id: "CapturedExchange", title: "CapturedExchange" });

/** A detector's verdict about one point in a session. */
export const findingSchema = z
  .looseObject({
    time: timeSchema.describe("Event time of the exchange that raised it."),
    session: z.string().describe("Session id (`mcp.session.id`)."),
    user: z.string().nullable(),
    agent: z.string().nullable(),
    server: z.string(),
    tool: z.string().nullable().describe("`gen_ai.tool.name` of the exchange, when it was a tool call."),
    call_index: z
      .number()
      .int()
      .nonnegative()
      .nullable()
      .describe("0-based index of the `tools/call` in its session; `null` when the finding is not about a call."),
    detector: z.string().min(1).describe("Name of the detector that raised it."),
    category: z.enum(FINDING_CATEGORIES),
    severity: z.enum(SEVERITIES),
    score: z.number().min(0).max(1).describe("Strength of the evidence, 0 to 1."),
    message: z.string().describe("One sentence an operator can act on."),
    evidence: z.record(z.string(), z.unknown()).describe("Whatever lets an investigator check the claim."),
  })
  .meta({ id: "Finding", title: "Finding" });

// Compile-time proof that the schemas and the core types describe the same records: same fields, same types.
// Index signatures (the schemas keep unknown fields) are set aside first, at every depth.
type WithoutIndex<T> = T extends readonly (infer Element)[]
  ? WithoutIndex<Element>[]
  : T extends object
    ? { [K in keyof T as string extends K ? never : K]: WithoutIndex<T[K]> }
    : T;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type SameRecord<A, B> =
  Same<WithoutIndex<A>, WithoutIndex<B>> extends true ? Same<keyof WithoutIndex<A>, keyof WithoutIndex<B>> : false;
const exchangeMatchesSchema: SameRecord<CapturedExchange, z.infer<typeof capturedExchangeSchema>> = true;
const findingMatchesSchema: SameRecord<Finding, z.infer<typeof findingSchema>> = true;
void [exchangeMatchesSchema, findingMatchesSchema];

/** The outcome of reading one line: the exchange, or why the line was refused (`file:line: …`). */
export type RecordLineResult = { ok: true; exchange: CapturedExchange } | { ok: false; message: string };

/**
 * Parses one line of a capture file. Never throws.
 * @param line the line without its newline (a trailing `\r` is tolerated)
 * @param lineNumber 1-based, for the message
 * @param file the file name, for the message
 */
export function parseRecordLine(line: string, lineNumber: number, file: string): RecordLineResult {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    return { ok: false, message: `${file}:${lineNumber}: invalid JSON: ${(error as Error).message}` };
  }
  if (isCapturedExchange(value)) return { ok: true, exchange: value };
  return { ok: false, message: `${file}:${lineNumber}: ${explainCapturedExchange(value)}` };
}

/** Why a value is not a capture record, in one line (zod's first issues, with their field paths). */
export function explainCapturedExchange(value: unknown): string {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return `expected a JSON object, got ${describeType(value)}`;
  }
  const parsed = capturedExchangeSchema.safeParse(value);
  if (parsed.success) return "record refused by the fast check but accepted by the schema (please report this)";
  return describeIssues(parsed.error.issues);
}

/** Formats zod issues as `field: message; field: message` (at most three). */
export function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  const shown = issues.slice(0, 3).map((issue) => {
    const field = issue.path.length > 0 ? issue.path.map(String).join(".") : "record";
    return `${field}: ${issueMessage(issue)}`;
  });
  const more = issues.length > 3 ? ` (and ${issues.length - 3} more)` : "";
  return shown.join("; ") + more;
}

function issueMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === "invalid_type" && issue.input === undefined) return `missing (expected ${issue.expected})`;
  if (issue.code === "invalid_format" && issue.format === "datetime") {
    return `expected an RFC 3339 date-time such as 2026-03-02T08:00:24.719Z, got ${JSON.stringify(issue.input)}`;
  }
  return issue.message;
}

function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return `a ${typeof value}`;
}

// The structural check below must accept exactly what capturedExchangeSchema accepts;
// test/record/capture-record.test.ts compares the two on mutated records.

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isStringOrNull(value: unknown): boolean {
  return value === null || typeof value === "string";
}

function isOptionalStringOrNull(value: unknown): boolean {
  return value === undefined || value === null || typeof value === "string";
}

function isSafeInteger(value: unknown): boolean {
  return typeof value === "number" && Number.isSafeInteger(value);
}

function isCount(value: unknown): boolean {
  return value === undefined || (isSafeInteger(value) && (value as number) >= 0);
}

function isPeerInfo(value: unknown): boolean {
  if (value === undefined || value === null) return true;
  if (!isPlainObject(value) || typeof value.name !== "string") return false;
  return value.version === undefined || typeof value.version === "string";
}

function isToolDefinitions(value: unknown): boolean {
  if (value === undefined) return true;
  if (!Array.isArray(value)) return false;
  for (const tool of value) {
    if (!isPlainObject(tool) || typeof tool.name !== "string") return false;
    if (tool.description !== undefined && typeof tool.description !== "string") return false;
  }
  return true;
}

const DECISION_STAGES: ReadonlySet<unknown> = new Set(["auth", "policy", "dlp", "poisoning", "pinning"]);
const DECISION_ACTIONS: ReadonlySet<unknown> = new Set(["allow", "alert", "deny", "redact", "quarantine", "block"]);

function isDecisions(value: unknown): boolean {
  if (value === undefined) return true;
  if (!Array.isArray(value)) return false;
  for (const decision of value) {
    if (!isPlainObject(decision) || typeof decision.reason !== "string") return false;
    if (!DECISION_STAGES.has(decision.stage) || !DECISION_ACTIONS.has(decision.action)) return false;
    if (decision.rule !== undefined && typeof decision.rule !== "string") return false;
    const direction = decision.direction;
    if (direction !== undefined && direction !== "arguments" && direction !== "result") return false;
  }
  return true;
}

function isExchangeError(value: unknown): boolean {
  if (value === null) return true;
  if (!isPlainObject(value)) return false;
  const type = value.type;
  if (typeof type !== "string" || type.length === 0 || typeof value.message !== "string") return false;
  return value.code === undefined || isSafeInteger(value.code);
}

/** The fast structural check: true exactly when {@link capturedExchangeSchema} accepts the value. */
export function isCapturedExchange(value: unknown): value is CapturedExchange {
  if (!isPlainObject(value)) return false;
  const time = value.time;
  const session = value.session;
  if (typeof time !== "string" || !TIME_PATTERN.test(time)) return false;
  if (typeof session !== "string" || session.length === 0) return false;
  if (!isStringOrNull(value.user) || !isStringOrNull(value.agent) || typeof value.server !== "string") return false;
  if (!isStringOrNull(value.method)) return false;
  const duration = value.duration_ms;
  if (duration !== null && (typeof duration !== "number" || !(duration >= 0) || duration === Infinity)) return false;
  if (!isExchangeError(value.error)) return false;
  if (!isOptionalStringOrNull(value.tool) || !isOptionalStringOrNull(value.result)) return false;
  const argumentsValue = value.arguments;
  if (argumentsValue !== undefined && argumentsValue !== null && !isPlainObject(argumentsValue)) return false;
  // The v1 data sets stop here; the extensions are checked only when present.
  if (value.kind !== undefined || value.direction !== undefined || value.transport !== undefined) {
    if (!isExtensionEnums(value)) return false;
  }
  const requestId = value.request_id;
  if (requestId !== undefined && requestId !== null && typeof requestId !== "string") {
    if (typeof requestId !== "number" || !Number.isFinite(requestId)) return false;
  }
  return (
    isOptionalStringOrNull(value.uri) &&
    isOptionalStringOrNull(value.prompt) &&
    isOptionalStringOrNull(value.protocol_version) &&
    isOptionalStringOrNull(value.source) &&
    isToolDefinitions(value.tools) &&
    isDecisions(value.decisions) &&
    isPeerInfo(value.client) &&
    isPeerInfo(value.server_info) &&
    isCount(value.request_bytes) &&
    isCount(value.response_bytes) &&
    (value.truncated === undefined || typeof value.truncated === "boolean")
  );
}

function isExtensionEnums(value: Record<string, unknown>): boolean {
  const kind = value.kind;
  if (kind !== undefined && kind !== "request" && kind !== "notification" && kind !== "protocol_error") return false;
  const direction = value.direction;
  if (direction !== undefined && direction !== "client_to_server" && direction !== "server_to_client") return false;
  const transport = value.transport;
  return transport === undefined || transport === "stdio" || transport === "http" || transport === "replay";
}

/** Checks a finding read from a findings file or the store. */
export function parseFinding(value: unknown): { ok: true; finding: Finding } | { ok: false; message: string } {
  const parsed = findingSchema.safeParse(value);
  if (parsed.success) return { ok: true, finding: value as Finding };
  return { ok: false, message: describeIssues(parsed.error.issues) };
}
