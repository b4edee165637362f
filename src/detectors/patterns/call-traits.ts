/**
 * What a tool call says about itself, read generically from its tool name and argument names and values.
 *
 * Nothing here names a particular server's tools: a call is outbound when its name carries a sending verb
 * (send, post, upload, share, ...) or its arguments name a destination (to, recipient, url, webhook, ...).
 * The pattern detectors share these readings so that they agree on what "outbound" and "destination" mean.
 */
import { nameWords } from "../../defence/name-words.js";

/** Most argument strings read from one call, and most characters read from each: bounds the cost of odd inputs. */
const MAX_STRINGS = 64;
const MAX_STRING_CHARS = 8192;
const MAX_DEPTH = 4;

/** Verbs in a tool name that send data somewhere else. */
const OUTBOUND_VERBS: ReadonlySet<string> = new Set([
  "send",
  "post",
  "upload",
  "share",
  "publish",
  "transfer",
  "forward",
  "email",
  "mail",
  "message",
  "notify",
  "webhook",
  "submit",
  "reply",
  "tweet",
  "invite",
  "push",
  "sync",
  "export",
  "broadcast",
  "dm",
  "sms",
  "pay",
  "wire",
]);

/** Argument names (as name tokens) that say where the data goes. */
const DESTINATION_NAMES: ReadonlySet<string> = new Set([
  "to",
  "recipient",
  "recipients",
  "url",
  "uri",
  "endpoint",
  "webhook",
  "destination",
  "target",
  "channel",
  "email",
  "emails",
  "address",
  "cc",
  "bcc",
  "iban",
  "account",
  "phone",
  "host",
  "hostname",
  "server",
  "bucket",
  "remote",
  "callback",
]);

/** Lower-case words of an identifier (see `nameWords`). */
export const nameTokens = nameWords;

/**
 * Names judged at most per memo: tool and argument names are few in practice, and a flood of invented ones only
 * costs a re-split.
 */
const NAME_MEMO_SIZE = 4096;

/**
 * `judge(name)` remembered in `memo`: the same tool and argument names come on every call, and splitting a name
 * into words costs far more than a lookup.
 */
export function judgedName<T>(memo: Map<string, T>, name: string, judge: (name: string) => T): T {
  const known = memo.get(name);
  if (known !== undefined) return known;
  const value = judge(name);
  if (memo.size >= NAME_MEMO_SIZE) memo.clear();
  memo.set(name, value);
  return value;
}

const outboundVerbMemo = new Map<string, boolean>();
const destinationNameMemo = new Map<string, boolean>();

/** One string found in a call's arguments, with the name of the argument that holds it (the innermost key). */
export interface ArgumentString {
  name: string;
  value: string;
}

const NO_STRINGS: readonly ArgumentString[] = Object.freeze([]);
/** The last arguments object read: the pattern detectors read the same exchange in turn. */
let lastArguments: object | null = null;
let lastStrings: readonly ArgumentString[] = NO_STRINGS;

/**
 * The strings inside a call's arguments (nested objects and arrays included), bounded in count, depth and
 * length. Numbers and booleans are left out: they carry no paths, chunks or prose. The result of the last call
 * is reused when the same arguments object comes again (the next detector on the same exchange): exchanges are
 * not changed once recorded, so the strings cannot go stale.
 */
export function argumentStrings(argumentsValue: Record<string, unknown> | null | undefined): readonly ArgumentString[] {
  if (argumentsValue === null || argumentsValue === undefined || typeof argumentsValue !== "object") return NO_STRINGS;
  if (argumentsValue === lastArguments) return lastStrings;
  const found: ArgumentString[] = [];
  const visit = (value: unknown, name: string, depth: number): void => {
    if (found.length >= MAX_STRINGS) return;
    if (typeof value === "string") {
      found.push({ name, value: value.length > MAX_STRING_CHARS ? value.slice(0, MAX_STRING_CHARS) : value });
      return;
    }
    if (depth >= MAX_DEPTH || value === null || typeof value !== "object") return;
    if (Array.isArray(value)) {
      for (const item of value) visit(item, name, depth + 1);
      return;
    }
    for (const key of Object.keys(value)) visit((value as Record<string, unknown>)[key], key, depth + 1);
  };
  for (const key of Object.keys(argumentsValue)) visit(argumentsValue[key], key, 0);
  lastArguments = argumentsValue;
  lastStrings = found;
  return found;
}

