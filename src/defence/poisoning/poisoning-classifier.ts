import { findHiddenCharacters } from "./hidden-characters.js";
import { loadShippedModel, type PoisoningModel } from "./poisoning-model.js";
import { findDescriptionSignals, findExfiltrationLinks, findRuleSignals, ruleScore } from "./rule-signals.js";
import { DEFAULT_SEGMENT_MEMO_BYTES, type SegmentMemoEntry, SegmentScoreMemo } from "./segment-score-memo.js";
import type { PoisoningSignal } from "./signals.js";
import {
  BASE_FEATURE_COUNT,
  type DocumentKind,
  documentKind,
  extractFeatures,
  FeatureBuffer,
  featureName,
  HAND_FEATURE_COUNT,
  isProseLineInTable,
  isRegExpSpace,
  MIN_WORDS,
  mayBeInstruction,
  type Segment,
  SegmentList,
  segmentInto,
} from "./text-features.js";
import { VerdictMemo, type VerdictMemoOptions } from "./verdict-memo.js";

export type { PoisoningModel } from "./poisoning-model.js";
export type { PoisoningSignal, PoisoningSignalKind } from "./signals.js";
export type { VerdictMemoOptions } from "./verdict-memo.js";

/** What the classifier concluded about one text. */
export interface PoisoningVerdict {
  poisoned: boolean;
  /** Strength of the evidence, 0 to 1: the highest of the model's segment scores and the rules' fixed scores. */
  score: number;
  /** Every piece of evidence found, strongest first; `instruction` signals only at or above the threshold. */
  signals: PoisoningSignal[];
  /** Short human explanation quoting the span (at most about 160 characters). */
  explanation: string;
}

/** Options of `PoisoningClassifier`. */
export interface PoisoningOptions {
  /** Model score at or above which a result is poisoned; the model's own threshold by default. */
  threshold?: number;
  /** The model to use; the shipped `models/poisoning-model.json` by default. */
  model?: PoisoningModel;
  /**
   * Limits of the memo of verdicts by (kind, text), or `false` for none. On by default (4,096 verdicts,
   * 8 Mi characters of text: 8 MB of keys for Latin-1 text, 16 MB at worst, plus about 1 MB of verdicts): tool traffic repeats documents, and a repeat then costs a
   * Map lookup. Verdicts are deterministic, so a remembered one is identical to a fresh one.
   */
  memo?: VerdictMemoOptions | false;
  /**
   * Bytes for the memo of segment scores, 0 for none; 4 MiB by default. Distinct documents share most of
   * their segments (an inbox read again with one more e-mail), and a segment met before, in the same
   * characters around it and the same kind of document, is then neither prefiltered nor scored again. The
   * memo keys on everything a score depends on, so a remembered score is identical to a fresh one; past the
   * budget the oldest segments are forgotten.
   */
  segment_memo_bytes?: number;
}

/** The best-scoring segment of a text. */
export interface ScoredSegment {
  start: number;
  end: number;
  score: number;
}

const MAX_QUOTE = 90;

/**
 * Inspects tool results and tool descriptions for instructions aimed at the model. Two kinds of
 * evidence: rules that are not learned (hidden characters, exfiltration links, instruction tags,
 * concealment requests, the generic cue phrases) and a small linear model that scores every segment
 * (sentence, line, table cell) for "an instruction or request where data belongs"; the text's model
 * score is its best segment's, since an injection is a small part of a long document.
 *
 * Synchronous, allocation-light and deterministic, so it can run inline on the proxy's hot path.
 */
export class PoisoningClassifier {
  private readonly model: PoisoningModel;
  private readonly threshold: number;
  private readonly descriptionThreshold: number;
  private readonly fixedThreshold: boolean;
  private readonly buffer = new FeatureBuffer(512);
  /** The segments of {@link readingText} when it is not `null`; otherwise scratch for one `bestSegment` call. */
  private readonly segments = new SegmentList();
  /**
   * The last text segmented with its own document kind, kept with that kind and the segments' scores worked
   * out so far (NaN: not yet), so that a second reader of the same text (the flow detectors, right after the
   * classifier) neither segments it nor scores a segment again.
   */
  private readingText: string | null = null;
  private readingKind: DocumentKind = "prose";
  private readingScores = new Float64Array(256);
  private readonly memo: VerdictMemo<"result" | "description", PoisoningVerdict> | null;
  private readonly segmentMemo: SegmentScoreMemo | null;

  constructor(options: PoisoningOptions = {}) {
    this.model = options.model ?? loadShippedModel();
    this.memo = options.memo === false ? null : new VerdictMemo(options.memo);
    const segmentMemoBytes = options.segment_memo_bytes ?? DEFAULT_SEGMENT_MEMO_BYTES;
    this.segmentMemo = segmentMemoBytes > 0 ? new SegmentScoreMemo(segmentMemoBytes) : null;
    this.threshold = options.threshold ?? this.model.threshold;
    this.fixedThreshold = options.threshold !== undefined;
    this.descriptionThreshold =
      options.threshold !== undefined
        ? Math.max(options.threshold, this.model.description_threshold)
        : this.model.description_threshold;
  }

