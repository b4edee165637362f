/**
 * The pieces of text that data-flow tracking compares: identifier-like tokens (e-mail addresses, URLs and
 * their hosts, IBANs and account numbers, phone numbers, long numbers, paths, file names, quoted strings)
 * and sampled 5-word shingles of prose. Everything is normalised (case, spacing, trailing punctuation) and
 * hashed to a 31-bit integer, so a session keeps numbers, never the texts it saw.
 */

/** One identifier-like token found in a text. */
export interface ValueToken {
  /** The normalised value (lower case, trimmed); kept only long enough to hash and, clipped, for evidence. */
  value: string;
  /** Offset of the token in the scanned text. */
  start: number;
}

/** Runs of characters between whitespace and the delimiters of prose, JSON, YAML and markup. */
const TOKEN = /[^\s"'<>()[\]{}|\\^`,;]+/g;
/** Phone numbers written with separators, which the token pass splits. */
const SPACED_NUMBER = /\+?\d[\d ().-]{6,}\d/g;
/** Quoted strings: names, titles, ids that a request may quote. */
const QUOTED = /"[^"\n]{3,120}"|'[^'\n]{3,120}'/g;
const TRAILING = /[.,;:!?)\]}>'"]+$/;
const LEADING = /^["'([{<]+/;
const PHONE_LIKE = /^\+?\d[\d ().-]{6,}\d$/;
const URL_HOST = /^https?:\/\/([^/?#:]+)/i;
const EMAIL = /^[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+$/i;
const DOTTED_NAME = /^[\w-]+(?:\.[\w-]+)*\.[a-z][a-z0-9]{1,5}$/i;
const WORD = /[\p{L}\p{N}]+/gu;

/** Normalises a value for comparison: lower case, spacing collapsed, quotes and trailing punctuation dropped. */
export function normalizeValue(value: string): string {
  let text = value.trim().replace(LEADING, "").replace(TRAILING, "").toLowerCase();
  if (PHONE_LIKE.test(text)) text = text.replace(/[^\d+]/g, "");
  else if (/\s/.test(text)) text = text.replace(/\s+/g, " ");
  return text;
}

/**
 * Whether a token (no whitespace) is identifier-like: a URL, an e-mail address, a path of two or more parts,
 * a dotted name (host, file name), or a word of six or more characters with a digit (ids, accounts, keys).
 * Plain code on the token rather than one large pattern over the text: several times faster on long results.
 */
function identifierLike(token: string): boolean {
  if (token.length < 4) return false;
  if (token.startsWith("http://") || token.startsWith("https://")) return true;
  const at = token.indexOf("@");
  if (at > 0) return EMAIL.test(token);
  const slash = token.indexOf("/");
  if (slash !== -1 && token.indexOf("/", slash + 1) !== -1) return true;
  let digit = false;
  for (let index = 0; index < token.length && !digit; index++) {
    const code = token.charCodeAt(index);
    digit = code >= 48 && code <= 57;
  }
  if (digit && token.length >= 6) return true;
  return token.includes(".") && DOTTED_NAME.test(token);
}

/**
 * Calls `found` for every identifier-like token of `text[0, limit)`, normalised, with its offset, in order of
 * offset; URLs also yield their host. Returns how many were reported (at most `maximum`).
 */
export function forEachIdentifier(
  text: string,
  limit: number,
  maximum: number,
  found: (value: string, start: number) => void,
): number {
  const scanned = text.length > limit ? text.slice(0, limit) : text;
  const values: string[] = [];
  const starts: number[] = [];
  const add = (raw: string, start: number): void => {
    const value = normalizeValue(raw);
    if (value.length < 4) return;
    values.push(value);
    starts.push(start);
    const host = URL_HOST.exec(value);
    if (host !== null && host[1] !== undefined && host[1].length >= 4) {
      values.push(host[1]);
      starts.push(start);
    }
  };
  const budget = maximum * 2;
  TOKEN.lastIndex = 0;
  for (let match = TOKEN.exec(scanned); match !== null && values.length < budget; match = TOKEN.exec(scanned)) {
    const token = match[0].replace(TRAILING, "");
    if (identifierLike(token)) {
      add(token, match.index);
    } else {
      // `to=attacker@example.com`, `account=GB29NWBK...`: the value of a key=value pair is the identifier.
      const equals = token.lastIndexOf("=");
      if (equals > 0 && equals < token.length - 4 && !token.startsWith("http")) {
        const value = token.slice(equals + 1);
        if (identifierLike(value)) add(value, match.index + equals + 1);
      }
    }
  }
  TOKEN.lastIndex = 0;
  for (const pattern of [SPACED_NUMBER, QUOTED]) {
    pattern.lastIndex = 0;
    for (let match = pattern.exec(scanned); match !== null && values.length < budget; match = pattern.exec(scanned)) {
      // A number without separators is already a token; only spaced ones (phone numbers) are new here.
      if (pattern === SPACED_NUMBER && !/[ ().-]/.test(match[0])) continue;
      add(match[0], match.index);
    }
    pattern.lastIndex = 0;
  }
  const order = values.map((_, index) => index).sort((a, b) => starts[a]! - starts[b]!);
  const count = Math.min(order.length, maximum);
  for (let index = 0; index < count; index++) found(values[order[index]!]!, starts[order[index]!]!);
  return count;
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
  const window = new Int32Array(SHINGLE_WORDS);
  const starts = new Int32Array(SHINGLE_WORDS);
  let words = 0;
  let count = 0;
  WORD.lastIndex = 0;
  for (let match = WORD.exec(scanned); match !== null; match = WORD.exec(scanned)) {
    const slot = words % SHINGLE_WORDS;
    window[slot] = hashValue(match[0].toLowerCase());
    starts[slot] = match.index;
    words++;
    if (words < SHINGLE_WORDS) continue;
    let hash = 0x2f1a3c5b;
    for (let offset = 0; offset < SHINGLE_WORDS; offset++) {
      hash = Math.imul(hash ^ window[(words + offset) % SHINGLE_WORDS]!, 0x01000193);
    }
    hash = (hash ^ (hash >>> 15)) & 0x7fffffff;
    if ((hash & SHINGLE_SAMPLE_MASK) !== 0 || hash === 0) continue;
    found(hash, starts[words % SHINGLE_WORDS]!, match.index + match[0].length);
    if (++count >= maximum) break;
  }
  WORD.lastIndex = 0;
  return count;
}

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
