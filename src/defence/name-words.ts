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
