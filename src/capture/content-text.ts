import type { ToolDefinition } from "../core/exchange.js";

/**
 * Turns MCP content into the text a model would read, so detectors and DLP see one string.
 * Non-text items become a short marker that keeps their kind and size but not their bytes.
 */
export function contentText(content: unknown, maxBytes: number): { text: string; truncated: boolean } {
  const parts: string[] = [];
  collect(content, parts);
  return clip(parts.join("\n"), maxBytes);
}

export function clip(text: string, maxBytes: number): { text: string; truncated: boolean } {
  // Length in UTF-16 units bounds bytes from below by 1x and above by 3x: only measure when it could matter.
  if (text.length * 3 <= maxBytes || Buffer.byteLength(text) <= maxBytes) return { text, truncated: false };
  let end = Math.min(text.length, maxBytes);
  while (end > 0 && Buffer.byteLength(text.slice(0, end)) > maxBytes) end = Math.floor(end * 0.9);
  return { text: text.slice(0, end), truncated: true };
}

function collect(item: unknown, parts: string[]): void {
  if (Array.isArray(item)) {
    for (const element of item) collect(element, parts);
    return;
  }
  if (typeof item !== "object" || item === null) return;
  const block = item as Record<string, unknown>;
  switch (block.type) {
    case "text":
      if (typeof block.text === "string") parts.push(block.text);
      return;
    case "image":
    case "audio":
      parts.push(
        `[${block.type} ${String(block.mimeType ?? "")} ${typeof block.data === "string" ? block.data.length : 0} base64 chars]`,
      );
      return;
    case "resource_link":
      parts.push(`[resource_link ${String(block.uri ?? "")}]`);
      return;
    case "resource":
      collectResource(block.resource, parts);
      return;
    default:
      // Resource contents ({uri, text} / {uri, blob}) and prompt messages ({role, content}).
      if ("uri" in block) collectResource(block, parts);
      else if ("content" in block) collect(block.content, parts);
  }
}

function collectResource(resource: unknown, parts: string[]): void {
  if (typeof resource !== "object" || resource === null) return;
  const contents = resource as Record<string, unknown>;
  if (typeof contents.text === "string") parts.push(contents.text);
  else if (typeof contents.blob === "string")
    parts.push(`[blob ${String(contents.uri ?? "")} ${contents.blob.length} base64 chars]`);
}

export function toolDefinitions(tools: unknown): ToolDefinition[] {
  if (!Array.isArray(tools)) return [];
  const definitions: ToolDefinition[] = [];
  for (const tool of tools) {
    if (typeof tool !== "object" || tool === null) continue;
    const record = tool as Record<string, unknown>;
    if (typeof record.name !== "string") continue;
    const definition: ToolDefinition = { name: record.name };
    if (typeof record.description === "string") definition.description = record.description;
    if (record.inputSchema !== undefined) definition.input_schema = record.inputSchema;
    if (record.outputSchema !== undefined) definition.output_schema = record.outputSchema;
    if (record.annotations !== undefined) definition.annotations = record.annotations;
    definitions.push(definition);
  }
  return definitions;
}
