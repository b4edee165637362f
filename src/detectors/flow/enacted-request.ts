import { nameWords } from "../../defence/name-words.js";
import type { InstructionScorer } from "./data-flow-tracker.js";

/**
 * Whether a call does what a request in the result just before it asked for, when the request carried no
 * identifier to trace: "Please unlock my front door." followed by `unlock_door()`, "Please sell 50 units of my
 * Bitcoin" followed by `place_order(side="sell", quantity=50)`. Value tracing sees nothing here (there is no value
 * to follow); what ties the two is that the call's own words (its tool name, its short argument values) are the
 * request's words. That is an injection in the user's voice acted on, or the user's own request relayed through
 * data, and the detectors cannot tell which; they say so.
 */

/** A sentence of a result that reads as a request and names the call that followed it. */
export interface EnactedRequest {
  /** The sentence, clipped to 200 characters. */
  sentence: string;
  /** The request's score as an instruction (the poisoning model's segment score). */
  score: number;
  /** The words the call and the sentence share (at least two, one of them from the tool name or a one-word argument). */
  words: string[];
}

/** Characters of a result searched for the request: what a session needs to keep of its latest result. */
export const REQUEST_SEARCH_CHARS = 16_384;
/** Segments of a result whose words are compared; the rest are not read. */
const MAX_SEGMENTS = 256;
/** Segments scored by the model at most (only those sharing enough words with the call are). */
const MAX_SCORED = 8;
/** Words a call contributes at most. */
const MAX_CALL_WORDS = 64;
/** Argument strings longer than this are free text (a mail body), not the call's choices. */
const MAX_VALUE_CHARS = 64;
const MAX_SENTENCE_CHARS = 200;

/**
 * Words too common to tie a call to a sentence, the words of tool names that say nothing about the action
 * (`manager`, `system`), and the pieces of addresses. English, like the verbs the capabilities are read from.
 */
const COMMON_WORDS: ReadonlySet<string> = new Set([
  "the",
  "and",
  "for",
  "with",
  "from",
  "this",
  "that",
  "these",
  "those",
  "you",
  "your",
  "our",
  "all",
  "any",
  "are",
  "was",
  "were",
  "will",
  "can",
  "not",
  "but",
  "has",
  "have",
  "had",
  "please",
  "kindly",
  "now",
  "new",
  "into",
  "onto",
  "its",
  "his",
  "her",
  "their",
  "them",
  "they",
  "what",
  "when",
  "where",
  "which",
  "who",
  "how",
  "also",
  "just",
  "get",
  "manager",
  "manage",
  "system",
  "service",
  "tool",
  "tools",
  "api",
  "mcp",
  "app",
  "true",
  "false",
  "null",
  "none",
  "com",
  "org",
  "net",
  "www",
  "http",
  "https",
  "html",
]);

/**
 * The request in `text` that the call enacts, or `null`. A sentence qualifies when it shares at least two
 * words with the call, one of them a word of the tool's name or a one-word argument value (the action: `unlock`,
 * `sell`), and the model reads it as an instruction (`threshold`). Only sentences that share those words are
 * scored, so a call that matches nothing costs a word scan of the text.
 */
export function findEnactedRequest(
  text: string,
  tool: string,
  args: Record<string, unknown> | null,
  scorer: InstructionScorer,
  threshold: number,
): EnactedRequest | null {
  const callWords = wordsOfCall(tool, args);
  if (callWords.size < 2) return null;
  const clipped = text.length > REQUEST_SEARCH_CHARS ? text.slice(0, REQUEST_SEARCH_CHARS) : text;
  const lower = clipped.toLowerCase();
  if (!holdsCallWords(lower, callWords)) return null;
  // In ASCII text a sentence's lower-cased words sit at the same offsets of the lower-cased text.
  const aligned = !NON_ASCII.test(clipped);
  const segments = scorer.segments(clipped);
  const count = Math.min(segments.length, MAX_SEGMENTS);
  let scored = 0;
  for (let index = 0; index < count && scored < MAX_SCORED; index++) {
    const segment = segments[index]!;
    if (aligned && !holdsCallWords(lower.slice(segment.start, segment.end), callWords)) continue;
    const shared = sharedWords(clipped.slice(segment.start, segment.end), callWords);
    if (shared === null) continue;
    scored++;
    const score = scorer.scoreSpan(clipped, segment.start, segment.end, index);
    if (score < threshold) continue;
    const sentence = clipped.slice(segment.start, segment.end).trim();
    return {
      sentence: sentence.length > MAX_SENTENCE_CHARS ? `${sentence.slice(0, MAX_SENTENCE_CHARS - 1)}…` : sentence,
      score,
      words: shared,
    };
  }
  return null;
}

