/**
 * The alert rules file: `alerts:` (the rules), optional `notifiers:` and `settings:`. Every problem
 * is reported with the file, line and column and what was expected; conditions are mapped from
 * their own offsets into the file through the YAML node ranges.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { isMap, isScalar, LineCounter, type Node, parseDocument } from "yaml";
import { z } from "zod";
import { parseDuration } from "../config/duration.js";
import { type ConditionSpec, parseCondition } from "./condition-parser.js";

export const ALERT_SEVERITIES = ["critical", "high", "warning", "medium", "low", "info"] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];

export const NOTIFIER_TYPES = ["log", "webhook", "slack", "pagerduty", "alertmanager"] as const;
export type NotifierType = (typeof NOTIFIER_TYPES)[number];

/** Where something was written. Lines and columns are 1-based. */
export interface SourceLocation {
  file: string;
  line: number;
  column: number;
}

/** One rule, checked and ready for the engine. */
export interface AlertRule {
  name: string;
  condition: ConditionSpec;
  severity: AlertSeverity;
  /** What a person does when it fires. Human text, never a routing key. */
  action?: string;
  runbook?: string;
  /** Notifier names; unset means the default route (`settings.notify`). */
  notify?: string[];
  /** How long the condition must hold before the alert fires (condition `for 2m` or the `for:` key). */
  hold_ms: number;
  /** Re-notification while firing; unset means `settings.repeat_interval`. */
  repeat_interval_ms?: number;
  /** Static labels added to every alert of the rule. */
  labels: Record<string, string>;
  location?: SourceLocation;
}

/** Settings shared by every delivery queue; each notifier may override them. */
export interface DeliverySettings {
  timeout_ms?: number;
  queue_size?: number;
  max_attempts?: number;
  initial_backoff_ms?: number;
  max_backoff_ms?: number;
  /** Overrides the rule's repeat interval for this notifier (Alertmanager wants frequent re-sends). */
  repeat_interval_ms?: number;
  /** Deliver `resolved` as well as `firing`. Default true. */
  send_resolved?: boolean;
}

export type NotifierConfig = DeliverySettings &
  (
    | { name: string; type: "log"; format: "json" | "text"; stream: "stderr" | "stdout" }
    | { name: string; type: "webhook"; url: string; headers: Record<string, string> }
    | { name: string; type: "slack"; url: string; channel?: string; username?: string }
    | { name: string; type: "pagerduty"; routing_key: string; url: string; source?: string }
    | { name: string; type: "alertmanager"; url: string; generator_url?: string; headers: Record<string, string> }
  );

export interface AlertSettings {
  /** The default route: notifiers for rules without `notify`. `null` sends to every notifier. */
  notify: string[] | null;
  repeat_interval_ms: number;
  /** How often, in event time, pending and firing alerts are re-evaluated so that they resolve without traffic. */
  evaluation_interval_ms: number;
  /** Groups tracked per rule; further groups are not tracked and are counted. */
  max_groups_per_rule: number;
  /** A session with no exchange for this long (event time) is over: its session alerts resolve. */
  session_idle_ms: number;
  /** Sessions a baseline needs before a `Nx baseline` threshold is judged. */
  baseline_min_sessions: number;
  /** Completed sessions that raised no alert join the baseline (learn traffic always does). */
  baseline_from_sessions: boolean;
  /** Relative runbook links (`docs/runbooks.md#...`) are resolved against this in notifications. */
  runbook_base_url: string | null;
}

export interface RuleSet {
  file: string;
  rules: AlertRule[];
  /** The `notifiers:` section; `null` when absent (a `log` notifier on stderr is then used). */
  notifiers: NotifierConfig[] | null;
  settings: AlertSettings;
}

export interface RuleDiagnostic extends SourceLocation {
  level: "error" | "warning";
  message: string;
  rule?: string;
}

export type ParseRulesResult =
  | { ok: true; rules: RuleSet; warnings: RuleDiagnostic[] }
  | { ok: false; errors: RuleDiagnostic[]; warnings: RuleDiagnostic[] };

