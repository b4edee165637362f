/**
 * Turns a segment of text into sparse features for the poisoning model. Shared by the classifier
 * (inference) and the training script, so both see exactly the same features.
 *
 * Features are hashed word unigrams and bigrams (after normalising URLs, e-mail addresses, IBANs and
 * numbers to placeholders, so that no concrete address or account is learned), the first words of the
 * segment (imperative starts), and a few hand-made cues in fixed slots. Nothing here names a tool,
 * a recipient or a data set.
 */

/** A span of the inspected text that is scored on its own (a sentence, a table row, a line). */
export interface Segment {
  start: number;
  end: number;
}

/** Segments with fewer words than this (after a leading `key:`) score 0: a request needs a verb and an object. */
export const MIN_WORDS = 3;

/** Number of fixed (hand-made) feature slots before the hashed space. */
export const BASE_FEATURE_COUNT = 40;
/** Dense slots of hand-made cues (the conjunctions with the kind of document are hashed). */
export const HAND_FEATURE_COUNT = BASE_FEATURE_COUNT;

/** Names of the hand-made features, by slot; also used to explain a verdict. */
export const HAND_FEATURE_NAMES: readonly string[] = [
  "bias",
  "imperative start",
  "second-person address",
  "polite request",
  "obligation (must, make sure)",
  "mentions the assistant or model",
  "mentions the user",
  "mentions instructions or the task",
  "action verb",
  "URL",
  "e-mail address",
  "account number",
  "money amount",
  "first-person request",
  "segment length",
  "first-person words",
  "question",
  "exclamation",
  "data field",
  "capitals",
  "sequencing (first, instead, then)",
  "urgency",
  "table row",
  "request with a destination",
  "imperative with an action",
  "code or command",
  "response manipulation",
  "secrets",
  "capitalised verb inside the segment",
  "prose inside a table",
  "prose inside structured data",
  "prose inside code",
  "asks to produce content (explain, write, list)",
  "asks to act (send, delete, transfer)",
  "refers to the answer or reply",
  "question to the reader",
  "title case",
  "full sentence",
  "quoted",
  "a line of its own amid table rows",
];

/** What kind of document a segment sits in: a sentence reads differently in a table than in an e-mail. */
export type DocumentKind = "table" | "structured" | "code" | "prose";

const KIND_SEED: Record<DocumentKind, number> = { table: 11, structured: 12, code: 13, prose: 14 };
const KIND_INDEX: Record<DocumentKind, number> = { table: 1, structured: 2, code: 3, prose: 4 };

/** A readable name for a dense feature slot (base cue, or base cue in a kind of document). */
export function featureName(slot: number): string {
  const base = HAND_FEATURE_NAMES[slot % BASE_FEATURE_COUNT] ?? "";
  const kind = (Object.keys(KIND_INDEX) as DocumentKind[]).find(
    (name) => KIND_INDEX[name] === Math.floor(slot / BASE_FEATURE_COUNT),
  );
  return kind === undefined || base === ""
    ? base
    : `${base} in ${kind === "structured" ? "structured data" : `a ${kind}`}`;
}

/**
 * Classifies a document by the share of its characters in table rows, `key: value` fields and code lines
 * (prose otherwise). Linear in the text; looks at the first 32 KB only.
 */
export function documentKind(text: string): DocumentKind {
  readLines(text);
  return linesKind;
}

// The last text whose lines were read and what they showed: the classifier asks for a text's kind and then
// whether it is JSON, and both answers come from one pass over its lines.
let linesText: string | null = null;
let linesKind: DocumentKind = "prose";
let linesJson = false;

/** Sets `linesKind` and `linesJson` for `text`, from one pass over its first 32 KB of lines. */
function readLines(text: string): void {
  if (linesText === text) return;
  let table = 0;
  let structured = 0;
  let code = 0;
  let total = 0;
  // The JSON share counts lines from the first unit that is not `isSpace`, as a JSON reader would.
  let jsonStart = 0;
  while (jsonStart < text.length && isSpace(text.charCodeAt(jsonStart))) jsonStart++;
  const opening = text.charCodeAt(jsonStart);
  let json = 0;
  let jsonTotal = 0;
  let position = 0;
  const limit = Math.min(text.length, 32768);
  while (position < limit) {
    let end = text.indexOf("\n", position);
    if (end === -1 || end > limit) end = limit;
    let first = position;
    while (first < end && (text.charCodeAt(first) === 32 || text.charCodeAt(first) === 9)) first++;
    const length = end - first;
    if (length > 0) {
      total += length;
      const code0 = text.charCodeAt(first);
      const last = text.charCodeAt(end - 1);
      if (code0 === 124) table += length;
      else if (isStructuredLine(text, first, Math.min(end, first + 40))) structured += length;
      else if (last === 59 || last === 123 || last === 125 || isCodeLine(text, first, end)) code += length;
    }
    if (jsonStart < end) {
      // Only `isSpace` units precede `jsonStart` on its line, and it is not one: it opens the line there.
      const jsonFirst = Math.max(first, jsonStart);
      const jsonCode = text.charCodeAt(jsonFirst);
      jsonTotal += end - jsonFirst;
      if (jsonCode === 34 || jsonCode === 123 || jsonCode === 125 || jsonCode === 91 || jsonCode === 93) {
        json += end - jsonFirst;
      }
    }
    position = end + 1;
  }
  if (total === 0) linesKind = "prose";
  else if (table / total >= 0.5) linesKind = "table";
  else if (structured / total >= 0.5) linesKind = "structured";
  else if (code / total >= 0.4) linesKind = "code";
  else linesKind = "prose";
  linesJson = opening === 123 || opening === 91 || (jsonTotal > 0 && json * 2 >= jsonTotal);
  linesText = text;
}

/**
 * Whether `text[start, end)` matches `^(?:-\s+)?[A-Za-z_][\w]{0,30}:(?:\s|$)` (a `key: value` line), read
 * in place rather than by a regex on a copy of the line's head: this runs on every line of every text.
 */
