// Test-only oracle: a frozen copy of src/defence/dlp as it was before the third speed round (logs and CSV).
// The differential test compares the live engine against it; do not change it to make a test pass.

import picomatch from "picomatch";
import type { DlpSettings } from "../../../../src/defence/dlp/dlp-config.js";
import type {
  DlpAction,
  DlpContext,
  DlpInspection,
  DlpMatch,
  DlpRule,
  JsonPath,
} from "../../../../src/defence/dlp/dlp-types.js";
import { maskSpans } from "../../../../src/defence/dlp/redaction.js";
import { AnchorIndex, type AnchorSink } from "./reference-anchor-index.js";
import { builtInRules } from "./reference-dlp-rules.js";

/** Options beside the settings: the custom rules loaded from `rules_file`, and whether to include the built-in table. */
export interface DlpEngineOptions {
  customRules?: readonly DlpRule[];
  /** Leave out the built-in rules (for testing custom rules alone). */
  builtIn?: boolean;
}

// Characters kept around a window so that one- and two-character look-arounds see the real text.
const MARGIN = 4;
// After this many anchor hits in one string, a rule stops scanning windows and runs once over the rest
// of the string: the cost of a string full of anchors stays linear.
const MAXIMUM_WINDOWS = 128;
const SEVERITY: Record<DlpInspection["action"], number> = { allow: 0, alert: 1, redact: 2, block: 3 };

interface Candidate {
  rule: number;
  start: number;
  end: number;
}

interface ContextPolicy {
  disabled: ReadonlySet<string>;
  values: ReadonlySet<string>;
  /** Per rule index, 1 when the rule is turned off for this context; null when none is. */
  off: Uint8Array | null;
}

interface CompiledAllowEntry {
  server: (name: string) => boolean;
  tool: (name: string) => boolean;
  toolPattern: string;
  rules: readonly string[];
  values: readonly string[];
}

const EMPTY_POLICY: ContextPolicy = { disabled: new Set(), values: new Set(), off: null };

/**
 * Finds secrets and personal data in strings and JSON values. Patterns run only near where they can
 * match: one pass over the characters ({@link AnchorIndex}) finds where tokens, keywords and `@` occur
 * and where digits run; at each such place a rule first runs a cheap check in plain code, then its
 * pattern (sticky at the anchor, or in a small window around it). Rules without anchors (custom rules
 * without keywords) run over the whole string.
 */
export class ReferenceDlpEngine {
  readonly rules: readonly DlpRule[];
  readonly #settings: DlpSettings;
  readonly #argumentActions: DlpAction[];
  readonly #resultActions: DlpAction[];
  readonly #stickyPatterns: Array<RegExp | null>;
  readonly #prechecks: Array<DlpRule["precheck"]>;
  readonly #anchors: AnchorIndex | null;
  /** Per anchor (as numbered in the index): the rules it triggers, those of the anchors it starts with included. */
  readonly #anchorRules: number[][] = [];
  readonly #numericRules: number[] = [];
  /** Per entry of `#numericRules`: the digits a run needs for that rule. */
  readonly #minimumDigits: Int32Array;
  readonly #wholeTextRules: number[] = [];
  readonly #allow: CompiledAllowEntry[];
  readonly #policies = new Map<string, ContextPolicy>();
  readonly #globallyAllowedValues: ReadonlySet<string>;
  // The state of the scan under way. A scan runs synchronously to its end and nothing it calls scans,
  // so one set of buffers serves every scan instead of allocating them per string.
  #text = "";
  #off: Uint8Array | null = null;
  #candidates: Candidate[] = [];
  readonly #coveredUntil: Int32Array;
  readonly #windows: Int32Array;
  readonly #sink: AnchorSink;

