import { findHiddenCharacters } from "../defence/poisoning/hidden-characters.js";
import { PoisoningClassifier } from "../defence/poisoning/poisoning-classifier.js";
import type { PoisoningSignal } from "../defence/poisoning/signals.js";
import { type Capability, COMMAND_PROPERTIES, detectCapabilities, takesUrl } from "./capability-heuristics.js";
import { compareFindings, type ScanFinding, type ScanSeverity, type ScanTargetKind } from "./scan-finding.js";

/** A tool as `tools/list` gives it (the fields the scan reads). */
export interface ToolDefinition {
  name: string;
  title?: string | undefined;
  description?: string | undefined;
  inputSchema?: unknown;
  annotations?:
    | { title?: string | undefined; readOnlyHint?: boolean | undefined; destructiveHint?: boolean | undefined }
    | undefined;
}

/** A resource as `resources/list` gives it. */
export interface ResourceDefinition {
  uri: string;
  name?: string | undefined;
  title?: string | undefined;
  description?: string | undefined;
}

/** A resource template as `resources/templates/list` gives it. */
export interface ResourceTemplateDefinition {
  uriTemplate: string;
  name?: string | undefined;
  title?: string | undefined;
  description?: string | undefined;
}

/** A prompt as `prompts/list` gives it. */
export interface PromptDefinition {
  name: string;
  title?: string | undefined;
  description?: string | undefined;
  arguments?: Array<{ name: string; description?: string | undefined }> | undefined;
}

/** Everything a server listed, as the scan reads it. */
export interface ServerDefinitions {
  /** The server's name from `initialize`, for server-level findings. */
  server?: { name: string; version?: string | undefined } | undefined;
  /** The `instructions` of `initialize`: text the client puts in front of the model, like a description. */
  instructions?: string | undefined;
  tools: ToolDefinition[];
  resources?: ResourceDefinition[] | undefined;
  resourceTemplates?: ResourceTemplateDefinition[] | undefined;
  prompts?: PromptDefinition[] | undefined;
}

/** Options of {@link scanDefinitions}. */
export interface ScanOptions {
  /** The poisoning classifier; the shipped model by default. */
  classifier?: PoisoningClassifier;
}

/** Schemas nest; deeper than this is not looked at (nor is it common). */
const MAX_SCHEMA_DEPTH = 6;

const CAPABILITY_SEVERITY: Record<Capability, ScanSeverity> = {
  "shell-execution": "high",
  "code-execution": "high",
  "file-write": "medium",
  "file-delete": "medium",
  "network-egress": "medium",
  "message-sending": "medium",
};

const CAPABILITY_WORDING: Record<Capability, string> = {
  "shell-execution": "appears to run shell commands",
  "code-execution": "appears to evaluate code",
  "file-write": "appears to write, move or create files",
  "file-delete": "appears to delete files or data",
  "network-egress": "appears to reach network addresses the caller chooses",
  "message-sending": "appears to send messages on the user's behalf",
};

/** Poisoning evidence that is deliberate by nature: instruction tags, concealment, exfiltration links. */
const DELIBERATE_SIGNALS = new Set(["instruction_tag", "concealment", "exfiltration_link"]);

/**
 * Checks a server's listed tools, resources and prompts: poisoned descriptions, hidden characters,
 * over-broad input schemas and dangerous capabilities. Pure: the same definitions give the same
 * findings, worst first.
 */
