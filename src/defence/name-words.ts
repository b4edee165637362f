/**
 * Splits a tool or argument name into lower-case words, whatever the naming style: `write_file`, `writeFile`,
 * `fs.runCommand`, `RUNCommand` and `send-message.v2` all come apart at the same places. One splitter for the
 * scan, the detectors and inline defence, so that they read a name alike.
 */
export function nameWords(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
    .split(/[^A-Za-z0-9]+|(?<=[A-Za-z])(?=[0-9])|(?<=[0-9])(?=[A-Za-z])/)
    .filter((word) => word.length > 0)
    .map((word) => word.toLowerCase());
}

/**
 * Verbs that only read. A name that opens with one reads, whatever its nouns: `read_email`, `get_sent_messages`
 * and `search_contacts(email=...)` look things up; they send nothing.
 */
export const READ_VERBS: ReadonlySet<string> = new Set([
  "get",
  "list",
  "search",
  "find",
  "read",
  "query",
  "lookup",
  "show",
  "describe",
  "fetch",
  "view",
  "check",
  "count",
]);

/** Whether the words of a name open with one of {@link READ_VERBS}. */
export function opensWithReadVerb(words: readonly string[]): boolean {
  const first = words[0];
  return first !== undefined && READ_VERBS.has(first);
}