function isStructuredLine(text: string, start: number, end: number): boolean {
  let index = start;
  if (index < end && text.charCodeAt(index) === 45) {
    index++;
    if (index >= end || !isRegExpSpace(text.charCodeAt(index))) return false;
    while (index < end && isRegExpSpace(text.charCodeAt(index))) index++;
  }
  if (index >= end) return false;
  const first = text.charCodeAt(index);
  if (!(isUpper(first) || isLower(first) || first === 95)) return false;
  index++;
  const limit = Math.min(end, index + 30);
  while (index < limit && isWordCode(text.charCodeAt(index))) index++;
  if (index >= end || text.charCodeAt(index) !== 58) return false;
  index++;
  return index === end || isRegExpSpace(text.charCodeAt(index));
}

/** What a regex's `\s` matches (without the `u` flag): ASCII white space, the Unicode spaces, BOM. */
export function isRegExpSpace(code: number): boolean {
  if (code <= 32) return code === 32 || (code >= 9 && code <= 13);
  if (code < 160) return false;
  return (
    code === 160 ||
    code === 5760 ||
    (code >= 8192 && code <= 8202) ||
    code === 8232 ||
    code === 8233 ||
    code === 8239 ||
    code === 8287 ||
    code === 12288 ||
    code === 65279
  );
}

const CODE_STARTS = [
  "import ",
  "from ",
  "def ",
  "class ",
  "return ",
  "const ",
  "let ",
  "var ",
  "function ",
  "#include",
  "public ",
  "if (",
  "for (",
  "//",
  "```",
  ">>> ",
];
// The code line openings by their first character, so most lines are rejected by one lookup.
const CODE_STARTS_BY_FIRST = new Map<number, string[]>();
for (const opening of CODE_STARTS) {
  const first = opening.charCodeAt(0);
  CODE_STARTS_BY_FIRST.set(first, [...(CODE_STARTS_BY_FIRST.get(first) ?? []), opening]);
}

/** Whether the line `text[start, end)` opens as code does (a keyword, a comment, a fence, a prompt). */
function isCodeLine(text: string, start: number, end: number): boolean {
  const openings = CODE_STARTS_BY_FIRST.get(text.charCodeAt(start));
  if (openings === undefined) return false;
  for (const opening of openings) if (start + opening.length <= end && text.startsWith(opening, start)) return true;
  return false;
}

/** Reusable sparse vector: indices and values up to `length`. */
export class FeatureBuffer {
  indices: Int32Array;
  values: Float64Array;
  length = 0;

  constructor(capacity = 1024) {
    this.indices = new Int32Array(capacity);
    this.values = new Float64Array(capacity);
  }

  clear(): void {
    this.length = 0;
  }

  /** Grows the arrays (keeping their content) to hold at least `capacity` entries. */
  reserve(capacity: number): void {
    if (this.indices.length >= capacity) return;
    const indices = new Int32Array(capacity);
    indices.set(this.indices);
    const values = new Float64Array(capacity);
    values.set(this.values);
    this.indices = indices;
    this.values = values;
  }

  push(index: number, value: number): void {
    if (this.length === this.indices.length) {
      const indices = new Int32Array(this.length * 2);
      indices.set(this.indices);
      const values = new Float64Array(this.length * 2);
      values.set(this.values);
      this.indices = indices;
      this.values = values;
    }
    this.indices[this.length] = index;
    this.values[this.length] = value;
    this.length++;
  }
}

