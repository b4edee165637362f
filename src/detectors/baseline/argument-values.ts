import type { ExchangePosition } from "../../core/detector.js";
import type { CapturedExchange } from "../../core/exchange.js";

/**
 * Tool-call arguments as flat (path, value) leaves, and the content class of a string value: what the argument and
 * resource models read. Bounded: a call with a huge or deeply nested argument object costs a fixed amount.
 */

/** One scalar inside a call's arguments. */
export interface ArgumentLeaf {
  /** `to`, `payment.iban`, `recipients[]`: object keys joined with dots, array items as `[]`. */
  path: string;
  value: string | number | boolean;
  /** The value's content class, once worked out (see {@link leafContentClass}). */
  content?: ContentClass;
}

/** Most leaves read from one call; the rest are not modelled. */
export const MAX_LEAVES = 32;
const MAX_DEPTH = 4;

const NO_LEAVES: readonly ArgumentLeaf[] = Object.freeze([]);
/** The last arguments object flattened: every baseline detector reads the same exchange in turn. */
let lastArguments: object | null = null;
let lastLeaves: readonly ArgumentLeaf[] = NO_LEAVES;

/**
 * The scalar leaves of a call's arguments, at most {@link MAX_LEAVES}, in key order. The result of the last call is
 * reused when the same arguments object comes again (the next detector on the same exchange): exchanges are not
 * changed once recorded, so the leaves cannot go stale.
 */
export function argumentLeaves(argumentsObject: Record<string, unknown> | null | undefined): readonly ArgumentLeaf[] {
  if (argumentsObject === null || argumentsObject === undefined || typeof argumentsObject !== "object")
    return NO_LEAVES;
  if (argumentsObject === lastArguments) return lastLeaves;
  const leaves: ArgumentLeaf[] = [];
  collect(argumentsObject, "", 0, leaves);
  lastArguments = argumentsObject;
  lastLeaves = leaves;
  return leaves;
}

/** The content class of a leaf, worked out once per leaf. */
export function leafContentClass(leaf: ArgumentLeaf): ContentClass {
  if (leaf.content === undefined) {
    leaf.content =
      typeof leaf.value === "string"
        ? contentClass(leaf.value)
        : typeof leaf.value === "number"
          ? "number"
          : "identifier";
  }
  return leaf.content;
}

function collect(value: unknown, path: string, depth: number, leaves: ArgumentLeaf[]): void {
  if (leaves.length >= MAX_LEAVES) return;
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
    leaves.push({ path, value });
    return;
  }
  if (value === null || typeof value !== "object" || depth >= MAX_DEPTH) return;
  if (Array.isArray(value)) {
    const itemPath = `${path}[]`;
    for (const item of value) {
      if (leaves.length >= MAX_LEAVES) return;
      collect(item, itemPath, depth + 1, leaves);
    }
    return;
  }
  for (const key of Object.keys(value)) {
    if (leaves.length >= MAX_LEAVES) return;
    collect((value as Record<string, unknown>)[key], path === "" ? key : `${path}.${key}`, depth + 1, leaves);
  }
}

/** Content classes of a string value: the argument model's fingerprint. */
export const CONTENT_CLASSES = [
  "empty",
  "natural_language",
  "code",
  "url",
  "base64",
  "hex",
  "path",
  "email",
  "number",
  "identifier",
] as const;
export type ContentClass = (typeof CONTENT_CLASSES)[number];

/** Classes that carry data in a form people do not write: the interesting drift is towards these. */
export const ENCODED_CLASSES: ReadonlySet<ContentClass> = new Set(["code", "base64", "hex"]);