export const DEFAULT_ALERT_SETTINGS: AlertSettings = {
  notify: null,
  repeat_interval_ms: 4 * 3_600_000,
  evaluation_interval_ms: 10_000,
  max_groups_per_rule: 10_000,
  session_idle_ms: 30 * 60_000,
  baseline_min_sessions: 20,
  baseline_from_sessions: true,
  runbook_base_url: null,
};

const duration = z.union([z.string(), z.number()]).transform((value, context) => {
  const ms = parseDuration(value);
  if (ms === null) {
    context.addIssue({
      code: "custom",
      message: `expected a duration such as 60s, 5m or 4h, got ${JSON.stringify(value)}`,
    });
    return z.NEVER;
  }
  return ms;
});

const positiveDuration = duration.refine((ms) => ms > 0, { message: "expected a duration greater than zero" });

const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_.:-]*$/;
const name = z.string().regex(NAME_PATTERN, { message: "expected a name of letters, digits, `_`, `.`, `:` or `-`" });

const ruleSchema = z
  .object({
    name,
    condition: z.string().min(1, { message: "expected a condition such as `dlp_blocks > 10 in 60s`" }),
    severity: z.enum(ALERT_SEVERITIES),
    action: z.string().optional(),
    runbook: z.string().optional(),
    notify: z.array(name).optional(),
    for: positiveDuration.optional(),
    repeat_interval: positiveDuration.optional(),
    labels: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string()).optional(),
  })
  .strict();

const deliveryFields = {
  name,
  timeout: positiveDuration.optional(),
  queue_size: z.number().int().positive().optional(),
  max_attempts: z.number().int().positive().optional(),
  initial_backoff: positiveDuration.optional(),
  max_backoff: positiveDuration.optional(),
  repeat_interval: positiveDuration.optional(),
  send_resolved: z.boolean().optional(),
};

const headers = z.record(z.string(), z.string()).default({});

const notifierSchema = z.discriminatedUnion("type", [
  z
    .object({
      ...deliveryFields,
      type: z.literal("log"),
      format: z.enum(["json", "text"]).default("json"),
      stream: z.enum(["stderr", "stdout"]).default("stderr"),
    })
    .strict(),
  z.object({ ...deliveryFields, type: z.literal("webhook"), url: z.string().min(1), headers }).strict(),
  z
    .object({
      ...deliveryFields,
      type: z.literal("slack"),
      url: z.string().min(1),
      channel: z.string().optional(),
      username: z.string().optional(),
    })
    .strict(),
  z
    .object({
      ...deliveryFields,
      type: z.literal("pagerduty"),
      routing_key: z.string().min(1),
      url: z.string().min(1).default("https://events.pagerduty.com/v2/enqueue"),
      source: z.string().optional(),
    })
    .strict(),
  z
    .object({
      ...deliveryFields,
      type: z.literal("alertmanager"),
      url: z.string().min(1),
      generator_url: z.string().optional(),
      headers,
    })
    .strict(),
]);

const settingsSchema = z
  .object({
    notify: z.array(name).optional(),
    repeat_interval: positiveDuration.optional(),
    evaluation_interval: positiveDuration.optional(),
    max_groups_per_rule: z.number().int().positive().optional(),
    session_idle_timeout: positiveDuration.optional(),
    baseline: z
      .object({ min_sessions: z.number().int().min(1).optional(), learn_from_sessions: z.boolean().optional() })
      .strict()
      .optional(),
    runbook_base_url: z.string().optional(),
  })
  .strict();

const fileSchema = z
  .object({
    alerts: z.array(z.unknown()),
    notifiers: z.array(z.unknown()).optional(),
    settings: settingsSchema.optional(),
  })
  .strict();

type Path = (string | number)[];

class Locator {
  constructor(
    readonly file: string,
    private readonly text: string,
    private readonly lineCounter: LineCounter,
    private readonly document: ReturnType<typeof parseDocument>,
  ) {}

  at(offset: number): SourceLocation {
    const position = this.lineCounter.linePos(Math.max(0, Math.min(offset, this.text.length)));
    return { file: this.file, line: position.line, column: position.col };
  }

  node(path: Path): Node | undefined {
    if (path.length === 0) return (this.document.contents as Node | null) ?? undefined;
    const node = this.document.getIn(path, true);
    return typeof node === "object" && node !== null ? (node as Node) : undefined;
  }