// Segments end at sentence punctuation followed by space, at blank lines, at line breaks that open a new
// structural element (list item, table row, heading, quote, `key:` field), and at a line break before an
// unindented line that is a sentence of its own (a capital, and sentence punctuation where the line ends). A
// plain wrapped line stays in its sentence, and so does an indented one, so an instruction folded over two lines
// of YAML is scored whole; but a line after one that a preview clipped ("… The Mercury T") does not run on into
// it, and is read as the request it may be.
// The price: a wrapped sentence whose last line opens with a name ("help with\nMarch's figures.") is cut there.
const BOUNDARY =
  /[.!?]+["')\]]*\s+|\n\s*\n|\n(?=[ \t]*(?:[-*+|#>[]|\d+[.)]\s|[A-Za-z_][\w ]{0,30}:(?:\s|$))|(?=[A-Z][^\n]*[.!?]["')\]]*[ \t]*(?:\r?\n|$)))|\|/g;
const MAX_SEGMENT = 360;
// Shorter spans (a number, a name in a table cell) cannot hold an instruction worth the name, and
// scoring them would cost more than all the prose of a table.
const MIN_SEGMENT = 10;

/**
 * Splits text into the segments the model scores; long segments are cut into windows of at most 360
 * characters. JSON (a document that opens with `{` or `[`, or whose lines mostly open with JSON syntax) is
 * read by its string literals: each string is scored on its own, as the natural-language value it is, and
 * the syntax between strings is not read as a sentence. Text between literals that is not JSON syntax
 * (words other than `true`, `false`, `null`) is scored as prose, so nothing can hide outside the strings.
 */
export function segmentText(text: string): Segment[] {
  const list = segmentInto(text, sharedSegments);
  const segments: Segment[] = [];
  for (let index = 0; index < list.length; index++)
    segments.push({ start: list.starts[index]!, end: list.ends[index]! });
  return segments;
}

/** Segments as two arrays of offsets, reused from text to text: the classifier's path allocates no object per segment. */
export class SegmentList {
  starts = new Int32Array(256);
  ends = new Int32Array(256);
  length = 0;

  push(start: number, end: number): void {
    if (this.length === this.starts.length) {
      const starts = new Int32Array(this.length * 2);
      starts.set(this.starts);
      this.starts = starts;
      const ends = new Int32Array(this.length * 2);
      ends.set(this.ends);
      this.ends = ends;
    }
    this.starts[this.length] = start;
    this.ends[this.length] = end;
    this.length++;
  }
}

// The offsets `segmentText` copies into objects before it returns, so one list serves every call.
const sharedSegments = new SegmentList();

/** `segmentText` into `segments` (cleared first); returns it. */
export function segmentInto(text: string, segments: SegmentList): SegmentList {
  segments.length = 0;
  if (isJsonLike(text)) jsonSegments(text, segments);
  else proseSegments(escapesAsSpace(text), 0, text.length, segments);
  return segments;
}

// Escapes a serialiser leaves in text it does not parse as JSON: `\n`, `\r`, `\t` and an escaped space (Python's
// repr writes a dict's strings that way), and a backslash that ends a line with the indentation and escaped
// space after it (YAML folds a long double-quoted string so: the whole fold stands for one space, not a break).
const ESCAPE = /\\(?:[nrt ]|\r?\n[ \t]*(?:\\ )?)/g;

/**
 * `text` with each such escape turned into the white space it stands for, padded with spaces to the same
 * length, so that offsets into it are offsets into `text`. Segment boundaries are found in this reading: read
 * raw, a document's escaped line breaks are not breaks, its lines run into one segment, and an injected line
 * hides among the data lines around it (a review in a repr'd dict, the sentence after a folded YAML line).
 * The features are still read from `text` itself.
 */
function escapesAsSpace(text: string): string {
  if (text.indexOf("\\") === -1) return text;
  return text.replace(ESCAPE, escapeAsSpace);
}

function escapeAsSpace(sequence: string): string {
  return sequence === "\\n" ? " \n" : " ".repeat(sequence.length);
}

function addSegment(text: string, start: number, end: number, segments: SegmentList): void {
  while (start < end && isSpace(text.charCodeAt(start))) start++;
  while (end > start && isSpace(text.charCodeAt(end - 1))) end--;
  if (end - start < MIN_SEGMENT || !hasWords(text, start, end)) return;
  while (end - start > MAX_SEGMENT) {
    // Cut at a space near the limit so a word is not split, with an overlap so a request is never
    // split between two windows without either seeing its start.
    let cut = text.lastIndexOf(" ", start + MAX_SEGMENT);
    if (cut <= start + MAX_SEGMENT / 2) cut = start + MAX_SEGMENT;
    segments.push(start, cut);
    start = Math.max(start + 1, cut - 120);
    const space = text.indexOf(" ", start);
    if (space !== -1 && space < cut) start = space + 1;
  }
  segments.push(start, end);
}

/** Sentences, cells and structural lines of `text[from, to)`. */
function proseSegments(text: string, from: number, to: number, segments: SegmentList): void {
  let last = from;
  let searchFrom = from;
  BOUNDARY.lastIndex = from;
  // `test` rather than `exec`: no match array and substring per boundary (a table has one per cell); the
  // start of the match follows from its end.
  // A `|` inside inline code (`curl … | sh`) is a shell pipe, not a cell: backticks are counted along the line.
  // Whether the span holds any is asked at its first `|` only, so that the many short spans between a JSON
  // text's strings do not each search the rest of the text for one.
  let backticks: boolean | undefined;
  let tickCursor = from;
  let ticks = 0;
  while (BOUNDARY.test(text)) {
    const matchEnd = BOUNDARY.lastIndex;
    const matchStart = boundaryStart(text, searchFrom, matchEnd);
    if (matchStart >= to) break;
    const pipe = text.charCodeAt(matchStart) === 124;
    if (pipe) backticks ??= hasBacktick(text, from, to);
    if (pipe && backticks) {
      for (; tickCursor < matchStart; tickCursor++) {
        const code = text.charCodeAt(tickCursor);
        if (code === 10) ticks = 0;
        else if (code === 96) ticks++;
      }
      if ((ticks & 1) === 1 && closesOnLine(text, matchStart, to)) {
        searchFrom = matchEnd;
        continue;
      }
    }
    const end = Math.min(to, matchEnd);
    addSegment(text, last, pipe ? matchStart : end, segments);
    last = end;
    searchFrom = matchEnd;
  }
  addSegment(text, last, to, segments);
}

/** Whether `text[from, to)` holds a backtick. */
function hasBacktick(text: string, from: number, to: number): boolean {
  const backtick = text.indexOf("`", from);
  return backtick !== -1 && backtick < to;
}

/** Whether a backtick follows `position` before the line (or `text[, to)`) ends: the inline code closes. */
function closesOnLine(text: string, position: number, to: number): boolean {
  for (let index = position + 1; index < to; index++) {
    const code = text.charCodeAt(index);
    if (code === 96) return true;
    if (code === 10) return false;
  }
  return false;
}

/**
 * Where the `BOUNDARY` match that a search from `from` ended at `end` starts. A `|` is its own match. Otherwise
 * the match ends in white space: it is sentence punctuation (with closing quotes or brackets) and the white
 * space after it when such punctuation sits right before that white space, since the search would have stopped
 * there first; else it starts at the first line break of the white space (`\n\s*\n` or a structural `\n`).
 */
function boundaryStart(text: string, from: number, end: number): number {
  if (text.charCodeAt(end - 1) === 124) return end - 1;
  let space = end;
  while (space > from && isRegExpSpace(text.charCodeAt(space - 1))) space--;
  let closers = space;
  while (closers > from && isCloser(text.charCodeAt(closers - 1))) closers--;
  let punctuation = closers;
  while (punctuation > from && isSentencePunctuation(text.charCodeAt(punctuation - 1))) punctuation--;
  if (punctuation < closers) return punctuation;
  const lineBreak = text.indexOf("\n", space);
  if (lineBreak !== -1 && lineBreak < end) return lineBreak;
  // Not reached for a match of `BOUNDARY`; ask the pattern itself rather than guess.
  BOUNDARY.lastIndex = from;
  const match = BOUNDARY.exec(text);
  BOUNDARY.lastIndex = end;
  return match === null ? end : match.index;
}

function isCloser(code: number): boolean {
  return code === 34 || code === 39 || code === 41 || code === 93;
}

function isSentencePunctuation(code: number): boolean {
  return code === 46 || code === 33 || code === 63;
}

/**
 * Whether `text` reads as JSON: it opens with `{` or `[`, or at least half of its characters are on lines
 * that open with JSON syntax (a quote, a brace or a bracket), as in several JSON files printed one after
 * another with their paths.
 */
export function isJsonLike(text: string): boolean {
  if (linesText !== text) {
    // Answered without reading the lines when the text opens as JSON, for callers that do not ask its kind.
    let position = 0;
    while (position < text.length && isSpace(text.charCodeAt(position))) position++;
    const first = text.charCodeAt(position);
    if (first === 123 || first === 91) return true;
  }
  readLines(text);
  return linesJson;
}

/**
 * The string literals of a JSON text as segments, and any non-JSON text between them as prose, its boundaries
 * found in `escapesAsSpace(text)`: made only when such text is met, since most JSON has none and its strings
 * read their own escapes.
 */
function jsonSegments(text: string, segments: SegmentList): void {
  let reading: string | null = null;
  let position = 0;
  const length = text.length;
  while (position < length) {
    const quote = text.indexOf('"', position);
    const gapEnd = quote === -1 ? length : quote;
    if (hasProseBetween(text, position, gapEnd)) {
      reading ??= escapesAsSpace(text);
      proseSegments(reading, position, gapEnd, segments);
    }
    if (quote === -1) return;
    let index = quote + 1;
    while (index < length) {
      const code = text.charCodeAt(index);
      if (code === 92) index += 2;
      else if (code === 34 || code === 10) break;
      else index++;
    }
    const close = Math.min(index, length);
    // A string that does not close on its line is prose that happens to hold a quote.
    if (close < length && text.charCodeAt(close) === 10) {
      sentenceSegments(text, quote, close, segments);
      position = close;
      continue;
    }
    if (close - quote - 1 >= MIN_SEGMENT) sentenceSegments(text, quote + 1, close, segments);
    position = close + 1;
  }
}

/** Whether `text[start, end)` holds a word other than JSON's `true`, `false` and `null`. */
function hasProseBetween(text: string, start: number, end: number): boolean {
  let run = 0;
  for (let index = start; index <= end; index++) {
    const code = index < end ? text.charCodeAt(index) | 0x20 : 0;
    if (code >= 97 && code <= 122) {
      run++;
      continue;
    }
    if (run >= 2) {
      const word = index - run;
      const literal =
        (run === 4 && (text.startsWith("true", word) || text.startsWith("null", word))) ||
        (run === 5 && text.startsWith("false", word));
      if (!literal) return true;
    }
    run = 0;
  }
  return false;
}

/** Sentences of a JSON string value: a plain loop, since a regex would scan on past the value's end. */
function sentenceSegments(text: string, from: number, to: number, segments: SegmentList): void {
  let last = from;
  for (let index = from; index < to - 1; index++) {
    const code = text.charCodeAt(index);
    if ((code === 46 || code === 33 || code === 63) && text.charCodeAt(index + 1) === 32) {
      addSegment(text, last, index + 1, segments);
      last = index + 2;
    } else if (code === 92 && text.charCodeAt(index + 1) === 110) {
      // An escaped line break inside a value ends its line.
      addSegment(text, last, index, segments);
      last = index + 2;
    }
  }
  addSegment(text, last, to, segments);
}

/** Whether a span has at least three words (two inner spaces): a request needs a verb and an object. */
function hasWords(text: string, start: number, end: number): boolean {
  let spaces = 0;
  for (let index = start; index < end; index++) {
    if (text.charCodeAt(index) === 32 && text.charCodeAt(index - 1) !== 32 && ++spaces >= 2) return true;
  }
  return false;
}

function isSpace(code: number): boolean {
  return code === 32 || code === 10 || code === 13 || code === 9;
}

// Word classes, as bits of one lexicon keyed by the word's hash: one Map lookup per word instead of a
// string per token and a dozen Set lookups (the classifier runs inline, so this loop is the hot path).
const IMPERATIVE = 1 << 0;
const ACTION = 1 << 1;
const CONTENT = 1 << 2;
const ACT = 1 << 3;
const ANSWER = 1 << 4;
const QUESTION = 1 << 5;
const ASSISTANT = 1 << 6;
const INSTRUCTION = 1 << 7;
const OBLIGATION = 1 << 8;
const SEQUENCE = 1 << 9;
const URGENCY = 1 << 10;
const FIRST_PERSON = 1 << 11;
const CODE = 1 << 12;
const RESPONSE = 1 << 13;
const SECRET = 1 << 14;
const MONEY = 1 << 15;
const USER = 1 << 16;
const YOU = 1 << 17;
const PLEASE = 1 << 18;
const MARKER = 1 << 19;

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

// Hashes are kept to 30 bits: V8 stores such integers unboxed (small integers), so the lexicon lookup
// and the feature arithmetic allocate nothing.
const HASH_MASK = 0x3fffffff;

function hashString(value: string, seed: number): number {
  let hash = FNV_OFFSET ^ seed;
  for (let index = 0; index < value.length; index++) {
    hash ^= value.charCodeAt(index);
    hash = Math.imul(hash, FNV_PRIME);
  }
  return hash & HASH_MASK;
}

function mix(a: number, b: number): number {
  let hash = Math.imul(a ^ (b >>> 15), 0x2c1b3c6d) ^ b;
  hash = Math.imul(hash ^ (hash >>> 12), 0x297a2d39);
  return (hash ^ (hash >>> 15)) & HASH_MASK;
}

/**
 * The lexicon as an open-addressed table of word hashes (stored plus one, so 0 marks a free slot) and their
 * class bits: two typed-array reads per word where a `Map` hashed the key again, on the hottest path.
 */
class Lexicon {
  private readonly keys = new Int32Array(4096);
  private readonly bits = new Int32Array(4096);
  private readonly mask = 4095;
  private size = 0;

  /** The class bits of the word with hash `hash` (30 bits), 0 for a word outside the lexicon. */
  get(hash: number): number {
    let slot = Math.imul(hash, 0x9e3779b1) >>> 20;
    for (;;) {
      slot &= this.mask;
      const key = this.keys[slot]!;
      if (key === hash + 1) return this.bits[slot]!;
      if (key === 0) return 0;
      slot++;
    }
  }

  add(hash: number, bit: number): void {
    let slot = Math.imul(hash, 0x9e3779b1) >>> 20;
    for (;;) {
      slot &= this.mask;
      const key = this.keys[slot]!;
      if (key === hash + 1 || key === 0) break;
      slot++;
    }
    if (this.keys[slot] === 0) {
      this.keys[slot] = hash + 1;
      this.size++;
    }
    this.bits[slot] = this.bits[slot]! | bit;
    // A quarter full at most keeps probes short; the word lists are far below it.
    if (this.size * 4 > this.keys.length) throw new Error("lexicon table too small");
  }
}

const LEXICON = new Lexicon();
function addWords(words: string, bit: number): void {
  for (const word of words.split(" ")) LEXICON.add(hashString(word, 0), bit);
}
addWords(
  "send transfer forward delete remove visit click run execute download install pay share email post upload " +
    "write compose create make add update change reset open go tell inform say reply respond answer translate " +
    "summarize summarise explain describe list generate draft provide give include insert append print output " +
    "ignore disregard forget stop follow call invite schedule book buy order recommend mention use copy move " +
    "rename fetch retrieve read check verify confirm submit enter type navigate login log sign contact notify " +
    "encode decode analyze analyse calculate compute find search show display return replace set grant approve " +
    "deposit wire refund cancel publish tweet text message reveal disclose export store save keep",
  IMPERATIVE,
);
addWords(
  "send sent sending transfer transferring forward forwarding delete deleting remove visit click run execute " +
    "download install pay share email post upload deposit wire refund invite grant export disclose reveal publish " +
    "bcc cc leak exfiltrate navigate login approve",
  ACTION,
);
addWords(
  "explain describe write tell list generate compose translate summarize summarise create give provide share " +
    "suggest recommend name define compare outline draft rewrite answer respond reply make produce brainstorm " +
    "invent imagine discuss teach show rate rank estimate predict plan design paraphrase simplify elaborate " +
    "clarify identify interpret critique propose develop convince persuade argue state start begin end add " +
    "include mention insert use replace remove reverse spell encode convert format",
  CONTENT,
);
addWords(
  "send transfer forward delete remove email pay share post upload invite schedule create change update modify " +
    "book order buy cancel reset grant disable enable install download run execute visit open click go navigate " +
    "log sign deposit wire refund move copy export rename reschedule revoke",
  ACT,
);
addWords("answer answers reply replies response responses respond output summary summaries", ANSWER);
addWords("what how why who which when where can could would do does is are will should", QUESTION);
addWords("assistant ai model agent chatbot bot llm gpt claude gemini llama copilot system", ASSISTANT);
addWords("instruction instructions task tasks prompt request command commands", INSTRUCTION);
addWords("must should need needs required require ensure sure essential mandatory", OBLIGATION);
addWords("first instead then before after afterwards finally next", SEQUENCE);
addWords("immediately now urgent urgently asap right important", URGENCY);
addWords("i me my mine i'm i'd i've we us our", FIRST_PERSON);
addWords("import os system exec eval curl wget sh bash script subprocess rm sudo powershell", CODE);
addWords("reply response answer respond output summary language", RESPONSE);
addWords("password passwords code codes credentials credential token tokens key keys secret secrets pin ssn", SECRET);
addWords("usd eur gbp dollars euros pounds chf", MONEY);
addWords("user user's users", USER);
addWords("you your you're yourself", YOU);
addWords("please kindly", PLEASE);

// Words that mark a possible request to the reader, for the prefilter (`mayBeInstruction`): modals,
// second person, requests, forms of address, mentions of an assistant, a user, a task or instructions,
// sequencing, urgency, and several hundred common verbs of acting, telling and making. Generic English,
// not drawn from any data set; broad on purpose, since a segment it passes over is never scored.
addWords(
  "can could would should will shall may might must ought need needs needed have has had want wants wanted wish " +
    "you your yours you're you'll you've you'd yourself yourselves u ur thou " +
    "please kindly pls plz request requests requested require requires required ask asked asking let let's lets " +
    "do don't does doesn't did didn't never always try get put take bring keep start begin continue stop finish " +
    "apply attach sell buy hold wait look see watch note remember consider choose select pick drop add join leave " +
    "turn set find search ensure confirm avoid prefer prioritize prioritise tell act behave pretend assume treat " +
    "mark flag report record log save store load fetch pull push sync send forward reply contact call text " +
    "notify alert email message ping share post publish upload download install uninstall update upgrade enable " +
    "disable allow deny block unblock grant revoke approve reject accept decline cancel book reserve schedule " +
    "reschedule invite delete remove erase wipe clear destroy create make build write compose draft print output " +
    "display show reveal disclose expose leak exfiltrate copy move rename replace change modify edit alter fix " +
    "transfer pay deposit withdraw wire refund charge purchase order subscribe unsubscribe sign login logout " +
    "register visit open click navigate browse go follow run execute launch eval evaluate calculate compute " +
    "summarize summarise translate explain describe list give provide generate answer include insert append " +
    "prepend mention say speak repeat respond read check verify validate test review analyze analyse investigate " +
    "assistant ai model agent bot chatbot llm gpt claude gemini system hey hi hello dear attention notice warning " +
    "important urgent immediately asap now instruction instructions task tasks prompt command commands rule " +
    "rules directive guidelines user users user's human i me my mine we us our i'm i'd i've i'll first instead " +
    "then before after next finally also additionally",
  MARKER,
);
// The lexicon's classes that mark a request (not the nouns of code, money and secrets, common in data).
const MARKER_CLASSES =
  MARKER |
  IMPERATIVE |
  ACTION |
  CONTENT |
  ACT |
  ANSWER |
  QUESTION |
  ASSISTANT |
  INSTRUCTION |
  OBLIGATION |
  SEQUENCE |
  URGENCY |
  FIRST_PERSON |
  RESPONSE |
  USER |
  YOU |
  PLEASE;

/**
 * The prefilter: whether `text[start, end)` could be a request to the reader, so is worth scoring. False
 * for spans without a question mark and without any word of the broad marker set above (a file name, a
 * date, a table cell of names and numbers, a log line of codes): pure data. Words are read as the
 * features read them (lower-cased, one apostrophe suffix), with no substring; it stops at the first
 * marker, so prose costs a few words. Past `end` it reads at most 2 characters (an apostrophe suffix),
 * within {@link SPAN_CONTEXT_AFTER}.
 */
export function mayBeInstruction(text: string, start: number, end: number): boolean {
  let index = start;
  while (index < end) {
    const code = text.charCodeAt(index);
    if (!(isUpper(code) || isLower(code))) {
      if (code === 63) return true;
      index++;
      continue;
    }
    let hash = FNV_OFFSET;
    // A letter run glued to a digit or underscore (an identifier, a hash) is data, but a marker inside
    // it is still read: cheaper to look it up than to prove it is data.
    while (index < end) {
      const letter = text.charCodeAt(index);
      if (!(isUpper(letter) || isLower(letter))) break;
      hash = Math.imul(hash ^ (letter | 0x20), FNV_PRIME);
      index++;
    }
    if (text.charCodeAt(index) === 39 && isLower(text.charCodeAt(index + 1))) {
      hash = Math.imul(hash ^ 39, FNV_PRIME);
      index++;
      while (index < end && isLower(text.charCodeAt(index))) {
        hash = Math.imul(hash ^ text.charCodeAt(index), FNV_PRIME);
        index++;
      }
    }
    if ((LEXICON.get(hash & HASH_MASK) & MARKER_CLASSES) !== 0) return true;
  }
  return false;
}

const HASH_START = hashString("<start>", 1);
const HASH_URL = hashString("<url>", 0);
const HASH_EMAIL = hashString("<email>", 0);
const HASH_NUMBER = hashString("<number>", 0);
const HASH_LONG_NUMBER = hashString("<long-number>", 0);
const HASH_MONEY = hashString("<money>", 0);
const HASH_ACCOUNT = hashString("<account>", 0);

const NGRAM_SCALE_FROM = 8;
const MAX_TOKENS = 120;
/** Most entries one segment makes: two n-grams a token, two position features, the first word, hand cues twice. */
const MAX_FEATURES = 2 * MAX_TOKENS + 2 + 1 + 2 * BASE_FEATURE_COUNT;
const hand = new Float64Array(BASE_FEATURE_COUNT);
// The hashed slot of each hand cue in each kind of document (before masking), by `kind index * 40 + cue`.
const HAND_SLOT_HASHES = new Int32Array(5 * BASE_FEATURE_COUNT);
for (let slot = 0; slot < HAND_SLOT_HASHES.length; slot++) HAND_SLOT_HASHES[slot] = mix(slot, 0x9e3779b9);

function isUpper(code: number): boolean {
  return code >= 65 && code <= 90;
}
function isLower(code: number): boolean {
  return code >= 97 && code <= 122;
}
function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}
function isWordCode(code: number): boolean {
  return isUpper(code) || isLower(code) || isDigit(code) || code === 95;
}
/** Ends a chunk (a run that may be a URL, an e-mail address or an account number). */
function endsChunk(code: number): boolean {
  return (
    code <= 32 ||
    code === 40 ||
    code === 41 ||
    code === 91 ||
    code === 93 ||
    code === 60 ||
    code === 62 ||
    code === 34 ||
    code === 39 ||
    code === 96
  );
}

