/** What happens when a rule matches: refuse the call, forward it with the match masked, or forward it and raise an alert. */
export type DlpAction = "block" | "redact" | "alert";

/** Secrets (credentials, keys, tokens) and personal data are configured apart: their default actions differ. */
export type DlpCategory = "secret" | "pii";

/** One built-in or custom rule. */
export interface DlpRule {
  /** Stable identifier, used in `actions.rules`, allow-lists and findings (`aws_access_key_id`). */
  id: string;
  /** What was found, as written into `[REDACTED:<type>]` and into findings (`aws_access_key`). */
  type: string;
  category: DlpCategory;
  /** The action before configuration: `block` for secrets, `alert` for personal data, or the custom rule's own. */
  action: DlpAction;
  description: string;
  /** The pattern, compiled with the `g` flag. Patterns must not backtrack catastrophically. */
  pattern: RegExp;
  /**
   * Literal strings of which every match contains at least one (case-sensitive): the scanner only runs the
   * pattern near where one occurs. `null` runs the pattern over the whole text (or over digit clusters, see `numeric`).
   */
  anchors: readonly string[] | null;
  /** How far a match may reach before an anchor's start and after its end (characters). */
  window: { before: number; after: number };
  /** The capture group whose span is reported and masked; 0 for the whole match. */
  group: number;
  /**
   * Personal-data rules that start from runs of digits (at least four digits, separators allowed) instead of
   * anchors. `shapes`: bits of `digit-run-shape.ts` of which a run must have one before the precheck runs (a
   * necessary condition the scanner tests inline); every run when absent.
   */
  numeric?: { minimumDigits: number; shapes?: number };
  /**
   * True when every match starts exactly where an anchor starts: the scanner then tries the pattern once,
   * sticky, at the anchor instead of searching a window.
   */
  startsAtAnchor?: boolean;
  /**
   * For rules whose matches begin before their anchor at a place plain code can find: where a match
   * through the anchor at `position` must start, or -1 when none can. The scanner then tries the
   * pattern once, sticky, there, instead of searching a window.
   */
  matchStart?: (text: string, position: number) => number;
  /**
   * A cheap test of the text around an anchor hit or digit run [start, end) that must pass before the
   * pattern runs: most keyword hits (`token` in code) are not assignments, most numbers are not IP addresses.
   */
  precheck?: (text: string, start: number, end: number) => boolean;
  /** A check on the reported value (checksum, entropy, placeholder); the match is dropped when it returns false. */
  validate?: (value: string, match: RegExpExecArray) => boolean;
  /**
   * Plain code that gives exactly what `pattern`, run sticky at `start`, then `validate` give (rules whose
   * `group` is 0 and that start at an anchor or at `matchStart`): the end of the accepted match, or -1.
   * `start` is what `matchStart` returned for the anchor at `anchor` (or the anchor itself), so what
   * `matchStart` established need not be checked again. Set for the rules hit most often (e-mail
   * addresses), where a regular expression call and its match object cost more than everything else; the
   * differential tests hold it to the pattern.
   */
  matchAt?: (text: string, start: number, anchor: number) => number;
  /**
   * For numeric rules: plain code that gives exactly what `pattern` and `validate` give inside the digit
   * run [start, end), reporting each accepted match in order (IPv4 addresses). It replaces the precheck
   * and the window search.
   */
  matchesInRun?: (text: string, start: number, end: number, report: (start: number, end: number) => void) => void;
  /** Set on custom rules: their action was chosen by the operator, so `block` applies to tool results too. */
  explicitAction?: boolean;
}

/** A match in one string. Offsets are UTF-16 code unit offsets into the scanned string (JS string indexes). */
export interface DlpMatch {
  rule: string;
  type: string;
  category: DlpCategory;
  action: DlpAction;
  start: number;
  end: number;
}

/** Where a scanned value comes from: allow-lists and the result-direction actions depend on it. */
export interface DlpContext {
  server: string;
  tool: string | null;
  direction: "arguments" | "result";
}

/** A path into a JSON value: object keys and array indexes. */
export type JsonPath = (string | number)[];

/** The outcome of inspecting a JSON value (tool arguments, or a tool result object). */
export interface DlpInspection {
  /** Every match, with the JSON path of the string it was found in (e.g. ["body"] or ["content", 0, "text"]). */
  matches: Array<DlpMatch & { path: JsonPath }>;
  /** "block" when any match's action is block; else "redact" when any is redact; else "alert" when any match; else "allow". */
  action: "allow" | "alert" | "redact" | "block";
  /** The value to forward when action is "redact": a copy with redact-action spans replaced by `[REDACTED:<type>]`; undefined otherwise. */
  forward: unknown | undefined;
  /**
   * The value to store: a copy with every matched span (any action) masked as `[REDACTED:<type>]`; undefined when
   * nothing matched or when `store_raw` is on. Store `record ?? value`.
   */
  record: unknown | undefined;
}
