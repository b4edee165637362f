/**
 * The policy file: YAML, validated with strict schemas (an unknown key is an error, so a typo never
 * silently weakens a policy) and compiled once (globs, regular expressions, JSON Schemas). Every
 * problem, including a bad regular expression or JSON Schema, comes back as `file:line:column: reason`.
 */
import { readFileSync } from "node:fs";
import { Ajv, type ValidateFunction } from "ajv";
import { isMap, isScalar, LineCounter, type Node, parseDocument } from "yaml";
import { z } from "zod";
import { parseDuration } from "../../config/duration.js";
import { formatYamlError } from "../../config/yaml-file.js";
import { type ArgumentConstraint, normalisePrefix } from "./argument-constraints.js";
import type { RateLimit } from "./rate-limits.js";
import { DAY_NAMES, isKnownTimeZone, parseClock, type TimeWindow } from "./time-windows.js";
import { checkToolPattern, compileGlob, compileToolPattern, type ToolPattern } from "./tool-pattern.js";

/** Who a policy applies to: each given glob must match; a principal without that name does not match. */
export interface PolicyMatch {
  agent: { source: string; test(text: string): boolean } | null;
  user: { source: string; test(text: string): boolean } | null;
}

/** The argument rules of one tool pattern in one policy. */
export interface ArgumentRule {
  /** `<policy>/arguments["<pattern>"]`. */
  rule: string;
  tool: ToolPattern;
  constraints: Array<{ argument: string; constraint: ArgumentConstraint }>;
  /** The whole-arguments JSON Schema, compiled at load. */
  schema: ValidateFunction | null;
}

/** One compiled policy. */
export interface CompiledPolicy {
  name: string;
  match: PolicyMatch;
  /** `null` when the policy has no `allow` list (it then grants nothing and restricts nothing by allow list). */
  allow: ToolPattern[] | null;
  deny: ToolPattern[];
  arguments: ArgumentRule[];
  rate_limits: RateLimit[];
  /** Empty = any time. */
  time_windows: TimeWindow[];
}

/** A validated, compiled policy file: what `PolicyEngine` runs. */
export interface PolicyDocument {
  file: string;
  default: "allow" | "deny";
  time_zone: string;
  policies: CompiledPolicy[];
}

/** The result of parsing a policy file. */
export type PolicyParseResult = { ok: true; policy: PolicyDocument } | { ok: false; error: string };

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.:@-]*$/;

const toolPattern = z.string().superRefine((source, context) => {
  const problem = checkToolPattern(source);
  if (problem !== null) context.addIssue({ code: "custom", message: problem });
});

const principalGlob = z.string().min(1, { message: "expected a name or glob" });

const regularExpression = z.string().transform((source, context) => {
  try {
    return new RegExp(source);
  } catch (error) {
    context.addIssue({ code: "custom", message: (error as Error).message });
    return z.NEVER;
  }
});

const pathPrefix = z.string().transform((prefix, context) => {
  const normalised = normalisePrefix(prefix);
  if (normalised === null) {
    context.addIssue({ code: "custom", message: `expected an absolute path prefix, got ${JSON.stringify(prefix)}` });
    return z.NEVER;
  }
  return normalised;
});

const constraintSchema = z
  .object({
    max_length: z.number().int().min(0).optional(),
    pattern: regularExpression.optional(),
    allowed_values: z
      .array(z.union([z.string(), z.number(), z.boolean(), z.null()]))
      .min(1)
      .optional(),
    path_prefixes: z.array(pathPrefix).min(1).optional(),
  })
  .strict()
  .refine((constraint) => Object.keys(constraint).length > 0, {
    message: "expected at least one of max_length, pattern, allowed_values, path_prefixes",
  });

const duration = z.union([z.string(), z.number()]).transform((value, context) => {
  const ms = parseDuration(value);
  if (ms === null || ms <= 0) {
    context.addIssue({
      code: "custom",
      message: `expected a duration such as 60s, 5m or 1h, got ${JSON.stringify(value)}`,
    });
    return z.NEVER;
  }
  return ms;
});