/** Length of a `key: ` prefix (a data field such as `description: `) at `start`, or 0. */
function fieldKeyLength(text: string, start: number, end: number): number {
  let index = start;
  while (index < end && (text.charCodeAt(index) === 32 || text.charCodeAt(index) === 9)) index++;
  if (text.charCodeAt(index) === 45 && text.charCodeAt(index + 1) === 32) index += 2;
  const first = text.charCodeAt(index);
  if (!(isUpper(first) || isLower(first) || first === 95)) return 0;
  const limit = Math.min(end, index + 32);
  index++;
  while (index < limit && (isWordCode(text.charCodeAt(index)) || text.charCodeAt(index) === 32)) index++;
  if (text.charCodeAt(index) !== 58) return 0;
  index++;
  const spaceStart = index;
  while (index < end && text.charCodeAt(index) <= 32) index++;
  return index > spaceStart ? index - start : 0;
}

/** Whether `text[start, end)` is an account number: two capitals, two digits, then capitals and digits. */
function isAccount(text: string, start: number, end: number): boolean {
  if (end - start < 12 || end - start > 34) return false;
  if (
    !isUpper(text.charCodeAt(start + 1)) ||
    !isDigit(text.charCodeAt(start + 2)) ||
    !isDigit(text.charCodeAt(start + 3))
  ) {
    return false;
  }
  for (let index = start + 4; index < end; index++) {
    const code = text.charCodeAt(index);
    if (!isUpper(code) && !isDigit(code)) return false;
  }
  return true;
}

