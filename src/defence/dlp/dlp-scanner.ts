import picomatch from "picomatch";
import { AnchorIndex, type AnchorSink } from "./anchor-index.js";
import { RUN_ANY } from "./digit-run-shape.js";
import type { DlpSettings } from "./dlp-config.js";
import { builtInRules } from "./dlp-rules.js";
import type { DlpAction, DlpContext, DlpInspection, DlpMatch, DlpRule, JsonPath } from "./dlp-types.js";
import { maskSpans } from "./redaction.js";

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

// Candidate arrays start this long and go back to it after a scan that grew them far beyond.
const INITIAL_CANDIDATES = 256;
const RETAINED_CANDIDATES = 65_536;
const SECRET = 0;
const PERSONAL = 1;

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
 * pattern (sticky at the anchor, or in a small window around it), or, for e-mail and IPv4 addresses,
 * plain code that gives exactly the pattern's answer. Rules without anchors (custom rules without
 * keywords) run over the whole string. Candidates live in typed arrays; only reported matches become
 * objects.
 */
export class DlpEngine {
  readonly rules: readonly DlpRule[];
  readonly #settings: DlpSettings;
  readonly #argumentActions: DlpAction[];
  readonly #resultActions: DlpAction[];
  readonly #stickyPatterns: Array<RegExp | null>;
  readonly #prechecks: Array<DlpRule["precheck"]>;
  readonly #matchAt: Array<DlpRule["matchAt"]>;
  readonly #matchesInRun: Array<DlpRule["matchesInRun"]>;
  /** Per rule index: SECRET or PERSONAL. */
  readonly #categories: Uint8Array;
  readonly #anchors: AnchorIndex | null;
  /** Per anchor (as numbered in the index): the rules it triggers, those of the anchors it starts with included. */
  readonly #anchorRules: number[][] = [];
  readonly #numericRules: number[] = [];
  /** Per entry of `#numericRules`: the digits a run needs for that rule. */
  readonly #minimumDigits: Int32Array;
  /** Per entry of `#numericRules`: the run shapes of which a run needs one (`digit-run-shape.ts`). */
  readonly #runShapes: Int32Array;
  readonly #wholeTextRules: number[] = [];
  readonly #allow: CompiledAllowEntry[];
  readonly #policies = new Map<string, ContextPolicy>();
  readonly #globallyAllowedValues: ReadonlySet<string>;
  // The state of the scan under way. A scan runs synchronously to its end and nothing it calls scans,
  // so one set of buffers serves every scan instead of allocating them per string.
  #text = "";
  #off: Uint8Array | null = null;
  // The candidates of the scan under way, in the order found: rule index, start and end of the reported
  // span. Typed arrays rather than objects: a CSV export yields a candidate every few hundred bytes.
  #candidateRules = new Int32Array(INITIAL_CANDIDATES);
  #candidateStarts = new Int32Array(INITIAL_CANDIDATES);
  #candidateEnds = new Int32Array(INITIAL_CANDIDATES);
  #candidateCount = 0;
  /** Candidate numbers in sorted order; the chosen secrets; the chosen personal data (see `#select`). */
  #order = new Int32Array(INITIAL_CANDIDATES);
  #chosenSecrets = new Int32Array(INITIAL_CANDIDATES);
  #chosenPersonal = new Int32Array(INITIAL_CANDIDATES);
  /**
   * Where each sequence of candidates found in text order starts (digit runs, anchors, then each
   * whole-text rule): `#sortCandidates` merges them.
   */
  #segments: number[] = [0];
  #segmentCount = 1;
  #scratch = new Int32Array(INITIAL_CANDIDATES);
  /** The rule whose `matchesInRun` is running, for `#reportInRun`. */
  #runRule = 0;
  readonly #reportInRun: (start: number, end: number) => void;
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
    this.#matchAt = this.rules.map((rule) => (rule.group === 0 ? rule.matchAt : undefined));
    this.#matchesInRun = this.rules.map((rule) => (rule.numeric ? rule.matchesInRun : undefined));
    this.#categories = Uint8Array.from(this.rules, (rule) => (rule.category === "secret" ? SECRET : PERSONAL));
    this.#reportInRun = (start, end) => {
      this.#push(this.#runRule, start, end);
      this.#coveredUntil[this.#runRule] = end;
    };
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
    this.#runShapes = Int32Array.from(this.#numericRules, (index) => this.rules[index]!.numeric!.shapes ?? RUN_ANY);
    this.#anchors =
      anchors.length > 0 || this.#numericRules.length > 0
        ? new AnchorIndex(
            anchors,
            this.#numericRules.length > 0,
            this.#numericRules.map((_index, rule) => ({
              minimumDigits: this.#minimumDigits[rule]!,
              shapes: this.#runShapes[rule]!,
            })),
          )
        : null;
    this.#sink = {
      anchor: (anchor, position, length) => {
        // The index reports digit runs as it scans and anchors after: the candidates of each come in order.
        if (this.#segmentCount === 1) this.#segments[this.#segmentCount++] = this.#candidateCount;
        const coveredUntil = this.#coveredUntil;
        const off = this.#off;
        for (const index of this.#anchorRules[anchor]!) {
          if (position < coveredUntil[index]! || (off !== null && off[index] === 1)) continue;
          const precheck = this.#prechecks[index];
          if (precheck !== undefined && !precheck(this.#text, position, position + length)) continue;
          this.#runPattern(index, position, length);
        }
      },
      digits: (start, end, digitCount, shape) => {
        // The index reports only runs that some numeric rule's digits and shapes accept, and computes the shape.
        const coveredUntil = this.#coveredUntil;
        const off = this.#off;
        const numericRules = this.#numericRules;
        for (let rule = 0; rule < numericRules.length; rule++) {
          if (digitCount < this.#minimumDigits[rule]! || (shape & this.#runShapes[rule]!) === 0) continue;
          const index = numericRules[rule]!;
          if (start < coveredUntil[index]! || (off !== null && off[index] === 1)) continue;
          const matchesInRun = this.#matchesInRun[index];
          if (matchesInRun !== undefined) {
            this.#runRule = index;
            matchesInRun(this.#text, start, end, this.#reportInRun);
            continue;
          }
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
    const count = this.#findCandidates(text, policy.off);
    if (count === 0) return [];
    this.#sortCandidates(count);
    const matches = this.#select(text, count, policy, actions);
    if (this.#candidateRules.length > RETAINED_CANDIDATES) this.#resetCandidates(INITIAL_CANDIDATES);
    return matches;
  }

  /**
   * Puts the candidate numbers in `#order` by start, then longest first, then rule order. Candidates come
   * in a few sequences, each nearly in text order (the digit runs, then the anchors, each candidate a few
   * characters from where its anchor lies): an insertion sort puts each in order in about linear time,
   * and merges join them. Past a budget of moves, a general sort takes over, so that an adversarial
   * string costs no more than n log n.
   */
  #sortCandidates(count: number): void {
    const order = this.#order;
    const rules = this.#candidateRules;
    const starts = this.#candidateStarts;
    const ends = this.#candidateEnds;
    for (let index = 0; index < count; index++) order[index] = index;
    const segments = this.#segments;
    segments[this.#segmentCount] = count;
    let budget = count * 8 + 256;
    for (let segment = 0; segment < this.#segmentCount; segment++) {
      const first = segments[segment]!;
      const last = segments[segment + 1]!;
      for (let index = first + 1; index < last; index++) {
        const item = order[index]!;
        let slot = index;
        while (slot > first && this.#before(item, order[slot - 1]!)) {
          order[slot] = order[slot - 1]!;
          slot--;
          budget--;
        }
        order[slot] = item;
        if (budget < 0) {
          order
            .subarray(0, count)
            .sort((a, b) => starts[a]! - starts[b]! || ends[b]! - ends[a]! || rules[a]! - rules[b]!);
          return;
        }
      }
    }
    // Merge each sorted sequence into the ones before it.
    for (let segment = 1; segment < this.#segmentCount; segment++) {
      const middle = segments[segment]!;
      const last = segments[segment + 1]!;
      if (middle === 0 || middle === last || this.#before(order[middle - 1]!, order[middle]!)) continue;
      const scratch = this.#scratch;
      scratch.set(order.subarray(0, middle));
      let left = 0;
      let right = middle;
      let slot = 0;
      while (left < middle && right < last) {
        order[slot++] = this.#before(order[right]!, scratch[left]!) ? order[right++]! : scratch[left++]!;
      }
      while (left < middle) order[slot++] = scratch[left++]!;
    }
  }

  /** Whether candidate `a` sorts before candidate `b`: earlier start, then longer, then the rule listed first. */
  #before(a: number, b: number): boolean {
    const starts = this.#candidateStarts;
    const startA = starts[a]!;
    const startB = starts[b]!;
    if (startA !== startB) return startA < startB;
    const ends = this.#candidateEnds;
    const endA = ends[a]!;
    const endB = ends[b]!;
    if (endA !== endB) return endA > endB;
    return this.#candidateRules[a]! < this.#candidateRules[b]!;
  }

  /**
   * The reported matches, from the sorted candidates. Secrets are chosen first (`user:S3cr3t@db.host` is
   * a password in a URL, not an e-mail address): earliest, then longest, non-overlapping. Then personal
   * data the same way, leaving out what overlaps a chosen secret. Both lists come out in start order, so
   * the overlap test walks the secrets once, and one merge (secrets first on a tie) orders the result.
   */
  #select(text: string, count: number, policy: ContextPolicy, actions: readonly DlpAction[]): DlpMatch[] {
    const order = this.#order;
    const rules = this.#candidateRules;
    const starts = this.#candidateStarts;
    const ends = this.#candidateEnds;
    const categories = this.#categories;
    const values = policy.values.size > 0 ? policy.values : null;
    const secrets = this.#chosenSecrets;
    const personal = this.#chosenPersonal;
    let secretCount = 0;
    let personalCount = 0;
    let secretEnd = -1;
    let personalEnd = -1;
    // The first chosen secret that may still overlap a candidate: those before it end at or before the
    // current start, and starts only grow.
    let nextSecret = 0;
    for (let index = 0; index < count; index++) {
      const candidate = order[index]!;
      const start = starts[candidate]!;
      if (categories[rules[candidate]!] === SECRET) {
        if (start < secretEnd) continue;
        if (values?.has(text.slice(start, ends[candidate]))) continue;
        secrets[secretCount++] = candidate;
        secretEnd = ends[candidate]!;
      }
    }
    for (let index = 0; index < count; index++) {
      const candidate = order[index]!;
      const start = starts[candidate]!;
      if (categories[rules[candidate]!] !== PERSONAL || start < personalEnd) continue;
      const end = ends[candidate]!;
      while (nextSecret < secretCount && ends[secrets[nextSecret]!]! <= start) nextSecret++;
      if (nextSecret < secretCount && starts[secrets[nextSecret]!]! < end) continue;
      if (values?.has(text.slice(start, end))) continue;
      personal[personalCount++] = candidate;
      personalEnd = end;
    }
    const matches: DlpMatch[] = [];
    let secret = 0;
    let person = 0;
    while (secret < secretCount || person < personalCount) {
      const candidate =
        person >= personalCount || (secret < secretCount && starts[secrets[secret]!]! <= starts[personal[person]!]!)
          ? secrets[secret++]!
          : personal[person++]!;
      const rule = this.rules[rules[candidate]!]!;
      matches.push({
        rule: rule.id,
        type: rule.type,
        category: rule.category,
        action: actions[rules[candidate]!]!,
        start: starts[candidate]!,
        end: ends[candidate]!,
      });
    }
    return matches;
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

  /** Finds the candidates of `text` into the candidate arrays; returns how many. */
  #findCandidates(text: string, off: Uint8Array | null): number {
    this.#text = text;
    this.#off = off;
    this.#candidateCount = 0;
    this.#segmentCount = 1;
    this.#coveredUntil.fill(0);
    this.#windows.fill(0);
    this.#anchors?.scan(text, this.#sink);
    if (this.#segmentCount === 1) this.#segments[this.#segmentCount++] = this.#candidateCount;
    for (const index of this.#wholeTextRules) {
      this.#segments[this.#segmentCount++] = this.#candidateCount;
      if (off === null || off[index] !== 1) this.#runFrom(index, 0);
    }
    // Let go of the text: the engine outlives the strings it scans.
    this.#text = "";
    return this.#candidateCount;
  }

  #push(rule: number, start: number, end: number): void {
    const count = this.#candidateCount;
    if (count === this.#candidateRules.length) this.#resetCandidates(count * 2);
    this.#candidateRules[count] = rule;
    this.#candidateStarts[count] = start;
    this.#candidateEnds[count] = end;
    this.#candidateCount = count + 1;
  }

  /** Sizes the candidate arrays to `capacity`, keeping the candidates found so far. */
  #resetCandidates(capacity: number): void {
    const count = Math.min(this.#candidateCount, capacity);
    const resized = (array: Int32Array): Int32Array<ArrayBuffer> => {
      const next = new Int32Array(capacity);
      next.set(array.subarray(0, count));
      return next;
    };
    this.#candidateRules = resized(this.#candidateRules);
    this.#candidateStarts = resized(this.#candidateStarts);
    this.#candidateEnds = resized(this.#candidateEnds);
    this.#order = new Int32Array(capacity);
    this.#scratch = new Int32Array(capacity);
    this.#chosenSecrets = new Int32Array(capacity);
    this.#chosenPersonal = new Int32Array(capacity);
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
      const matchAt = this.#matchAt[index];
      if (matchAt !== undefined) {
        const end = matchAt(text, start, position);
        if (end > start) {
          this.#push(index, start, end);
          this.#coveredUntil[index] = end;
        }
        return;
      }
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
    this.#push(index, reportedStart, reportedStart + value.length);
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
