// The first stage of a DLP scan: one pass over the text that reports where any rule's anchor occurs
// and where digits run. Everything after it (prechecks, patterns, validators) runs only at those
// places, so this pass is the cost paid on every character, and it is built to do almost nothing on
// most of them.
//
// A loop of `charCodeAt` costs several nanoseconds a character in V8, more than the whole budget
// allows, and a regular expression of ~190 alternatives is slower still. So the text is first copied
// into a buffer as UTF-16 (a native copy that costs next to nothing), and the loop reads it two
// characters at a time as one 32-bit word, with one table load per word: the table is keyed by the
// low bytes of the two characters. Every anchor of three characters or more holds a whole aligned
// pair wherever it starts: for each anchor and each parity of its start, the table flags the rarest
// pair that lands on a pair boundary. Anchors of one or two characters, and pairs holding a digit,
// have flags of their own. A flagged pair is checked against the real characters (the 16-bit view
// of the same buffer), so a character whose low byte looks like an anchor costs a check, never a
// false hit.
//
// Digit runs are measured in the same pass, and so is their shape (`digit-run-shape.ts`): the walk
// over a run reads every character of it already, so counting its dots and looking at its neighbours
// costs next to nothing here, while a call per run to the scanner cost a tenth of a CSV export's time.
// A run that no numeric rule could accept (too few digits, none of the rule's shapes) is not reported.

import {
  ibanCodeBeforeSpace,
  RUN_AFTER_PLUS_OR_PARENTHESIS,
  RUN_AFTER_UPPER_OR_SPACE,
  RUN_ANY,
  RUN_BESIDE_COLON,
  RUN_PHONE_LENGTH,
  RUN_SSN_SHAPE,
  RUN_THREE_DOTS,
} from "./digit-run-shape.js";

/** What one numeric rule needs of a digit run: at least `minimumDigits` digits and one of the `shapes` bits. */
export interface DigitRunRequirement {
  minimumDigits: number;
  /** Bits of `digit-run-shape.ts`; `RUN_ANY` for every run. */
  shapes: number;
}

/** Receives what one pass finds. */
export interface AnchorSink {
  /** The longest anchor starting at `position` (its index in the constructor's list) and its length; in text order. */
  anchor(anchor: number, position: number, length: number): void;
  /**
   * A run of at least four digits with up to two separators (space . ( ) -) between them, [start, end),
   * that meets one of the index's run requirements; in text order. `shape` is the run's
   * `digitRunShape` bits, computed by the pass.
   */
  digits(start: number, end: number, digitCount: number, shape: number): void;
}

// Bits of the per-pair table.
const DIGIT = 1;
const PAIR = 2;
const STRADDLE = 4;
const SINGLE = 8;
const ANCHOR = PAIR | STRADDLE | SINGLE;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// Numbers per entry of the pair table (see `AnchorIndex#entries`).
const ENTRY_SIZE = 5;

/**
 * The table key of the word holding character `first` then character `second`: the scan computes it
 * as `(word & 255) | ((word >>> 8) & 0xff00)`, which takes the low byte of each 16-bit half.
 */
const pairKey = (first: number, second: number): number =>
  LITTLE_ENDIAN ? (first & 255) | ((second & 255) << 8) : (second & 255) | ((first & 255) << 8);

const isDigitCode = (code: number): boolean => code >= 48 && code <= 57;
const isSeparatorCode = (code: number): boolean =>
  code === 32 || code === 46 || code === 40 || code === 41 || code === 45;
const isRunCode = (code: number): boolean => isDigitCode(code) || isSeparatorCode(code);