/** Only the head of a long value is classified: the class of a value is decided in its first few hundred characters. */
const CLASSIFY_CHARS = 256;
const EMAIL = /^[^\s@<>]+@[^\s@<>]+\.[a-z]{2,}$/i;
const URL_PATTERN = /^[a-z][a-z0-9+.-]*:\/\/\S+$/i;
const NUMBER = /^[-+]?[\d][\d,.:/ +TZ-]*$/;
const HEX = /^(?:0x)?[0-9a-f]{16,}$/i;
const BASE64 = /^[A-Za-z0-9+/_-]{16,}={0,2}$/;
const PATH = /^(?:~|\.{1,2}|[A-Za-z]:)?[/\\][^\s]*$|^[^\s/\\]+[/\\][^\s]+$/;
const CODE_WORD = /\b(?:function|return|import|def|class|select|insert|drop|union|curl|wget|eval|exec|bash|sudo|rm)\b/i;
/** 1 at the code of each symbol code is dense in: braces, parentheses, `;`, `=`, `<`, `>`, `$`, backquote, `|`, `&`. */
const CODE_SYMBOL_CODES = new Uint8Array(128);
for (const symbol of "{}();=<>$`|&") CODE_SYMBOL_CODES[symbol.charCodeAt(0)] = 1;

/**
 * The content class of a string value (see {@link CONTENT_CLASSES}). Each pattern needs a character or a length the
 * text may lack (an e-mail address an `@`, a URL `://`, a path a slash, hex and base64 16 characters): checking that
 * first skips most regular expressions, which cost far more than the check.
 */
export function contentClass(value: string): ContentClass {
  const text = value.length > CLASSIFY_CHARS ? value.slice(0, CLASSIFY_CHARS) : value;
  const trimmed = text.trim();
  if (trimmed.length === 0) return "empty";
  const hasSpace = /\s/.test(trimmed);
  if (!hasSpace) {
    if (trimmed.includes("@") && EMAIL.test(trimmed)) return "email";
    if (trimmed.includes("://") && URL_PATTERN.test(trimmed)) return "url";
    if (startsLikeNumber(trimmed) && NUMBER.test(trimmed)) return "number";
    const long = trimmed.length >= 16;
    if (long && HEX.test(trimmed)) return "hex";
    if ((trimmed.includes("/") || trimmed.includes("\\")) && PATH.test(trimmed)) return "path";
    // Base64 needs letters of both cases and a digit: a long snake_case name is not an encoding.
    if (long && BASE64.test(trimmed) && /[a-z]/.test(trimmed) && /[A-Z]/.test(trimmed) && /\d/.test(trimmed)) {
      return "base64";
    }
    if (codeSymbols(trimmed) >= 2 && CODE_WORD.test(trimmed)) return "code";
    return "identifier";
  }
  if (startsLikeNumber(trimmed) && NUMBER.test(trimmed)) return "number";
  const symbols = codeSymbols(trimmed);
  if (symbols >= 4 && (symbols / trimmed.length > 0.04 || CODE_WORD.test(trimmed))) return "code";
  return "natural_language";
}

/** True when `text` starts as {@link NUMBER} requires: a sign or a digit. */
function startsLikeNumber(text: string): boolean {
  const code = text.charCodeAt(0);
  return (code >= 48 && code <= 57) || code === 43 || code === 45;
}

/** How many of `text`'s characters are code symbols (see {@link CODE_SYMBOL_CODES}). */
function codeSymbols(text: string): number {
  let count = 0;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code < 128 && CODE_SYMBOL_CODES[code] === 1) count++;
  }
  return count;
}

/** `value` clipped for a finding's evidence or message. */
export function clipValue(value: string, characters = 80): string {
  const flat = value.replace(/\s+/g, " ");
  return flat.length <= characters ? flat : `${flat.slice(0, characters)}…`;
}

/**
 * Where the value of a call's top-level argument was read from: an earlier result of the session (exact match),
 * or `null` when no result held it. The flow analysis answers it (`FlowAnalysis.argumentSource`); it traces only
 * what it saw, so the flow detectors, which ask it about every call, must run with it (`defaultDetectors` does).
 */
export type ArgumentProvenance = (
  exchange: CapturedExchange,
  position: ExchangePosition,
  argument: string,
) => { from_call: number; from_tool: string } | null;

/** The top-level argument of a leaf path (`to` of `to[]`, `message` of `message.recipient`). */
export function topLevelArgument(path: string): string {
  const end = path.search(/[.[]/);
  return end === -1 ? path : path.slice(0, end);
}
