import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { LineCounter, parseDocument } from "yaml";
import { z } from "zod";
import { ToolwatchError } from "../core/errors.js";
import { dlpSettingsSchema } from "./dlp-settings.js";
import { parseDuration } from "./duration.js";
import { gatewayAuthSchema } from "./gateway-auth-settings.js";

const duration = z.union([z.string(), z.number()]).transform((value, context) => {
  const ms = parseDuration(value);
  if (ms === null) {
    context.addIssue({
      code: "custom",
      message: `expected a duration such as 60s, 5m or 30d, got ${JSON.stringify(value)}`,
    });
    return z.NEVER;
  }
  return ms;
});

const stdioUpstreamSchema = z
  .object({
    command: z.string().min(1),
    args: z.array(z.string()).default([]),
    env: z.record(z.string(), z.string()).default({}),
    cwd: z.string().optional(),
  })
  .strict();

const httpUpstreamSchema = z
  .object({
    url: z.url(),
    headers: z.record(z.string(), z.string()).default({}),
  })
  .strict();

const apiKeySchema = z
  .object({
    /** Hex SHA-256 of the key; the key itself never needs to be in the file. */
    key_sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/i)
      .optional(),
    /** Plain key, for local use and tests. Prefer `key_sha256`. */
    key: z.string().min(8).optional(),
    user: z.string().min(1),
    agent: z.string().min(1).optional(),
  })
  .strict()
  .refine((value) => (value.key === undefined) !== (value.key_sha256 === undefined), {
    message: "give exactly one of key or key_sha256",
  });

export const configSchema = z
  .object({
    database: z.string().optional(),
    retention: duration.default(30 * 86_400_000),
    capture: z
      .object({
        max_message_bytes: z
          .number()
          .int()
          .positive()
          .default(16 * 1024 * 1024),
        max_depth: z.number().int().positive().default(64),
        max_text_bytes: z
          .number()
          .int()
          .positive()
          .default(1024 * 1024),
        request_timeout: duration.default(300_000),
      })
      .strict()
      .default({
        max_message_bytes: 16 * 1024 * 1024,
        max_depth: 64,
        max_text_bytes: 1024 * 1024,
        request_timeout: 300_000,
      }),
    store: z
      .object({
        queue_size: z.number().int().positive().default(50_000),
        /** The audit chain's hash function for a new database: `auto` picks the cheaper on this CPU (ADR 4). */
        hash_algorithm: z.enum(["auto", "sha256", "blake3"]).default("auto"),
      })
      .strict()
      .default({ queue_size: 50_000, hash_algorithm: "auto" }),
    gateway: z
      .object({
        host: z.string().default("127.0.0.1"),
        port: z.number().int().min(0).max(65535).default(8808),
        api_keys: z.array(apiKeySchema).default([]),
        /** OAuth 2.1 access tokens (JWT) and the Protected Resource Metadata; API keys only when absent. */
        auth: gatewayAuthSchema.optional(),
        /** Where the gateway serves Prometheus metrics (no API key needed); `null` turns it off. */
        metrics_path: z
          .string()
          .regex(/^\/[A-Za-z0-9._/-]*$/)
          .nullable()
          .default("/metrics"),
        /** Sessions idle longer than this are closed and their upstream stopped. */
        session_idle_timeout: duration.default(30 * 60_000),
        /** Users (as authenticated by an API key or a token) who may use the admin API at `/api/v1/`; none when empty. */
        admin_users: z.array(z.string().min(1)).default([]),
      })
      .strict()
      .default({
        host: "127.0.0.1",
        port: 8808,
        api_keys: [],
        metrics_path: "/metrics",
        session_idle_timeout: 30 * 60_000,
        admin_users: [],
      }),
    alerts: z
      .object({
        /** The alert rules file; the shipped defaults (config/alerts.yaml) when absent. */
        rules: z.string().optional(),
        enabled: z.boolean().default(true),
        /** How often a live process evaluates rules when no traffic moves the clock. */
        evaluation_interval: duration.default(5_000),
      })
      .strict()
      .default({ enabled: true, evaluation_interval: 5_000 }),
    metrics: z
      .object({
        /** Measure cross-tool data flow (the costliest metric). */
        flow: z.boolean().default(true),
      })
      .strict()
      .default({ flow: true }),
    export: z
      .object({
        otlp: z
          .object({ url: z.url(), headers: z.record(z.string(), z.string()).default({}) })
          .strict()
          .optional(),
      })
      .strict()
      .default({}),
    /** Per-tool policy (docs/policy.md): a YAML file, reloaded when it changes. */
    policy: z
      .object({
        file: z.string().min(1).optional(),
        /** Reload the file when it changes; a bad file is rejected and the old policy stays in force. */
        watch: z.boolean().default(true),
      })
      .strict()
      .default({ watch: true }),
    /** Data loss prevention on arguments and results (docs/dlp.md). */
    dlp: dlpSettingsSchema.prefault({}),
    /** Tool-poisoning defence (docs/poisoning.md). */
    poisoning: z
      .object({
        enabled: z.boolean().default(true),
        /** Score from 0 to 1 above which text counts as carrying instructions; the shipped model's own when absent. */
        threshold: z.number().min(0).max(1).optional(),
        /** What happens to a tool result that carries instructions. */
        result_action: z.enum(["alert", "quarantine", "block"]).default("alert"),
        /** What happens to a tool whose description carries instructions: `block` hides it and refuses its calls. */
        description_action: z.enum(["alert", "block"]).default("alert"),
        /**
         * Prevention: a high-risk call (outbound, payment, delete, admin, exec) whose arguments carry values from a
         * result that carried instructions is held (`block`), flagged (`alert`), or not tracked (`off`).
         */
        tainted_call_action: z.enum(["off", "alert", "block"]).default("block"),
      })
      .strict()
      .default({ enabled: true, result_action: "alert", description_action: "alert", tainted_call_action: "block" }),
    /** Tool pinning: the first `tools/list` of each server pins every definition (docs/inline-defence.md). */
    pinning: z
      .object({
        enabled: z.boolean().default(true),
        /** Hide a changed tool and refuse its calls until `toolwatch tools approve` accepts the change. */
        block_changed: z.boolean().default(false),
      })
      .strict()
      .default({ enabled: true, block_changed: false }),
    /** Detectors (docs/baselines.md). */
    detectors: z
      .object({
        /**
         * A saved baseline (`toolwatch baseline train -o FILE`, from captures or from the store with `--db`) that live
         * processes and replay load at start, so baselines apply from the first call.
         */
        baseline: z.string().min(1).optional(),
        /**
         * Learn from live traffic first: exchanges within this long of the first one the store holds are learned
         * as known-normal (and, after a restart, learned again from the store), then scoring begins.
         */
        learning_period: duration.optional(),
        /**
         * Sessions of an agent type that call a tool its baseline lacks, each a medium finding, before later ones
         * are reported at low as a likely rollout of a new tool (docs/baselines.md); 0 never lowers.
         */
        rollout_sessions: z.number().int().min(0).optional(),
      })
      .strict()
      .default({}),
    servers: z
      .record(z.string().regex(/^[A-Za-z0-9._-]+$/), z.union([stdioUpstreamSchema, httpUpstreamSchema]))
      .default({}),
  })
  .strict();