// How often a character occurs in prose, code and logs, per thousand characters, roughly: letters after
// English text, the rest by judgement. Only the order matters: it picks which pair of an anchor the
// table keys on, and a rarer pair means fewer units to check.
const LOWER_FREQUENCY: Readonly<Record<string, number>> = {
  e: 127,
  t: 91,
  a: 82,
  o: 75,
  i: 70,
  n: 67,
  s: 63,
  h: 61,
  r: 60,
  d: 43,
  l: 40,
  c: 28,
  u: 28,
  m: 24,
  w: 24,
  f: 22,
  g: 20,
  y: 20,
  p: 19,
  b: 15,
  v: 10,
  k: 8,
  j: 2,
  x: 2,
  q: 1,
  z: 1,
};
const OTHER_FREQUENCY: Readonly<Record<string, number>> = {
  " ": 180,
  ".": 10,
  '"': 10,
  ",": 8,
  _: 8,
  "-": 8,
  ":": 6,
  "/": 6,
  "=": 4,
  "(": 3,
  ")": 3,
  "'": 3,
  "\n": 3,
};
// Common English pairs: a product of single-letter frequencies undervalues them.
const COMMON_PAIRS = new Set(
  "th he in er an re on at en nd ti es or te of ed is it al ar st to nt ng se ha as ou io le ve co me de hi ri ro ic ne ea ra ce li ch ll be ma si om ur".split(
    " ",
  ),
);

function characterFrequency(code: number): number {
  const character = String.fromCharCode(code);
  if (code >= 97 && code <= 122) return LOWER_FREQUENCY[character] ?? 1;
  if (code >= 65 && code <= 90) return (LOWER_FREQUENCY[character.toLowerCase()] ?? 1) / 8;
  if (code >= 48 && code <= 57) return 10;
  return OTHER_FREQUENCY[character] ?? 0.5;
}

function pairWeight(first: number, second: number): number {
  const pair = String.fromCharCode(first, second).toLowerCase();
  return characterFrequency(first) * characterFrequency(second) * (COMMON_PAIRS.has(pair) ? 4 : 1);
}

/**
 * The word that an anchor found through its pair at `offset` is checked on first: the rarest other pair
 * of the same parity, else the keyed pair itself (its whole characters). Returns how many words after
 * the keyed pair it lies, and its 32-bit value as a signed integer, as the scan reads it.
 */
function checkedWord(anchor: string, offset: number): [number, number] {
  let best = offset;
  let bestWeight = Number.POSITIVE_INFINITY;
  for (let other = offset & 1; other + 1 < anchor.length; other += 2) {
    if (other === offset) continue;
    const weight = pairWeight(anchor.charCodeAt(other), anchor.charCodeAt(other + 1));
    if (weight < bestWeight) {
      best = other;
      bestWeight = weight;
    }
  }
  const first = anchor.charCodeAt(best);
  const second = anchor.charCodeAt(best + 1);
  const word = LITTLE_ENDIAN ? first | (second << 16) : (first << 16) | second;
  return [(best - offset) >> 1, word | 0];
}

/**
 * The offset, of the given parity, of the least common pair inside `anchor` (length three or more)
 * that the scan cannot jump over; -1 when there is none. The scan jumps over the words of a digit run
 * after the run's first word, so a pair of two run characters is safe only when the anchor holds
 * another character just before it: a run through the pair then starts at the pair.
 */
function rarestPairOffset(anchor: string, parity: number): number {
  let best = -1;
  let bestWeight = Number.POSITIVE_INFINITY;
  for (let offset = parity; offset + 1 < anchor.length; offset += 2) {
    const first = anchor.charCodeAt(offset);
    const second = anchor.charCodeAt(offset + 1);
    if (isRunCode(first) && isRunCode(second) && (offset === 0 || isRunCode(anchor.charCodeAt(offset - 1)))) continue;
    const weight = pairWeight(first, second);
    if (weight < bestWeight) {
      best = offset;
      bestWeight = weight;
    }
  }
  return best;
}

// Characters of digit runs, by code: a table load instead of comparisons in the run walk.
const DIGIT_CHARACTER = 1;
const SEPARATOR = 2;
const RUN_CLASS = new Uint8Array(65_536);
for (let code = 48; code <= 57; code++) RUN_CLASS[code] = DIGIT_CHARACTER;
for (const separator of " .()-") RUN_CLASS[separator.charCodeAt(0)] = SEPARATOR;

/**
 * Whether `anchor` could start inside a digit run, past its first digit: at a digit, or at a
 * separator that one more separator at most and then a digit follow.
 */
function startsInsideDigitRun(anchor: string): boolean {
  const code = (index: number): number => anchor.charCodeAt(index);
  if (isDigitCode(code(0))) return true;
  if (!isSeparatorCode(code(0))) return false;
  if (anchor.length === 1 || isDigitCode(code(1))) return true;
  if (!isSeparatorCode(code(1))) return false;
  return anchor.length === 2 || isDigitCode(code(2));
}