/**
 * Most characters before `start` that `extractFeatures` and `mayBeInstruction` read: the one before, for a
 * cell boundary (`|`). With {@link SPAN_CONTEXT_AFTER}, and `isProseLineInTable` for a table, this is all of
 * the text outside the span that a segment's features and prefilter answer depend on, which is what lets a
 * memo of segment scores key on the span and this context alone. Keep them in step with the reads below.
 */
export const SPAN_CONTEXT_BEFORE = 1;
/**
 * Most characters from `end` on that `extractFeatures` and `mayBeInstruction` read: a token starting inside
 * the span is matched against `https://` (8 characters) from its first character, so up to 7 past `end`;
 * the other reads past `end` (the cell boundary, an apostrophe suffix, a number's decimals, a money sign's
 * digit, an escape) go 1 or 2 characters past it.
 */
export const SPAN_CONTEXT_AFTER = 7;

/**
 * Writes the features of `text.slice(start, end)` into `out` (cleared first) and returns the number of
 * words read (after a leading `key:`). `hashBits` is the size of the hashed space (the model's
 * `hash_bits`); `kind` is the kind of the whole document. Besides the span it reads at most
 * {@link SPAN_CONTEXT_BEFORE} characters before it and {@link SPAN_CONTEXT_AFTER} after it, and, in a
 * table, `isProseLineInTable(text, start)`.
 *
 * Tokens are read straight from the text, without building substrings: words (hashed lower-case),
 * numbers, and placeholders for URLs, e-mail addresses, account numbers and money amounts.
 */
