import type { Detector, ExchangePosition, FindingSink } from "../../core/detector.js";
import type { CapturedExchange } from "../../core/exchange.js";
import { type Finding, type FindingOrigin, findingOrigin, type Severity } from "../../core/finding.js";
import { DlpEngine, defaultDlpSettings } from "../../defence/dlp/index.js";
import { type ArgumentString, argumentStrings, judgedName, nameTokens } from "./call-traits.js";

/** What a secret scanner must offer: the shape of `DlpEngine.scanText`. */
export interface SecretScanner {
  scanText(text: string): Array<{ type: string; category: string }>;
}

/** Options of {@link CredentialHarvestingDetector}. */
export interface CredentialHarvestingDetectorOptions {
  /** Event-time window in which distinct credential sources are counted. Default 15 minutes. */
  window_ms?: number;
  /** Distinct sources in the window for a medium finding. Default 2. */
  medium_sources?: number;
  /** Distinct sources in the window for a high finding. Default 4. */
  high_sources?: number;
  /** Distinct sources for a high finding when at least two of them actually returned secrets. Default 3. */
  high_sources_with_secrets?: number;
  /** Scans results of credential reads for secrets; the built-in DLP rules by default, `null` for none. */
  scanner?: SecretScanner | null;
  /** Longest part of a result scanned for secrets. Default 16 KB. */
  max_result_chars?: number;
}

const DETECTOR_NAME = "credential_harvesting";
/** Sources kept per session: beyond this many the finding is high anyway. */
const MAX_SOURCES = 16;

