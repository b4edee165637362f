import picomatch from "picomatch";

/**
 * A `<server>/<tool glob>` pattern, compiled once. A pattern without `/` names a tool on any server.
 * Server and tool are matched separately, so `*` never spans the `/` between them, and a tool name
 * that itself holds `/` is matched against everything after the first `/` of the pattern.
 */
export interface ToolPattern {
  /** The pattern as written, for rule names and messages. */
  source: string;
  matches(server: string, tool: string): boolean;
}

const MATCH_ANYTHING = { test: () => true } as const;

/** Compiles a glob (picomatch syntax, dot files included) into a regular expression; `*` alone matches every name. */
export function compileGlob(glob: string): { test(text: string): boolean } {
  if (glob === "*" || glob === "**") return MATCH_ANYTHING;
  return picomatch.makeRe(glob, { dot: true });
}

/** Compiles a `<server>/<tool glob>` (or bare tool glob) pattern. */
export function compileToolPattern(source: string): ToolPattern {
  const slash = source.indexOf("/");
  const serverGlob = slash === -1 ? "*" : source.slice(0, slash);
  const toolGlob = slash === -1 ? source : source.slice(slash + 1);
  const server = compileGlob(serverGlob);
  const tool = compileGlob(toolGlob);
  if (server === MATCH_ANYTHING) return { source, matches: (_server, name) => tool.test(name) };
  return { source, matches: (serverName, name) => server.test(serverName) && tool.test(name) };
}

/** Whether `text` is a glob picomatch can compile (it rarely refuses; an empty pattern is the usual mistake). */
export function checkToolPattern(source: string): string | null {
  if (source.trim() === "") return "expected a tool pattern such as `mail/send_email`, `crm/*` or `*/delete_*`";
  const slash = source.indexOf("/");
  if (slash === 0 || slash === source.length - 1) {
    return `expected \`<server>/<tool glob>\` or a bare tool glob, got ${JSON.stringify(source)}`;
  }
  try {
    compileToolPattern(source);
    return null;
  } catch (error) {
    return `invalid glob ${JSON.stringify(source)}: ${(error as Error).message}`;
  }
}