export function extractFeatures(
  text: string,
  start: number,
  end: number,
  hashBits: number,
  out: FeatureBuffer,
  kind: DocumentKind = "prose",
): number {
  out.clear();
  // Room for every entry one segment can make, so the token loop writes the arrays without checks.
  out.reserve(MAX_FEATURES);
  const indices = out.indices;
  const values = out.values;
  let length = 0;
  hand.fill(0);
  const mask = (1 << hashBits) - 1;
  const keyLength = fieldKeyLength(text, start, end);
  hand[0] = 1;
  hand[18] = keyLength > 0 ? 1 : 0;
  let index = start + keyLength;
  const segmentStart = index;
  let previous = HASH_START;
  let count = 0;
  let words = 0;
  let capitals = 0;
  let titleWords = 0;
  let firstWord = 0;
  let firstBits = 0;
  let actions = 0;
  let destination = 0;
  let firstPerson = 0;
  let hasNumber = false;
  let innerVerb = 0;
  while (index < end && count < MAX_TOKENS) {
    const code = text.charCodeAt(index);
    if (code <= 32) {
      index++;
      continue;
    }
    let token: number;
    if (
      (code === 104 &&
        text.charCodeAt(index + 3) === 112 &&
        (text.startsWith("http://", index) || text.startsWith("https://", index))) ||
      (code === 119 && text.charCodeAt(index + 1) === 119 && text.startsWith("www.", index))
    ) {
      token = HASH_URL;
      hand[9] = 1;
      destination = 1;
      words++;
      index = chunkEndOf(text, index, end);
    } else if (
      (code === 36 || code === 8364 || code === 163) &&
      isDigit(text.charCodeAt(text.charCodeAt(index + 1) === 32 ? index + 2 : index + 1))
    ) {
      token = HASH_MONEY;
      hand[12] = 1;
      index = numberEnd(text, text.charCodeAt(index + 1) === 32 ? index + 2 : index + 1, end);
    } else if (isDigit(code)) {
      const numberStop = numberEnd(text, index, end);
      token = numberStop - index >= 5 ? HASH_LONG_NUMBER : HASH_NUMBER;
      hasNumber = true;
      index = numberStop;
    } else if (isUpper(code) || isLower(code)) {
      let hash = FNV_OFFSET;
      let allUpper = true;
      const wordStart = index;
      while (index < end) {
        const letter = text.charCodeAt(index);
        if (isLower(letter)) allUpper = false;
        else if (!isUpper(letter)) break;
        hash = Math.imul(hash ^ (letter | 0x20), FNV_PRIME);
        index++;
      }
      // One apostrophe suffix, as in "user's" or "don't".
      if (text.charCodeAt(index) === 39 && isLower(text.charCodeAt(index + 1))) {
        hash = Math.imul(hash ^ 39, FNV_PRIME);
        index++;
        while (index < end && isLower(text.charCodeAt(index))) {
          hash = Math.imul(hash ^ text.charCodeAt(index), FNV_PRIME);
          index++;
        }
      }
      // Only a word followed by one of `@ . _ + -` or a digit can be an address or an account number:
      // the chunk scan stays off the common path.
      const next = text.charCodeAt(index);
      if (next === 64 || next === 46 || next === 95 || next === 43 || next === 45 || isDigit(next)) {
        const chunkEnd = chunkEndOf(text, wordStart, end);
        if (isEmail(text, wordStart, chunkEnd)) {
          index = chunkEnd;
          hand[10] = 1;
          destination = 1;
          words++;
          length = pushToken(indices, values, length, HASH_EMAIL, previous, count, mask);
          previous = HASH_EMAIL;
          count++;
          continue;
        }
        const accountEnd = wordEnd(text, wordStart, chunkEnd);
        if (isUpper(code) && isAccount(text, wordStart, accountEnd)) {
          index = accountEnd;
          hand[11] = 1;
          destination = 1;
          words++;
          length = pushToken(indices, values, length, HASH_ACCOUNT, previous, count, mask);
          previous = HASH_ACCOUNT;
          count++;
          continue;
        }
      }
      token = hash & HASH_MASK;
      words++;
      if (allUpper && index - wordStart > 1) capitals++;
      if (isUpper(code)) titleWords++;
      const bits = LEXICON.get(token);
      if (words === 1) {
        firstWord = token;
        firstBits = bits;
      } else if (isUpper(code) && (bits & IMPERATIVE) !== 0) innerVerb = 1;
      if (bits !== 0) {
        if ((bits & ANSWER) !== 0) hand[34] = 1;
        if ((bits & ACTION) !== 0) actions++;
        else if ((bits & ASSISTANT) !== 0) hand[5] = 1;
        else if ((bits & USER) !== 0) hand[6] = 1;
        else if ((bits & INSTRUCTION) !== 0) hand[7] = 1;
        else if ((bits & YOU) !== 0) hand[2] = 1;
        else if ((bits & PLEASE) !== 0) hand[3] = 1;
        else if ((bits & OBLIGATION) !== 0) hand[4] = 1;
        else if ((bits & FIRST_PERSON) !== 0) firstPerson++;
        else if ((bits & SEQUENCE) !== 0) hand[20] = 1;
        else if ((bits & URGENCY) !== 0) hand[21] = 1;
        else if ((bits & CODE) !== 0) hand[25] = 1;
        else if ((bits & RESPONSE) !== 0) hand[26] = 1;
        else if ((bits & SECRET) !== 0) hand[27] = 1;
        else if ((bits & MONEY) !== 0 && hasNumber) hand[12] = 1;
      }
    } else if (code === 95) {
      index++;
      continue;
    } else if (code === 92 && isEscapedSpace(text.charCodeAt(index + 1))) {
      // `\n` and `\t` inside a JSON string are the line breaks and tabs of its value.
      index += 2;
      continue;
    } else if (code === 93 && text.charCodeAt(index + 1) === 40 && linkTargetEnd(text, index + 2, end) !== -1) {
      // A markdown link's target is an address, not words: `[How It Works](how-it-works.md)` reads as
      // its label. A web address still counts as a URL (a destination for a request).
      const targetEnd = linkTargetEnd(text, index + 2, end);
      const web = text.startsWith("http", index + 2);
      index = targetEnd + 1;
      if (!web) continue;
      token = HASH_URL;
      hand[9] = 1;
      destination = 1;
      words++;
    } else {
      token = Math.imul(FNV_OFFSET ^ code, FNV_PRIME) & HASH_MASK;
      if (code === 63) hand[16] = 1;
      else if (code === 33) hand[17] = 1;
      index++;
    }
    length = pushToken(indices, values, length, token, previous, count, mask);
    previous = token;
    count++;
  }
  // Long segments have many n-grams: scale them so that length alone does not decide the score.
  if (count > NGRAM_SCALE_FROM) {
    const scale = Math.sqrt(NGRAM_SCALE_FROM / count);
    for (let slot = 0; slot < length; slot++) values[slot] = scale;
  }
  hand[1] = (firstBits & IMPERATIVE) !== 0 ? 1 : 0;
  hand[8] = Math.min(actions, 3) / 3;
  hand[13] = firstPerson > 0 && (actions > 0 || hand[3] === 1) ? 1 : 0;
  hand[14] = Math.min(Math.log2(1 + words) / 7, 1);
  hand[15] = Math.min(firstPerson, 3) / 3;
  hand[19] = words > 0 ? capitals / words : 0;
  hand[22] = text.charCodeAt(start - 1) === 124 || text.charCodeAt(end) === 124 ? 1 : 0;
  hand[23] = destination === 1 && (actions > 0 || hand[1] === 1) ? 1 : 0;
  hand[24] = hand[1] === 1 && actions > 0 ? 1 : 0;
  hand[28] = innerVerb;
  hand[32] = (firstBits & CONTENT) !== 0 ? 1 : 0;
  hand[33] = (firstBits & ACT) !== 0 ? 1 : 0;
  hand[35] = hand[16] === 1 && (firstBits & QUESTION) !== 0 ? 1 : 0;
  hand[36] = words >= 2 ? titleWords / words : 0;
  let last = end - 1;
  while (last > segmentStart && text.charCodeAt(last) <= 32) last--;
  const lastCode = text.charCodeAt(last);
  hand[37] = lastCode === 46 || lastCode === 33 || lastCode === 63 ? 1 : 0;
  const firstCode = text.charCodeAt(segmentStart);
  hand[38] = firstCode === 34 || firstCode === 39 || firstCode === 8220 ? 1 : 0;
  if (kind !== "prose" && words >= 4) hand[kind === "table" ? 29 : kind === "structured" ? 30 : 31] = 1;
  // A table's own content sits in cells; a sentence on a line of its own between or around the rows is
  // written in another register than the document (a caption at best, a request at worst).
  if (kind === "table" && words >= 3 && isProseLineInTable(text, start)) hand[39] = 1;
  // The same cues in the register of the document: the model learns, say, that an imperative is
  // ordinary in an e-mail but out of place in a table.
  const kindSeed = KIND_SEED[kind];
  indices[length] = HAND_FEATURE_COUNT + (mix(mix(firstWord, kindSeed), 7) & mask);
  values[length++] = 1;
  const kindSlots = KIND_INDEX[kind] * BASE_FEATURE_COUNT;
  for (let index = 0; index < BASE_FEATURE_COUNT; index++) {
    const value = hand[index]!;
    if (value === 0) continue;
    indices[length] = index;
    values[length++] = value;
    // Hashed, so they share the n-grams' dropout in training: dense slots here overfit the held-out tables.
    if (index > 0) {
      indices[length] = HAND_FEATURE_COUNT + (HAND_SLOT_HASHES[kindSlots + index]! & mask);
      values[length++] = value;
    }
  }
  out.length = length;
  return words;
}

