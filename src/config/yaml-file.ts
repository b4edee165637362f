import { LineCounter, parseDocument } from "yaml";
import type { z } from "zod";

/** Where in a YAML file something is, 1-based. */
export interface YamlLocation {
  file: string;
  line: number;
  column: number;
}

/** A YAML file parsed against a schema: the value, or the first problem with its place in the file. */
export type YamlParseResult<T> = { ok: true; value: T } | { ok: false; error: YamlLocation & { message: string } };

/**
 * Parses YAML `text` and validates it with `schema`. Syntax and schema errors alike come back with
 * the file, line and column of the offending node and zod's message, prefixed with the key path,
 * so every YAML file toolwatch reads (config, policies, DLP rules) reports problems the same way.
 */
export function parseYamlFile<Schema extends z.ZodType>(
  schema: Schema,
  text: string,
  file: string,
): YamlParseResult<z.infer<Schema>> {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false });
  const firstError = document.errors[0];
  if (firstError) {
    const position = lineCounter.linePos(firstError.pos[0]);
    return {
      ok: false,
      error: { file, line: position.line, column: position.col, message: firstError.message.split("\n")[0]! },
    };
  }
  const parsed = schema.safeParse(document.toJS() ?? {});
  if (parsed.success) return { ok: true, value: parsed.data };
  const issue = parsed.error.issues[0]!;
  const path = issue.path as (string | number)[];
  const node = document.getIn(path, true) as { range?: [number, number] } | undefined;
  const offset = node?.range?.[0] ?? locateParent(document, path);
  const position = offset === undefined ? { line: 1, col: 1 } : lineCounter.linePos(offset);
  const where = path.length > 0 ? `${path.join(".")}: ` : "";
  return { ok: false, error: { file, line: position.line, column: position.col, message: `${where}${issue.message}` } };
}

/** `file:line:column: message`, the form editors and CI logs link. */
export function formatYamlError(error: YamlLocation & { message: string }): string {
  return `${error.file}:${error.line}:${error.column}: ${error.message}`;
}

function locateParent(document: ReturnType<typeof parseDocument>, path: (string | number)[]): number | undefined {
  for (let length = path.length - 1; length >= 0; length--) {
    const node = document.getIn(path.slice(0, length), true) as { range?: [number, number] } | undefined;
    if (node?.range) return node.range[0];
  }
  return undefined;
}