  constructor(settings: DlpSettings, options: DlpEngineOptions = {}) {
    this.#settings = settings;
    const disabled = new Set(settings.disabled_rules);
    const all = [...(options.builtIn === false ? [] : builtInRules()), ...(options.customRules ?? [])];
    this.rules = all.filter((rule) => !disabled.has(rule.id));
    this.#argumentActions = this.rules.map((rule) => this.#actionFor(rule, "arguments"));
    this.#resultActions = this.rules.map((rule) => this.#actionFor(rule, "result"));
    this.#stickyPatterns = this.rules.map((rule) =>
      (rule.startsAtAnchor || rule.matchStart) && !rule.numeric
        ? new RegExp(rule.pattern.source, `${rule.pattern.flags.replace("g", "")}y`)
        : null,
    );
    this.#prechecks = this.rules.map((rule) => rule.precheck);
    this.#coveredUntil = new Int32Array(this.rules.length);
    this.#windows = new Int32Array(this.rules.length);
    const anchors: string[] = [];
    const anchorNumbers = new Map<string, number>();
    this.rules.forEach((rule, index) => {
      if (rule.numeric) this.#numericRules.push(index);
      else if (rule.anchors === null || rule.anchors.length === 0) this.#wholeTextRules.push(index);
      else {
        for (const anchor of rule.anchors) {
          let number = anchorNumbers.get(anchor);
          if (number === undefined) {
            number = anchors.length;
            anchorNumbers.set(anchor, number);
            anchors.push(anchor);
            this.#anchorRules.push([]);
          }
          const list = this.#anchorRules[number]!;
          if (!list.includes(index)) list.push(index);
        }
      }
    });
    // The index reports one anchor per position (the longest); an anchor that is a prefix of a longer
    // one must still trigger its rules, so each anchor's list includes its prefixes' rules.
    const ownRules = this.#anchorRules.map((list) => [...list]);
    anchors.forEach((anchor, number) => {
      const list = this.#anchorRules[number]!;
      anchors.forEach((other, otherNumber) => {
        if (otherNumber === number || !anchor.startsWith(other)) return;
        for (const index of ownRules[otherNumber]!) if (!list.includes(index)) list.push(index);
      });
    });
    this.#minimumDigits = Int32Array.from(this.#numericRules, (index) => this.rules[index]!.numeric!.minimumDigits);
    this.#anchors =
      anchors.length > 0 || this.#numericRules.length > 0
        ? new AnchorIndex(anchors, this.#numericRules.length > 0)
        : null;
    this.#sink = {
      anchor: (anchor, position, length) => {
        const coveredUntil = this.#coveredUntil;
        const off = this.#off;
        for (const index of this.#anchorRules[anchor]!) {
          if (position < coveredUntil[index]! || (off !== null && off[index] === 1)) continue;
          const precheck = this.#prechecks[index];
          if (precheck !== undefined && !precheck(this.#text, position, position + length)) continue;
          this.#runPattern(index, position, length);
        }
      },
      digits: (start, end, digitCount) => {
        const coveredUntil = this.#coveredUntil;
        const off = this.#off;
        const numericRules = this.#numericRules;
        for (let rule = 0; rule < numericRules.length; rule++) {
          if (digitCount < this.#minimumDigits[rule]!) continue;
          const index = numericRules[rule]!;
          if (start < coveredUntil[index]! || (off !== null && off[index] === 1)) continue;
          const precheck = this.#prechecks[index];
          if (precheck !== undefined && !precheck(this.#text, start, end)) continue;
          this.#runPattern(index, start, end - start);
        }
      },
    };
    this.#allow = settings.allow.map((entry) => ({
      server: picomatch(entry.server),
      tool: picomatch(entry.tool),
      toolPattern: entry.tool,
      rules: entry.rules ?? [],
      values: entry.values ?? [],
    }));
    this.#globallyAllowedValues = new Set(
      this.#allow.filter((entry) => entry.server("*") && entry.toolPattern === "*").flatMap((entry) => entry.values),
    );
  }

  /** Scans one string: sorted, non-overlapping matches (earliest wins on overlap, then the longest, then the more specific rule). */
  scanText(text: string, context?: DlpContext): DlpMatch[] {
    if (!this.#settings.enabled) return [];
    const policy = context ? this.#policyFor(context) : this.#defaultPolicy();
    const actions = context?.direction === "result" ? this.#resultActions : this.#argumentActions;
    return this.#scan(text, policy, actions);
  }

  #scan(text: string, policy: ContextPolicy, actions: readonly DlpAction[]): DlpMatch[] {
    if (text.length < 4) return [];
    const candidates = this.#findCandidates(text, policy.off);
    if (candidates.length === 0) return [];
    candidates.sort((a, b) => a.start - b.start || b.end - a.end || a.rule - b.rule);
    // Secrets are chosen first: `user:S3cr3t@db.host` is a password in a URL, not an e-mail address.
    const chosen = this.#nonOverlapping(text, candidates, "secret", policy, []);
    const selected = this.#nonOverlapping(text, candidates, "pii", policy, chosen);
    selected.sort((a, b) => a.start - b.start);
    const matches: DlpMatch[] = [];
    for (const candidate of selected) {
      const rule = this.rules[candidate.rule]!;
      matches.push({
        rule: rule.id,
        type: rule.type,
        category: rule.category,
        action: actions[candidate.rule]!,
        start: candidate.start,
        end: candidate.end,
      });
    }
    return matches;
  }