/**
 * Whether the line holding `start` is not a table row (its first non-blank character is not `|`): in a
 * table document, such a line is out of register with the rows around it.
 */
export function isProseLineInTable(text: string, start: number): boolean {
  if (text.charCodeAt(start) === 124) return false;
  // Segments end at every `|`, so a cell boundary is met within one segment's length; the cap bounds a
  // long line of prose cut into windows.
  for (let index = start - 1; index >= Math.max(0, start - 4096); index--) {
    const code = text.charCodeAt(index);
    if (code === 10) return true;
    if (code === 124) return false;
  }
  return true;
}

/** Whether the character after a backslash makes a JSON escape of white space (`n`, `t`, `r`). */
function isEscapedSpace(code: number): boolean {
  return code === 110 || code === 116 || code === 114;
}

/** Offset of the `)` closing a markdown link target that starts at `start`, or -1 (spaces end the search). */
function linkTargetEnd(text: string, start: number, end: number): number {
  const limit = Math.min(end, start + 2048);
  for (let index = start; index < limit; index++) {
    const code = text.charCodeAt(index);
    if (code === 41) return index;
    if (code <= 32) return -1;
  }
  return -1;
}

/** End of the letters and digits of a word starting at `start` (for account numbers). */
function wordEnd(text: string, start: number, end: number): number {
  let index = start;
  while (index < end && (isUpper(text.charCodeAt(index)) || isDigit(text.charCodeAt(index)))) index++;
  return index < end && isWordCode(text.charCodeAt(index)) ? start : index;
}

