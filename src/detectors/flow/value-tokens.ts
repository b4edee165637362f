/**
 * The pieces of text that data-flow tracking compares: identifier-like tokens (e-mail addresses, URLs with or
 * without their scheme and their hosts, IBANs and account numbers, phone numbers, long numbers, paths, file
 * names, quoted strings) and sampled 5-word shingles of prose. Everything is normalised (case, spacing, trailing
 * punctuation) and hashed to a 31-bit integer, so a session keeps numbers, never the texts it saw.
 */

/** One identifier-like token found in a text. */
export interface ValueToken {
  /** The normalised value (lower case, trimmed); kept only long enough to hash and, clipped, for evidence. */
  value: string;
  /** Offset of the token in the scanned text. */
  start: number;
}

const TRAILING = /[.,;:!?)\]}>'"]+$/;
const LEADING = /^["'([{<]+/;
const PHONE_LIKE = /^\+?\d[\d ().-]{6,}\d$/;
const URL_HOST = /^https?:\/\/([^/?#:]+)/i;
/** A web address written without its scheme (`files.example.net/incoming`): a dotted name, then a path. */
const HOST_PATH = /^([\w-]+(?:\.[\w-]+)*\.[a-z][a-z0-9]{1,5})\//i;
const EMAIL = /^[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+$/i;
const DOTTED_NAME = /^[\w-]+(?:\.[\w-]+)*\.[a-z][a-z0-9]{1,5}$/i;
const WORD = /[\p{L}\p{N}]+/gu;

/** Normalises a value for comparison: lower case, spacing collapsed, quotes and trailing punctuation dropped. */
export function normalizeValue(value: string): string {
  const length = value.length;
  if (length > MAX_FAST_NORMALIZE) return normalizeString(value);
  for (let index = 0; index < length; index++) if (value.charCodeAt(index) >= 128) return normalizeString(value);
  // ASCII: the character scanner's normalisation, and no new string when the value is normalised already.
  const kept = normalizeInto(value, 0, length);
  if (kept === length) {
    let same = true;
    for (let index = 0; index < length && same; index++) same = normalized[index] === value.charCodeAt(index);
    if (same) return value;
  }
  return normalizedString(0, kept);
}

/** Longest value {@link normalizeValue} normalises with the character scanner (a string is made from codes). */
const MAX_FAST_NORMALIZE = 4096;

/** {@link normalizeValue} with string functions: the reference, and the way for text beyond ASCII. */
function normalizeString(value: string): string {
  let text = value.trim().replace(LEADING, "").replace(TRAILING, "").toLowerCase();
  if (PHONE_LIKE.test(text)) text = text.replace(/[^\d+]/g, "");
  else if (/\s/.test(text)) text = text.replace(/\s+/g, " ");
  return text;
}

/**
 * Whether a token (no whitespace) is identifier-like: a URL, an e-mail address, a path of two or more parts,
 * a dotted name (host, file name), or a word of six or more characters with a digit (ids, accounts, keys).
 * The reference for tokens with characters beyond ASCII; ASCII tokens take {@link identifierLikeRange}.
 */
function identifierLike(token: string): boolean {
  if (token.length < 4) return false;
  if (token.startsWith("http://") || token.startsWith("https://")) return true;
  const at = token.indexOf("@");
  if (at > 0) return EMAIL.test(token);
  const slash = token.indexOf("/");
  if (slash !== -1 && token.indexOf("/", slash + 1) !== -1) return true;
  if (slash !== -1 && HOST_PATH.test(token)) return true;
  let digit = false;
  for (let index = 0; index < token.length && !digit; index++) {
    const code = token.charCodeAt(index);
    digit = code >= 48 && code <= 57;
  }
  if (digit && token.length >= 6) return true;
  return token.includes(".") && DOTTED_NAME.test(token);
}

// The scanner below reads character codes instead of running the token regex
// (`/[^\s"'<>()[\]{}|\\^\`,;]+/g`), the spaced-number regex (`/\+?\d[\d ().-]{6,}\d/g`) and the quoted-string
// regex (`/"[^"\n]{3,120}"|'[^'\n]{3,120}'/g`) and making a string of every token: the first reading of a
// result's text was the largest cost left in the flow detectors. It reproduces those regexes, `identifierLike`
// and `normalizeValue` exactly on ASCII; a token or quoted string with other characters goes through the
// string functions above, so case mapping and Unicode spaces behave as before. Tested against the regex
// implementation on random and real text.

/** ASCII character classes, as bits. */
const DELIMITER = 1; // ends a token: whitespace and the delimiters of prose, JSON, YAML and markup
const STRIPPED = 2; // dropped from a token's end: `.:!?` (the rest of `TRAILING` are delimiters)
const LEADING_CHARACTER = 4; // `LEADING`
const TRAILING_CHARACTER = 8; // `TRAILING`
const SPACE = 16; // `\s` and `trim()` on ASCII
const PHONE_CHARACTER = 32; // `[\d ().-]`
const WORD_CHARACTER = 64; // `[\w-]`
const EMAIL_LOCAL = 128; // `[a-z0-9._%+-]`, any case

const CLASSES = new Uint8Array(128);
function mark(characters: string, bit: number): void {
  for (let index = 0; index < characters.length; index++) CLASSES[characters.charCodeAt(index)]! |= bit;
}
const ASCII_SPACES = "\t\n\v\f\r ";
const DIGITS = "0123456789";
const LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
mark(`${ASCII_SPACES}"'<>()[]{}|\\^\`,;`, DELIMITER);
mark(".:!?", STRIPPED);
mark("\"'([{<", LEADING_CHARACTER);
mark(".,;:!?)]}>'\"", TRAILING_CHARACTER);
mark(ASCII_SPACES, SPACE);
mark(`${DIGITS} ().-`, PHONE_CHARACTER);
mark(`${DIGITS}${LETTERS}_-`, WORD_CHARACTER);
mark(`${DIGITS}${LETTERS}._%+-`, EMAIL_LOCAL);

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

function isAsciiLetter(code: number): boolean {
  return (code | 0x20) >= 97 && (code | 0x20) <= 122;
}

function isAsciiAlphanumeric(code: number): boolean {
  return isDigit(code) || isAsciiLetter(code);
}

/** `\s` beyond ASCII (the same set `trim()` drops). */
function isWideSpace(code: number): boolean {
  return (
    code === 0xa0 ||
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000 ||
    code === 0xfeff
  );
}

function hasClass(code: number, bit: number): boolean {
  return code < 128 && (CLASSES[code]! & bit) !== 0;
}

/** `text[from, to)` starts with `prefix` (case-sensitive). */
function startsWithAt(text: string, from: number, to: number, prefix: string): boolean {
  if (to - from < prefix.length) return false;
  for (let index = 0; index < prefix.length; index++) {
    if (text.charCodeAt(from + index) !== prefix.charCodeAt(index)) return false;
  }
  return true;
}

/** `EMAIL` on the ASCII token `text[from, to)` whose first `@` is at `at` (`from < at`). */
function isEmailRange(text: string, from: number, at: number, to: number): boolean {
  for (let index = from; index < at; index++) if (!hasClass(text.charCodeAt(index), EMAIL_LOCAL)) return false;
  // Labels of `[a-z0-9-]+` joined by single dots, two at least.
  let labels = 0;
  let labelLength = 0;
  for (let index = at + 1; index < to; index++) {
    const code = text.charCodeAt(index);
    if (code === 46) {
      if (labelLength === 0) return false;
      labels++;
      labelLength = 0;
    } else if (isAsciiAlphanumeric(code) || code === 45) labelLength++;
    else return false;
  }
  return labelLength > 0 && labels >= 1;
}

/** `DOTTED_NAME` on the ASCII token `text[from, to)`. */
function isDottedNameRange(text: string, from: number, to: number): boolean {
  let dots = 0;
  let labelStart = from;
  for (let index = from; index < to; index++) {
    const code = text.charCodeAt(index);
    if (code === 46) {
      if (index === labelStart) return false;
      dots++;
      labelStart = index + 1;
    } else if (!hasClass(code, WORD_CHARACTER)) return false;
  }
  // The last label: a letter, then one to five letters or digits.
  const last = to - labelStart;
  if (dots === 0 || last < 2 || last > 6 || !isAsciiLetter(text.charCodeAt(labelStart))) return false;
  for (let index = labelStart + 1; index < to; index++) if (!isAsciiAlphanumeric(text.charCodeAt(index))) return false;
  return true;
}

/**
 * `identifierLike` on the ASCII token `text[from, to)`, given what a pass over it found: the first `@` (or -1),
 * the number of slashes and dots, and whether it holds a digit.
 */
function identifierLikeRange(
  text: string,
  from: number,
  to: number,
  at: number,
  slashes: number,
  dots: number,
  digit: boolean,
): boolean {
  const length = to - from;
  if (length < 4) return false;
  if (startsWithAt(text, from, to, "http://") || startsWithAt(text, from, to, "https://")) return true;
  if (at > from) return isEmailRange(text, from, at, to);
  if (slashes >= 2) return true;
  if (slashes === 1 && dots > 0 && hostPathSlash(text, from, to) !== -1) return true;
  if (digit && length >= 6) return true;
  return dots > 0 && isDottedNameRange(text, from, to);
}

/** `HOST_PATH` on the ASCII token `text[from, to)`: the offset of the slash after its host, or -1. */
function hostPathSlash(text: string, from: number, to: number): number {
  const slash = text.indexOf("/", from);
  return slash !== -1 && slash < to && isDottedNameRange(text, from, slash) ? slash : -1;
}

/** {@link identifierLikeRange} with its own pass over `text[from, to)`. */
function identifierLikeScan(text: string, from: number, to: number): boolean {
  let at = -1;
  let slashes = 0;
  let dots = 0;
  let digit = false;
  for (let index = from; index < to; index++) {
    const code = text.charCodeAt(index);
    if (code === 64) {
      if (at === -1) at = index;
    } else if (code === 47) slashes++;
    else if (code === 46) dots++;
    else if (isDigit(code)) digit = true;
  }
  return identifierLikeRange(text, from, to, at, slashes, dots, digit);
}

/** Where {@link normalizeInto} writes: grown when a value is longer. */
let normalized = new Uint16Array(1024);

/**
 * `normalizeValue(text.slice(from, to))` for ASCII text, written into `normalized`; returns its length.
 * Same steps: trim, leading quotes and brackets, trailing punctuation, lower case, then a phone number's
 * separators dropped, or runs of spaces made one.
 */
function normalizeInto(text: string, from: number, to: number): number {
  while (from < to && hasClass(text.charCodeAt(from), SPACE)) from++;
  while (to > from && hasClass(text.charCodeAt(to - 1), SPACE)) to--;
  while (from < to && hasClass(text.charCodeAt(from), LEADING_CHARACTER)) from++;
  while (to > from && hasClass(text.charCodeAt(to - 1), TRAILING_CHARACTER)) to--;
  const length = to - from;
  if (normalized.length < length) normalized = new Uint16Array(Math.max(length, normalized.length * 2));
  const out = normalized;
  // PHONE_LIKE: an optional `+`, a digit, six or more of `[\d ().-]`, a digit.
  const plus = length > 0 && text.charCodeAt(from) === 43 ? 1 : 0;
  let phone = length - plus >= 8 && isDigit(text.charCodeAt(from + plus)) && isDigit(text.charCodeAt(to - 1));
  let space = false;
  for (let index = 0; index < length; index++) {
    let code = text.charCodeAt(from + index);
    if (code >= 65 && code <= 90) code += 32;
    out[index] = code;
    if (phone && index > plus && index < length - 1 && !hasClass(code, PHONE_CHARACTER)) phone = false;
    if (!space && hasClass(code, SPACE)) space = true;
  }
  if (phone) {
    let kept = 0;
    for (let index = 0; index < length; index++) {
      const code = out[index]!;
      if (code === 43 || isDigit(code)) out[kept++] = code;
    }
    return kept;
  }
  if (!space) return length;
  let kept = 0;
  let inSpace = false;
  for (let index = 0; index < length; index++) {
    const code = out[index]!;
    if (hasClass(code, SPACE)) {
      if (!inSpace) out[kept++] = 32;
      inSpace = true;
    } else {
      out[kept++] = code;
      inSpace = false;
    }
  }
  return kept;
}

/** `hashValue` of `normalized[from, to)`. */
function hashNormalized(from: number, to: number): number {
  const out = normalized;
  let hash = 0x811c9dc5;
  for (let index = from; index < to; index++) {
    hash ^= out[index]!;
    hash = Math.imul(hash, 0x01000193);
  }
  const folded = (hash ^ (hash >>> 31)) & 0x7fffffff;
  return folded === 0 ? 1 : folded;
}

/** `normalized[0, length)` starts with `prefix`. */
function normalizedStartsWith(length: number, prefix: string): boolean {
  if (length < prefix.length) return false;
  for (let index = 0; index < prefix.length; index++) if (normalized[index] !== prefix.charCodeAt(index)) return false;
  return true;
}

/** `normalized[from, to)` as a string: what `normalizeValue` gives for the ASCII range it was written from. */
function normalizedString(from: number, to: number): string {
  // The codes are ASCII, so decoding them as UTF-16 gives the same string; natively, which is faster past a
  // hundred characters or so (an argument's whole value), while spreading a few codes is faster than a call.
  if (to - from >= DECODED_LENGTH) return utf16.decode(normalized.subarray(from, to));
  return String.fromCharCode.apply(null, normalized.subarray(from, to) as unknown as number[]);
}

const DECODED_LENGTH = 128;
const utf16 = new TextDecoder("utf-16le");

/**
 * The values one pass found, in order of offset. Reused from scan to scan (see {@link takeFoundValues}): the
 * lists are overwritten up to `count`, so a scan allocates nothing but the values' strings.
 */
class FoundValues {
  readonly starts: number[] = [];
  readonly hashes: number[] = [];
  /** The normalised values, only when asked for (evidence, arguments); hashes are enough for results. */
  readonly values: string[] = [];
  /** 1 for a URL's host, 2 for a value from its query, each added together with the URL before it; 0 otherwise. */
  readonly hosts: number[] = [];
  withValues = false;
  count = 0;

  reset(withValues: boolean): this {
    this.withValues = withValues;
    this.count = 0;
    return this;
  }

  private push(start: number, hash: number, host: number, value: string): void {
    const index = this.count++;
    this.starts[index] = start;
    this.hashes[index] = hash;
    this.hosts[index] = host;
    if (this.withValues) this.values[index] = value;
  }

  /** `add` of the regex implementation, for the ASCII value `text[from, to)` reported at `start`. */
  addRange(text: string, from: number, to: number, start: number): void {
    const length = normalizeInto(text, from, to);
    if (length < 4) return;
    const value = this.withValues ? normalizedString(0, length) : "";
    this.push(start, hashNormalized(0, length), 0, value);
    // URL_HOST: `https?://` and then one or more characters other than `/?#:`.
    const scheme = normalizedStartsWith(length, "http://") ? 7 : normalizedStartsWith(length, "https://") ? 8 : 0;
    if (scheme === 0) {
      this.addHostPath(length, start);
      return;
    }
    let end = scheme;
    while (end < length) {
      const code = normalized[end]!;
      if (code === 47 || code === 63 || code === 35 || code === 58) break;
      end++;
    }
    if (end - scheme < 4) return;
    this.push(start, hashNormalized(scheme, end), 1, this.withValues ? value.slice(scheme, end) : "");
    let query = end;
    while (query < length && normalized[query] !== 63) query++;
    if (query < length) this.addQueryValues(value === "" ? normalizedString(0, length) : value, start);
  }

  /** The identifier-like values of a URL's query, as its host goes in (see {@link urlQueryValues}). */
  private addQueryValues(url: string, start: number): void {
    for (const value of urlQueryValues(url)) this.push(start, hashValue(value), QUERY_VALUE, value);
  }

  /**
   * The host of the normalised value when it is a web address without a scheme (`HOST_PATH`), as a URL's host
   * goes in: `files.example.net/incoming` in an argument then meets `https://files.example.net/…` in a result.
   */
  private addHostPath(length: number, start: number): void {
    let slash = 0;
    let dot = false;
    for (; slash < length && normalized[slash] !== 47; slash++) if (normalized[slash] === 46) dot = true;
    // Most values with a slash are paths (`src/index.ts`): no dot before the slash, no string made.
    if (!dot || slash < 4 || slash === length) return;
    const host = normalizedString(0, slash);
    if (isDottedNameRange(host, 0, slash)) this.push(start, hashNormalized(0, slash), 1, this.withValues ? host : "");
  }

  /** `add` of the regex implementation, on a string (text beyond ASCII). */
  addString(raw: string, start: number): void {
    const value = normalizeValue(raw);
    if (value.length < 4) return;
    this.push(start, hashValue(value), 0, value);
    const url = URL_HOST.exec(value);
    const host = url ?? HOST_PATH.exec(value);
    if (host !== null && host[1] !== undefined && host[1].length >= 4) {
      this.push(start, hashValue(host[1]), 1, host[1]);
      if (url !== null && value.includes("?")) this.addQueryValues(value, start);
    }
  }

  /**
   * How many of these values a pass that runs while fewer than `budget` values are found, `already` of them
   * by earlier passes, would have added (a URL and its host go in together).
   */
  usable(already: number, budget: number): number {
    let used = 0;
    while (used < this.count && already + used < budget) {
      used++;
      while (used < this.count && this.hosts[used] !== 0) used++;
    }
    return used;
  }
}

/**
 * The values of a normalised URL's query parameters (`?user=dana%40example.com&page=2`) that are identifier-like
 * once percent-decoded: a link is the commonest way to send data out (a page asks the agent to open
 * `…/check?user=<the user's e-mail>`), and the URL as a whole never matches the e-mail address it carries.
 */
function urlQueryValues(url: string): string[] {
  const query = url.indexOf("?");
  if (query === -1) return [];
  const hash = url.indexOf("#", query);
  const values: string[] = [];
  for (const pair of url.slice(query + 1, hash === -1 ? url.length : hash).split(/[&;]/)) {
    const equals = pair.indexOf("=");
    if (equals === -1) continue;
    const value = normalizeValue(percentDecoded(pair.slice(equals + 1)));
    if (value.length >= 4 && !/\s/.test(value) && identifierLike(value)) values.push(value);
    if (values.length >= MAX_QUERY_VALUES) break;
  }
  return values;
}

/** What {@link forEachIdentifier} reports as the origin of a value taken from a URL's query. */
export const QUERY_VALUE = 2;

/** Query values taken from one URL at most: a tracking link's dozen parameters are noise past the first few. */
const MAX_QUERY_VALUES = 4;

/**
 * `+` as a space and `%XX` escapes of printable ASCII decoded (`%40` is `@`); anything else is left as it is.
 * Not `URLSearchParams`, which splits only at `&` (`;` separates here too) and decodes UTF-8 sequences as well:
 * addresses and ids, the values worth following, are printable ASCII.
 */
function percentDecoded(value: string): string {
  const spaced = value.replace(/\+/g, " ");
  if (spaced.indexOf("%") === -1) return spaced;
  // `[2-7]` keeps the escapes to U+0020..U+007F; U+007F (DEL) is no printable character.
  return spaced.replace(/%([2-7][0-9a-f])/gi, (sequence, hex: string) => {
    const code = Number.parseInt(hex, 16);
    return code < 127 ? String.fromCharCode(code) : sequence;
  });
}

/** The three passes' lists, kept between scans: reading a call's arguments scans several short strings. */
const sharedLists = [new FoundValues(), new FoundValues(), new FoundValues()] as const;
/** Whether a scan is using `sharedLists` now (a `report` callback that scans again gets lists of its own). */
let sharedListsInUse = false;

/** The characters that make a token worth reading (see {@link NOTABLE}). */
const NOTABLE_CHARACTER = /[./@=+0-9]/g;
/** Characters the token pass looks at twice: `./@=+` and digits. */
const NOTABLE = 256;
const NOTABLE_CLASSES = new Uint16Array(128);
for (let code = 0; code < 128; code++) NOTABLE_CLASSES[code] = CLASSES[code]!;
for (const character of `./@=+${DIGITS}`) NOTABLE_CLASSES[character.charCodeAt(0)]! |= NOTABLE;

/**
 * The token pass (runs between delimiters, their trailing `.:!?` dropped), stopping once `budget` values are
 * found, and with it the spaced-number pass: the regex `\+?\d[\d ().-]{6,}\d` can only start at a digit or a
 * `+`, which are never delimiters, so its leftmost matches are found by trying it at each digit and `+` of the
 * tokens from where its last match ended. Spaced numbers are collected whole: which of them count depends on
 * how many values the token pass finds in all.
 */
function scanTokens(
  text: string,
  from: number,
  length: number,
  budget: number,
  tokens: FoundValues,
  spaced: FoundValues,
): void {
  let spacedNext = 0;
  let index = from;
  while (index < length && tokens.count < budget) {
    // A token without any of `./@=+` and digits adds nothing: the regex finds the next token that has one natively,
    // skipping the rest whole.
    NOTABLE_CHARACTER.lastIndex = index;
    if (!NOTABLE_CHARACTER.test(text)) break;
    const notable = NOTABLE_CHARACTER.lastIndex - 1;
    if (notable >= length) break;
    let start = notable;
    while (start > index) {
      const previous = text.charCodeAt(start - 1);
      if (previous < 128 ? (CLASSES[previous]! & DELIMITER) !== 0 : isWideSpace(previous)) break;
      start--;
    }
    index = start;
    let code = 0;
    let ascii = true;
    let at = -1;
    let slashes = 0;
    let dots = 0;
    let digit = false;
    let equals = -1;
    for (; index < length; index++) {
      code = text.charCodeAt(index);
      if (code >= 128) {
        if (isWideSpace(code)) break;
        ascii = false;
        continue;
      }
      const bits = NOTABLE_CLASSES[code]!;
      if ((bits & (DELIMITER | NOTABLE)) === 0) continue;
      if ((bits & DELIMITER) !== 0) break;
      if (code === 46) dots++;
      else if (code === 47) slashes++;
      else if (code === 64) {
        if (at === -1) at = index;
      } else if (code === 61) equals = index;
      else {
        if (code !== 43) digit = true;
        if (index >= spacedNext && spaced.count < budget) spacedNext = spacedNumberAt(text, index, length, spaced);
      }
    }
    // A token of fewer than four characters, or without any of `./@=` and digits, is no identifier and holds
    // no `key=value`: most words of prose end here.
    if (index - start < 4 || (dots === 0 && slashes === 0 && at === -1 && equals === -1 && !digit)) continue;
    let end = index;
    while (end > start && hasClass(text.charCodeAt(end - 1), STRIPPED)) {
      if (text.charCodeAt(end - 1) === 46) dots--;
      end--;
    }
    if (!ascii) {
      scanStringToken(tokens, text.slice(start, end), start);
      continue;
    }
    if (identifierLikeRange(text, start, end, at, slashes, dots, digit)) {
      tokens.addRange(text, start, end, start);
    } else if (equals > start && equals < end - 4 && !startsWithAt(text, start, end, "http")) {
      // `to=attacker@example.com`, `account=GB29NWBK...`: the value of a key=value pair is the identifier.
      if (identifierLikeScan(text, equals + 1, end)) tokens.addRange(text, equals + 1, end, equals + 1);
    }
  }
}

/** The token pass of the regex implementation for one token beyond ASCII. */
function scanStringToken(tokens: FoundValues, token: string, start: number): void {
  if (identifierLike(token)) {
    tokens.addString(token, start);
    return;
  }
  const equals = token.lastIndexOf("=");
  if (equals > 0 && equals < token.length - 4 && !token.startsWith("http")) {
    const value = token.slice(equals + 1);
    if (identifierLike(value)) tokens.addString(value, start + equals + 1);
  }
}

/**
 * Tries `\+?\d[\d ().-]{6,}\d` at `index` (a digit or a `+`) as the regex would, greedy: the match ends at the
 * last digit of the run of `[\d ().-]` after the first digit, seven characters on at least. Keeps it when it
 * holds a separator (plain numbers are tokens already). Returns where the next attempt may start.
 */
function spacedNumberAt(text: string, index: number, length: number, spaced: FoundValues): number {
  let first = index;
  if (text.charCodeAt(index) === 43) {
    first = index + 1;
    if (first >= length || !isDigit(text.charCodeAt(first))) return index + 1;
  }
  let last = -1;
  for (let end = first + 1; end < length; end++) {
    const next = text.charCodeAt(end);
    if (!hasClass(next, PHONE_CHARACTER)) break;
    if (isDigit(next)) last = end;
  }
  if (last < first + 7) return index + 1;
  let separator = false;
  for (let position = first + 1; position < last && !separator; position++) {
    separator = !isDigit(text.charCodeAt(position));
  }
  if (separator) spaced.addRange(text, index, last + 1, index);
  return last + 1;
}

/**
 * Quoted strings, `"[^"\n]{3,120}"` or `'[^'\n]{3,120}'`, while fewer than `budget` values are found (`already`
 * of them by the earlier passes). Quotes are found with `indexOf`, which skips the text between natively.
 */
function scanQuoted(
  text: string,
  from: number,
  length: number,
  budget: number,
  already: number,
  quoted: FoundValues,
): void {
  let index = from;
  let nextDouble = text.indexOf('"', from);
  let nextSingle = text.indexOf("'", from);
  while (already + quoted.count < budget) {
    if (nextDouble !== -1 && nextDouble < index) nextDouble = text.indexOf('"', index);
    if (nextSingle !== -1 && nextSingle < index) nextSingle = text.indexOf("'", index);
    index = nextDouble === -1 ? nextSingle : nextSingle === -1 ? nextDouble : Math.min(nextDouble, nextSingle);
    if (index === -1 || index >= length) return;
    const quote = text.charCodeAt(index);
    const stop = Math.min(length, index + 122);
    let close = index + 1;
    let ascii = true;
    for (; close < stop; close++) {
      const code = text.charCodeAt(close);
      if (code === quote || code === 10) break;
      if (code >= 128) ascii = false;
    }
    if (close >= stop || text.charCodeAt(close) !== quote || close - index - 1 < 3) {
      index++;
      continue;
    }
    if (ascii) quoted.addRange(text, index, close + 1, index);
    else quoted.addString(text.slice(index, close + 1), index);
    index = close + 1;
  }
}

/**
 * Scans `text[0, limit)` for identifiers as the regex implementation did (its three passes, each stopping once
 * `maximum * 2` values are found, then a stable sort by offset), and calls `report` with the list and position
 * of each of the first `maximum`. Returns how many.
 */
function scanIdentifiers(
  text: string,
  limit: number,
  maximum: number,
  withValues: boolean,
  report: (list: FoundValues, position: number) => void,
  from = 0,
  already = 0,
): number {
  const length = Math.min(text.length, limit);
  const shared = !sharedListsInUse;
  const tokens = (shared ? sharedLists[0] : new FoundValues()).reset(withValues);
  const spaced = (shared ? sharedLists[1] : new FoundValues()).reset(withValues);
  const quoted = (shared ? sharedLists[2] : new FoundValues()).reset(withValues);
  if (shared) sharedListsInUse = true;
  try {
    return reportIdentifiers(text, from, length, maximum, already, tokens, spaced, quoted, report);
  } finally {
    if (shared) sharedListsInUse = false;
  }
}

/**
 * The three passes of {@link scanIdentifiers} into the given lists, then the merge and the reports. From `from`
 * on, with `already` values found before it (see {@link forEachIdentifierHashAfter}), it reports only when no
 * pass of a scan of the whole text would have stopped early, and returns -1 otherwise.
 */
function reportIdentifiers(
  text: string,
  from: number,
  length: number,
  maximum: number,
  already: number,
  tokens: FoundValues,
  spaced: FoundValues,
  quoted: FoundValues,
  report: (list: FoundValues, position: number) => void,
): number {
  const budget = maximum * 2 - already;
  scanTokens(text, from, length, budget, tokens, spaced);
  const spacedUsed = tokens.count >= budget ? 0 : spaced.usable(tokens.count, budget);
  if (tokens.count + spacedUsed < budget) scanQuoted(text, from, length, budget, tokens.count + spacedUsed, quoted);
  if (from > 0 && tokens.count + spaced.count + quoted.count >= budget) return -1;
  // Merged by offset, ties in pass order: what the stable sort of the three passes' values gave.
  const count = Math.min(tokens.count + spacedUsed + quoted.count, maximum - already);
  let token = 0;
  let number = 0;
  let quote = 0;
  for (let reported = 0; reported < count; reported++) {
    let list = tokens;
    let position = token;
    let start = token < tokens.count ? tokens.starts[token]! : Number.POSITIVE_INFINITY;
    if (number < spacedUsed && spaced.starts[number]! < start) {
      list = spaced;
      position = number;
      start = spaced.starts[number]!;
    }
    if (quote < quoted.count && quoted.starts[quote]! < start) {
      list = quoted;
      position = quote;
    }
    if (list === tokens) token++;
    else if (list === spaced) number++;
    else quote++;
    report(list, position);
  }
  return count;
}

/**
 * Calls `found` for every identifier-like token of `text[0, limit)`, normalised, with its offset, in order of
 * offset; URLs also yield their host and the identifier-like values of their query. `origin` is 0 for a value
 * found as it stands, 1 for a URL's host, {@link QUERY_VALUE} for a value from a URL's query. Returns how many
 * were reported (at most `maximum`).
 */
export function forEachIdentifier(
  text: string,
  limit: number,
  maximum: number,
  found: (value: string, start: number, origin: number) => void,
): number {
  return scanIdentifiers(text, limit, maximum, true, (list, position) =>
    found(list.values[position]!, list.starts[position]!, list.hosts[position]!),
  );
}

/**
 * {@link forEachIdentifier} reporting `hashValue` of each value instead of the value: no string is made for
 * an ASCII token, which is most of the cost of reading a long result.
 */
export function forEachIdentifierHash(
  text: string,
  limit: number,
  maximum: number,
  found: (hash: number, start: number) => void,
): number {
  return scanIdentifiers(text, limit, maximum, false, (list, position) =>
    found(list.hashes[position]!, list.starts[position]!),
  );
}

/**
 * The rest of {@link forEachIdentifierHash} of `text` from `from` on, for a text whose first `from` characters
 * are those of a text scanned before, `text[from - 1]` a line feed (no value of the scan runs across one) and
 * `already` (fewer than `maximum`) the values that scan reported before `from`, all it found: calls `found` for the
 * values from `from` on that the scan of the whole text reports, and returns how many. Returns -1, having called
 * nothing, when the whole text's scan could have stopped early (its passes stop at `maximum * 2` values, and
 * which values they then keep depends on all of them): the caller scans the whole text then.
 */
export function forEachIdentifierHashAfter(
  text: string,
  limit: number,
  maximum: number,
  from: number,
  already: number,
  found: (hash: number, start: number) => void,
): number {
  return scanIdentifiers(
    text,
    limit,
    maximum,
    false,
    (list, position) => found(list.hashes[position]!, list.starts[position]!),
    from,
    already,
  );
}

/** The identifier-like tokens of a text (up to `maximum`), for arguments and tests. */
export function identifierTokens(text: string, maximum = 64, limit = 4096): ValueToken[] {
  const tokens: ValueToken[] = [];
  forEachIdentifier(text, limit, maximum, (value, start) => tokens.push({ value, start }));
  return tokens;
}

/** FNV-1a over the UTF-16 code units, folded to a positive 31-bit integer (a small integer in V8), never 0. */
export function hashValue(value: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < value.length; index++) {
    hash ^= value.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  const folded = (hash ^ (hash >>> 31)) & 0x7fffffff;
  return folded === 0 ? 1 : folded;
}

/** Words per shingle: a copied run of text shares 5-word runs with its source; chance sentences rarely do. */
export const SHINGLE_WORDS = 5;
/** One shingle in four is kept, chosen by its hash, so source and copy keep the same ones. */
const SHINGLE_SAMPLE_MASK = 3;

/**
 * Calls `found` with the hash of every sampled 5-word shingle of `text[0, limit)` (words are lower-cased
 * letter and digit runs), up to `maximum`, with the offsets where the shingle starts and ends. Sampling by hash
 * keeps memory at a quarter while any copied run of 8 words or more is still very likely to share one.
 */
export function forEachShingle(
  text: string,
  limit: number,
  maximum: number,
  found: (hash: number, start: number, end: number) => void,
): number {
  const scanned = text.length > limit ? text.slice(0, limit) : text;
  return shinglesFrom(scanned, 0, 0, maximum, found);
}

/**
 * The rest of {@link forEachShingle} of `text` from `from` on, for a text whose first `from` characters are those
 * of a text read before, `text[from - 1]` a line feed, and `already` the shingles that reading reported ending
 * before `from`: calls `found` for the shingles the reading of the whole text reports that end after `from`, and
 * returns how many shingles it reports in all (`already` included). Returns -1, having called nothing, when it
 * cannot tell the four words before `from` (fewer than four, or characters beyond ASCII among them): the caller
 * reads the whole text then.
 */
export function forEachShingleAfter(
  text: string,
  limit: number,
  maximum: number,
  from: number,
  already: number,
  found: (hash: number, start: number, end: number) => void,
): number {
  // The reading of the whole text stopped before `from` (it stops once a shingle brings it to `maximum`).
  if (already > 0 && already >= maximum) return already;
  const scanned = text.length > limit ? text.slice(0, limit) : text;
  // Back over the four words before `from` (a shingle ending after it starts at the first of them), in ASCII only:
  // beyond it, what a word is takes the regex.
  let start = Math.min(from, scanned.length);
  for (let words = 0; words < SHINGLE_WORDS - 1; words++) {
    while (start > 0) {
      const code = scanned.charCodeAt(start - 1);
      if (code >= 128) return -1;
      if (ASCII_WORD[code] !== 0) break;
      start--;
    }
    if (start === 0) return -1;
    while (start > 0) {
      const code = scanned.charCodeAt(start - 1);
      if (code >= 128) return -1;
      if (ASCII_WORD[code] === 0) break;
      start--;
    }
  }
  return shinglesFrom(scanned, start, already, maximum, found);
}

/**
 * Reports sampled shingles of `scanned` read from `from` (the start of a word, or 0), counting on from `already`;
 * the first shingle reported ends with the fifth word read.
 */
function shinglesFrom(
  scanned: string,
  from: number,
  already: number,
  maximum: number,
  found: (hash: number, start: number, end: number) => void,
): number {
  const length = scanned.length;
  let words = 0;
  let count = already;
  // The four words before the newest, oldest first, and where they start: locals, so a `found` that reads
  // shingles of another text has a window of its own.
  let hash0 = 0;
  let hash1 = 0;
  let hash2 = 0;
  let hash3 = 0;
  let start0 = 0;
  let start1 = 0;
  let start2 = 0;
  let start3 = 0;
  for (let end = nextWord(scanned, from, length); end !== -1; end = nextWord(scanned, end, length)) {
    const hash4 = wordHash;
    const start4 = wordStart;
    if (++words >= SHINGLE_WORDS) {
      let shingle = Math.imul(0x2f1a3c5b ^ hash0, 0x01000193);
      shingle = Math.imul(shingle ^ hash1, 0x01000193);
      shingle = Math.imul(shingle ^ hash2, 0x01000193);
      shingle = Math.imul(shingle ^ hash3, 0x01000193);
      shingle = Math.imul(shingle ^ hash4, 0x01000193);
      shingle = (shingle ^ (shingle >>> 15)) & 0x7fffffff;
      if ((shingle & SHINGLE_SAMPLE_MASK) === 0 && shingle !== 0) {
        found(shingle, start0, end);
        if (++count >= maximum) break;
      }
    }
    hash0 = hash1;
    hash1 = hash2;
    hash2 = hash3;
    hash3 = hash4;
    start0 = start1;
    start1 = start2;
    start2 = start3;
    start3 = start4;
  }
  WORD.lastIndex = 0;
  return count;
}

/** What {@link nextWord} found: `hashValue` of the lower-cased word, and where it starts. */
let wordHash = 0;
let wordStart = 0;

/**
 * Finds the first word (`WORD`, `[\p{L}\p{N}]+`) of `scanned[0, length)` at or after `index`, which is 0 or
 * the end of a word; sets {@link wordHash} and {@link wordStart} and returns where it ends, or -1 when there is
 * none. ASCII letters and digits are read from character codes, lower-cased and hashed without making a
 * string; from any other character on, `WORD` finds the word, so text beyond ASCII is split and lower-cased
 * exactly as the regex does.
 */
function nextWord(scanned: string, index: number, length: number): number {
  while (index < length) {
    let code = scanned.charCodeAt(index);
    if (code < 128 && ASCII_WORD[code] === 0) {
      index++;
      continue;
    }
    const start = index;
    let hash = 0x811c9dc5;
    while (code < 128) {
      const lower = ASCII_WORD[code]!;
      if (lower === 0) break;
      hash = Math.imul(hash ^ lower, 0x01000193);
      if (++index === length) break;
      code = scanned.charCodeAt(index);
    }
    if (index < length && code >= 128) {
      WORD.lastIndex = start;
      const match = WORD.exec(scanned);
      if (match === null) return -1;
      wordStart = match.index;
      wordHash = hashValue(match[0].toLowerCase());
      return match.index + match[0].length;
    }
    const folded = (hash ^ (hash >>> 31)) & 0x7fffffff;
    wordHash = folded === 0 ? 1 : folded;
    wordStart = start;
    return index;
  }
  return -1;
}

/** `hashValue` of each of the first `maximum` of {@link wordsOf}, without making the words. */
export function wordHashes(text: string, maximum: number): number[] {
  const hashes: number[] = [];
  const length = text.length;
  for (let end = nextWord(text, 0, length); end !== -1 && hashes.length < maximum; end = nextWord(text, end, length)) {
    hashes.push(wordHash);
  }
  WORD.lastIndex = 0;
  return hashes;
}

/** Per ASCII code: the lower-case code of a letter or digit (a character of `WORD`), 0 for anything else. */
const ASCII_WORD = new Uint8Array(128);
for (let code = 48; code <= 57; code++) ASCII_WORD[code] = code;
for (let code = 97; code <= 122; code++) ASCII_WORD[code] = code;
for (let code = 65; code <= 90; code++) ASCII_WORD[code] = code + 32;

/** Lower-cased words of a text, for short values taken from instructions (`13`, `urgent`). */
export function wordsOf(text: string, maximum: number): string[] {
  const words: string[] = [];
  WORD.lastIndex = 0;
  for (let match = WORD.exec(text); match !== null && words.length < maximum; match = WORD.exec(text)) {
    words.push(match[0].toLowerCase());
  }
  WORD.lastIndex = 0;
  return words;
}

/** Clips a value for evidence. */
export function clipValue(value: string, maximum = 80): string {
  return value.length <= maximum ? value : `${value.slice(0, maximum - 1)}…`;
}
