/**
 * Which dangerous capabilities a tool appears to have, from three kinds of evidence: its name's
 * words, its input schema's property names, and its description. The word lists are generic (verbs
 * and nouns any server would use), never one server's tool names; docs/scan.md lists them.
 *
 * A capability is reported on evidence from the name or the schema. The description alone counts
 * only for explicit phrases ("executes a shell command"), since descriptions often mention what a
 * tool does not do.
 */
import { nameWords } from "../defence/name-words.js";

/** The capabilities the scan looks for; each is a rule id. */
export type Capability =
  | "shell-execution"
  | "code-execution"
  | "file-write"
  | "file-delete"
  | "network-egress"
  | "message-sending";

/** A capability with the evidence that suggested it. */
export interface CapabilityMatch {
  capability: Capability;
  evidence: string[];
}

/** The part of a tool definition the heuristics read. */
export interface ToolShape {
  name: string;
  description?: string | undefined;
  /** Top-level property names of the input schema. */
  properties: string[];
  /** Top-level properties that take a URL: `format: uri` or a description saying so. */
  urlProperties?: string[];
}

/** Whether a property's schema says it takes a URL (its format, or its own description). */
export function takesUrl(schema: { format?: unknown; description?: unknown }): boolean {
  if (schema.format === "uri" || schema.format === "url" || schema.format === "iri") return true;
  return typeof schema.description === "string" && /\b(?:URLs?|https?:\/\/|web address)\b/.test(schema.description);
}

export { nameWords };

interface CapabilityWords {
  /** A name word that alone suggests the capability. */
  names: ReadonlySet<string>;
  /** Name words that suggest it together with a word from `objects` (write + file, send + email). */
  verbs?: ReadonlySet<string>;
  objects?: ReadonlySet<string>;
  /** Property names that alone suggest it. */
  properties: ReadonlySet<string>;
  /** Property pairs that suggest it together (a path with content). */
  propertyPairs?: ReadonlyArray<[ReadonlySet<string>, ReadonlySet<string>]>;
  /** Explicit phrases that suggest it from the description alone. */
  phrases: RegExp;
}

const set = (...words: string[]): ReadonlySet<string> => new Set(words);

const PATH_PROPERTIES = set("path", "file", "filename", "file_path", "filepath", "destination", "target", "dest");
const CONTENT_PROPERTIES = set("content", "contents", "data", "text", "body", "edits", "patch", "diff", "bytes");

/** Exported for docs and tests: the words behind each capability. */
export const CAPABILITY_WORDS: Readonly<Record<Capability, CapabilityWords>> = {
  "shell-execution": {
    names: set("exec", "shell", "bash", "sh", "zsh", "powershell", "pwsh", "cmd", "terminal", "subprocess", "spawn"),
    verbs: set("run", "execute", "invoke", "launch"),
    objects: set("command", "commands", "cmd", "script", "process", "program", "binary"),
    properties: set("command", "cmd", "commandline", "command_line", "shell", "argv", "script"),
    phrases:
      /\b(?:execut\w*|run\w*)\s+(?:an?\s+|any\s+|the\s+)?(?:arbitrary\s+)?(?:shell|terminal|system|os|bash|cli)\s+commands?\b|\bshell\s+access\b/i,
  },
  "code-execution": {
    names: set("eval", "evaluate", "repl", "interpreter"),
    verbs: set("run", "execute", "eval", "evaluate", "interpret"),
    objects: set("code", "python", "javascript", "js", "ruby", "snippet", "notebook", "cell", "sql", "query"),
    properties: set("code", "source_code", "sourcecode", "expression", "snippet", "python", "javascript", "sql"),
    phrases:
      /\b(?:execut\w*|evaluat\w*|run\w*)\s+(?:arbitrary\s+|the\s+given\s+|provided\s+)?(?:python|javascript|js|code|scripts?)\b/i,
  },
  "file-write": {
    names: set("write", "overwrite", "save", "append", "edit", "mkdir", "touch", "chmod", "chown"),
    verbs: set("create", "move", "rename", "copy", "put", "update", "modify", "patch", "upload", "replace"),
    objects: set("file", "files", "directory", "directories", "dir", "folder", "document", "path"),
    properties: set(),
    propertyPairs: [[PATH_PROPERTIES, CONTENT_PROPERTIES]],
    phrases: /\b(?:write|writes|overwrite|overwrites)\s+(?:\w+\s+){0,3}(?:to\s+)?(?:a\s+|the\s+)?(?:file|disk)\b/i,
  },
  "file-delete": {
    names: set("delete", "remove", "rm", "rmdir", "unlink", "erase", "purge", "destroy", "drop", "wipe", "truncate"),
    properties: set(),
    phrases:
      /\b(?:delete|deletes|remove|removes|erase|erases)\s+(?:\w+\s+){0,2}(?:files?|director(?:y|ies)|folders?|records?|data)\b/i,
  },
  "network-egress": {
    names: set("fetch", "http", "https", "curl", "wget", "webhook", "download", "upload", "browse", "scrape", "crawl"),
    verbs: set("post", "send", "open", "visit", "navigate"),
    objects: set("url", "uri", "link", "webpage", "website", "endpoint"),
    properties: set("url", "uri", "endpoint", "webhook", "webhook_url", "callback_url", "href", "link"),
    phrases:
      /\b(?:sends?|makes?|performs?|issues?)\s+(?:an?\s+)?(?:arbitrary\s+)?https?\s+requests?\b|\bfetch\w*\s+(?:the\s+|a\s+|any\s+)?(?:url|web\s?page)\b/i,
  },
  "message-sending": {
    names: set("email", "mail", "sms", "tweet", "notify", "slack", "whatsapp", "telegram"),
    verbs: set("send", "post", "reply", "forward", "publish", "share"),
    objects: set(
      "message",
      "messages",
      "email",
      "mail",
      "sms",
      "text",
      "chat",
      "dm",
      "notification",
      "tweet",
      "invite",
    ),
    properties: set("recipient", "recipients", "to_email", "cc", "bcc", "phone_number"),
    propertyPairs: [
      [set("to", "recipient", "recipients", "channel", "chat_id"), set("subject", "body", "message", "text")],
    ],
    phrases: /\bsends?\s+(?:an?\s+)?(?:e-?mails?|sms|text\s+messages?|messages?\s+to)\b/i,
  },
};