function clock(allowMidnightEnd: boolean) {
  return z.string().transform((text, context) => {
    const minute = parseClock(text);
    if (minute === null || (!allowMidnightEnd && minute === 1440)) {
      context.addIssue({
        code: "custom",
        message: `expected a time of day such as "08:00", got ${JSON.stringify(text)}`,
      });
      return z.NEVER;
    }
    return minute;
  });
}

const timeWindowSchema = z
  .object({
    days: z.array(z.enum(DAY_NAMES)).min(1).optional(),
    from: clock(false),
    to: clock(true),
  })
  .strict()
  .refine((window) => window.from !== window.to, { message: "an empty window: `from` equals `to`" });

const rateLimitSchema = z
  .object({
    tool: toolPattern.default("*"),
    per: z.enum(["session", "user", "agent", "global"]),
    max: z.number().int().min(1).max(100_000),
    window: duration,
    each_tool: z.boolean().default(false),
  })
  .strict();

function fileSchema(ajv: Ajv) {
  const jsonSchema = z.unknown().transform((schema, context) => {
    if (typeof schema !== "object" || schema === null || Array.isArray(schema)) {
      context.addIssue({ code: "custom", message: "expected a JSON Schema object" });
      return z.NEVER;
    }
    try {
      return ajv.compile(schema);
    } catch (error) {
      context.addIssue({ code: "custom", message: `invalid JSON Schema: ${(error as Error).message}` });
      return z.NEVER;
    }
  });
  const policySchema = z
    .object({
      name: z.string().regex(NAME, { message: "expected a name of letters, digits, `_`, `.`, `:`, `@` or `-`" }),
      match: z.object({ agent: principalGlob.optional(), user: principalGlob.optional() }).strict().optional(),
      tools: z
        .object({ allow: z.array(toolPattern).optional(), deny: z.array(toolPattern).optional() })
        .strict()
        .optional(),
      arguments: z
        .record(toolPattern, z.object({ schema: jsonSchema.optional() }).catchall(constraintSchema))
        .optional(),
      rate_limits: z.array(rateLimitSchema).optional(),
      time_windows: z.array(timeWindowSchema).min(1).optional(),
    })
    .strict();
  return z
    .object({
      version: z.literal(1),
      default: z.enum(["allow", "deny"]).default("allow"),
      time_zone: z
        .string()
        .refine(isKnownTimeZone, { message: "expected an IANA time zone such as Europe/Berlin or UTC" })
        .default("UTC"),
      policies: z.array(policySchema).default([]),
    })
    .strict()
    .superRefine((file, context) => {
      const seen = new Set<string>();
      file.policies.forEach((policy, index) => {
        if (seen.has(policy.name)) {
          context.addIssue({
            code: "custom",
            path: ["policies", index, "name"],
            message: `a second policy named ${JSON.stringify(policy.name)}: names identify policies in the record and must be unique`,
          });
        }
        seen.add(policy.name);
      });
    });
}

type PolicyFileValue = z.infer<ReturnType<typeof fileSchema>>;

/** Parses and compiles a policy file's text; `file` names it in error messages. */
export function parsePolicy(text: string, file: string): PolicyParseResult {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false });
  const firstError = document.errors[0];
  if (firstError) {
    const position = lineCounter.linePos(firstError.pos[0]);
    return {
      ok: false,
      error: formatYamlError({
        file,
        line: position.line,
        column: position.col,
        message: firstError.message.split("\n")[0]!,
      }),
    };
  }
  // One validator instance per file: compiled schemas are cached inside it, and a reload must not keep the old ones alive.
  const ajv = new Ajv({ strict: true, strictTypes: false, strictTuples: false, strictRequired: false, logger: false });
  const parsed = fileSchema(ajv).safeParse(document.toJS() ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path as (string | number)[];
    let offset = locate(document, path);
    let message = issue.message;
    if (issue.code === "unrecognized_keys") {
      const key = issue.keys[0]!;
      offset = keyOffset(document, path, key) ?? offset;
      message = `unknown key ${JSON.stringify(key)}`;
    }
    const position = lineCounter.linePos(offset);
    const where = path.length > 0 ? `${path.join(".")}: ` : "";
    return {
      ok: false,
      error: formatYamlError({ file, line: position.line, column: position.col, message: `${where}${message}` }),
    };
  }
  return { ok: true, policy: compile(parsed.data, file) };
}