export function scanDefinitions(definitions: ServerDefinitions, options: ScanOptions = {}): ScanFinding[] {
  const classifier = options.classifier ?? new PoisoningClassifier();
  const findings: ScanFinding[] = [];
  const texts = new TextChecks(classifier, findings);

  const serverName = definitions.server?.name ?? "server";
  texts.name("server", serverName, "name", serverName);
  if (definitions.instructions !== undefined) {
    texts.description("server", serverName, "instructions", definitions.instructions);
  }

  for (const tool of definitions.tools) {
    texts.name("tool", tool.name, "name", tool.name);
    if (tool.title !== undefined) texts.description("tool", tool.name, "title", tool.title);
    if (tool.annotations?.title !== undefined)
      texts.description("tool", tool.name, "annotations.title", tool.annotations.title);
    if (tool.description !== undefined) texts.description("tool", tool.name, "description", tool.description);
    const schema = asRecord(tool.inputSchema);
    const properties = schema === null ? [] : propertiesOf(schema, "inputSchema", 0);
    for (const property of properties) {
      if (property.depth === 0) texts.name("tool", tool.name, `${property.path}`, property.name);
      for (const field of ["description", "title"] as const) {
        const text = property.schema[field];
        if (typeof text === "string") texts.description("tool", tool.name, `${property.path}.${field}`, text);
      }
    }
    if (schema !== null) checkSchema(tool, schema, properties, findings);
    checkCapabilities(tool, properties, findings);
  }

  for (const resource of definitions.resources ?? []) {
    const target = resource.name ?? resource.uri;
    if (resource.name !== undefined) texts.name("resource", target, "name", resource.name);
    texts.name("resource", target, "uri", resource.uri);
    if (resource.title !== undefined) texts.description("resource", target, "title", resource.title);
    if (resource.description !== undefined) texts.description("resource", target, "description", resource.description);
  }
  for (const template of definitions.resourceTemplates ?? []) {
    const target = template.name ?? template.uriTemplate;
    if (template.name !== undefined) texts.name("resource_template", target, "name", template.name);
    texts.name("resource_template", target, "uriTemplate", template.uriTemplate);
    if (template.title !== undefined) texts.description("resource_template", target, "title", template.title);
    if (template.description !== undefined)
      texts.description("resource_template", target, "description", template.description);
  }
  for (const prompt of definitions.prompts ?? []) {
    texts.name("prompt", prompt.name, "name", prompt.name);
    if (prompt.title !== undefined) texts.description("prompt", prompt.name, "title", prompt.title);
    if (prompt.description !== undefined) texts.description("prompt", prompt.name, "description", prompt.description);
    for (const argument of prompt.arguments ?? []) {
      texts.name("prompt", prompt.name, `arguments.${argument.name}`, argument.name);
      if (argument.description !== undefined)
        texts.description("prompt", prompt.name, `arguments.${argument.name}.description`, argument.description);
    }
  }
  return findings.sort(compareFindings);
}

/** The text checks shared by every kind of definition. */
class TextChecks {
  constructor(
    private readonly classifier: PoisoningClassifier,
    private readonly findings: ScanFinding[],
  ) {}

  /** A name or URI: only hidden characters (names are too short for the classifier). */
  name(targetKind: ScanTargetKind, target: string, field: string, text: string): void {
    this.hidden(targetKind, target, field, text);
  }

  /** A description, title or instructions: hidden characters and poisoning. */
  description(targetKind: ScanTargetKind, target: string, field: string, text: string): void {
    this.hidden(targetKind, target, field, text);
    if (text.trim().length === 0) return;
    const verdict = this.classifier.inspect(text, "description");
    // Hidden characters have their own finding; poisoning needs evidence beyond them.
    const evidence = verdict.signals.filter((signal) => signal.kind !== "hidden_characters");
    if (!verdict.poisoned || evidence.length === 0) return;
    const strongest = evidence[0]!;
    const deliberate = evidence.some((signal) => DELIBERATE_SIGNALS.has(signal.kind));
    const cue = evidence.some((signal) => signal.kind === "cue_phrase");
    // Descriptions legitimately address the model ("use this tool when you need…"), so the learned
    // score alone is worth a look but not a failed deployment; rule evidence is.
    const severity: ScanSeverity = deliberate ? "critical" : cue ? "high" : "medium";
    // Server instructions are addressed to the model by definition: only rule evidence counts there.
    if (field === "instructions" && severity === "medium") return;
    const claim = severity === "medium" ? "may carry instructions" : "carries instructions";
    this.findings.push({
      ruleId: "poisoned-description",
      severity,
      targetKind,
      target: printable(target),
      field,
      message: `the ${describeField(field)} ${claim} aimed at the model (score ${verdict.score}): ${verdict.explanation}`,
      span: { start: strongest.start, end: strongest.end },
      evidence: evidence.map(describeSignal),
    });
  }

