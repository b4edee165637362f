import { readFileSync } from "node:fs";
import { z } from "zod";
import { type DlpSettings, dlpActionSchema, dlpSettingsSchema } from "../../config/dlp-settings.js";
import { formatYamlError, parseYamlFile } from "../../config/yaml-file.js";
import type { DlpRule } from "./dlp-types.js";

export { type DlpSettings, dlpAllowEntrySchema, dlpSettingsSchema } from "../../config/dlp-settings.js";

/** The settings with every default: what `dlp:` means when it is absent. */
export function defaultDlpSettings(): DlpSettings {
  return dlpSettingsSchema.parse({});
}

const ALLOWED_FLAGS = /^[imsu]*$/;

const customRuleSchema = z
  .object({
    id: z.string().regex(/^[a-z][a-z0-9_]*$/, "rule ids are snake_case: lower-case letters, digits and _"),
    type: z.string().regex(/^[a-z][a-z0-9_]*$/, "types are snake_case: lower-case letters, digits and _"),
    category: z.enum(["secret", "pii"]),
    pattern: z.string().min(1),
    flags: z.string().regex(ALLOWED_FLAGS, "flags may only be i, m, s and u").optional(),
    action: dlpActionSchema,
    keywords: z.array(z.string().min(2)).optional(),
    /** How far a match may reach on either side of a keyword (characters). */
    max_length: z.number().int().min(1).max(65_536).default(1024),
    description: z.string().default(""),
  })
  .strict()
  .superRefine((rule, context) => {
    const compiled = compilePattern(rule.pattern, rule.flags ?? "");
    if (!compiled.ok) context.addIssue({ code: "custom", path: ["pattern"], message: compiled.error });
    else if (compiled.pattern.test("")) {
      context.addIssue({ code: "custom", path: ["pattern"], message: "the pattern matches the empty string" });
    }
  });

const customRulesFileSchema = z.array(customRuleSchema);

function compilePattern(source: string, flags: string): { ok: true; pattern: RegExp } | { ok: false; error: string } {
  try {
    return { ok: true, pattern: new RegExp(source, `g${flags}`) };
  } catch (error) {
    return { ok: false, error: `invalid regular expression: ${(error as Error).message}` };
  }
}

/** Keywords as written and in lower, Capitalised and UPPER spelling: the anchors of a custom rule. */
function keywordSpellings(keywords: readonly string[]): string[] {
  const forms = new Set<string>();
  for (const keyword of keywords) {
    forms.add(keyword);
    forms.add(keyword.toLowerCase());
    forms.add(keyword.toUpperCase());
    forms.add(keyword.charAt(0).toUpperCase() + keyword.slice(1).toLowerCase());
  }
  return [...forms];
}

/** Parses custom rules from YAML text; errors come back as `file:line:column: reason`. */
export function parseDlpRules(
  text: string,
  file: string,
): { ok: true; rules: DlpRule[] } | { ok: false; error: string } {
  const parsed = parseYamlFile(customRulesFileSchema, text, file);
  if (!parsed.ok) return { ok: false, error: formatYamlError(parsed.error) };
  const seen = new Set<string>();
  const rules: DlpRule[] = [];
  for (const [index, entry] of parsed.value.entries()) {
    if (seen.has(entry.id)) {
      return { ok: false, error: `${file}: rules.${index}.id: duplicate rule id "${entry.id}"` };
    }
    seen.add(entry.id);
    const compiled = compilePattern(entry.pattern, entry.flags ?? "");
    if (!compiled.ok) return { ok: false, error: `${file}: rules.${index}.pattern: ${compiled.error}` };
    const anchors = entry.keywords && entry.keywords.length > 0 ? keywordSpellings(entry.keywords) : null;
    rules.push({
      id: entry.id,
      type: entry.type,
      category: entry.category,
      action: entry.action,
      description: entry.description,
      pattern: compiled.pattern,
      anchors,
      window: { before: entry.max_length, after: entry.max_length },
      group: 0,
      explicitAction: true,
    });
  }
  return { ok: true, rules };
}

/** Reads a custom rules file: `[{id, type, category, pattern, flags?, action, keywords?, max_length?, description?}]`. */
export function loadDlpRulesFile(file: string): { ok: true; rules: DlpRule[] } | { ok: false; error: string } {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    return { ok: false, error: `${file}: cannot read: ${(error as Error).message}` };
  }
  return parseDlpRules(text, file);
}