  /** The nearest written node on the path: a missing key points at its parent mapping. */
  offsetOf(path: Path): number {
    for (let length = path.length; length >= 0; length--) {
      const node = this.node(path.slice(0, length));
      if (node?.range) return node.range[0];
    }
    return 0;
  }

  /** The key of `path`'s last element, for unknown keys. */
  keyOffset(path: Path, key: string): number {
    const parent = this.node(path);
    if (isMap(parent)) {
      for (const pair of parent.items) {
        if (isScalar(pair.key) && pair.key.value === key && pair.key.range) return pair.key.range[0];
      }
    }
    return this.offsetOf(path);
  }

  /**
   * Where character `offset` of a string value lies in the file. Plain and quoted scalars without
   * escapes hold the text verbatim, so the offset maps linearly; otherwise the scalar's start.
   */
  inString(path: Path, value: string, offset: number): SourceLocation {
    const node = this.node(path);
    if (!node?.range) return this.at(this.offsetOf(path));
    const [start, , end] = node.range;
    const found = this.text.slice(start, end).indexOf(value);
    return this.at(found === -1 ? start : start + found + offset);
  }
}

function collectNotifierEnvironment(value: unknown, found: Set<string>): void {
  if (typeof value === "string") {
    for (const match of value.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)) found.add(match[1]!);
  } else if (typeof value === "object" && value !== null) {
    for (const inner of Object.values(value)) collectNotifierEnvironment(inner, found);
  }
}

/**
 * Parses a rules file. Never throws for bad content: every problem is a diagnostic with a file,
 * line and column. Warnings (a rule without action or runbook) do not make the file invalid.
 */