/** True when the tool name carries a verb that sends data out of the system. */
export function hasOutboundVerb(tool: string): boolean {
  return judgedName(outboundVerbMemo, tool, (name) => nameTokens(name).some((token) => OUTBOUND_VERBS.has(token)));
}

/** True when an argument's name says it holds a destination. */
export function isDestinationName(name: string): boolean {
  return judgedName(destinationNameMemo, name, (argument) =>
    nameTokens(argument).some((token) => DESTINATION_NAMES.has(token)),
  );
}

/**
 * Where an outbound call sends its data, or `null` when the call does not look outbound.
 * The destination is the host of a URL argument, else the value of the first destination-named argument,
 * else (an outbound verb with no destination argument) the tool itself.
 */
export function outboundDestination(tool: string, strings: readonly ArgumentString[]): string | null {
  let named: string | null = null;
  for (const entry of strings) {
    const url = urlHost(entry.value);
    if (url !== null && (isDestinationName(entry.name) || hasOutboundVerb(tool))) return url;
    if (named === null && isDestinationName(entry.name) && entry.value.length > 0 && entry.value.length <= 256) {
      named = entry.value.trim().toLowerCase();
    }
  }
  if (named !== null) return named;
  return hasOutboundVerb(tool) ? `tool:${tool}` : null;
}

/** The host of an http(s) or ws(s) URL at the start of a string, lower-cased; `null` when it is not one. */
export function urlHost(value: string): string | null {
  const match = /^\s*(?:https?|wss?|ftp):\/\/(?:[^/?#@\s]*@)?([^/?#:\s]+)/i.exec(value);
  return match === null ? null : match[1]!.toLowerCase();
}

/** Counts of URLs, e-mail addresses and file-system paths in a string (cheap, approximate). */
export function resourceCounts(value: string): { urls: number; emails: number; paths: number } {
  // Each pattern needs a character the value may lack (a URL "://", an address "@", a path a slash or a backslash):
  // checking for it is far cheaper than running the pattern.
  return {
    urls: value.includes("://") ? matchCount(URLS, value) : 0,
    emails: value.includes("@") ? matchCount(EMAILS, value) : 0,
    paths: value.includes("/") || value.includes("\\") ? matchCount(PATHS, value) : 0,
  };
}

// None of these matches an empty string, so counting with `test` walks the same matches as `matchAll` without
// building a match array for each.
const URLS = /\b(?:https?|ftp|wss?):\/\/\S/gi;
const EMAILS = /[\w.+-]@[\w-]+\.[\w.-]*[a-z]/gi;
const PATHS = /(?:^|[\s"'=(])(?:~|\.{1,2})?\/[\w.-]+\/?|\b[A-Za-z]:\\[\w.-]/g;

function matchCount(pattern: RegExp, value: string): number {
  let count = 0;
  pattern.lastIndex = 0;
  while (pattern.test(value)) count++;
  return count;
}

const asciiCounts = new Uint32Array(128);

/**
 * Shannon entropy of a string in bits per character. Counts ASCII in a reused table (the common case, no
 * allocation) and anything else in a map.
 */
export function textEntropy(value: string): number {
  if (value.length === 0) return 0;
  asciiCounts.fill(0);
  let other: Map<number, number> | null = null;
  for (let index = 0; index < value.length; index++) {
    const code = value.charCodeAt(index);
    if (code < 128) asciiCounts[code]!++;
    else {
      other ??= new Map();
      other.set(code, (other.get(code) ?? 0) + 1);
    }
  }
  let total = 0;
  const add = (count: number): void => {
    const probability = count / value.length;
    total -= probability * Math.log2(probability);
  };
  for (let code = 0; code < 128; code++) if (asciiCounts[code]! > 0) add(asciiCounts[code]!);
  if (other !== null) for (const count of other.values()) add(count);
  return total;
}