// Shared rather than `?? []`, which would allocate an array at every flagged pair without such an anchor.
const NO_ANCHORS: readonly number[] = [];

// Strings longer than this (in bytes of UTF-16) are encoded into a buffer of their own, not kept for the next scan.
const RETAINED_BUFFER_BYTES = 4 << 20;

/**
 * A set of literal anchors compiled to lookup tables, plus the digit-run finder for the numeric rules.
 * Anchors are matched case-sensitively; at each position the longest anchor that starts there is
 * reported (every shorter one that also matches there is a prefix of it).
 */
export class AnchorIndex {
  readonly #pairFlags = new Uint8Array(65_536);
  /**
   * Per pair key with PAIR, entries `[anchor, offset, first code, word step, word]` at
   * `#entries[#entryStart[key] ..< #entryStart[key + 1]]`: `word` is the 32-bit word (as a signed
   * integer) that the anchor puts `word step` words after the keyed pair, whole characters and not
   * just their low bytes, so that one comparison turns away most pairs whose low bytes merely look right.
   */
  readonly #entryStart = new Int32Array(65_537);
  readonly #entries: Int32Array;
  /**
   * Per low byte: the anchors found through the pair whose second character starts them (two-character
   * anchors at an odd position, and longer ones whose pairs at that parity are all digit-run characters),
   * and the one-character anchors that are it.
   */
  readonly #twoCharacter: Array<number[] | undefined> = new Array(256);
  readonly #oneCharacter: Array<number[] | undefined> = new Array(256);
  readonly #anchorCodes: Uint16Array[];
  /** True when no anchor can start inside a run of digits, so the scan may jump over runs. */
  readonly #skipDigitRuns: boolean;
  #encoded = { bytes: Buffer.alloc(0), codes: new Uint16Array(0), words: new Uint32Array(0) };
  #hitPositions = new Int32Array(64);
  #hitAnchors = new Int32Array(64);
  /** Per requirement: the digits and the shape bits a reported run needs (one requirement met is enough). */
  readonly #runMinimumDigits: Int32Array;
  readonly #runShapes: Int32Array;
  /** The fewest digits any requirement accepts: shorter runs are passed over without computing their shape. */
  readonly #fewestRunDigits: number;