/**
 * The part of a result that {@link findEnactedRequest} reads, as a string of its own. A slice of a longer string
 * would keep the whole of it alive (V8 slices point into their parent), so a long text's head is copied: a session
 * holding its latest result holds 32 KB of it at most. V8 flattens the concatenation into a new string (one more
 * character) before slicing it, so the slice points into that copy only: one copy of the head, where a round trip
 * through a UTF-16 buffer made two and cost several times as much (one result in seventeen of agentdojo's is that long).
 */
export function requestSearchText(text: string): string {
  if (text.length <= REQUEST_SEARCH_CHARS) return text;
  return ` ${text.slice(0, REQUEST_SEARCH_CHARS)}`.slice(1);
}

/**
 * The call's words: those of its tool name and of its short argument values (numbers included), lower-cased,
 * each marked whether it names the action (a tool-name word, or an argument value that is one word).
 */
function wordsOfCall(tool: string, args: Record<string, unknown> | null): Map<string, boolean> {
  const words = new Map<string, boolean>();
  const add = (word: string, action: boolean): void => {
    if (words.size >= MAX_CALL_WORDS || !isContentWord(word)) return;
    if (action || !words.has(word)) words.set(word, action);
  };
  for (const word of nameWords(tool)) add(word, true);
  if (args !== null) {
    collectValues(args, 0, (value) => {
      const parts = splitWords(value);
      for (const part of parts) add(part, parts.length === 1 && !/^\d+$/.test(part));
    });
  }
  return words;
}

/** The call's words found in `sentence`, or `null` unless there are two and one of them names the action. */
function sharedWords(sentence: string, callWords: ReadonlyMap<string, boolean>): string[] | null {
  let shared: string[] | null = null;
  let action = false;
  for (const word of splitWords(sentence)) {
    const isAction = callWords.get(word);
    if (isAction === undefined || shared?.includes(word)) continue;
    shared ??= [];
    shared.push(word);
    if (isAction) action = true;
  }
  return shared !== null && shared.length >= 2 && action ? shared : null;
}

/**
 * Whether `lower`, a lower-cased text, holds two of the call's words, one naming the action, even as parts of
 * longer words: if not, no sentence of it shares them as {@link sharedWords} asks. A sentence's words are found
 * in its lower-cased slice, a part of the lower-cased text (case mapping is per character, but for a final sigma:
 * words with a sigma count as held). Most results and most of their sentences share nothing with the next call:
 * this spares segmenting them, splitting their sentences into words, and the classifier reading them anew (it
 * holds one reading, of the result being analysed, which the instruction scores of its flows then read again).
 */
function holdsCallWords(lower: string, callWords: ReadonlyMap<string, boolean>): boolean {
  let held = 0;
  let action = false;
  for (const [word, isAction] of callWords) {
    if (!SIGMA.test(word) && !lower.includes(word)) continue;
    held++;
    if (isAction) action = true;
    if (held >= 2 && action) return true;
  }
  return false;
}

const SIGMA = /[σς]/;
/** A code unit beyond ASCII (surrogates included: without the `u` flag a class matches code units). */
const NON_ASCII = /[\u0080-\uffff]/;

/** Lower-case runs of letters and digits: `bathroom_01` is `bathroom` and `01`, as in a sentence. */
function splitWords(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

/** A word of three letters or more that is not a common one, or a number. */
function isContentWord(word: string): boolean {
  if (/^\d+$/.test(word)) return word !== "0" && word !== "1";
  return word.length >= 3 && !COMMON_WORDS.has(word);
}

/** Calls `visit` for each short string or number in the arguments, to a bounded depth. */
function collectValues(value: unknown, depth: number, visit: (text: string) => void): void {
  if (typeof value === "string") {
    if (value.length <= MAX_VALUE_CHARS) visit(value);
  } else if (typeof value === "number" && Number.isFinite(value)) {
    visit(String(value));
  } else if (depth < 4 && value !== null && typeof value === "object") {
    const items = Array.isArray(value) ? value : Object.values(value as Record<string, unknown>);
    for (const item of items.slice(0, 32)) collectValues(item, depth + 1, visit);
  }
}
