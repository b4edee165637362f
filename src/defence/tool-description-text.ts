import type { ToolDefinition } from "../core/exchange.js";

/**
 * The text a tool definition puts in front of the model: its description and every `description` and `title`
 * inside its input schema, where instructions hide as well. One walk for inline defence, the scan and the
 * poisoning corpus, so that all three read a definition alike.
 */
export function descriptionText(definition: ToolDefinition): string {
  const parts: string[] = [];
  if (definition.description !== undefined) parts.push(definition.description);
  collectSchemaDescriptions(definition.input_schema, parts);
  return parts.join("\n");
}

/** Appends every `description` and `title` string found in a JSON Schema (bounded depth). */
export function collectSchemaDescriptions(value: unknown, parts: string[], depth = 0): void {
  if (depth > 16 || value === null || typeof value !== "object") return;
  if (Array.isArray(value)) {
    for (const item of value) collectSchemaDescriptions(item, parts, depth + 1);
    return;
  }
  for (const [key, item] of Object.entries(value)) {
    if ((key === "description" || key === "title") && typeof item === "string") parts.push(item);
    else collectSchemaDescriptions(item, parts, depth + 1);
  }
}