/** Reads and parses a policy file; an unreadable file is an error like any other. */
export function loadPolicyFile(file: string): PolicyParseResult {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    return { ok: false, error: `${file}: cannot read the policy file: ${(error as Error).message}` };
  }
  return parsePolicy(text, file);
}

function compile(value: PolicyFileValue, file: string): PolicyDocument {
  return {
    file,
    default: value.default,
    time_zone: value.time_zone,
    policies: value.policies.map((policy): CompiledPolicy => {
      const argumentRules: ArgumentRule[] = [];
      for (const [pattern, fields] of Object.entries(policy.arguments ?? {})) {
        const { schema, ...constraints } = fields as { schema?: ValidateFunction } & Record<string, ArgumentConstraint>;
        argumentRules.push({
          rule: `${policy.name}/arguments[${JSON.stringify(pattern)}]`,
          tool: compileToolPattern(pattern),
          constraints: Object.entries(constraints).map(([argument, constraint]) => ({ argument, constraint })),
          schema: schema ?? null,
        });
      }
      return {
        name: policy.name,
        match: {
          agent: policy.match?.agent === undefined ? null : compilePrincipal(policy.match.agent),
          user: policy.match?.user === undefined ? null : compilePrincipal(policy.match.user),
        },
        allow: policy.tools?.allow === undefined ? null : policy.tools.allow.map(compileToolPattern),
        deny: (policy.tools?.deny ?? []).map(compileToolPattern),
        arguments: argumentRules,
        rate_limits: (policy.rate_limits ?? []).map((limit, index) => ({
          rule: `${policy.name}/rate_limits[${index}]`,
          tool: compileToolPattern(limit.tool),
          per: limit.per,
          max: limit.max,
          window_ms: limit.window,
          each_tool: limit.each_tool,
        })),
        time_windows: (policy.time_windows ?? []).map((window) => ({
          days: dayBits(window.days ?? DAY_NAMES),
          from_minute: window.from,
          to_minute: window.to === 1440 ? 0 : window.to,
        })),
      };
    }),
  };
}

function dayBits(days: readonly (typeof DAY_NAMES)[number][]): number {
  let bits = 0;
  for (const day of days) bits |= 1 << DAY_NAMES.indexOf(day);
  return bits;
}

function compilePrincipal(glob: string): { source: string; test(text: string): boolean } {
  const matcher = compileGlob(glob);
  return { source: glob, test: (text) => matcher.test(text) };
}

type YamlDocument = ReturnType<typeof parseDocument>;

/** The nearest written node on the path: a missing key points at its parent mapping. */
function locate(document: YamlDocument, path: (string | number)[]): number {
  for (let length = path.length; length >= 0; length--) {
    const node = (length === 0 ? document.contents : document.getIn(path.slice(0, length), true)) as Node | null;
    if (node && typeof node === "object" && node.range) return node.range[0];
  }
  return 0;
}

function keyOffset(document: YamlDocument, path: (string | number)[], key: string): number | undefined {
  const parent = path.length === 0 ? document.contents : document.getIn(path, true);
  if (!isMap(parent)) return undefined;
  for (const pair of parent.items) {
    if (isScalar(pair.key) && pair.key.value === key && pair.key.range) return pair.key.range[0];
  }
  return undefined;
}
