import type { ScanSeverity } from "./scan-finding.js";

/** One check of `toolwatch scan`, as documented in docs/scan.md and listed in SARIF's `tool.driver.rules`. */
export interface ScanRule {
  id: string;
  /** PascalCase name, as SARIF tools name their rules. */
  name: string;
  /** The severity the rule reports at most often; some findings are raised or lowered by their evidence. */
  severity: ScanSeverity;
  summary: string;
  /** What the finding means and what to do about it. */
  help: string;
}

/** Every rule, in the order of docs/scan.md. */
export const SCAN_RULES: readonly ScanRule[] = [
  {
    id: "poisoned-description",
    name: "PoisonedDescription",
    severity: "critical",
    summary: "A description carries instructions aimed at the model",
    help:
      "A tool, resource or prompt description (or the server's instructions) contains text that reads as instructions to the model " +
      "rather than a description for it: instruction tags such as <IMPORTANT>, requests to hide something from the user, links that " +
      "carry data out, or wording the poisoning classifier scores as an injected instruction. The model reads every description " +
      "on every turn, so such text can steer it into misusing other tools. Do not deploy the server until the text is explained; pin " +
      "the reviewed definitions (tool pinning) so that a later change is noticed.",
  },
  {
    id: "hidden-characters",
    name: "HiddenCharacters",
    severity: "high",
    summary: "Text a person cannot see but a model reads",
    help:
      "A name, title or description contains Unicode tag characters, zero-width characters, bidirectional controls or ANSI escape " +
      "sequences. They hide content from the person reviewing the definitions while the model still reads it (tag characters can " +
      "spell out a whole instruction). Legitimate definitions have no reason to contain them.",
  },
  {
    id: "shell-execution",
    name: "ShellExecution",
    severity: "high",
    summary: "The tool appears to run shell commands",
    help:
      "The tool's name, input schema or description suggests it runs operating-system commands (exec, shell, run_command, a " +
      "`command` or `script` argument). A model steered by injected text can run anything the server's user can. Run such a " +
      "server in a sandbox, restrict the commands with a policy, and require approval for calls.",
  },
  {
    id: "code-execution",
    name: "CodeExecution",
    severity: "high",
    summary: "The tool appears to evaluate code",
    help:
      "The tool's name, input schema or description suggests it evaluates code (eval, a REPL, run_python, a `code` argument). " +
      "Treat it like shell access: sandbox it and gate its calls.",
  },
  {
    id: "file-write",
    name: "FileWrite",
    severity: "medium",
    summary: "The tool appears to write, move or create files",
    help:
      "The tool's name, input schema (a path together with content) or description suggests it changes files. Limit the " +
      "directories it can reach and watch its calls; a model can be steered into overwriting configuration or planting code.",
  },
  {
    id: "file-delete",
    name: "FileDelete",
    severity: "medium",
    summary: "The tool appears to delete files or data",
    help:
      "The tool's name or description suggests it deletes files, records or other data. Such calls cannot be undone: require " +
      "approval or restrict them with a policy.",
  },
  {
    id: "network-egress",
    name: "NetworkEgress",
    severity: "medium",
    summary: "The tool appears to reach arbitrary network addresses",
    help:
      "The tool's name, input schema (a `url` argument) or description suggests it sends requests to addresses the caller " +
      "chooses. That is the usual way data leaves after a prompt injection; restrict the destinations with a policy.",
  },
  {
    id: "message-sending",
    name: "MessageSending",
    severity: "medium",
    summary: "The tool appears to send messages on the user's behalf",
    help:
      "The tool's name or input schema (recipient, subject, body) suggests it sends e-mail, chat or other messages. A model " +
      "steered by injected text can send data to an attacker or impersonate the user; require approval for new recipients.",
  },
  {
    id: "free-form-command",
    name: "FreeFormCommand",
    severity: "high",
    summary: "An argument takes a free-form command, script or code",
    help:
      "An input property named like a command, script, code, SQL or expression accepts any string (no enum, no pattern). " +
      "Whatever reaches it is executed. Constrain it to an enum or a pattern, or split the tool into specific operations.",
  },
  {
    id: "permissive-schema",
    name: "PermissiveSchema",
    severity: "medium",
    summary: "The input schema accepts arbitrary arguments",
    help:
      "The tool's input schema declares no properties yet allows additional ones, or declares a property as an unconstrained " +
      "object, so any argument passes validation and nothing documents what the tool does with it. Declare the properties and " +
      "set additionalProperties to false.",
  },
  {
    id: "unbounded-string",
    name: "UnboundedString",
    severity: "low",
    summary: "String arguments without any bound",
    help:
      "String properties have no maxLength, enum, pattern or format. Bounded inputs make injected payloads and accidental " +
      "floods harder to pass through; add limits where the values have a known shape.",
  },
  {
    id: "no-required-fields",
    name: "NoRequiredFields",
    severity: "low",
    summary: "The input schema requires nothing",
    help:
      "The tool declares properties but requires none, so a call with no arguments at all is valid. Mark the arguments the " +
      "tool cannot work without as required.",
  },
  {
    id: "misleading-annotation",
    name: "MisleadingAnnotation",
    severity: "medium",
    summary: "The tool's annotations contradict what it appears to do",
    help:
      "The tool says it is read-only (readOnlyHint) or not destructive (destructiveHint: false), but its name or schema suggests " +
      "it writes, deletes or executes. Clients that auto-approve read-only tools would run it unasked. Fix the annotations or the tool.",
  },
];

const BY_ID = new Map(SCAN_RULES.map((rule) => [rule.id, rule]));

/** The rule with `id`; throws on an unknown id (a programming error, not input). */
export function scanRule(id: string): ScanRule {
  const rule = BY_ID.get(id);
  if (rule === undefined) throw new Error(`unknown scan rule ${id}`);
  return rule;
}