export type ToolwatchConfig = z.infer<typeof configSchema>;
export type UpstreamConfig = ToolwatchConfig["servers"][string];
export type StdioUpstreamConfig = z.infer<typeof stdioUpstreamSchema>;
export type HttpUpstreamConfig = z.infer<typeof httpUpstreamSchema>;
export type CaptureLimits = ToolwatchConfig["capture"];

export function isStdioUpstream(upstream: UpstreamConfig): upstream is StdioUpstreamConfig {
  return "command" in upstream;
}

/** The configuration with every default filled in. */
export function defaultConfig(): ToolwatchConfig {
  return configSchema.parse({});
}

/** Parses YAML text; errors name the file, line and column and what was expected. */
export function parseConfig(text: string, file = "<config>"): ToolwatchConfig {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false });
  const firstError = document.errors[0];
  if (firstError) {
    const position = lineCounter.linePos(firstError.pos[0]);
    throw new ToolwatchError(
      "config_invalid",
      `${file}:${position.line}:${position.col}: ${firstError.message.split("\n")[0]}`,
    );
  }
  const parsed = configSchema.safeParse(document.toJS() ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const node = document.getIn(issue.path as (string | number)[], true) as { range?: [number, number] } | undefined;
  const offset = node?.range?.[0] ?? locateParent(document, issue.path);
  const position = offset === undefined ? { line: 1, col: 1 } : lineCounter.linePos(offset);
  const where = issue.path.length > 0 ? ` at ${issue.path.join(".")}` : "";
  throw new ToolwatchError("config_invalid", `${file}:${position.line}:${position.col}${where}: ${issue.message}`);
}

function locateParent(document: ReturnType<typeof parseDocument>, path: PropertyKey[]): number | undefined {
  for (let length = path.length - 1; length >= 0; length--) {
    const node = document.getIn(path.slice(0, length) as (string | number)[], true) as
      | { range?: [number, number] }
      | undefined;
    if (node?.range) return node.range[0];
  }
  return undefined;
}

/**
 * Reads a configuration file. Relative file paths in it (`database`, `alerts.rules`, `policy.file`,
 * `detectors.baseline`, `dlp.rules_file`) are made absolute against the file's own folder, so a config file means the
 * same thing whatever directory the process starts in: an MCP client starts proxies wherever it likes.
 */
export function loadConfig(file: string | undefined): ToolwatchConfig {
  if (file === undefined) return defaultConfig();
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new ToolwatchError("config_invalid", `${file}: cannot read (${(error as Error).message})`, { cause: error });
  }
  return resolveConfigPaths(parseConfig(text, file), dirname(resolve(file)));
}

/** `config` with its relative file paths made absolute against `directory` (see {@link loadConfig}). */
export function resolveConfigPaths(config: ToolwatchConfig, directory: string): ToolwatchConfig {
  const resolved: ToolwatchConfig = {
    ...config,
    alerts: { ...config.alerts },
    policy: { ...config.policy },
    detectors: { ...config.detectors },
    dlp: { ...config.dlp },
  };
  if (resolved.alerts.rules !== undefined) resolved.alerts.rules = resolve(directory, resolved.alerts.rules);
  if (resolved.policy.file !== undefined) resolved.policy.file = resolve(directory, resolved.policy.file);
  if (resolved.detectors.baseline !== undefined) {
    resolved.detectors.baseline = resolve(directory, resolved.detectors.baseline);
  }
  if (resolved.dlp.rules_file !== undefined) resolved.dlp.rules_file = resolve(directory, resolved.dlp.rules_file);
  // SQLite's in-memory database is a name, not a path.
  if (resolved.database !== undefined && resolved.database !== ":memory:") {
    resolved.database = resolve(directory, resolved.database);
  }
  return resolved;
}