  /** Earliest-then-longest non-overlapping candidates of one category that do not overlap `taken`; returns `taken` plus them. */
  #nonOverlapping(
    text: string,
    sorted: readonly Candidate[],
    category: DlpRule["category"],
    policy: ContextPolicy,
    taken: Candidate[],
  ): Candidate[] {
    const result = [...taken];
    let lastEnd = -1;
    for (const candidate of sorted) {
      if (this.rules[candidate.rule]!.category !== category || candidate.start < lastEnd) continue;
      if (taken.some((other) => candidate.start < other.end && other.start < candidate.end)) continue;
      if (policy.values.size > 0 && policy.values.has(text.slice(candidate.start, candidate.end))) continue;
      result.push(candidate);
      lastEnd = candidate.end;
    }
    return result;
  }

  /**
   * Walks a JSON value (objects, arrays, strings; skips `data`/`blob` fields of binary content blocks
   * that have a `mimeType`), applies allow-lists, and builds the forward and record copies only when
   * something matched: the common no-match path allocates nothing.
   */
  inspect(value: unknown, context: DlpContext): DlpInspection {
    const matches: Array<DlpMatch & { path: JsonPath }> = [];
    if (this.#settings.enabled) {
      // Once per call, not per string: the allow-list lookup builds a key from the context.
      const policy = this.#policyFor(context);
      const actions = context.direction === "result" ? this.#resultActions : this.#argumentActions;
      this.#visit(value, [], policy, actions, matches);
    }
    if (matches.length === 0) return { matches, action: "allow", forward: undefined, record: undefined };
    let action: DlpInspection["action"] = "alert";
    for (const match of matches) if (SEVERITY[match.action] > SEVERITY[action]) action = match.action;
    const forward = action === "redact" ? maskValue(value, matches, (match) => match.action === "redact") : undefined;
    const record = this.#settings.store_raw ? undefined : maskValue(value, matches, () => true);
    return { matches, action, forward, record };
  }

  #visit(
    node: unknown,
    path: JsonPath,
    policy: ContextPolicy,
    actions: readonly DlpAction[],
    matches: Array<DlpMatch & { path: JsonPath }>,
  ): void {
    if (typeof node === "string") {
      const found = this.#scan(node, policy, actions);
      for (const match of found) matches.push({ ...match, path: [...path] });
    } else if (Array.isArray(node)) {
      for (let index = 0; index < node.length; index++) {
        path.push(index);
        this.#visit(node[index], path, policy, actions, matches);
        path.pop();
      }
    } else if (node !== null && typeof node === "object") {
      const binary = typeof (node as { mimeType?: unknown }).mimeType === "string";
      for (const key of Object.keys(node)) {
        if (binary && (key === "data" || key === "blob")) continue;
        path.push(key);
        this.#visit((node as Record<string, unknown>)[key], path, policy, actions, matches);
        path.pop();
      }
    }
  }

  #actionFor(rule: DlpRule, direction: DlpContext["direction"]): DlpAction {
    const chosen = this.#settings.actions.rules[rule.id];
    if (chosen !== undefined) return chosen;
    if (rule.explicitAction) return rule.action;
    const byCategory = this.#settings.actions[rule.category];
    // Blocking a tool result because it mentions a secret would make the tool useless; by default the
    // secret is masked instead. An explicit per-rule `block` (above) does block results.
    return direction === "result" && byCategory === "block" ? "redact" : byCategory;
  }

  #defaultPolicy(): ContextPolicy {
    return this.#globallyAllowedValues.size > 0
      ? { disabled: new Set(), values: this.#globallyAllowedValues, off: null }
      : EMPTY_POLICY;
  }

  #policyFor(context: DlpContext): ContextPolicy {
    if (this.#allow.length === 0) return EMPTY_POLICY;
    const key = `${context.server}\u0000${context.tool ?? ""}`;
    let policy = this.#policies.get(key);
    if (policy === undefined) {
      const disabled = new Set<string>();
      const values = new Set<string>();
      for (const entry of this.#allow) {
        const toolMatches = context.tool === null ? entry.toolPattern === "*" : entry.tool(context.tool);
        if (!toolMatches || !entry.server(context.server)) continue;
        for (const rule of entry.rules) disabled.add(rule);
        for (const value of entry.values) values.add(value);
      }
      let off: Uint8Array | null = null;
      if (disabled.size > 0) {
        off = new Uint8Array(this.rules.length);
        this.rules.forEach((rule, index) => {
          if (disabled.has(rule.id)) off![index] = 1;
        });
      }
      policy = { disabled, values, off };
      // Tool names come from peers; bound the cache so that a flood of names cannot grow it forever.
      if (this.#policies.size >= 4096) this.#policies.clear();
      this.#policies.set(key, policy);
    }
    return policy;
  }

  #findCandidates(text: string, off: Uint8Array | null): Candidate[] {
    this.#text = text;
    this.#off = off;
    const candidates: Candidate[] = [];
    this.#candidates = candidates;
    this.#coveredUntil.fill(0);
    this.#windows.fill(0);
    this.#anchors?.scan(text, this.#sink);
    for (const index of this.#wholeTextRules) {
      if (off === null || off[index] !== 1) this.#runFrom(index, 0);
    }
    // Let go of the text: the engine outlives the strings it scans.
    this.#text = "";
    this.#candidates = [];
    return candidates;
  }

  /**
   * Runs rule `index` (its precheck passed) at an anchor or digit run [position, position + length):
   * sticky at the position, or in a window around it, keeping matches that overlap the span.
   */
  #runPattern(index: number, position: number, length: number): void {
    const text = this.#text;
    const rule = this.rules[index]!;
    const sticky = this.#stickyPatterns[index];
    if (sticky) {
      const start = rule.matchStart ? rule.matchStart(text, position) : position;
      if (start < 0 || start < this.#coveredUntil[index]!) return;
      sticky.lastIndex = start;
      const match = sticky.exec(text);
      if (match !== null && match[0].length > 0) this.#accept(index, match, start);
      return;
    }
    const windows = this.#windows;
    if (windows[index]! >= MAXIMUM_WINDOWS) {
      if (windows[index] === MAXIMUM_WINDOWS) {
        windows[index] = windows[index]! + 1;
        this.#runFrom(index, Math.max(this.#coveredUntil[index]!, position - rule.window.before));
      }
      return;
    }
    windows[index] = windows[index]! + 1;
    const windowStart = Math.max(0, position - rule.window.before - MARGIN);
    const windowEnd = Math.min(text.length, position + length + rule.window.after + MARGIN);
    // A slice of a flat string is a view in V8, not a copy.
    const slice = text.slice(windowStart, windowEnd);
    const pattern = rule.pattern;
    pattern.lastIndex = 0;
    for (let match = pattern.exec(slice); match !== null; match = pattern.exec(slice)) {
      if (match[0].length === 0) {
        pattern.lastIndex++;
        continue;
      }
      const start = windowStart + match.index;
      const end = start + match[0].length;
      if (start >= position + length) break;
      if ((windowStart > 0 && match.index < MARGIN) || (windowEnd < text.length && end > windowEnd - MARGIN)) continue;
      if (end <= position || start < this.#coveredUntil[index]!) continue;
      this.#accept(index, match, start);
    }
  }

  /** Runs rule `index` over the text from `from` to the end. */
  #runFrom(index: number, from: number): void {
    const text = this.#text;
    const pattern = this.rules[index]!.pattern;
    pattern.lastIndex = from;
    for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
      if (match[0].length === 0) {
        pattern.lastIndex++;
        continue;
      }
      if (match.index < this.#coveredUntil[index]!) continue;
      this.#accept(index, match, match.index);
    }
  }

  #accept(index: number, match: RegExpExecArray, start: number): void {
    const rule = this.rules[index]!;
    let reportedStart = start;
    let value = match[0];
    if (rule.group > 0) {
      const group = match[rule.group];
      if (group === undefined) return;
      const span = match.indices?.[rule.group];
      if (span === undefined) return;
      reportedStart = start + (span[0] - match.index);
      value = group;
    }
    if (rule.validate && !rule.validate(value, match)) return;
    this.#candidates.push({ rule: index, start: reportedStart, end: reportedStart + value.length });
    this.#coveredUntil[index] = start + match[0].length;
  }
}