  private hidden(targetKind: ScanTargetKind, target: string, field: string, text: string): void {
    const signals = findHiddenCharacters(text);
    if (signals.length === 0) return;
    const tags = signals.some((signal) => signal.detail.includes("tag characters"));
    this.findings.push({
      ruleId: "hidden-characters",
      severity: tags ? "critical" : "high",
      targetKind,
      target: printable(target),
      field,
      message: `the ${describeField(field)} contains ${signals.map((signal) => signal.detail).join(", ")}`,
      span: { start: signals[0]!.start, end: signals.at(-1)!.end },
      evidence: signals.map(describeSignal),
    });
  }
}

/** One property of an input schema, found by walking `properties` (and array `items`). */
interface SchemaProperty {
  name: string;
  /** `inputSchema.properties.path`, `inputSchema.properties.edits.items.properties.oldText`… */
  path: string;
  schema: Record<string, unknown>;
  depth: number;
}

function propertiesOf(schema: Record<string, unknown>, path: string, depth: number): SchemaProperty[] {
  if (depth >= MAX_SCHEMA_DEPTH) return [];
  const found: SchemaProperty[] = [];
  const properties = asRecord(schema.properties);
  for (const [name, value] of Object.entries(properties ?? {})) {
    const property = asRecord(value);
    if (property === null) continue;
    const propertyPath = `${path}.properties.${name}`;
    found.push({ name, path: propertyPath, schema: property, depth });
    found.push(...propertiesOf(property, propertyPath, depth + 1));
    const items = asRecord(property.items);
    if (items !== null) found.push(...propertiesOf(items, `${propertyPath}.items`, depth + 1));
  }
  return found;
}

function checkSchema(
  tool: ToolDefinition,
  schema: Record<string, unknown>,
  properties: SchemaProperty[],
  findings: ScanFinding[],
): void {
  const target = printable(tool.name);
  const topLevel = properties.filter((property) => property.depth === 0);
  const declared = asRecord(schema.properties);
  if ((declared === null || Object.keys(declared).length === 0) && opensAdditional(schema.additionalProperties)) {
    findings.push({
      ruleId: "permissive-schema",
      severity: "medium",
      targetKind: "tool",
      target,
      field: "inputSchema",
      message:
        "the input schema declares no properties but allows any (additionalProperties), so any argument is accepted",
    });
  }
  for (const property of properties) {
    if (isOpenObject(property.schema)) {
      findings.push({
        ruleId: "permissive-schema",
        severity: "medium",
        targetKind: "tool",
        target,
        field: property.path,
        message: `argument "${printable(property.name)}" accepts any value or any object (no type, or an object with no declared properties)`,
      });
    }
    if (
      COMMAND_PROPERTIES.has(property.name.toLowerCase()) &&
      isString(property.schema) &&
      !isConstrained(property.schema)
    ) {
      findings.push({
        ruleId: "free-form-command",
        severity: "high",
        targetKind: "tool",
        target,
        field: property.path,
        message: `argument "${printable(property.name)}" takes a free-form ${property.name.toLowerCase()} (a string with no enum or pattern)`,
      });
    }
  }
  const unbounded = properties.filter(
    (property) =>
      isString(property.schema) && !isConstrained(property.schema) && property.schema.maxLength === undefined,
  );
  if (unbounded.length > 0) {
    const names = unbounded.map((property) => printable(property.path.replace(/^inputSchema\.properties\./, "")));
    findings.push({
      ruleId: "unbounded-string",
      severity: "low",
      targetKind: "tool",
      target,
      field: "inputSchema",
      message: `${unbounded.length} string argument${unbounded.length === 1 ? " has" : "s have"} no maxLength, enum, pattern or format: ${names.join(", ")}`,
      evidence: names,
    });
  }
  const required = Array.isArray(schema.required) ? schema.required : [];
  if (topLevel.length > 0 && required.length === 0) {
    findings.push({
      ruleId: "no-required-fields",
      severity: "low",
      targetKind: "tool",
      target,
      field: "inputSchema.required",
      message: `none of the ${topLevel.length} argument${topLevel.length === 1 ? " is" : "s is"} required, so a call with no arguments validates`,
    });
  }
}

