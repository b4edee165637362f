import { z } from "zod";

// The DLP section of the configuration lives with the configuration (it is validated with the rest of the
// file, with file:line:column errors); the engine in src/defence/dlp reads the parsed value.

export const dlpActionSchema = z.enum(["block", "redact", "alert"]);

/** One allow-list entry: rules that do not fire, or literal values never flagged, for tools and servers matching the globs. */
export const dlpAllowEntrySchema = z
  .object({
    server: z.string().min(1).default("*"),
    tool: z.string().min(1).default("*"),
    rules: z.array(z.string().min(1)).optional(),
    values: z.array(z.string().min(1)).optional(),
  })
  .strict()
  .refine((entry) => entry.rules !== undefined || entry.values !== undefined, {
    message: "an allow entry needs `rules` or `values`",
  });

/** The `dlp:` section of toolwatch.yaml. */
export const dlpSettingsSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** Keep matched secrets in stored records; off: every match is masked before the store. */
    store_raw: z.boolean().default(false),
    actions: z
      .object({
        secret: dlpActionSchema.default("block"),
        pii: dlpActionSchema.default("alert"),
        /** Per rule id; an explicit `block` here applies to tool results as well. */
        rules: z.record(z.string(), dlpActionSchema).default({}),
      })
      .strict()
      .default({ secret: "block", pii: "alert", rules: {} }),
    /** Custom rules (YAML), relative to the configuration file. */
    rules_file: z.string().min(1).optional(),
    /** Built-in or custom rule ids turned off everywhere. */
    disabled_rules: z.array(z.string().min(1)).default([]),
    allow: z.array(dlpAllowEntrySchema).default([]),
  })
  .strict();

/** The `dlp:` settings after defaults. */
export type DlpSettings = z.infer<typeof dlpSettingsSchema>;