/** A copy of `value` with the selected matches masked; untouched branches are shared, not copied. */
function maskValue(
  value: unknown,
  matches: ReadonlyArray<DlpMatch & { path: JsonPath }>,
  selected: (match: DlpMatch) => boolean,
): unknown {
  const byPath = new Map<string, Array<DlpMatch>>();
  for (const match of matches) {
    if (!selected(match)) continue;
    const key = JSON.stringify(match.path);
    const list = byPath.get(key);
    if (list) list.push(match);
    else byPath.set(key, [match]);
  }
  if (byPath.size === 0) return value;
  const path: JsonPath = [];
  const rebuild = (node: unknown): unknown => {
    if (typeof node === "string") {
      const spans = byPath.get(JSON.stringify(path));
      return spans ? maskSpans(node, spans) : node;
    }
    if (Array.isArray(node)) {
      let copy: unknown[] | null = null;
      for (let index = 0; index < node.length; index++) {
        path.push(index);
        const next = rebuild(node[index]);
        path.pop();
        if (next !== node[index]) {
          copy ??= [...node];
          copy[index] = next;
        }
      }
      return copy ?? node;
    }
    if (node !== null && typeof node === "object") {
      let copy: Record<string, unknown> | null = null;
      for (const key of Object.keys(node)) {
        const child = (node as Record<string, unknown>)[key];
        if (typeof child !== "string" && (child === null || typeof child !== "object")) continue;
        path.push(key);
        const next = rebuild(child);
        path.pop();
        if (next !== child) {
          copy ??= { ...(node as Record<string, unknown>) };
          copy[key] = next;
        }
      }
      return copy ?? node;
    }
    return node;
  };
  return rebuild(value);
}