function checkCapabilities(tool: ToolDefinition, properties: SchemaProperty[], findings: ScanFinding[]): void {
  const topLevel = properties.filter((property) => property.depth === 0);
  const matches = detectCapabilities({
    name: tool.name,
    description: tool.description,
    properties: topLevel.map((property) => property.name),
    urlProperties: topLevel.filter((property) => takesUrl(property.schema)).map((property) => property.name),
  });
  const target = printable(tool.name);
  for (const match of matches) {
    findings.push({
      ruleId: match.capability,
      severity: CAPABILITY_SEVERITY[match.capability],
      targetKind: "tool",
      target,
      field: "name",
      message: `tool ${CAPABILITY_WORDING[match.capability]} (${match.evidence.join("; ")})`,
      evidence: match.evidence,
    });
  }
  const annotations = tool.annotations;
  if (annotations === undefined) return;
  const changing = matches.filter((match) => match.capability !== "network-egress");
  if (annotations.readOnlyHint === true && changing.length > 0) {
    findings.push({
      ruleId: "misleading-annotation",
      severity: "medium",
      targetKind: "tool",
      target,
      field: "annotations.readOnlyHint",
      message: `the tool is annotated read-only but ${changing.map((match) => CAPABILITY_WORDING[match.capability]).join(" and ")}`,
    });
  }
  const deleting = matches.some((match) => match.capability === "file-delete");
  if (annotations.destructiveHint === false && deleting) {
    findings.push({
      ruleId: "misleading-annotation",
      severity: "medium",
      targetKind: "tool",
      target,
      field: "annotations.destructiveHint",
      message: "the tool is annotated not destructive but appears to delete files or data",
    });
  }
}

function asRecord(value: unknown): Record<string, unknown> | null {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}

function typesOf(schema: Record<string, unknown>): string[] {
  const type = schema.type;
  if (typeof type === "string") return [type];
  if (Array.isArray(type)) return type.filter((entry): entry is string => typeof entry === "string");
  return [];
}

/** A string schema, directly or as one branch of anyOf/oneOf. */
function isString(schema: Record<string, unknown>): boolean {
  if (typesOf(schema).includes("string")) return true;
  for (const key of ["anyOf", "oneOf"] as const) {
    const branches = schema[key];
    if (
      Array.isArray(branches) &&
      branches.some((branch) => asRecord(branch) !== null && typesOf(asRecord(branch)!).includes("string"))
    )
      return true;
  }
  return false;
}

/** A value with a known shape: enum, const, pattern or format. */
function isConstrained(schema: Record<string, unknown>): boolean {
  return (
    schema.enum !== undefined ||
    schema.const !== undefined ||
    schema.pattern !== undefined ||
    schema.format !== undefined
  );
}

function opensAdditional(value: unknown): boolean {
  return value === true || (asRecord(value) !== null && Object.keys(asRecord(value)!).length === 0);
}

/** `{}` (anything) or `{type: "object"}` with neither properties nor a closed additionalProperties. */
function isOpenObject(schema: Record<string, unknown>): boolean {
  const keys = Object.keys(schema).filter((key) => key !== "description" && key !== "title" && key !== "default");
  if (keys.length === 0) return true;
  const types = typesOf(schema);
  if (types.length !== 1 || types[0] !== "object") return false;
  const declared = asRecord(schema.properties);
  if (declared !== null && Object.keys(declared).length > 0) return false;
  const additional = schema.additionalProperties;
  return additional === undefined || opensAdditional(additional);
}

function describeField(field: string): string {
  if (field === "instructions") return "server's instructions";
  return field.replace(/^inputSchema\.properties\./, "argument ").replace(/\.properties\./g, ".");
}

function describeSignal(signal: PoisoningSignal): string {
  return `${signal.kind}: ${signal.detail}`;
}

/** A name safe to print on one line: hidden and control characters shown as code points. */
export function printable(text: string): string {
  let out = "";
  for (const character of text.length > 200 ? `${text.slice(0, 200)}…` : text) {
    const point = character.codePointAt(0)!;
    const invisible =
      point < 0x20 ||
      point === 0x7f ||
      (point >= 0x200b && point <= 0x200f) ||
      (point >= 0x202a && point <= 0x202e) ||
      (point >= 0x2060 && point <= 0x2069) ||
      point === 0xfeff ||
      (point >= 0xe0000 && point <= 0xe007f);
    out += invisible ? `<U+${point.toString(16).toUpperCase().padStart(4, "0")}>` : character;
  }
  return out;
}