  /**
   * @param anchors literal strings, each at least one character long
   * @param digits whether to report digit runs
   * @param runRequirements the runs to report (each numeric rule's needs); by default every run of four digits or more
   */
  constructor(
    anchors: readonly string[],
    digits: boolean,
    runRequirements: readonly DigitRunRequirement[] = [{ minimumDigits: 4, shapes: RUN_ANY }],
  ) {
    this.#runMinimumDigits = Int32Array.from(runRequirements, (requirement) => Math.max(4, requirement.minimumDigits));
    this.#runShapes = Int32Array.from(runRequirements, (requirement) => requirement.shapes);
    this.#fewestRunDigits =
      runRequirements.length === 0 ? Number.MAX_SAFE_INTEGER : Math.min(...this.#runMinimumDigits);
    this.#anchorCodes = anchors.map((anchor) => {
      const codes = new Uint16Array(anchor.length);
      for (let index = 0; index < anchor.length; index++) codes[index] = anchor.charCodeAt(index);
      return codes;
    });
    // Words inside a measured digit run hold only run characters. The scan may jump over them when no
    // anchor starts inside a run and every anchor is found through a pair holding another character.
    let skipDigitRuns = anchors.every((anchor) => !startsInsideDigitRun(anchor));
    const flags = this.#pairFlags;
    const byKey = new Map<number, number[]>();
    const addEntry = (key: number, anchor: number, offset: number): void => {
      flags[key] = flags[key]! | PAIR;
      const list = byKey.get(key);
      const [step, word] = checkedWord(anchors[anchor]!, offset);
      const entry = [anchor, offset, anchors[anchor]!.charCodeAt(0), step, word];
      if (list) list.push(...entry);
      else byKey.set(key, entry);
    };
    const addTo = (lists: Array<number[] | undefined>, byte: number, anchor: number): void => {
      const list = lists[byte];
      if (list) list.push(anchor);
      else lists[byte] = [anchor];
    };
    anchors.forEach((anchor, index) => {
      const first = anchor.charCodeAt(0);
      if (anchor.length === 1) {
        addTo(this.#oneCharacter, first & 255, index);
        for (let other = 0; other < 256; other++) {
          flags[pairKey(first, other)] = flags[pairKey(first, other)]! | SINGLE;
          flags[pairKey(other, first)] = flags[pairKey(other, first)]! | SINGLE;
        }
      } else if (anchor.length === 2) {
        // Starting on an even position it fills a pair; on an odd one it spans two.
        addEntry(pairKey(first, anchor.charCodeAt(1)), index, 0);
        addTo(this.#twoCharacter, first & 255, index);
        for (let other = 0; other < 256; other++)
          flags[pairKey(other, first)] = flags[pairKey(other, first)]! | STRADDLE;
      } else {
        for (const parity of [0, 1]) {
          const offset = rarestPairOffset(anchor, parity);
          if (offset >= 0) {
            addEntry(pairKey(anchor.charCodeAt(offset), anchor.charCodeAt(offset + 1)), index, offset);
          } else if (parity === 1 && !isRunCode(first)) {
            // Every pair at odd starts is of run characters (`A3-`, `v1.0-`): found through its first character instead.
            addTo(this.#twoCharacter, first & 255, index);
            for (let other = 0; other < 256; other++)
              flags[pairKey(other, first)] = flags[pairKey(other, first)]! | STRADDLE;
          } else {
            addEntry(pairKey(anchor.charCodeAt(parity), anchor.charCodeAt(parity + 1)), index, parity);
            skipDigitRuns = false;
          }
        }
      }
    });
    this.#skipDigitRuns = skipDigitRuns;
    if (digits) {
      for (let digit = 48; digit <= 57; digit++) {
        for (let other = 0; other < 256; other++) {
          flags[pairKey(digit, other)] = flags[pairKey(digit, other)]! | DIGIT;
          flags[pairKey(other, digit)] = flags[pairKey(other, digit)]! | DIGIT;
        }
      }
    }
    const entries: number[] = [];
    for (let key = 0; key < 65_536; key++) {
      this.#entryStart[key] = entries.length;
      entries.push(...(byKey.get(key) ?? []));
    }
    this.#entryStart[65_536] = entries.length;
    this.#entries = Int32Array.from(entries);
  }

  /** Reports every anchor occurrence and every digit run of `text`: each kind in text order. */
  scan(text: string, sink: AnchorSink): void {
    const length = text.length;
    if (length === 0) return;
    const { codes, words } = this.#encode(text);
    const wordCount = (length + 1) >> 1;
    const pairFlags = this.#pairFlags;
    const entryStart = this.#entryStart;
    const entries = this.#entries;
    const skipRuns = this.#skipDigitRuns;
    let digitsScannedTo = 0;
    let hits = 0;
    for (let word = 0; word < wordCount; word++) {
      // Most words are unflagged: a loop of its own over them compiles to a few instructions a word,
      // where the same test at the top of the whole body below costs nearly twice as much.
      let value = words[word]!;
      let key = (value & 255) | ((value >>> 8) & 0xff00);
      while (pairFlags[key] === 0) {
        if (++word === wordCount) break;
        value = words[word]!;
        key = (value & 255) | ((value >>> 8) & 0xff00);
      }
      if (word === wordCount) break;
      const flags = pairFlags[key]!;
      const position = word << 1;
      if ((flags & DIGIT) !== 0 && position + 1 >= digitsScannedTo) {
        let start = -1;
        if (position >= digitsScannedTo && isDigitCode(codes[position]!)) start = position;
        else if (isDigitCode(codes[position + 1]!)) start = position + 1;
        if (start >= 0) {
          digitsScannedTo = this.#digitRun(codes, length, start, sink);
          // No anchor starts inside a run of digits: after this pair's anchors, go on where the run ends.
          if (skipRuns && (digitsScannedTo >> 1) - 1 > word) {
            if ((flags & ANCHOR) !== 0) hits = this.#anchorsAt(codes, words, length, word, key, flags, hits);
            word = (digitsScannedTo >> 1) - 1;
            continue;
          }
        }
      }
      if ((flags & ANCHOR) === 0) continue;
      if (flags === PAIR) {
        // The common case, inline: check the anchors keyed on this pair, first character first.
        const last = entryStart[key + 1]!;
        for (let entry = entryStart[key]!; entry < last; entry += ENTRY_SIZE) {
          // Past the text's end the word is stale or missing: `#matchesAt` turns such an anchor away.
          if ((words[word + entries[entry + 3]!]! | 0) !== entries[entry + 4]) continue;
          const start = position - entries[entry + 1]!;
          if (start < 0 || codes[start] !== entries[entry + 2]) continue;
          const anchor = entries[entry]!;
          if (this.#matchesAt(codes, length, start, anchor)) hits = this.#addHit(hits, start, anchor);
        }
      } else {
        hits = this.#anchorsAt(codes, words, length, word, key, flags, hits);
      }
    }
    if (hits > 0) this.#reportHits(hits, sink);
  }

  /** The anchors found through pair `word` (flagged for an anchor): recorded as hits; returns the new hit count. */
  #anchorsAt(
    codes: Uint16Array,
    words: Uint32Array,
    length: number,
    word: number,
    key: number,
    flags: number,
    found: number,
  ): number {
    let hits = found;
    const position = word << 1;
    if ((flags & PAIR) !== 0) {
      const entries = this.#entries;
      const last = this.#entryStart[key + 1]!;
      for (let entry = this.#entryStart[key]!; entry < last; entry += ENTRY_SIZE) {
        // Past the text's end the word is stale or missing: `#matchesAt` turns such an anchor away.
        if ((words[word + entries[entry + 3]!]! | 0) !== entries[entry + 4]) continue;
        const start = position - entries[entry + 1]!;
        if (start < 0 || codes[start] !== entries[entry + 2]) continue;
        const anchor = entries[entry]!;
        if (this.#matchesAt(codes, length, start, anchor)) hits = this.#addHit(hits, start, anchor);
      }
    }
    if ((flags & SINGLE) !== 0) {
      for (let start = position; start < position + 2 && start < length; start++) {
        for (const anchor of this.#oneCharacter[codes[start]! & 255] ?? NO_ANCHORS) {
          if (this.#matchesAt(codes, length, start, anchor)) hits = this.#addHit(hits, start, anchor);
        }
      }
    }
    if ((flags & STRADDLE) !== 0 && position + 2 < length) {
      // `#matchesAt` checks the rest of a longer anchor against the text's end.
      for (const anchor of this.#twoCharacter[codes[position + 1]! & 255] ?? NO_ANCHORS) {
        if (this.#matchesAt(codes, length, position + 1, anchor)) hits = this.#addHit(hits, position + 1, anchor);
      }
    }
    return hits;
  }

  /** `text` as UTF-16 in a buffer (a zero character after an odd length), seen as 16-bit codes and as 32-bit pairs. */
  #encode(text: string): { codes: Uint16Array; words: Uint32Array } {
    const size = ((text.length + 2) & ~1) * 2;
    let encoded = this.#encoded;
    if (encoded.bytes.length < size) {
      // Its own ArrayBuffer, not Buffer's shared pool: the 32-bit view needs an aligned offset.
      const buffer = new ArrayBuffer(Math.max(size, 8192));
      encoded = { bytes: Buffer.from(buffer), codes: new Uint16Array(buffer), words: new Uint32Array(buffer) };
      if (size <= RETAINED_BUFFER_BYTES) this.#encoded = encoded;
    }
    encoded.bytes.write(text, 0, text.length * 2, "utf16le");
    encoded.codes[text.length] = 0;
    return encoded;
  }

  #matchesAt(codes: Uint16Array, length: number, start: number, anchor: number): boolean {
    const anchorCodes = this.#anchorCodes[anchor]!;
    if (start + anchorCodes.length > length) return false;
    for (let index = 0; index < anchorCodes.length; index++) {
      if (codes[start + index] !== anchorCodes[index]) return false;
    }
    return true;
  }

  #addHit(hits: number, position: number, anchor: number): number {
    if (hits === this.#hitPositions.length) {
      const positions = new Int32Array(hits * 2);
      positions.set(this.#hitPositions);
      this.#hitPositions = positions;
      const anchors = new Int32Array(hits * 2);
      anchors.set(this.#hitAnchors);
      this.#hitAnchors = anchors;
    }
    this.#hitPositions[hits] = position;
    this.#hitAnchors[hits] = anchor;
    return hits + 1;
  }

  /**
   * Hits come out nearly in order (an anchor is found at its chosen pair, a few characters in): an
   * insertion sort puts them in order, and of several anchors at one position the longest is reported.
   */
  #reportHits(hits: number, sink: AnchorSink): void {
    const positions = this.#hitPositions;
    const anchors = this.#hitAnchors;
    const codes = this.#anchorCodes;
    for (let index = 1; index < hits; index++) {
      const position = positions[index]!;
      const anchor = anchors[index]!;
      const length = codes[anchor]!.length;
      let slot = index;
      while (slot > 0) {
        const before = positions[slot - 1]!;
        if (before < position || (before === position && codes[anchors[slot - 1]!]!.length >= length)) break;
        positions[slot] = before;
        anchors[slot] = anchors[slot - 1]!;
        slot--;
      }
      positions[slot] = position;
      anchors[slot] = anchor;
    }
    for (let index = 0; index < hits; index++) {
      const position = positions[index]!;
      if (index > 0 && positions[index - 1] === position) continue;
      const anchor = anchors[index]!;
      sink.anchor(anchor, position, codes[anchor]!.length);
    }
  }

  /**
   * The digit run that starts at `start` (a digit): digits with at most two separators between
   * consecutive ones, as far as it goes. Runs of four digits or more that meet a requirement go to the
   * sink, with their shape. Returns where the run ends; no run starts inside it, since a later digit of
   * a run reaches no further.
   */
  #digitRun(codes: Uint16Array, length: number, start: number, sink: AnchorSink): number {
    let digitCount = 1;
    let dots = 0;
    let end = start + 1;
    for (;;) {
      let next = end;
      // The zero character after the text ends a run like any letter.
      let code = codes[next]!;
      let kind = RUN_CLASS[code]!;
      let stepDots = 0;
      if (kind === SEPARATOR) {
        if (code === 46) stepDots = 1;
        code = codes[++next]!;
        kind = RUN_CLASS[code]!;
        if (kind === SEPARATOR) {
          if (code === 46) stepDots++;
          kind = RUN_CLASS[codes[++next]!]!;
        }
      }
      if (kind !== DIGIT_CHARACTER || next >= length) break;
      digitCount++;
      dots += stepDots;
      end = next + 1;
    }
    if (digitCount >= this.#fewestRunDigits) this.#reportRun(codes, start, end, digitCount, dots, sink);
    return end;
  }

  /** Reports the run [start, end) with its shape if it meets a requirement. Apart from the walk, to keep the scan loop small. */
  #reportRun(codes: Uint16Array, start: number, end: number, digitCount: number, dots: number, sink: AnchorSink): void {
    const shape = runShape(codes, start, end, dots);
    const minimumDigits = this.#runMinimumDigits;
    const shapes = this.#runShapes;
    for (let requirement = 0; requirement < minimumDigits.length; requirement++) {
      if (digitCount >= minimumDigits[requirement]! && (shape & shapes[requirement]!) !== 0) {
        sink.digits(start, end, digitCount, shape);
        return;
      }
    }
  }
}

/**
 * The `digitRunShape` bits of the run [start, end) of the encoded text, given the dots inside it:
 * the same answer from the buffer the pass already reads (the zero after the text, like the text's
 * end, is no `:`).
 */
function runShape(codes: Uint16Array, start: number, end: number, dots: number): number {
  let shape = RUN_ANY;
  const length = end - start;
  if (dots >= 3) shape |= RUN_THREE_DOTS;
  const before = start > 0 ? codes[start - 1]! : -1;
  if (before === 58 || codes[end] === 58) shape |= RUN_BESIDE_COLON;
  if (before === 43 || before === 40) shape |= RUN_AFTER_PLUS_OR_PARENTHESIS;
  if (length >= 12 && length <= 14) shape |= RUN_PHONE_LENGTH;
  if (length === 11 && codes[start + 3] === 45) shape |= RUN_SSN_SHAPE;
  if ((before >= 65 && before <= 90) || (before === 32 && start > 1 && ibanCodeBeforeSpace(codes[start - 2]!)))
    shape |= RUN_AFTER_UPPER_OR_SPACE;
  return shape;
}