/** End of a number: digits with `,` separators and an optional decimal part. */
function numberEnd(text: string, start: number, end: number): number {
  let index = start;
  while (
    index < end &&
    (isDigit(text.charCodeAt(index)) || (text.charCodeAt(index) === 44 && isDigit(text.charCodeAt(index + 1))))
  ) {
    index++;
  }
  if (text.charCodeAt(index) === 46 && isDigit(text.charCodeAt(index + 1))) {
    index++;
    while (index < end && isDigit(text.charCodeAt(index))) index++;
  }
  return index;
}

/** Whether a chunk is an e-mail address: word characters, then `@`, then a dotted domain. */
function isEmail(text: string, start: number, end: number): boolean {
  let at = -1;
  for (let index = start + 1; index < end - 3; index++) {
    if (text.charCodeAt(index) === 64) {
      at = index;
      break;
    }
  }
  if (at === -1) return false;
  for (let index = at + 2; index < end - 1; index++) if (text.charCodeAt(index) === 46) return true;
  return false;
}

/**
 * The unigram, the bigram with the previous token, and the position of the first two tokens, written at
 * `length` (the caller reserved room); returns the new length.
 */
function pushToken(
  indices: Int32Array,
  values: Float64Array,
  length: number,
  token: number,
  previous: number,
  count: number,
  mask: number,
): number {
  indices[length] = HAND_FEATURE_COUNT + (token & mask);
  values[length++] = 1;
  indices[length] = HAND_FEATURE_COUNT + (mix(previous, token) & mask);
  values[length++] = 1;
  if (count < 2) {
    indices[length] = HAND_FEATURE_COUNT + (mix(token, 0x5bd1e995 + count) & mask);
    values[length++] = 1;
  }
  return length;
}

function chunkEndOf(text: string, start: number, end: number): number {
  let index = start;
  while (index < end && !endsChunk(text.charCodeAt(index))) index++;
  return index;
}