export function parseRules(
  text: string,
  file = "<rules>",
  environment: NodeJS.ProcessEnv = process.env,
): ParseRulesResult {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const locator = new Locator(file, text, lineCounter, document);
  const errors: RuleDiagnostic[] = [];
  const warnings: RuleDiagnostic[] = [];
  const error = (location: SourceLocation, message: string, rule?: string): void => {
    errors.push({ ...location, level: "error", message, ...(rule === undefined ? {} : { rule }) });
  };
  const warn = (location: SourceLocation, message: string, rule?: string): void => {
    warnings.push({ ...location, level: "warning", message, ...(rule === undefined ? {} : { rule }) });
  };

  for (const problem of document.errors) {
    error(locator.at(problem.pos[0]), problem.message.split("\n")[0]!);
  }
  if (errors.length > 0) return { ok: false, errors, warnings };

  const raw: unknown = document.toJS() ?? null;
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    error(locator.at(0), "expected a mapping with an `alerts:` list of rules");
    return { ok: false, errors, warnings };
  }
  const top = fileSchema.safeParse(raw);
  if (!top.success) {
    for (const issue of top.error.issues) reportIssue(locator, error, [], issue);
    return { ok: false, errors, warnings };
  }

  const settingsInput = top.data.settings ?? {};
  const settings: AlertSettings = {
    notify: settingsInput.notify ?? DEFAULT_ALERT_SETTINGS.notify,
    repeat_interval_ms: settingsInput.repeat_interval ?? DEFAULT_ALERT_SETTINGS.repeat_interval_ms,
    evaluation_interval_ms: settingsInput.evaluation_interval ?? DEFAULT_ALERT_SETTINGS.evaluation_interval_ms,
    max_groups_per_rule: settingsInput.max_groups_per_rule ?? DEFAULT_ALERT_SETTINGS.max_groups_per_rule,
    session_idle_ms: settingsInput.session_idle_timeout ?? DEFAULT_ALERT_SETTINGS.session_idle_ms,
    baseline_min_sessions: settingsInput.baseline?.min_sessions ?? DEFAULT_ALERT_SETTINGS.baseline_min_sessions,
    baseline_from_sessions:
      settingsInput.baseline?.learn_from_sessions ?? DEFAULT_ALERT_SETTINGS.baseline_from_sessions,
    runbook_base_url: settingsInput.runbook_base_url ?? DEFAULT_ALERT_SETTINGS.runbook_base_url,
  };

  let notifiers: NotifierConfig[] | null = null;
  if (top.data.notifiers !== undefined) {
    notifiers = [];
    const seen = new Set<string>();
    top.data.notifiers.forEach((entry, index) => {
      const path: Path = ["notifiers", index];
      const parsed = notifierSchema.safeParse(entry);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) reportIssue(locator, error, path, issue);
        return;
      }
      const value = parsed.data;
      if (seen.has(value.name)) {
        error(locator.at(locator.offsetOf([...path, "name"])), `notifier \`${value.name}\` is defined twice`);
        return;
      }
      seen.add(value.name);
      const variables = new Set<string>();
      collectNotifierEnvironment(entry, variables);
      for (const variable of variables) {
        if (environment[variable] === undefined) {
          warn(
            locator.at(locator.offsetOf(path)),
            `notifier \`${value.name}\` uses \${${variable}}, which is not set in this environment`,
          );
        }
      }
      notifiers?.push(toNotifierConfig(value));
    });
  }
  const notifierNames = new Set((notifiers ?? [{ name: "log" }]).map((notifier) => notifier.name));
  const checkRoute = (names: string[] | undefined, path: Path, rule?: string): void => {
    names?.forEach((notifierName, index) => {
      if (!notifierNames.has(notifierName)) {
        error(
          locator.at(locator.offsetOf([...path, index])),
          `unknown notifier \`${notifierName}\`; expected one of ${[...notifierNames].join(", ")}` +
            (notifiers === null ? " (define it under `notifiers:`)" : ""),
          rule,
        );
      }
    });
  };
  checkRoute(settings.notify ?? undefined, ["settings", "notify"]);

  const rules: AlertRule[] = [];
  const ruleNames = new Set<string>();
  top.data.alerts.forEach((entry, index) => {
    const path: Path = ["alerts", index];
    const parsed = ruleSchema.safeParse(entry);
    const entryName =
      typeof entry === "object" && entry !== null && typeof (entry as { name?: unknown }).name === "string"
        ? (entry as { name: string }).name
        : undefined;
    if (!parsed.success) {
      for (const issue of parsed.error.issues) reportIssue(locator, error, path, issue, entryName);
    }
    // The condition is checked even when other fields are wrong, so one run reports everything.
    const conditionText = (entry as { condition?: unknown } | null)?.condition;
    let condition: ConditionSpec | null = null;
    if (typeof conditionText === "string" && conditionText.length > 0) {
      const result = parseCondition(conditionText);
      if (result.ok) {
        condition = result.condition;
      } else {
        error(
          locator.inString([...path, "condition"], conditionText, result.error.start),
          `in condition: ${result.error.message}`,
          entryName,
        );
      }
    }
    if (!parsed.success || condition === null) return;
    const value = parsed.data;
    const location = locator.at(locator.offsetOf(path));
    if (ruleNames.has(value.name)) {
      error(locator.at(locator.offsetOf([...path, "name"])), `rule \`${value.name}\` is defined twice`, value.name);
      return;
    }
    ruleNames.add(value.name);
    if (condition.hold_ms > 0 && value.for !== undefined) {
      error(
        locator.at(locator.offsetOf([...path, "for"])),
        "the hold duration is given twice: in the condition (`for ...`) and as `for:`; keep one",
        value.name,
      );
      return;
    }
    checkRoute(value.notify, [...path, "notify"], value.name);
    if (value.action === undefined || value.action.trim() === "") {
      warn(location, `rule \`${value.name}\` has no action: every alert needs a clear action`, value.name);
    } else if (/\bdashboard\b/i.test(value.action)) {
      warn(
        locator.at(locator.offsetOf([...path, "action"])),
        `rule \`${value.name}\`: an action that sends people to a dashboard to decide is not ready for production`,
        value.name,
      );
    }
    if (value.runbook === undefined || value.runbook.trim() === "") {
      warn(location, `rule \`${value.name}\` has no runbook`, value.name);
    }
    for (const matcher of condition.matchers) {
      // The seed condition's `X` is a placeholder; as written it watches a tool literally named X.
      if (matcher.label === "tool" && matcher.operator === "=" && /^[A-Z]$/.test(matcher.value)) {
        warn(
          locator.inString([...path, "condition"], condition.text, condition.text.indexOf(` ${matcher.value}`) + 1),
          `rule \`${value.name}\` watches one tool named \`${matcher.value}\`; write \`for each tool\` to watch every tool`,
          value.name,
        );
      }
    }
    rules.push({
      name: value.name,
      condition,
      severity: value.severity,
      ...(value.action === undefined ? {} : { action: value.action }),
      ...(value.runbook === undefined ? {} : { runbook: value.runbook }),
      ...(value.notify === undefined ? {} : { notify: value.notify }),
      hold_ms: condition.hold_ms > 0 ? condition.hold_ms : (value.for ?? 0),
      ...(value.repeat_interval === undefined ? {} : { repeat_interval_ms: value.repeat_interval }),
      labels: value.labels ?? {},
      location,
    });
  });
  if (top.data.alerts.length === 0) warn(locator.at(locator.offsetOf(["alerts"])), "the file defines no alert rules");

  const byPosition = (a: RuleDiagnostic, b: RuleDiagnostic): number => a.line - b.line || a.column - b.column;
  errors.sort(byPosition);
  warnings.sort(byPosition);
  if (errors.length > 0) return { ok: false, errors, warnings };
  return { ok: true, rules: { file, rules, notifiers, settings }, warnings };
}

