import type { PoisoningSignal, PoisoningSignalKind } from "./signals.js";

interface Rule {
  kind: PoisoningSignalKind;
  pattern: RegExp;
  detail: string;
  /** Lower-case strings one of which every match contains: a rule whose words are absent is not run. */
  needs: readonly string[];
}

/**
 * A rule for every result: its pattern is tried only where a match can begin. Every match begins at a word
 * boundary with one of `starts` as a whole word (the pattern follows it with white space or an apostrophe),
 * or with `<` or `[`, so one scan for the start words finds every position worth trying, and most texts never
 * run the pattern at all.
 */
interface ResultRule {
  kind: PoisoningSignalKind;
  pattern: RegExp;
  detail: string;
  starts: readonly string[];
}

// Only the generic cues the issue names and their close variants: these catch template attacks, the
// learned model catches the rest. Each pattern is bounded (no nested quantifiers) so a hostile result
// cannot make it backtrack for long.
const RULES: readonly ResultRule[] = [
  {
    kind: "cue_phrase",
    // The last word is matched loosely and checked by `isInstructionWord`, so that a misspelling meant to
    // slip past a filter ("instrucions") is still caught while "ignore my previous email" is not.
    pattern:
      /\b(?:ignore|disregard|forget|override|skip)\s+(?:all\s+|any\s+|the\s+|your\s+|my\s+)?(?:previous|prior|above|earlier|preceding|former|original|other)\s+(?:\w+\s+)?([a-z]{4,16})\b/gi,
    detail: "asks to ignore previous instructions",
    starts: ["ignore", "disregard", "forget", "override", "skip"],
  },
  {
    kind: "cue_phrase",
    pattern:
      /\bbefore\s+you\s+(?:can\s+)?(?:solve|complete|finish|answer|continue|proceed|do)\s+(?:with\s+)?the\s+task\b/gi,
    detail: "puts a task before the user's task",
    starts: ["before"],
  },
  {
    kind: "cue_phrase",
    pattern: /\b(?:new|updated|real|actual|important)\s+(?:system\s+)?instructions?\s*(?::|follow|below|are)/gi,
    detail: "announces new instructions",
    starts: ["new", "updated", "real", "actual", "important"],
  },
  {
    kind: "cue_phrase",
    pattern: /\bthis\s+is\s+an?\s+(?:important|urgent)\s+message\s+from\b/gi,
    detail: "claims to be an important message to the model",
    starts: ["this"],
  },
  {
    kind: "instruction_tag",
    pattern:
      /<\/?\s*(?:important|information|instructions?|system|admin|secret|hidden|assistant|prompt|override)\s*>|\[\/?(?:INST|SYSTEM|IMPORTANT)\]|<\|im_start\|>|<\|(?:system|assistant)\|>/gi,
    detail: "instruction tag aimed at the model",
    starts: ["<", "["],
  },
  {
    kind: "concealment",
    pattern:
      /\b(?:do\s+not|don'?t|never|without)\s+(?:tell(?:ing)?|inform(?:ing)?|mention(?:ing)?|notify(?:ing)?|alert(?:ing)?|reveal(?:ing)?|show(?:ing)?|let(?:ting)?|report(?:ing)?|ask(?:ing)?|disclos(?:e|ing))\s+(?:this\s+|it\s+|anything\s+|about\s+(?:this|it)\s+)?(?:to\s+)?(?:the\s+)?(?:user|human|customer|owner|operator)s?\b/gi,
    detail: "asks to hide an action from the user",
    starts: ["do", "don", "dont", "never", "without"],
  },
  // Three patterns rather than one alternation, each run only when its own word is present: the
  // alternation tried every position of every text that merely mentions a user.
  {
    kind: "concealment",
    pattern:
      /\b(?:keep|hide)\s+(?:this|it|these\s+\w+|the\s+\w+)\s+(?:secret|hidden|confidential|private)?\s*from\s+(?:the\s+)?(?:user|human)s?\b/gi,
    detail: "asks to hide an action from the user",
    starts: ["keep", "hide"],
  },
  {
    kind: "concealment",
    pattern: /\buser\s+(?:must|should)\s+not\s+(?:know|see|notice|find\s+out)\b/gi,
    detail: "asks to hide an action from the user",
    starts: ["user"],
  },
  {
    kind: "concealment",
    pattern: /\bsilently\s+(?:send|forward|transfer|delete|run|execute|upload|share|copy)\b/gi,
    detail: "asks to hide an action from the user",
    starts: ["silently"],
  },
];

const SCORES: Record<PoisoningSignalKind, number> = {
  instruction: 0,
  cue_phrase: 0.95,
  instruction_tag: 0.9,
  concealment: 0.9,
  exfiltration_link: 0.9,
  hidden_characters: 0.8,
};

/** The fixed score a rule signal gives a verdict. */
export function ruleScore(kind: PoisoningSignalKind): number {
  return SCORES[kind];
}

/**
 * Which rules of a list have one of their `needs` words in a text, found in one pass: a bit per rule. Words
 * with letters are looked for by one case-insensitive alternation (with the rules' own `i` semantics, so a
 * match of a rule's pattern always sets its bit); words without letters (`<`, `[`) by a substring search,
 * since they are common in data and would stop the alternation at every occurrence.
 */
class NeedsScanner {
  private readonly words: RegExp | null;
  private readonly rulesByWord = new Map<string, number>();
  private readonly symbols: { word: string; rules: number }[] = [];
  private readonly all: number;

  constructor(rules: readonly Rule[]) {
    const lettered = new Set<string>();
    for (const [index, rule] of rules.entries()) {
      for (const word of rule.needs) {
        if (/[a-z]/.test(word)) {
          lettered.add(word);
          this.rulesByWord.set(word, (this.rulesByWord.get(word) ?? 0) | (1 << index));
        } else {
          const known = this.symbols.find((symbol) => symbol.word === word);
          if (known === undefined) this.symbols.push({ word, rules: 1 << index });
          else known.rules |= 1 << index;
        }
      }
    }
    this.all = rules.length === 0 ? 0 : 2 ** rules.length - 1;
    const alternatives = [...lettered].map((word) => word.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&"));
    this.words = alternatives.length === 0 ? null : new RegExp(alternatives.join("|"), "gi");
  }

  /** The bit mask of rules (by index) whose words occur in `text`. */
  scan(text: string): number {
    let present = 0;
    for (const symbol of this.symbols) if (text.includes(symbol.word)) present |= symbol.rules;
    const words = this.words;
    if (words === null) return present;
    words.lastIndex = 0;
    for (let match = words.exec(text); match !== null && present !== this.all; match = words.exec(text)) {
      // Unknown spelling cannot happen (an ASCII word matches only ASCII without the `u` flag); running every
      // rule is the safe answer if it ever did.
      present |= this.rulesByWord.get(match[0].toLowerCase()) ?? this.all;
      // One character on, not past the match: words may overlap ("overridisregard").
      words.lastIndex = match.index + 1;
    }
    return present;
  }
}

// The rule each start word begins (the starts of the lettered rules are disjoint), and one pattern that finds
// every start word as a whole word, with the rules' own `i` semantics (an ASCII word matches only ASCII
// without the `u` flag). One native scan of the text instead of one per rule, and the rules' patterns run
// only where a match can begin.
const RULE_BY_START = new Map<string, number>();
for (const [index, rule] of RULES.entries()) {
  for (const word of rule.starts) {
    if (!/^[a-z]+$/.test(word)) continue;
    // A word shared by two rules would start only the later one here.
    if (RULE_BY_START.has(word)) throw new Error(`rule start word "${word}" is used by two rules`);
    RULE_BY_START.set(word, index);
  }
}
const STARTS = new RegExp(`\\b(?:${[...RULE_BY_START.keys()].join("|")})\\b`, "gi");
// Anchored copies: each is tried at one start position, where the global pattern, scanning from the end of
// its previous match, would find the same leftmost match.
const STICKY = RULES.map((rule) => new RegExp(rule.pattern.source, `${rule.pattern.flags.replace("g", "")}y`));
// The rules whose matches open with `<` or `[` rather than a word: run over the text when it holds one.
const SYMBOL_RULES = RULES.map((rule) => rule.starts.every((word) => word === "<" || word === "["));
// How many brackets a symbol rule is tried at one by one before its pattern scans the rest of the text.
const SYMBOL_TRIES = 16;

// Start positions of the text being read and their rules, reused across calls.
let startPositions = new Int32Array(64);
let startRules = new Uint8Array(64);

function findStarts(text: string): number {
  let count = 0;
  STARTS.lastIndex = 0;
  for (let match = STARTS.exec(text); match !== null; match = STARTS.exec(text)) {
    const rule = RULE_BY_START.get(match[0].toLowerCase());
    if (rule === undefined) continue;
    if (count === startPositions.length) {
      const positions = new Int32Array(count * 2);
      positions.set(startPositions);
      startPositions = positions;
      const rules = new Uint8Array(count * 2);
      rules.set(startRules);
      startRules = rules;
    }
    startPositions[count] = match.index;
    startRules[count] = rule;
    count++;
  }
  return count;
}

/** Finds cue phrases, instruction tags and concealment requests. */
export function findRuleSignals(text: string): PoisoningSignal[] {
  const signals: PoisoningSignal[] = [];
  const count = findStarts(text);
  for (let rule = 0; rule < RULES.length; rule++) {
    const { kind, detail, pattern } = RULES[rule]!;
    if (SYMBOL_RULES[rule] === true) {
      // The first few `<` and `[` are found by a native search and the anchored pattern tried at each, which
      // skips the unit-by-unit scan of the pattern over most texts; past them (markup, JSON arrays) the
      // pattern scans on from there, where one native scan beats a call per bracket. Same matches either way.
      let angle = text.indexOf("<");
      let square = text.indexOf("[");
      let from = 0;
      let tries = 0;
      while ((angle !== -1 || square !== -1) && tries < SYMBOL_TRIES) {
        let position: number;
        if (square === -1 || (angle !== -1 && angle < square)) {
          position = angle;
          angle = text.indexOf("<", angle + 1);
        } else {
          position = square;
          square = text.indexOf("[", square + 1);
        }
        if (position < from) continue;
        tries++;
        from = matchAt(text, rule, position, from, signals);
        if (signals.length > 32) return signals;
      }
      if (angle === -1 && square === -1) continue;
      // Every bracket before the nearer of the two unread ones has been tried or lies inside a match.
      pattern.lastIndex = Math.max(from, Math.min(angle === -1 ? square : angle, square === -1 ? angle : square));
      for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
        if (match[1] !== undefined && !isInstructionWord(match[1])) continue;
        signals.push({ kind, detail, start: match.index, end: match.index + match[0].length, score: SCORES[kind] });
        if (signals.length > 32) return signals;
      }
      continue;
    }
    // Matches do not overlap, as with the global pattern: the next is looked for from the end of the last.
    let from = 0;
    for (let start = 0; start < count; start++) {
      const position = startPositions[start]!;
      if (startRules[start] !== rule || position < from) continue;
      from = matchAt(text, rule, position, from, signals);
      if (signals.length > 32) return signals;
    }
  }
  return signals;
}

/**
 * Tries rule `rule`'s pattern anchored at `position` and adds a signal when it matches (and, for a pattern that
 * captures a word, the word is an instruction word). Returns where the next match may start: past this match, or
 * `from` unchanged when there is none, so that matches do not overlap.
 */
function matchAt(text: string, rule: number, position: number, from: number, signals: PoisoningSignal[]): number {
  const sticky = STICKY[rule]!;
  sticky.lastIndex = position;
  const match = sticky.exec(text);
  if (match === null) return from;
  const end = position + match[0].length;
  if (match[1] !== undefined && !isInstructionWord(match[1])) return end;
  const { kind, detail } = RULES[rule]!;
  signals.push({ kind, detail, start: position, end, score: SCORES[kind] });
  return end;
}

/**
 * Runs the rules whose words the text holds and collects their matches, up to `limit` (and one more). Each
 * distinct word is looked for once per text, not once per rule that needs it, and a rule whose words are absent
 * is not run: far cheaper than running every pattern over text that cannot match it.
 */
function runRules(
  text: string,
  rules: readonly { kind: PoisoningSignal["kind"]; pattern: RegExp; detail: string }[],
  needs: NeedsScanner,
  limit: number,
  accept: (match: RegExpExecArray) => boolean = () => true,
): PoisoningSignal[] {
  const signals: PoisoningSignal[] = [];
  const present = needs.scan(text);
  for (const [index, rule] of rules.entries()) {
    if ((present & (1 << index)) === 0) continue;
    rule.pattern.lastIndex = 0;
    for (let match = rule.pattern.exec(text); match !== null; match = rule.pattern.exec(text)) {
      if (!accept(match)) continue;
      signals.push({
        kind: rule.kind,
        detail: rule.detail,
        start: match.index,
        end: match.index + match[0].length,
        score: SCORES[rule.kind],
      });
      if (signals.length > limit) return signals;
    }
  }
  return signals;
}

// Markdown images (fetched by the client with no click), markdown links and HTML elements that load a
// URL. A link is a beacon when its URL carries data: a query value or path segment that is long,
// encoded, or a template placeholder the model is asked to fill.
const LINK =
  /!\[[^\]\n]{0,200}\]\(\s*<?(https?:\/\/[^\s)>]{1,2048})|\[[^\]\n]{0,200}\]\(\s*<?(https?:\/\/[^\s)>]{1,2048})|<(?:img|image|iframe|script|link|source|video|audio|embed)\b[^>]{0,400}?\b(?:src|href|srcset|data)\s*=\s*["']?(https?:\/\/[^\s"'>]{1,2048})/gi;
const PLACEHOLDER = /\{[^}]{1,60}\}|\$\{|%7B|\[[A-Z_ ]{3,40}\]|<[A-Z_ ]{3,40}>|\bINSERT\b|\bDATA\b|\bSECRET\b/;
const DATA_KEY =
  /[?&](?:q|d|data|c|content|text|msg|message|p|payload|info|leak|secret|token|key|pwd|password|email|u|user|chat|history|conv|s|x)=/i;

/** Finds markdown images/links and HTML elements whose URL carries data (an exfiltration beacon). */
export function findExfiltrationLinks(text: string): PoisoningSignal[] {
  if (!text.includes("http")) return [];
  const signals: PoisoningSignal[] = [];
  LINK.lastIndex = 0;
  for (let match = LINK.exec(text); match !== null; match = LINK.exec(text)) {
    const isImage = match[1] !== undefined || match[3] !== undefined;
    const url = match[1] ?? match[2] ?? match[3] ?? "";
    const reason = beaconReason(url, isImage);
    if (reason === null) continue;
    signals.push({
      kind: "exfiltration_link",
      detail: `${isImage ? "image or element" : "link"} whose URL ${reason}`,
      start: match.index,
      end: match.index + match[0].length,
      score: SCORES.exfiltration_link,
    });
    if (signals.length > 16) break;
  }
  return signals;
}

function beaconReason(url: string, isImage: boolean): string | null {
  let decoded = url;
  try {
    decoded = decodeURIComponent(url);
  } catch {
    // A malformed escape is itself odd but not evidence of data; judge the raw URL.
  }
  if (PLACEHOLDER.test(decoded)) return "has a placeholder for the model to fill with data";
  const queryAt = url.indexOf("?");
  const query = queryAt === -1 ? "" : url.slice(queryAt + 1);
  if (query.length > 0) {
    if (DATA_KEY.test(`?${query}`) && (isImage || query.length > 40)) return "sends data in its query";
    if (query.length > 100) return "carries a long query";
    if (/[A-Za-z0-9+/_-]{40,}={0,2}/.test(query)) return "carries an encoded value in its query";
  }
  if (isImage) {
    const path = url.slice(url.indexOf("/", 8) + 1, queryAt === -1 ? undefined : queryAt);
    if (/[A-Za-z0-9+_-]{48,}/.test(path)) return "carries an encoded value in its path";
  }
  return null;
}

const INSTRUCTION_WORDS = [
  "instructions",
  "instruction",
  "directions",
  "directives",
  "prompts",
  "prompt",
  "rules",
  "guidelines",
  "tasks",
  "task",
  "commands",
  "orders",
  "directive",
];

/** Whether `word` is one of the instruction words or within two edits of one (misspellings meant to evade filters). */
export function isInstructionWord(word: string): boolean {
  const lower = word.toLowerCase();
  for (const target of INSTRUCTION_WORDS) {
    if (lower === target) return true;
    if (target.length >= 8 && Math.abs(target.length - lower.length) <= 2 && editDistance(lower, target) <= 2)
      return true;
  }
  return false;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

// Tool descriptions legitimately tell the model how to use the tool, so the learned score alone says little
// there; these rules name what a description has no business asking for. Bounded patterns, as above.
const DESCRIPTION_RULES: readonly Rule[] = [
  {
    kind: "cue_phrase",
    pattern:
      /\b(?:when|whenever|before|after|if)\b[^.\n]{0,40}?[`"']?\b[a-z]+(?:[_-][a-z]+)+[`"']?\s+(?:tool|function)\b[^.\n]{0,120}?\b(?:always|instead|must|change|replace|add|bcc|cc|redirect|send|forward|include)\b/gi,
    detail: "asks to change how another tool is used",
    needs: ["tool", "function"],
  },
  {
    kind: "cue_phrase",
    pattern:
      /\b(?:send|forward|bcc|cc|copy|e-?mail|upload|post|add|include|pass|redirect|report)\b[^.\n]{0,120}?(?:\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+|https?:\/\/)/gi,
    detail: "asks to send data to an address",
    needs: ["@", "http"],
  },
  {
    kind: "cue_phrase",
    pattern:
      /\b(?:read|cat|pass|include|send|upload|attach|copy)\b[^.\n]{0,60}?(?:~\/\.ssh|id_rsa|id_ed25519|\.aws\/credentials|\/etc\/(?:passwd|shadow)|\.env\b|mcp\.json|private key|api[_ ]?keys?)/gi,
    detail: "asks to read secret files or keys",
    needs: ["ssh", "id_", "credentials", "/etc/", ".env", "mcp.json", "private key", "api"],
  },
];

const DESCRIPTION_NEEDS = new NeedsScanner(DESCRIPTION_RULES);

/** Rules for tool descriptions only: requests to act on other tools, to send data out, or to read secrets. */
export function findDescriptionSignals(text: string): PoisoningSignal[] {
  return runRules(text, DESCRIPTION_RULES, DESCRIPTION_NEEDS, 8);
}