/** Credential-looking paths, each with the kind of source it names. Matched against lower-cased argument values. */
const PATH_KINDS: ReadonlyArray<[RegExp, string]> = [
  [/(?:^|[\\/\s"'=])\.env(?:\.[\w-]+)?(?=$|[\s"'])/, "dotenv file"],
  [/\.aws[\\/](?:credentials|config)\b/, "cloud credentials file"],
  [/\.(?:azure|config[\\/]gcloud)[\\/]|application_default_credentials\.json/, "cloud credentials file"],
  [/\.ssh[\\/](?:id_[\w-]+|authorized_keys|known_hosts)|\bid_(?:rsa|dsa|ecdsa|ed25519)\b/, "ssh key"],
  [/\.(?:pem|key|p12|pfx|jks|keystore|kdbx|ppk|asc|gpg)(?=$|[\s"'])/, "key file"],
  [/\.gnupg[\\/]/, "key file"],
  [/\bkubeconfig\b|\.kube[\\/]config/, "cluster credentials"],
  [
    /(?:^|[\\/\s"'])\.(?:npmrc|pypirc|netrc|git-credentials|pgpass|my\.cnf|htpasswd|vault-token)(?=$|[\s"'])/,
    "client credentials file",
  ],
  [/\.docker[\\/]config\.json/, "client credentials file"],
  [/(?:^|[\\/\s"'_-])secrets?(?:[._-][\w-]+)?\.(?:ya?ml|json|toml|env|ini|txt|properties)(?=$|[\s"'])/, "secrets file"],
  [/(?:^|[\\/\s"'_-])credentials?\.(?:ya?ml|json|toml|xml|ini|txt|csv)(?=$|[\s"'])/, "secrets file"],
  [/\/etc\/(?:shadow|gshadow|sudoers)\b|\/proc\/(?:self|\d+)\/environ\b/, "system secrets"],
  [/terraform\.tfstate\b|\.tfvars\b/, "infrastructure state"],
  [/keychain|keyring|login\.keychain|\bwallet\.dat\b/, "key store"],
];

/**
 * Matches where any of {@link PATH_KINDS} matches (an alternation matches wherever one of its parts does): one scan
 * rules out the paths of most values before each pattern is tried.
 */
const ANY_PATH_KIND = new RegExp(PATH_KINDS.map(([pattern]) => `(?:${pattern.source})`).join("|"));

/** Shell commands that dump credentials or the environment. Matched against lower-cased command arguments. */
const COMMAND_KINDS: ReadonlyArray<[RegExp, string]> = [
  [/(?:^|[;&|]\s*|\b(?:sudo|exec)\s+)(?:printenv|env|export\s+-p|set)\s*(?:$|[;&|>])/, "environment variables"],
  [/\bprintenv\s+\w*(?:key|token|secret|pass|cred)\w*/, "environment variables"],
  [/\$\{?\w*(?:key|token|secret|passw|credential)\w*\}?/, "environment variables"],
  [/\bsecurity\s+(?:find|dump)-(?:generic|internet)-password|\bsecurity\s+dump-keychain/, "key store"],
  [/\bvault\s+(?:kv\s+)?(?:read|get)\b|\bsecret-tool\s+lookup\b|\bpass\s+show\b/, "key store"],
  [
    /\baws\s+configure\s+(?:get|list|export-credentials)|\baws\s+(?:sts\s+get-session-token|secretsmanager\s+get)/,
    "cloud credentials",
  ],
  [/\bgcloud\s+auth\s+print-(?:access|identity)-token|\baz\s+account\s+get-access-token/, "cloud credentials"],
  [/\bkubectl\s+(?:get|describe)\s+secrets?\b/, "cluster credentials"],
  [
    /\bgit\s+config\s+(?:--\w+\s+)*--get\s+\S*(?:token|password|credential)|\bgit\s+credential\s+fill\b/,
    "client credentials file",
  ],
  [/\bhistory\b(?:\s*\||\s*$)|\.(?:bash|zsh)_history\b/, "shell history"],
];

/** Words in a tool name that say it reads rather than changes something. */
const READ_VERBS: ReadonlySet<string> = new Set([
  "get",
  "read",
  "list",
  "fetch",
  "show",
  "dump",
  "export",
  "print",
  "cat",
  "view",
  "retrieve",
  "reveal",
  "load",
  "lookup",
  "describe",
]);

/** Words in a tool name that say the tool holds secrets, with the kind of source. */
const STORE_WORDS: ReadonlyMap<string, string> = new Map([
  ["env", "environment variables"],
  ["environment", "environment variables"],
  ["secret", "key store"],
  ["secrets", "key store"],
  ["vault", "key store"],
  ["keychain", "key store"],
  ["keyring", "key store"],
  ["credential", "key store"],
  ["credentials", "key store"],
  ["password", "key store"],
  ["passwords", "key store"],
  ["token", "key store"],
  ["tokens", "key store"],
  ["apikey", "key store"],
  ["apikeys", "key store"],
]);

/** Argument names that hold a shell command. */
const COMMAND_NAMES: ReadonlySet<string> = new Set(["command", "cmd", "script", "shell", "bash", "commands", "args"]);

/** Words in a tool name that make it run commands. */
const COMMAND_TOOL_WORDS: ReadonlySet<string> = new Set([
  "exec",
  "shell",
  "bash",
  "run",
  "terminal",
  "command",
  "sh",
  "execute",
]);

/** What a tool's name says about credentials. */
interface ToolReading {
  /** The tool runs commands: every argument is read as one. */
  command: boolean;
  /** The kind of secrets store a read verb with a secrets word names (`get_secret`), `null` for other tools. */
  store: string | null;
}

const toolReadings = new Map<string, ToolReading>();
const commandNames = new Map<string, boolean>();

function readToolName(tool: string): ToolReading {
  const words = nameTokens(tool);
  const reads = words.some((word) => READ_VERBS.has(word));
  let store: string | null = null;
  if (reads) {
    for (const word of words) {
      const kind = STORE_WORDS.get(word);
      if (kind === undefined) continue;
      store = kind;
      break;
    }
  }
  return { command: words.some((word) => COMMAND_TOOL_WORDS.has(word)), store };
}

function isCommandName(name: string): boolean {
  return nameTokens(name).some((word) => COMMAND_NAMES.has(word));
}

/** One credential source a call touched. */
interface Source {
  /** What identifies the source (a path, a command kind, a tool and key). */
  id: string;
  kind: string;
  call_index: number;
  time_ms: number;
  /** Secret types the result carried, when it was scanned and carried any. */
  secrets: string[];
}

interface SessionState {
  sources: Source[];
  /** The most severe finding raised so far in this session; a finding is raised again only when it grows more severe. */
  raised: Severity | null;
}

/**
 * Credential harvesting: one session reading several distinct credential sources (dotenv and key files,
 * cloud, cluster and client credential files, `printenv`-like commands, vault and keychain reads, secrets
 * tools) within an event-time window, across tools.
 *
 * Each call is classified from its arguments (credential-looking paths, commands) and its tool name (a read
 * verb with a secrets word: `get_secret`, `read_env`); the result of a classified call is scanned for
 * secrets with the DLP rules. A single source is never reported: a developer reads `.env` once. Medium from
 * two distinct sources in the window; high from four, or from three when at least two returned secrets.
 */
export class CredentialHarvestingDetector implements Detector {
  readonly name = DETECTOR_NAME;
  private readonly windowMs: number;
  private readonly mediumSources: number;
  private readonly highSources: number;
  private readonly highWithSecrets: number;
  private readonly scanner: SecretScanner | null;
  private readonly maxResultChars: number;
  private readonly sessions = new Map<string, SessionState>();

  constructor(options: CredentialHarvestingDetectorOptions = {}) {
    this.windowMs = options.window_ms ?? 15 * 60_000;
    this.mediumSources = options.medium_sources ?? 2;
    this.highSources = options.high_sources ?? 4;
    this.highWithSecrets = options.high_sources_with_secrets ?? 3;
    this.scanner = options.scanner === undefined ? new DlpEngine(defaultDlpSettings()) : options.scanner;
    this.maxResultChars = options.max_result_chars ?? 16 * 1024;
  }

  observe(exchange: CapturedExchange, position: ExchangePosition, emit: FindingSink): void {
    if (position.call_index === null || typeof exchange.tool !== "string") return;
    const touched = credentialSources(exchange.tool, argumentStrings(exchange.arguments));
    if (touched.length === 0) return;
    // A failed read harvested nothing.
    if (exchange.error !== null) return;
    const secrets = this.secretsIn(exchange.result);
    let state = this.sessions.get(exchange.session);
    if (state === undefined) {
      state = { sources: [], raised: null };
      this.sessions.set(exchange.session, state);
    }
    const cutoff = position.time_ms - this.windowMs;
    state.sources = state.sources.filter((source) => source.time_ms >= cutoff);
    for (const [index, touch] of touched.entries()) {
      const known = state.sources.find((source) => source.id === touch.id);
      if (known !== undefined) {
        known.time_ms = position.time_ms;
        if (index === 0 && secrets.length > 0) known.secrets = [...new Set([...known.secrets, ...secrets])];
        continue;
      }
      if (state.sources.length >= MAX_SOURCES) state.sources.shift();
      state.sources.push({
        id: touch.id,
        kind: touch.kind,
        call_index: position.call_index,
        time_ms: position.time_ms,
        // The result belongs to the call, not to each path it named: counted once.
        secrets: index === 0 ? secrets : [],
      });
    }
    const severity = this.severityOf(state.sources);
    if (severity === null || (state.raised !== null && severity !== "high") || state.raised === severity) return;
    state.raised = severity;
    emit(this.finding(exchange, position, state.sources, severity));
  }

  endSession(session: string): void {
    this.sessions.delete(session);
  }

  async shutdown(): Promise<void> {
    this.sessions.clear();
  }

  private severityOf(sources: readonly Source[]): Severity | null {
    const distinct = sources.length;
    if (distinct < this.mediumSources) return null;
    const withSecrets = sources.filter((source) => source.secrets.length > 0).length;
    if (distinct >= this.highSources || (distinct >= this.highWithSecrets && withSecrets >= 2)) return "high";
    return "medium";
  }

  private secretsIn(result: string | null | undefined): string[] {
    if (this.scanner === null || typeof result !== "string" || result.length === 0) return [];
    const text = result.length > this.maxResultChars ? result.slice(0, this.maxResultChars) : result;
    const types = new Set<string>();
    for (const match of this.scanner.scanText(text)) if (match.category === "secret") types.add(match.type);
    return [...types].slice(0, 8);
  }

  private finding(
    exchange: CapturedExchange,
    position: ExchangePosition,
    sources: readonly Source[],
    severity: Severity,
  ): Finding {
    const withSecrets = sources.filter((source) => source.secrets.length > 0);
    const kinds = [...new Set(sources.map((source) => source.kind))];
    const score = Math.min(1, 0.3 + 0.15 * sources.length + 0.1 * withSecrets.length);
    const returned =
      withSecrets.length === 0
        ? "no secret was seen in the results"
        : `${withSecrets.length} returned secrets (${[...new Set(withSecrets.flatMap((source) => source.secrets))].join(", ")})`;
    // Object.assign, not a spread of the origin: V8 copies a spread object far more slowly.
    return Object.assign<FindingOrigin, Omit<Finding, keyof FindingOrigin>>(
      findingOrigin(exchange, position.call_index, DETECTOR_NAME),
      {
        category: "credential_harvesting",
        severity,
        score: Math.round(score * 1000) / 1000,
        message: `The session read ${sources.length} distinct credential sources (${kinds.join(", ")}) within ${Math.round(this.windowMs / 60_000)} minutes, where one is usual; ${returned}. Check what the agent was asked to do and rotate what it read.`,
        evidence: {
          call_indexes: [...new Set(sources.map((source) => source.call_index))],
          sources: sources.map((source) => ({
            source: source.id,
            kind: source.kind,
            call_index: source.call_index,
            secrets_returned: source.secrets,
          })),
          window_ms: this.windowMs,
          thresholds: {
            medium_sources: this.mediumSources,
            high_sources: this.highSources,
            high_sources_with_secrets: this.highWithSecrets,
          },
          baseline: "at most one credential source per session",
        },
      },
    );
  }
}

/** The credential sources a call touches, read from its tool name and arguments; empty for most calls. */
export function credentialSources(
  tool: string,
  strings: readonly ArgumentString[],
): Array<{ id: string; kind: string }> {
  const found: Array<{ id: string; kind: string }> = [];
  const add = (id: string, kind: string): void => {
    // A call touches few sources: a scan is cheaper than a set made for every call.
    if (found.some((source) => source.id === id)) return;
    found.push({ id, kind });
  };
  const reading = judgedName(toolReadings, tool, readToolName);
  for (const entry of strings) {
    const value = entry.value;
    if (value.length === 0 || value.length > 4096) continue;
    const lower = value.toLowerCase();
    const isCommand = reading.command || judgedName(commandNames, entry.name, isCommandName);
    if (isCommand) {
      for (const [pattern, kind] of COMMAND_KINDS) {
        const match = pattern.exec(lower);
        if (match !== null) add(`${kind}: ${match[0].trim().slice(0, 80)}`, kind);
      }
    }
    // Paths: only single tokens, or commands, are read as paths; prose that mentions `.env` is not a read of it.
    if (!isCommand && (value.length > 512 || /\s/.test(value.trim()))) continue;
    if (!ANY_PATH_KIND.test(lower)) continue;
    for (const [pattern, kind] of PATH_KINDS) {
      const match = pattern.exec(lower);
      if (match !== null) add(pathIdentity(lower, match.index, match[0]), kind);
    }
  }
  if (reading.store !== null) {
    // Each key or name asked of a secrets tool is a source of its own.
    const key = strings.find((entry) => entry.value.length > 0 && entry.value.length <= 200)?.value ?? "";
    add(`${tool}(${key.toLowerCase()})`, reading.store);
  }
  return found;
}

/** The whole path token around a match, so that `a/.env` and `b/.env` count as two sources. */
function pathIdentity(text: string, index: number, matched: string): string {
  let start = index;
  while (start > 0 && !/[\s"'=;|&]/.test(text[start - 1]!)) start--;
  let end = index + matched.length;
  while (end < text.length && !/[\s"';|&]/.test(text[end]!)) end++;
  return text
    .slice(start, end)
    .replace(/^[\s"'=]+/, "")
    .slice(0, 200);
}
