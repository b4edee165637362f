// `documentKind` and `isJsonLike` as they were before they shared one pass over the lines, with the helpers
// they read: kept verbatim as the reference the differential test compares the current implementation with.
import type { DocumentKind } from "../../../src/defence/poisoning/text-features.js";
import { isRegExpSpace } from "../../../src/defence/poisoning/text-features.js";

/**
 * Classifies a document by the share of its characters in table rows, `key: value` fields and code lines
 * (prose otherwise). Linear in the text; looks at the first 32 KB only.
 */
export function documentKind(text: string): DocumentKind {
  let table = 0;
  let structured = 0;
  let code = 0;
  let total = 0;
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
    position = end + 1;
  }
  if (total === 0) return "prose";
  if (table / total >= 0.5) return "table";
  if (structured / total >= 0.5) return "structured";
  if (code / total >= 0.4) return "code";
  return "prose";
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

/**
 * Whether `text` reads as JSON: it opens with `{` or `[`, or at least half of its characters are on lines
 * that open with JSON syntax (a quote, a brace or a bracket), as in several JSON files printed one after
 * another with their paths.
 */
export function isJsonLike(text: string): boolean {
  let position = 0;
  while (position < text.length && isSpace(text.charCodeAt(position))) position++;
  const first = text.charCodeAt(position);
  if (first === 123 || first === 91) return true;
  let json = 0;
  let total = 0;
  const limit = Math.min(text.length, 32768);
  while (position < limit) {
    let end = text.indexOf("\n", position);
    if (end === -1 || end > limit) end = limit;
    let start = position;
    while (start < end && (text.charCodeAt(start) === 32 || text.charCodeAt(start) === 9)) start++;
    const code = text.charCodeAt(start);
    total += end - start;
    if (code === 34 || code === 123 || code === 125 || code === 91 || code === 93) json += end - start;
    position = end + 1;
  }
  return total > 0 && json * 2 >= total;
}

function isSpace(code: number): boolean {
  return code === 32 || code === 10 || code === 13 || code === 9;
}

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