  /**
   * The model score threshold in use for `kind`; for results, by the kind of document when the model set
   * one from benign documents of that kind (a sentence addressed to the reader is rarer in a table than
   * in an e-mail) and no threshold was given in the options.
   */
  thresholdFor(kind: "result" | "description", document: DocumentKind = "prose"): number {
    if (kind === "description") return this.descriptionThreshold;
    if (this.fixedThreshold) return this.threshold;
    return this.model.kind_thresholds?.[document] ?? this.threshold;
  }

  /**
   * Scores every segment of `text` that could be a request (`mayBeInstruction`: a question, or a word of a
   * broad marker set) with the model and returns the best one (score 0 for an empty text). Segments of
   * pure data are not scored; the rules still read all of the text.
   */
  bestSegment(text: string, kind?: DocumentKind): ScoredSegment {
    if (kind === undefined) {
      this.read(text);
      return this.best(text, this.readingKind, this.readingScores);
    }
    // A kind chosen by the caller need not be the text's own: these segments and scores are not a reading.
    this.readingText = null;
    segmentInto(text, this.segments);
    return this.best(text, kind, null);
  }

  /**
   * The segments of `text`, in order, as `segmentText` finds them; from the last reading when it was of
   * this text. The offsets are the ones {@link scoreSegment} takes.
   */
  segmentsOf(text: string): Segment[] {
    this.read(text);
    const { starts, ends, length } = this.segments;
    const segments: Segment[] = new Array(length);
    for (let index = 0; index < length; index++) segments[index] = { start: starts[index]!, end: ends[index]! };
    return segments;
  }

  /**
   * `scoreSpan(text, start, end)` (the text's own document kind): remembered when the span is segment `index`
   * of {@link segmentsOf}, so that a segment `bestSegment` or an earlier call scored is not scored again.
   */
  scoreSegment(text: string, start: number, end: number, index: number): number {
    this.read(text);
    const segments = this.segments;
    if (index >= 0 && index < segments.length && segments.starts[index] === start && segments.ends[index] === end) {
      return this.scoreAt(text, index);
    }
    return this.scoreSpan(text, start, end, this.readingKind);
  }

  /** The model's probability that `text.slice(start, end)` is an instruction aimed at the model. */
  scoreSpan(text: string, start: number, end: number, kind: DocumentKind = documentKind(text)): number {
    const entry = this.segmentMemo === null ? null : this.memoEntry(this.segmentMemo, text, start, end, kind);
    if (entry === null) return this.computeScore(text, start, end, kind);
    if (Number.isNaN(entry.score)) entry.score = this.computeScore(text, start, end, kind);
    return entry.score;
  }

  /** Hits and misses of the segment memo (both 0 without one), and what it holds. */
  segmentMemoStats(): { hits: number; misses: number; entries: number; bytes: number } {
    if (this.segmentMemo === null) return { hits: 0, misses: 0, entries: 0, bytes: 0 };
    return { ...this.segmentMemo.stats, entries: this.segmentMemo.size, bytes: this.segmentMemo.bytes };
  }

  /** `scoreSpan` worked out, without the memo. */
  private computeScore(text: string, start: number, end: number, kind: DocumentKind): number {
    const { weights, hash_bits: hashBits } = this.model;
    if (extractFeatures(text, start, end, hashBits, this.buffer, kind) < MIN_WORDS) return 0;
    let sum = 0;
    const { indices, values, length } = this.buffer;
    for (let index = 0; index < length; index++) sum += (weights[indices[index]!] ?? 0) * values[index]!;
    return 1 / (1 + Math.exp(-sum));
  }

  /**
   * Inspects one tool result or tool description. A verdict may come from the memo and be shared with
   * earlier callers, so it is frozen: read it, do not change it.
   */
  inspect(text: string, kind: "result" | "description"): PoisoningVerdict {
    if (this.memo === null) return this.classify(text, kind);
    const remembered = this.memo.get(kind, text);
    if (remembered !== undefined) return remembered;
    const verdict = this.classify(text, kind);
    this.memo.set(kind, text, verdict);
    return verdict;
  }

  /** Hits and misses of the verdict memo (both 0 without one), and what it holds. */
  memoStats(): { hits: number; misses: number; entries: number; characters: number } {
    if (this.memo === null) return { hits: 0, misses: 0, entries: 0, characters: 0 };
    return { ...this.memo.stats, entries: this.memo.size, characters: this.memo.characters };
  }