function reportIssue(
  locator: Locator,
  error: (location: SourceLocation, message: string, rule?: string) => void,
  base: Path,
  issue: z.core.$ZodIssue,
  rule?: string,
): void {
  const path = [...base, ...(issue.path as Path)];
  if (issue.code === "unrecognized_keys") {
    for (const key of issue.keys) {
      error(
        locator.at(locator.keyOffset(path, key)),
        `unknown key \`${key}\` at ${path.join(".") || "top level"}`,
        rule,
      );
    }
    return;
  }
  const missing = issue.code === "invalid_type" && locator.node(path) === undefined;
  const where = path.length > 0 ? ` at ${path.join(".")}` : "";
  const message = missing ? `missing \`${String(path.at(-1))}\`${where}` : `${issue.message}${where}`;
  error(locator.at(locator.offsetOf(path)), message, rule);
}

function toNotifierConfig(value: z.infer<typeof notifierSchema>): NotifierConfig {
  const delivery: DeliverySettings = {
    ...(value.timeout === undefined ? {} : { timeout_ms: value.timeout }),
    ...(value.queue_size === undefined ? {} : { queue_size: value.queue_size }),
    ...(value.max_attempts === undefined ? {} : { max_attempts: value.max_attempts }),
    ...(value.initial_backoff === undefined ? {} : { initial_backoff_ms: value.initial_backoff }),
    ...(value.max_backoff === undefined ? {} : { max_backoff_ms: value.max_backoff }),
    ...(value.repeat_interval === undefined ? {} : { repeat_interval_ms: value.repeat_interval }),
    ...(value.send_resolved === undefined ? {} : { send_resolved: value.send_resolved }),
  };
  const { timeout, queue_size, max_attempts, initial_backoff, max_backoff, repeat_interval, send_resolved, ...rest } =
    value;
  return { ...rest, ...delivery } as NotifierConfig;
}

/** Reads and parses a rules file; a file that cannot be read is one diagnostic at 1:1. */
export function loadRules(file: string, environment: NodeJS.ProcessEnv = process.env): ParseRulesResult {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    return {
      ok: false,
      errors: [{ file, line: 1, column: 1, level: "error", message: `cannot read (${(error as Error).message})` }],
      warnings: [],
    };
  }
  return parseRules(text, file, environment);
}

/** `file:line:column: level: message`, the format compilers use so that editors jump to it. */
export function formatDiagnostic(diagnostic: RuleDiagnostic): string {
  return `${diagnostic.file}:${diagnostic.line}:${diagnostic.column}: ${diagnostic.level}: ${diagnostic.message}`;
}

/** Path of the shipped default rules, `config/alerts.yaml` in the package. */
export function defaultRulesPath(): string {
  return fileURLToPath(new URL("../../../config/alerts.yaml", import.meta.url));
}