/**
 * Property names holding a command, script or code: free-form unless constrained. `query` is left
 * out on purpose: it is a search string far more often than SQL.
 */
export const COMMAND_PROPERTIES: ReadonlySet<string> = set(
  "command",
  "commands",
  "cmd",
  "commandline",
  "command_line",
  "script",
  "shell",
  "code",
  "source_code",
  "sql",
  "expression",
  "exec",
  "eval",
);

/** The capabilities a tool appears to have, each with its evidence. */
export function detectCapabilities(tool: ToolShape): CapabilityMatch[] {
  const words = nameWords(tool.name);
  const properties = tool.properties.map((property) => property.toLowerCase());
  const matches: CapabilityMatch[] = [];
  for (const capability of Object.keys(CAPABILITY_WORDS) as Capability[]) {
    const rules = CAPABILITY_WORDS[capability];
    const evidence: string[] = [];
    const nameHits = words.filter((word) => rules.names.has(word));
    if (nameHits.length > 0) evidence.push(`name word ${nameHits.map((word) => `"${word}"`).join(", ")}`);
    if (rules.verbs !== undefined && rules.objects !== undefined) {
      const verb = words.find((word) => rules.verbs!.has(word));
      const object = words.find((word) => rules.objects!.has(word));
      if (verb !== undefined && object !== undefined) evidence.push(`name words "${verb}" + "${object}"`);
    }
    if (capability === "network-egress" && tool.urlProperties !== undefined && tool.urlProperties.length > 0) {
      const named = tool.urlProperties.filter((property) => !rules.properties.has(property.toLowerCase()));
      if (named.length > 0)
        evidence.push(`argument ${named.map((property) => `"${property}"`).join(", ")} takes a URL`);
    }
    const propertyHits = properties.filter((property) => rules.properties.has(property));
    if (propertyHits.length > 0)
      evidence.push(`argument ${propertyHits.map((property) => `"${property}"`).join(", ")}`);
    for (const [first, second] of rules.propertyPairs ?? []) {
      const a = properties.find((property) => first.has(property));
      const b = properties.find((property) => second.has(property) && property !== a);
      if (a !== undefined && b !== undefined) evidence.push(`arguments "${a}" + "${b}"`);
    }
    const phrase = tool.description === undefined ? null : rules.phrases.exec(tool.description);
    if (evidence.length === 0 && phrase === null) continue;
    if (phrase !== null) evidence.push(`description "${phrase[0].slice(0, 60)}"`);
    matches.push({ capability, evidence });
  }
  return matches;
}