  private classify(text: string, kind: "result" | "description"): PoisoningVerdict {
    const document = documentKind(text);
    const threshold = this.thresholdFor(kind, document);
    const signals: PoisoningSignal[] = [];
    let ruleEvidence = 0;
    for (const signal of findHiddenCharacters(text)) {
      const concealing = hidesContent(text, signal);
      signals.push({ ...signal, score: concealing ? ruleScore("hidden_characters") : 0.3 });
      if (concealing) ruleEvidence = Math.max(ruleEvidence, ruleScore("hidden_characters"));
    }
    for (const signal of findRuleSignals(text)) {
      signals.push(signal);
      ruleEvidence = Math.max(ruleEvidence, signal.score ?? 0);
    }
    if (kind === "description") {
      for (const signal of findDescriptionSignals(text)) {
        signals.push(signal);
        ruleEvidence = Math.max(ruleEvidence, signal.score ?? 0);
      }
    }
    for (const signal of findExfiltrationLinks(text)) {
      signals.push(signal);
      ruleEvidence = Math.max(ruleEvidence, signal.score ?? 0);
    }
    this.read(text, document);
    const best = this.best(text, document, this.readingScores);
    if (best.score >= threshold) {
      signals.push({
        kind: "instruction",
        detail: `instruction or request where data belongs (${this.reasons(text, best, document).join(", ")})`,
        start: best.start,
        end: best.end,
        score: round(best.score),
      });
    }
    signals.sort((a, b) => (b.score ?? 0) - (a.score ?? 0));
    const poisoned = ruleEvidence > 0 || best.score >= threshold;
    const score = round(Math.max(ruleEvidence, best.score));
    for (const signal of signals) Object.freeze(signal);
    return Object.freeze({
      poisoned,
      score,
      signals: Object.freeze(signals) as PoisoningSignal[],
      explanation: explain(text, poisoned, signals, best),
    });
  }

  /**
   * Makes `text` the text read (its segments and document kind, no score yet) unless it is already;
   * `kind`, when given, is `documentKind(text)` worked out by the caller.
   */
  private read(text: string, kind?: DocumentKind): void {
    if (this.readingText === text) return;
    this.readingText = null;
    const segments = segmentInto(text, this.segments);
    this.readingKind = kind ?? documentKind(text);
    if (this.readingScores.length < segments.length) this.readingScores = new Float64Array(segments.starts.length);
    this.readingScores.fill(Number.NaN, 0, segments.length);
    this.readingText = text;
  }

  /** The score of segment `index` of the reading of `text`, worked out once per reading. */
  private scoreAt(text: string, index: number): number {
    const known = this.readingScores[index]!;
    if (!Number.isNaN(known)) return known;
    const score = this.scoreSpan(text, this.segments.starts[index]!, this.segments.ends[index]!, this.readingKind);
    this.readingScores[index] = score;
    return score;
  }

  /**
   * The best of the segments of `text` in {@link segments} that could be a request; `scores` is the
   * reading's when those segments are the reading of `text` (then scores are remembered), else `null`.
   */
  private best(text: string, kind: DocumentKind, scores: Float64Array | null): ScoredSegment {
    const segments = this.segments;
    let bestStart = 0;
    let bestEnd = 0;
    let bestScore = 0;
    const memo = this.segmentMemo;
    for (let index = 0; index < segments.length; index++) {
      const start = segments.starts[index]!;
      const end = segments.ends[index]!;
      const entry = memo === null ? null : this.memoEntry(memo, text, start, end, kind);
      let prefilter = entry === null ? -1 : entry.prefilter;
      if (prefilter === -1) {
        // A line of its own in a table is out of register whatever its words: the prefilter's marker set is
        // for pure data, and such a line is not that.
        prefilter = mayBeInstruction(text, start, end) || (kind === "table" && isProseLineInTable(text, start)) ? 1 : 0;
        if (entry !== null) entry.prefilter = prefilter;
      }
      if (prefilter === 0) continue;
      // Not `scoreAt` or `scoreSpan`: the memo was asked already, and asking again would count the segment twice.
      let score = scores === null ? Number.NaN : scores[index]!;
      if (Number.isNaN(score)) {
        score = entry === null ? Number.NaN : entry.score;
        if (Number.isNaN(score)) {
          score = this.computeScore(text, start, end, kind);
          if (entry !== null) entry.score = score;
        }
        if (scores !== null) scores[index] = score;
      }
      if (score > bestScore) {
        bestStart = start;
        bestEnd = end;
        bestScore = score;
      }
    }
    return { start: bestStart, end: bestEnd, score: bestScore };
  }

  /**
   * The memo's entry of `text[start, end)` in a document of `kind`, with the table flag its key needs, or
   * `null` when the memo does not keep that span.
   */
  private memoEntry(
    memo: SegmentScoreMemo,
    text: string,
    start: number,
    end: number,
    kind: DocumentKind,
  ): SegmentMemoEntry | null {
    return memo.entry(text, start, end, kind, kind === "table" && isProseLineInTable(text, start));
  }

