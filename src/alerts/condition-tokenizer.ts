/**
 * Tokens of the alert condition language (see docs/alert-rules.md). Every token keeps its offsets
 * so that parse errors point at a line and column of the rules file.
 */

/** Suffixes a number may carry: durations, a percentage, or a baseline multiplier. */
export type NumberUnit = "" | "ms" | "s" | "m" | "h" | "d" | "w" | "%" | "x";

export type Token =
  | { kind: "word"; text: string; start: number; end: number }
  | { kind: "number"; text: string; start: number; end: number; value: number; unit: NumberUnit }
  | { kind: "string"; text: string; start: number; end: number; value: string }
  | { kind: "operator"; text: ">" | ">=" | "<" | "<=" | "==" | "!=" | "="; start: number; end: number }
  | { kind: "punctuation"; text: "{" | "}" | ","; start: number; end: number }
  | { kind: "end"; text: ""; start: number; end: number };

/** A problem at `[start, end)` of the condition text. */
export interface ConditionError {
  start: number;
  end: number;
  message: string;
}

export type TokenizeResult = { ok: true; tokens: Token[] } | { ok: false; error: ConditionError };

const DURATION_UNITS = new Set(["ms", "s", "m", "h", "d", "w"]);

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

function isLetter(code: number): boolean {
  return (code >= 65 && code <= 90) || (code >= 97 && code <= 122);
}

/** Tool and server names use more than identifier characters (`github.create-issue`, `fs/read`). */
function isWordCharacter(code: number): boolean {
  return (
    isLetter(code) ||
    isDigit(code) ||
    code === 95 /* _ */ ||
    code === 45 /* - */ ||
    code === 46 /* . */ ||
    code === 47 /* / */ ||
    code === 58 /* : */
  );
}

function isSpace(code: number): boolean {
  return code === 32 || code === 9 || code === 10 || code === 13;
}

/**
 * Reads `digits[.digits]unit` from the whole of `text`; `null` when the run is not a number (a
 * name such as `2fa_check` that merely starts with a digit).
 */
function readNumber(text: string): { value: number; unit: NumberUnit } | null {
  let index = 0;
  while (index < text.length && isDigit(text.charCodeAt(index))) index++;
  if (index < text.length && text.charCodeAt(index) === 46) {
    const fractionStart = index + 1;
    index = fractionStart;
    while (index < text.length && isDigit(text.charCodeAt(index))) index++;
    if (index === fractionStart) return null;
  }
  const unit = text.slice(index);
  if (unit !== "" && unit !== "x" && !DURATION_UNITS.has(unit)) return null;
  return { value: Number(text.slice(0, index)), unit: unit as NumberUnit };
}

export function tokenize(text: string): TokenizeResult {
  const tokens: Token[] = [];
  let index = 0;
  while (index < text.length) {
    const code = text.charCodeAt(index);
    if (isSpace(code)) {
      index++;
      continue;
    }
    const start = index;
    if (code === 34 /* " */ || code === 39 /* ' */) {
      let value = "";
      index++;
      let closed = false;
      while (index < text.length) {
        const character = text[index]!;
        if (character === "\\" && index + 1 < text.length) {
          value += text[index + 1];
          index += 2;
          continue;
        }
        index++;
        if (character.charCodeAt(0) === code) {
          closed = true;
          break;
        }
        value += character;
      }
      if (!closed) return { ok: false, error: { start, end: text.length, message: "unterminated quoted name" } };
      tokens.push({ kind: "string", text: text.slice(start, index), start, end: index, value });
      continue;
    }
    if (code === 62 /* > */ || code === 60 /* < */ || code === 61 /* = */ || code === 33 /* ! */) {
      const twoCharacters = text.slice(index, index + 2);
      if (twoCharacters === ">=" || twoCharacters === "<=" || twoCharacters === "==" || twoCharacters === "!=") {
        tokens.push({ kind: "operator", text: twoCharacters, start, end: index + 2 });
        index += 2;
        continue;
      }
      if (code === 33) {
        return { ok: false, error: { start, end: start + 1, message: "expected `!=`, found `!`" } };
      }
      tokens.push({ kind: "operator", text: text[index] as ">" | "<" | "=", start, end: index + 1 });
      index++;
      continue;
    }
    if (code === 123 /* { */ || code === 125 /* } */ || code === 44 /* , */) {
      tokens.push({ kind: "punctuation", text: text[index] as "{" | "}" | ",", start, end: index + 1 });
      index++;
      continue;
    }
    if (isWordCharacter(code)) {
      while (index < text.length && isWordCharacter(text.charCodeAt(index))) index++;
      const run = text.slice(start, index);
      const number = isDigit(code) ? readNumber(run) : null;
      if (number !== null) {
        if (number.unit === "" && text.charCodeAt(index) === 37 /* % */) {
          index++;
          tokens.push({
            kind: "number",
            text: text.slice(start, index),
            start,
            end: index,
            value: number.value,
            unit: "%",
          });
        } else {
          tokens.push({ kind: "number", text: run, start, end: index, ...number });
        }
      } else {
        tokens.push({ kind: "word", text: run, start, end: index });
      }
      continue;
    }
    return {
      ok: false,
      error: { start, end: start + 1, message: `unexpected character ${JSON.stringify(text[index])}` },
    };
  }
  tokens.push({ kind: "end", text: "", start: text.length, end: text.length });
  return { ok: true, tokens };
}

/** How a token reads in an error message. */
export function describeToken(token: Token): string {
  if (token.kind === "end") return "the end of the condition";
  return `\`${token.text}\``;
}