  /** The hand-made features that pushed a segment's score up the most, by name. */
  private reasons(text: string, segment: ScoredSegment, document: DocumentKind): string[] {
    extractFeatures(text, segment.start, segment.end, this.model.hash_bits, this.buffer, document);
    const contributions: { name: string; value: number }[] = [];
    for (let index = 0; index < this.buffer.length; index++) {
      const slot = this.buffer.indices[index]!;
      if (slot % BASE_FEATURE_COUNT === 0 || slot >= HAND_FEATURE_COUNT) continue;
      const value = (this.model.weights[slot] ?? 0) * this.buffer.values[index]!;
      const name = featureName(slot);
      if (value > 0.05 && name !== undefined && name !== "") contributions.push({ name, value });
    }
    contributions.sort((a, b) => b.value - a.value);
    const names = contributions.slice(0, 3).map((contribution) => contribution.name);
    return names.length > 0 ? names : ["wording"];
  }
}

/**
 * Whether a hidden-character signal is concealment rather than typography: tag characters, bidi
 * controls and ANSI sequences other than colours always are; zero-width characters are when there are
 * several (one stray U+200B in a web page is common).
 */
function hidesContent(text: string, signal: PoisoningSignal): boolean {
  if (signal.detail.includes("zero-width")) return Number.parseInt(signal.detail, 10) >= 2;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: a colour sequence starts with ESC
  if (signal.detail.includes("ANSI")) return !/^(?:\u001b\[[\d;]*m)+$/.test(ansiRun(text, signal));
  return true;
}

/** The escape sequences of an ANSI signal's span, with their parameters. */
function ansiRun(text: string, signal: PoisoningSignal): string {
  const tail = /^[\d;?]*[A-Za-z]/.exec(text.slice(signal.end, signal.end + 16));
  return text.slice(signal.start, signal.end) + (tail?.[0] ?? "");
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/** Quotes a span on one line, clipped, with hidden characters named rather than echoed. */
export function quoteSpan(text: string, start: number, end: number, limit = MAX_QUOTE): string {
  let quote = text.slice(start, Math.min(end, start + limit * 2));
  // The detector quotes every finding, memo hit or not: most spans are one line of plain words, which the
  // replacements below would leave as they are.
  if (!isPlainQuote(quote)) {
    quote = quote
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters must not reach a message
      .replace(/[\u0000-\u001f\u007f\u200b-\u200f\u2060\u202a-\u202e\u2066-\u2069\ufeff]|\udb40[\udc00-\udc7f]/g, " ")
      .replace(/\s+/g, " ")
      .trim();
  }
  if (quote.length > limit) quote = `${quote.slice(0, limit - 1)}…`;
  return quote;
}

/**
 * Whether `quote` has no control or hidden character, no white space other than single spaces between
 * other characters: what the replacements of `quoteSpan` leave unchanged.
 */
function isPlainQuote(quote: string): boolean {
  const last = quote.length - 1;
  for (let index = 0; index <= last; index++) {
    const code = quote.charCodeAt(index);
    if (code === 32) {
      if (index === 0 || index === last || quote.charCodeAt(index - 1) === 32) return false;
    } else if (code < 32 || code === 127) {
      return false;
    } else if (code >= 160 && (isRegExpSpace(code) || isHiddenCode(code))) {
      return false;
    }
  }
  return true;
}

/** Zero-width and bidirectional characters, and the high half of a tag character. */
function isHiddenCode(code: number): boolean {
  return (
    (code >= 0x200b && code <= 0x200f) ||
    code === 0x2060 ||
    (code >= 0x202a && code <= 0x202e) ||
    (code >= 0x2066 && code <= 0x2069) ||
    code === 0xfeff ||
    code === 0xdb40
  );
}

function explain(text: string, poisoned: boolean, signals: PoisoningSignal[], best: ScoredSegment): string {
  const top = signals[0];
  if (!poisoned || top === undefined) {
    return best.score > 0 ? `no poisoning found (best segment scored ${round(best.score)})` : "no poisoning found";
  }
  const what: Record<PoisoningSignal["kind"], string> = {
    instruction: "instruction to the model",
    cue_phrase: "cue phrase",
    instruction_tag: "instruction tag",
    concealment: "concealment request",
    exfiltration_link: "exfiltration link",
    hidden_characters: "hidden characters",
  };
  const head = `${what[top.kind]} (${top.score ?? ""})`;
  if (top.kind === "hidden_characters") return `${head}: ${top.detail}`.slice(0, 160);
  const quote = quoteSpan(text, top.start, top.end, 160 - head.length - 6);
  return `${head}: "${quote}"`;
}
