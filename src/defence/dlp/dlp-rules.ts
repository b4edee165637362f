import {
  RUN_AFTER_PLUS_OR_PARENTHESIS,
  RUN_AFTER_UPPER_OR_SPACE,
  RUN_BESIDE_COLON,
  RUN_PHONE_LENGTH,
  RUN_SSN_SHAPE,
  RUN_THREE_DOTS,
} from "./digit-run-shape.js";
import type { DlpAction, DlpCategory, DlpRule } from "./dlp-types.js";
import {
  cardNumberValid,
  credentialLike,
  decodeBase64,
  hasAscendingRun,
  ibanValid,
  jwtValid,
  placeholderToken,
  placeholderValue,
  publicIpv4,
  publicIpv4Octets,
  publicIpv6,
  shannonEntropy,
  ssnValid,
} from "./validators.js";

interface RuleSpec {
  id: string;
  type: string;
  description: string;
  /** Regular expression source; compiled with `g` (plus `flags`). */
  source: string;
  flags?: string;
  anchors: readonly string[] | null;
  before?: number;
  after?: number;
  group?: number;
  numeric?: { minimumDigits: number; shapes?: number };
  precheck?: (text: string, start: number, end: number) => boolean;
  matchStart?: (text: string, position: number) => number;
  validate?: (value: string, match: RegExpExecArray) => boolean;
  matchAt?: DlpRule["matchAt"];
  matchesInRun?: DlpRule["matchesInRun"];
}

function rule(category: DlpCategory, action: DlpAction, spec: RuleSpec): DlpRule {
  const built: DlpRule = {
    id: spec.id,
    type: spec.type,
    category,
    action,
    description: spec.description,
    // `d` (match indices) only where a group is reported: it costs an allocation per match.
    pattern: new RegExp(spec.source, `g${spec.group ? "d" : ""}${spec.flags ?? ""}`),
    anchors: spec.anchors,
    window: { before: spec.before ?? 0, after: spec.after ?? 256 },
    group: spec.group ?? 0,
  };
  if (spec.numeric) built.numeric = spec.numeric;
  else if ((spec.before ?? 0) === 0) built.startsAtAnchor = true;
  if (spec.precheck) built.precheck = spec.precheck;
  if (spec.matchStart) built.matchStart = spec.matchStart;
  if (spec.validate) built.validate = spec.validate;
  if (spec.matchAt) built.matchAt = spec.matchAt;
  if (spec.matchesInRun) built.matchesInRun = spec.matchesInRun;
  return built;
}

const secret = (spec: RuleSpec): DlpRule => rule("secret", "block", spec);
const pii = (spec: RuleSpec): DlpRule => rule("pii", "alert", spec);

// A token must not continue a longer word on its left: `rhf_Sponsored` is not a Hugging Face token.
const LEFT = "(?<![A-Za-z0-9_-])";
const notPlaceholder = (value: string): boolean => !placeholderToken(value);

/** lower, Capitalised and UPPER forms of a keyword: the spellings of `password` in code, prose and environment names. */
function spellings(words: readonly string[]): string[] {
  const forms = new Set<string>();
  for (const word of words) {
    forms.add(word);
    forms.add(word.charAt(0).toUpperCase() + word.slice(1));
    forms.add(word.toUpperCase());
  }
  return [...forms];
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

const isIdentifierCode = (code: number): boolean =>
  (code >= 48 && code <= 57) ||
  (code >= 65 && code <= 90) ||
  (code >= 97 && code <= 122) ||
  code === 95 ||
  code === 45 ||
  code === 46;
const isDigitCode = (code: number): boolean => code >= 48 && code <= 57;
/** `[A-Za-z0-9_]`, what `\w` and the patterns' look-arounds call a word character. */
const isWordCode = (code: number): boolean =>
  (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95;
const isUpperCode = (code: number): boolean => code >= 65 && code <= 90;

/** After a keyword: the rest of the name, an optional closing quote or bracket, spaces, then `:`, `=` or `,`. */
function assignmentFollows(text: string, _start: number, end: number): boolean {
  let index = end;
  const nameEnd = Math.min(text.length, end + 31);
  while (index < nameEnd && isIdentifierCode(text.charCodeAt(index))) index++;
  const quote = text.charCodeAt(index);
  if (quote === 34 || quote === 39 || quote === 93) index++;
  const spacesEnd = index + 6;
  while (index < spacesEnd && (text.charCodeAt(index) === 32 || text.charCodeAt(index) === 9)) index++;
  const separator = text.charCodeAt(index);
  return separator === 58 || separator === 61 || separator === 44;
}

const isValueTerminator = (code: number): boolean =>
  code === 32 ||
  code === 9 ||
  code === 34 ||
  code === 39 ||
  code === 96 ||
  code === 59 ||
  code === 44 ||
  code === 60 ||
  code === 62 ||
  code === 40 ||
  code === 41 ||
  code === 123 ||
  code === 125 ||
  code === 91 ||
  code === 93;

/**
 * True when the generic-secret pattern, run at a keyword ending at `end`, can only capture a dotted
 * reference (`token = request.headers.authorization`), which its validator refuses: the commonest
 * assignment to a credential name in source code, settled here without a regular expression. It
 * follows the pattern step by step (name, optional quote, up to five spaces, `:=` `=>` `=` `:` or `,`,
 * spaces, optional quote, value) and answers false, so the pattern runs, wherever the text holds
 * anything it does not model exactly (other whitespace, non-ASCII, a short value).
 */
function referenceAssigned(text: string, end: number): boolean {
  const length = text.length;
  let index = end;
  while (index < length && index - end <= 25 && isIdentifierCode(text.charCodeAt(index))) index++;
  if (index - end > 25) return false;
  const quote = text.charCodeAt(index);
  if (quote === 34 || quote === 39 || quote === 93) index++;
  const skipSpaces = (): boolean => {
    const limit = index + 5;
    while (index < limit && text.charCodeAt(index) === 32) index++;
    const code = text.charCodeAt(index);
    // Tabs, line breaks and other spaces: left to the pattern.
    return !(code < 32 || code === 32 || code >= 127);
  };
  if (!skipSpaces()) return false;
  const separator = text.charCodeAt(index);
  const next = text.charCodeAt(index + 1);
  if ((separator === 58 && next === 61) || (separator === 61 && next === 62)) index += 2;
  else if (separator === 61 || separator === 58 || separator === 44) index++;
  else return false;
  if (!skipSpaces()) return false;
  const open = text.charCodeAt(index);
  if (open === 34 || open === 39 || open === 96) index++;
  const from = index;
  while (index < length && index - from < 300) {
    const code = text.charCodeAt(index);
    if (code < 32 || code >= 127) return false;
    if (isValueTerminator(code)) break;
    index++;
  }
  return index - from >= 6 && dottedReference(text, from, index);
}

/** After `://`: a `user:password@` part, that is an `@` before the first `/`, space or quote. */
function userInfoFollows(text: string, _start: number, end: number): boolean {
  const limit = Math.min(text.length, end + 400);
  for (let index = end; index < limit; index++) {
    const code = text.charCodeAt(index);
    if (code === 64) return true;
    if (code === 47 || code === 32 || code === 34 || code === 39 || code === 10 || code === 60 || code === 62)
      return false;
  }
  return false;
}

// Prechecks of the numeric rules. Each is a necessary condition for the rule's pattern to find a match
// that its validator accepts, tested on the digit run in plain code: in logs and JSON most runs of
// digits are timestamps, ids and amounts, and a regular expression call per run is what made
// digit-dense text slow.

/**
 * The IPv4 pattern and its validator over the digit run [start, end), in plain code. An address is
 * four groups of one to three digits joined by single dots, with neither a letter, digit, `_` nor dot
 * before it, and neither a letter, digit, `_` nor a dot and a digit after it: each group is a whole
 * stretch of digits (a longer one cannot be followed by the dot or the look-ahead), so the pattern's
 * matches are exactly the stretches that parse so, and all of them lie in one digit run. The validator
 * refuses leading zeros (`01`), octets above 255 and addresses that are not public.
 */
function ipv4MatchesInRun(
  text: string,
  start: number,
  end: number,
  report: (start: number, end: number) => void,
): void {
  // Most runs (dates, amounts, ids) are shorter than `1.2.3.4` or hold fewer than its three dots.
  if (end - start < 7) return;
  let dots = 0;
  for (let index = start + 1; index < end && dots < 3; index++) if (text.charCodeAt(index) === 46) dots++;
  if (dots < 3) return;
  let index = start;
  while (index < end) {
    if (!isDigitCode(text.charCodeAt(index))) {
      index++;
      continue;
    }
    // `index` starts a stretch of digits: an address may start here if nothing forbidden precedes it.
    const from = index;
    const before = text.charCodeAt(from - 1);
    let position = from;
    let a = 0;
    let b = 0;
    let c = 0;
    let valid = true;
    let matched = !isWordCode(before) && before !== 46;
    for (let group = 0; group < 4 && matched; group++) {
      let value = 0;
      const groupStart = position;
      while (position < text.length && isDigitCode(text.charCodeAt(position))) {
        value = value * 10 + (text.charCodeAt(position) - 48);
        position++;
      }
      const digits = position - groupStart;
      if (digits < 1 || digits > 3) {
        matched = false;
        break;
      }
      if ((digits > 1 && text.charCodeAt(groupStart) === 48) || value > 255) valid = false;
      if (group === 0) a = value;
      else if (group === 1) b = value;
      else if (group === 2) c = value;
      if (group < 3) {
        if (text.charCodeAt(position) !== 46) matched = false;
        else position++;
      } else {
        const after = text.charCodeAt(position);
        if (isWordCode(after) || (after === 46 && isDigitCode(text.charCodeAt(position + 1)))) matched = false;
      }
    }
    if (matched) {
      if (valid && publicIpv4Octets(a, b, c)) report(from, position);
      index = position;
    } else {
      // No address starts inside this stretch of digits: on to the next one.
      index = from + 1;
      while (index < end && isDigitCode(text.charCodeAt(index))) index++;
    }
  }
}

const isHexCode = (code: number): boolean =>
  (code >= 48 && code <= 57) || (code >= 65 && code <= 70) || (code >= 97 && code <= 102);

/**
 * A public IPv6 address starts a run of hex digits and colons (the pattern's look-behind allows
 * nothing of the kind before it) with a four-digit group 2000-3fff, and either compresses zeros
 * (`::`) or has all eight groups. Checks each such run that meets the digit run [start, end).
 */
const isHexOrColonCode = (code: number): boolean => isHexCode(code) || code === 58;

function globalIpv6Possible(text: string, start: number, end: number): boolean {
  const isRunCode = isHexOrColonCode;
  let position = start;
  while (position < end) {
    // The hex-and-colon run around this digit: [from, to).
    let from = position;
    const limit = Math.max(0, position - 48);
    while (from > limit && isRunCode(text.charCodeAt(from - 1))) from--;
    // A run that reaches further back than an address can: leave it to the pattern.
    if (from === limit && from > 0) return true;
    let to = position;
    while (to < text.length && to - from < 120 && isRunCode(text.charCodeAt(to))) to++;
    const first = text.charCodeAt(from);
    if (
      (first === 50 || first === 51) &&
      isHexCode(text.charCodeAt(from + 1)) &&
      isHexCode(text.charCodeAt(from + 2)) &&
      isHexCode(text.charCodeAt(from + 3)) &&
      text.charCodeAt(from + 4) === 58
    ) {
      let colons = 0;
      for (let index = from; index < to; index++) {
        if (text.charCodeAt(index) !== 58) continue;
        if (text.charCodeAt(index - 1) === 58) return true;
        if (++colons >= 7) return true;
      }
    }
    // On to the next digit of the run after this hex run.
    position = to;
    while (position < end && !isDigitCode(text.charCodeAt(position))) position++;
  }
  return false;
}

/** The North American `NXX-NXX-XXXX` form (dots or dashes, the same twice) somewhere in [start, end). */
function northAmericanInside(text: string, start: number, end: number): boolean {
  for (let from = start; from + 12 <= end; from++) {
    const separator = text.charCodeAt(from + 3);
    if ((separator !== 45 && separator !== 46) || text.charCodeAt(from + 7) !== separator) continue;
    let digits = true;
    for (const offset of [0, 1, 2, 4, 5, 6, 8, 9, 10, 11]) {
      if (!isDigitCode(text.charCodeAt(from + offset))) {
        digits = false;
        break;
      }
    }
    if (digits) return true;
  }
  return false;
}

// Words that name a credential in an assignment. Matched case-sensitively in three spellings so that the
// character after the keyword can be required not to be a lower-case letter (`tokenizer` is not `token`).
const SECRET_KEYWORDS = spellings([
  "password",
  "passwd",
  "passphrase",
  "pwd",
  "secret",
  "token",
  "apikey",
  "api_key",
  "api-key",
  "accesskey",
  "access_key",
  "auth_key",
  "authkey",
  "credential",
  "credentials",
  "creds",
  "private_key",
  "privatekey",
  "auth",
]).concat(["apiKey", "accessKey", "authKey", "privateKey", "clientSecret", "ApiKey", "AccessKey", "PrivateKey"]);
const SECRET_KEYWORD_SOURCE = SECRET_KEYWORDS.map(escapeRegExp).join("|");

// An identifier that ends in one of these names the secret's metadata, not the secret: `tokenId`,
// `password_length`, `secretName`, `credentialsId: '29f6...'`.
const METADATA_SUFFIX =
  /(?:id|ids|name|names|type|types|url|uri|path|file|length|len|size|count|field|header|version|format|expiry|expires|expiration|ttl|timeout|endpoint|label|prompt|placeholder|hint|policy|pattern|regex|mode|provider|method|kind|class|ref|reference|source|store|manager|hash|hashed|digest|salt|min|max|minlength|maxlength|required|reset|confirm|confirmation|field|input|storage|env|variable|var|location|dir)$/i;

const PASSWORD_NAME = /pass|pwd/i;

/**
 * `request.headers.authorization`, `config.password`: dotted names without digits, which
 * `placeholderValue` refuses too. Tested first, in plain code, because it is the commonest value after
 * a credential name in source code and the other checks cost regular expressions.
 */
function dottedReference(value: string, start = 0, end = value.length): boolean {
  let dots = 0;
  let previous = 46;
  for (let index = start; index < end; index++) {
    const code = value.charCodeAt(index);
    if (code === 46) {
      if (previous === 46) return false;
      dots++;
    } else if (!((code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95 || code === 36)) {
      return false;
    }
    previous = code;
  }
  return dots > 0 && previous !== 46;
}

function genericValue(identifier: string, value: string): boolean {
  if (dottedReference(value)) return false;
  if (METADATA_SUFFIX.test(identifier.replace(/["'\]\s]+$/, ""))) return false;
  // People choose passwords of 8 characters; generated keys and tokens are longer.
  if (value.length < (PASSWORD_NAME.test(identifier) ? 8 : 10) || placeholderValue(value)) return false;
  // Letters only (`getToken`, `TestSourcePassword`) is an identifier or a word unless long and random.
  if (/^[A-Za-z]+$/.test(value) && (value.length < 20 || shannonEntropy(value) < 3.5)) return false;
  // Values that look like words joined by separators (`read-only`, `not_set`) are settings, not secrets.
  if (/^[a-z]+(?:[-_ .][a-z]+)*$/.test(value)) return false;
  return credentialLike(value, value.length >= 16 ? 3.2 : 2.9);
}

function authorizationValue(match: RegExpExecArray): boolean {
  const scheme = (match[1] ?? "").toLowerCase();
  const value = match[2] ?? "";
  if (placeholderValue(value) || value.startsWith("$")) return false;
  if (scheme === "basic") {
    const decoded = decodeBase64(value);
    return (decoded !== null && /^[\x20-\x7e]+:[\x20-\x7e]*$/.test(decoded)) || credentialLike(value, 3.5);
  }
  if (/^eyJ/.test(value)) return true;
  return value.length >= 8 && credentialLike(value, 2.9);
}

// File extensions that follow an `@` in asset names (`logo@2x.png`): the e-mail rule's validator
// refuses them as top-level domains. Kept as numbers (five bits a letter) so the check allocates nothing.
const FILE_EXTENSIONS =
  "png|jpg|jpeg|gif|svg|webp|ico|js|mjs|cjs|ts|tsx|css|map|json|htm|html|txt|md|py|rb|go|rs|java|zip|gz";
const FILE_EXTENSION_KEYS = new Set(
  FILE_EXTENSIONS.split("|").map((extension) => letterKey(extension, 0, extension.length)),
);
const EMAIL_EXTENSION = new RegExp(`^(?:${FILE_EXTENSIONS})$`, "i");

/** The letters [start, end) of `text` (at most six, ASCII) as one number, case folded. */
function letterKey(text: string, start: number, end: number): number {
  let key = 0;
  for (let index = start; index < end; index++) key = key * 32 + ((text.charCodeAt(index) | 32) - 96);
  return key;
}

// Character classes of the e-mail shortcut, one table load a character (every UTF-16 code unit has an entry).
const LABEL = 1;
const LETTER = 2;
const LOCAL_PART = 4;
const CHARACTER_CLASS = new Uint8Array(65_536);
for (let code = 0; code < 128; code++) {
  const letter = (code >= 65 && code <= 90) || (code >= 97 && code <= 122);
  const digit = code >= 48 && code <= 57;
  CHARACTER_CLASS[code] =
    (letter || digit || code === 45 ? LABEL : 0) |
    (letter ? LETTER : 0) |
    (letter || digit || code === 46 || code === 95 || code === 45 || code === 37 || code === 43 ? LOCAL_PART : 0);
}

// Where each domain label of the e-mail address under test ends (after its dot): at most eight.
const labelEnds = new Int32Array(8);

/**
 * The e-mail pattern run sticky at `start`, then its validator, in plain code: the end of the accepted
 * address, or -1. It follows the pattern's own backtracking. The local part is the whole run of its
 * characters (1 to 64) up to the `@`. Each domain label is a whole run of letters, digits and `-`
 * (nothing else can reach the dot that must follow it), 1 to 63 long, not starting or ending with `-`;
 * up to eight are taken. The top-level domain is then tried after the last label, then after each
 * earlier one: it must be a whole run of 2 to 24 letters followed by neither a digit nor `-`. The first
 * that fits is the pattern's match; the validator then refuses a local part starting with `.` and a
 * file extension as top-level domain.
 */
function emailMatchAt(text: string, start: number, anchor: number): number {
  const length = text.length;
  // `matchStart` found [start, anchor) to be the whole run of local-part characters before the `@`.
  const at = anchor;
  let labels = 0;
  let position = at + 1;
  while (labels < 8) {
    let end = position;
    while (end < length && end - position < 64 && (CHARACTER_CLASS[text.charCodeAt(end)]! & LABEL) !== 0) end++;
    const size = end - position;
    if (
      size === 0 ||
      size > 63 ||
      text.charCodeAt(end) !== 46 ||
      text.charCodeAt(position) === 45 ||
      text.charCodeAt(end - 1) === 45
    )
      break;
    position = end + 1;
    labelEnds[labels++] = position;
  }
  for (let label = labels - 1; label >= 0; label--) {
    const domainStart = labelEnds[label]!;
    let end = domainStart;
    while (end < length && end - domainStart <= 24 && (CHARACTER_CLASS[text.charCodeAt(end)]! & LETTER) !== 0) end++;
    const size = end - domainStart;
    if (size < 2 || size > 24) continue;
    const after = text.charCodeAt(end);
    if (isDigitCode(after) || after === 45) continue;
    if (text.charCodeAt(start) === 46) return -1;
    if (size <= 6 && FILE_EXTENSION_KEYS.has(letterKey(text, domainStart, end))) return -1;
    return end;
  }
  return -1;
}

const PRIVATE_KEY_LABEL = "[A-Z0-9 _-]{0,40}PRIVATE KEY(?: BLOCK)?";

/** The built-in rules, most specific first: on an exact tie the earlier rule names the match. */
export function builtInRules(): DlpRule[] {
  return [
    secret({
      id: "private_key",
      type: "private_key",
      description: "PEM private key block (RSA, EC, DSA, OpenSSH, PKCS#8, PGP), with or without its END line.",
      source: `-----BEGIN ${PRIVATE_KEY_LABEL}-----((?:[A-Za-z0-9+/=\\s:,._\\\\]|-(?!----)){0,16384})(?:-----END ${PRIVATE_KEY_LABEL}-----)?`,
      anchors: ["-----BEGIN"],
      after: 16_500,
      validate: (_value, match) => (match[1] ?? "").replace(/\\n|[^A-Za-z0-9+/]/g, "").length >= 32,
    }),
    secret({
      id: "aws_access_key_id",
      type: "aws_access_key",
      description: "AWS access key id (AKIA long-term, ASIA temporary, ABIA/ACCA service keys).",
      source: `${LEFT}(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}(?![A-Za-z0-9])`,
      anchors: ["AKIA", "ASIA", "ABIA", "ACCA"],
      after: 16,
      validate: notPlaceholder,
    }),
    secret({
      id: "aws_secret_access_key",
      type: "aws_secret_key",
      description: "AWS secret access key: 40 base64 characters assigned to an aws secret key name.",
      source:
        "(?:aws_?secret_?(?:access_?)?key|secret_?access_?key|AWS_SECRET(?:_ACCESS)?_KEY|SecretAccessKey|secretAccessKey)[\"'\\]]?\\s{0,5}(?::=|=>|=|:)\\s{0,5}[\"']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
      anchors: [
        "aws_secret",
        "AWS_SECRET",
        "secret_access_key",
        "secretaccesskey",
        "SecretAccessKey",
        "secretAccessKey",
        "SECRET_ACCESS_KEY",
      ],
      before: 10,
      after: 90,
      group: 1,
      validate: (value) => credentialLike(value, 3.5) && notPlaceholder(value),
    }),
    secret({
      id: "aws_bedrock_api_key",
      type: "aws_bedrock_key",
      description: "Amazon Bedrock long-term API key (ABSK...).",
      source: `${LEFT}ABSK[A-Za-z0-9+/]{109,269}={0,2}(?![A-Za-z0-9+/=])`,
      anchors: ["ABSK"],
      after: 280,
      validate: notPlaceholder,
    }),
    secret({
      id: "gcp_api_key",
      type: "gcp_api_key",
      description: "Google Cloud / Firebase API key (AIza...).",
      source: `${LEFT}AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])`,
      anchors: ["AIza"],
      after: 40,
      validate: (value) => notPlaceholder(value) && !hasAscendingRun(value),
    }),
    secret({
      id: "azure_storage_key",
      type: "azure_storage_key",
      description: "Azure storage account key or Service Bus / Event Hubs shared access key in a connection string.",
      source: "(?:AccountKey=([A-Za-z0-9+/]{86}==)|SharedAccessKey=([A-Za-z0-9+/]{43}=))",
      anchors: ["AccountKey=", "SharedAccessKey="],
      after: 100,
    }),
    secret({
      id: "azure_ad_client_secret",
      type: "azure_client_secret",
      description: "Microsoft Entra ID (Azure AD) application client secret (the `Q~` format).",
      source: "(?<![A-Za-z0-9_~.-])[A-Za-z0-9_~.-]{3}\\dQ~[A-Za-z0-9_~.-]{31,34}(?![A-Za-z0-9_~.-])",
      anchors: ["Q~"],
      before: 4,
      after: 36,
      validate: (value) => notPlaceholder(value) && /[0-9]/.test(value) && /[A-Za-z]/.test(value),
    }),
    secret({
      id: "github_token",
      type: "github_token",
      description:
        "GitHub personal access, OAuth, user-to-server, server-to-server and refresh tokens; fine-grained PATs.",
      source: `${LEFT}(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})(?![A-Za-z0-9])`,
      anchors: ["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"],
      after: 84,
      validate: notPlaceholder,
    }),
    secret({
      id: "gitlab_token",
      type: "gitlab_token",
      description:
        "GitLab personal, deploy, pipeline-trigger, runner, feed and agent tokens; runner registration tokens.",
      source: `${LEFT}(?:glpat-[A-Za-z0-9_-]{27,300}\\.[0-9a-z]{2}[0-9a-z]{7}|glpat-[A-Za-z0-9_-]{20}|gl(?:dt|ptt|rt|soat|ft|imt|agent|oas|cbt)-[A-Za-z0-9_.-]{20,64}|GR1348941[A-Za-z0-9_-]{20})(?![A-Za-z0-9_-])`,
      anchors: [
        "glpat-",
        "gldt-",
        "glptt-",
        "glrt-",
        "glsoat-",
        "glft-",
        "glimt-",
        "glagent-",
        "gloas-",
        "glcbt-",
        "GR1348941",
      ],
      after: 320,
      validate: (value) => notPlaceholder(value) && !hasAscendingRun(value.slice(9), 6) && shannonEntropy(value) > 3,
    }),
    secret({
      id: "atlassian_token",
      type: "atlassian_token",
      description: "Atlassian API token (ATATT3...) and Bitbucket app password (ATBB...).",
      source: `${LEFT}(?:ATATT3[A-Za-z0-9_\\-=]{186}|ATBB[A-Za-z0-9_=.-]{32})(?![A-Za-z0-9_\\-=])`,
      anchors: ["ATATT3", "ATBB"],
      after: 200,
      validate: notPlaceholder,
    }),
    secret({
      id: "slack_token",
      type: "slack_token",
      description: "Slack bot, user, workspace, legacy, app-level and configuration tokens.",
      source: `${LEFT}(?:xox[bpsoare]-(?:\\d-)?\\d{5,13}-(?:\\d{5,13}-){0,3}[0-9A-Za-z]{10,64}|xoxe\\.xox[bp]-1-[0-9A-Za-z]{100,300}|xoxe-1-[0-9A-Za-z]{100,300}|xapp-\\d-[A-Z0-9]{9,12}-\\d{10,14}-[a-z0-9]{32,80})(?![0-9A-Za-z-])`,
      anchors: ["xoxb-", "xoxp-", "xoxs-", "xoxo-", "xoxa-", "xoxr-", "xoxe-", "xoxe.", "xapp-"],
      after: 320,
      validate: (value) => notPlaceholder(value) && /[A-Za-z]/.test(value.slice(value.lastIndexOf("-") + 1)),
    }),
    secret({
      id: "slack_webhook",
      type: "slack_webhook",
      description: "Slack incoming webhook, workflow or trigger URL.",
      source:
        "https?://hooks\\.slack\\.com/(?:services/T[A-Z0-9]{8,12}/B[A-Z0-9]{8,12}/[A-Za-z0-9]{24}|(?:workflows|triggers)/[A-Za-z0-9/]{30,120})",
      anchors: ["hooks.slack.com"],
      before: 8,
      after: 140,
    }),
    secret({
      id: "discord_webhook",
      type: "discord_webhook",
      description: "Discord webhook URL.",
      source: "https://(?:ptb\\.|canary\\.)?discord(?:app)?\\.com/api/webhooks/\\d{17,20}/[A-Za-z0-9_-]{60,68}",
      anchors: ["/api/webhooks/"],
      before: 40,
      after: 100,
    }),
    secret({
      id: "teams_webhook",
      type: "teams_webhook",
      description: "Microsoft Teams incoming webhook URL.",
      source:
        "https://[a-z0-9-]+\\.webhook\\.office\\.com/webhookb2/[a-f0-9-]{36}@[a-f0-9-]{36}/IncomingWebhook/[a-f0-9]{32}/[a-f0-9-]{36}(?:/[A-Za-z0-9_-]+)?",
      anchors: ["webhook.office.com"],
      before: 60,
      after: 220,
    }),
    secret({
      id: "telegram_bot_token",
      type: "telegram_bot_token",
      description: "Telegram bot API token (bot id, colon, AA...).",
      source: "(?<![0-9A-Za-z])\\d{8,10}:AA[0-9A-Za-z_-]{33}(?![0-9A-Za-z_-])",
      anchors: [":AA"],
      before: 10,
      after: 35,
    }),
    secret({
      id: "stripe_key",
      type: "stripe_key",
      description: "Stripe secret and restricted keys (sk_/rk_ live, test, prod).",
      source: `${LEFT}(?:sk|rk)_(?:live|test|prod)_[0-9A-Za-z]{10,247}(?![0-9A-Za-z])`,
      anchors: ["sk_live_", "sk_test_", "sk_prod_", "rk_live_", "rk_test_", "rk_prod_"],
      after: 256,
      validate: (value) => notPlaceholder(value) && /\d/.test(value.slice(8)),
    }),
    secret({
      id: "square_token",
      type: "square_token",
      description: "Square access token and OAuth secret.",
      source: `${LEFT}(?:sq0atp-[0-9A-Za-z_-]{22}|sq0csp-[0-9A-Za-z_-]{43}|EAAA[0-9A-Za-z_+=-]{60})(?![0-9A-Za-z_-])`,
      anchors: ["sq0atp-", "sq0csp-", "EAAA"],
      after: 64,
      validate: notPlaceholder,
    }),
    secret({
      id: "twilio_api_key",
      type: "twilio_api_key",
      description: "Twilio API key SID (SK + 32 hex).",
      source: `${LEFT}SK[0-9a-fA-F]{32}(?![0-9A-Za-z])`,
      anchors: ["SK"],
      after: 32,
      validate: (value) => notPlaceholder(value) && shannonEntropy(value) > 3,
    }),
    secret({
      id: "sendgrid_api_key",
      type: "sendgrid_api_key",
      description: "SendGrid API key (SG.<22>.<43>).",
      source: `${LEFT}SG\\.[0-9A-Za-z_-]{22}\\.[0-9A-Za-z_-]{43}(?![0-9A-Za-z_-])`,
      anchors: ["SG."],
      after: 70,
      validate: notPlaceholder,
    }),
    secret({
      id: "mailchimp_api_key",
      type: "mailchimp_api_key",
      description: "Mailchimp API key (32 hex, -us<dc>).",
      source: "(?<![0-9A-Za-z])[0-9a-f]{32}-us\\d{1,2}(?![0-9A-Za-z])",
      anchors: ["-us"],
      before: 32,
      after: 2,
    }),
    secret({
      id: "mailgun_api_key",
      type: "mailgun_api_key",
      description: "Mailgun private API key (key-<32 hex>).",
      source: `${LEFT}key-[0-9a-f]{32}(?![0-9A-Za-z])`,
      anchors: ["key-"],
      after: 32,
      validate: (value) => shannonEntropy(value) > 3,
    }),
    secret({
      id: "anthropic_api_key",
      type: "anthropic_api_key",
      description: "Anthropic API and admin keys (sk-ant-api03-, sk-ant-admin01-).",
      source: `${LEFT}sk-ant-(?:api03|admin01)-[A-Za-z0-9_-]{93}AA(?![A-Za-z0-9_-])`,
      anchors: ["sk-ant-"],
      after: 110,
    }),
    secret({
      id: "openai_api_key",
      type: "openai_api_key",
      description: "OpenAI API keys: legacy sk-, project sk-proj-, service account sk-svcacct-, admin sk-admin-.",
      source: `${LEFT}sk-(?:(?:proj|svcacct|admin)-)?(?:[A-Za-z0-9_-]{20,200}T3BlbkFJ[A-Za-z0-9_-]{20,200}|(?<=(?:proj|svcacct|admin)-)[A-Za-z0-9_-]{80,200})(?![A-Za-z0-9_-])`,
      anchors: ["sk-"],
      after: 420,
      validate: notPlaceholder,
    }),
    secret({
      id: "huggingface_token",
      type: "huggingface_token",
      description: "Hugging Face user access token (hf_) and organisation API token (api_org_).",
      source: `${LEFT}(?:hf_|api_org_)[A-Za-z]{34}(?![A-Za-z0-9])`,
      anchors: ["hf_", "api_org_"],
      after: 42,
      validate: (value) => notPlaceholder(value) && /[A-Z]/.test(value) && /[a-z]/.test(value.slice(3)),
    }),
    secret({
      id: "npm_token",
      type: "npm_token",
      description: "npm access token (npm_).",
      source: `${LEFT}npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])`,
      anchors: ["npm_"],
      after: 36,
      validate: notPlaceholder,
    }),
    secret({
      id: "pypi_token",
      type: "pypi_token",
      description: "PyPI upload token (a macaroon for pypi.org).",
      source: "pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,300}",
      anchors: ["pypi-AgEIcHlwaS5vcmc"],
      after: 300,
    }),
    secret({
      id: "jwt",
      type: "jwt",
      description: "JSON Web Token: three base64url segments whose header decodes to JSON naming alg or typ.",
      source: `${LEFT}eyJ[A-Za-z0-9_-]{8,2000}={0,2}\\.[A-Za-z0-9_-]{4,8000}={0,2}\\.[A-Za-z0-9_-]{0,2000}(?![A-Za-z0-9_-])`,
      anchors: ["eyJ"],
      after: 12_100,
      validate: (value) => jwtValid(value.replace(/=/g, "")),
    }),
    secret({
      id: "vendor_token",
      type: "api_token",
      description:
        "Prefixed tokens of other common services: 1Password, Sentry, Grafana, Vault, Terraform Cloud, Databricks, Shopify, DigitalOcean, Linear, Postman, Doppler, Notion, Perplexity, Heroku, Fly.io, age, Cloudflare, OpenShift, SonarQube, Sourcegraph, Infracost, Scalingo, Prefect, ReadMe, Pulumi, Alibaba, EasyPost, Facebook page tokens, Clojars.",
      source: `${LEFT}(?:ops_eyJ[A-Za-z0-9+/]{250,2000}={0,3}|sntrys_eyJ[A-Za-z0-9+/=]{40,400}_[A-Za-z0-9+/]{10,64}|sntryu_[a-f0-9]{64}|glc_[A-Za-z0-9+/]{32,400}={0,2}|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}|hv[sb]\\.[A-Za-z0-9_-]{90,300}|[A-Za-z0-9]{14}\\.atlasv1\\.[A-Za-z0-9_=-]{60,70}|dapi[a-f0-9]{32}(?:-\\d)?|shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}|do[opr]_v1_[a-f0-9]{64}|lin_api_[A-Za-z0-9]{40}|PMAK-[a-f0-9]{24}-[a-f0-9]{34}|dp\\.pt\\.[A-Za-z0-9]{43}|ntn_\\d{11}[A-Za-z0-9]{35}|pplx-[A-Za-z0-9]{48}|HRKU-AA[0-9A-Za-z_-]{58}|fo1_[A-Za-z0-9_-]{43}|fm[12][ar]?_[A-Za-z0-9+/]{100,2000}={0,3}|AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}|v1\\.0-[a-f0-9]{24}-[a-f0-9]{146}|sha256~[A-Za-z0-9_-]{43}|sq[pua]_[a-f0-9]{40}|sgp_(?:[a-fA-F0-9]{16}|local)_[a-fA-F0-9]{40}|sgp_[a-fA-F0-9]{40}|ico-[A-Za-z0-9]{32}|tk-us-[A-Za-z0-9_-]{48}|s-s4t2(?:ud|af)-[a-f0-9]{64}|pnu_[A-Za-z0-9]{36}|rdme_[a-z0-9]{70}|pul-[a-f0-9]{40}|LTAI[A-Za-z0-9]{20}|EZ[AT]K[A-Za-z0-9]{54}|A3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}|EAA[MC][A-Za-z0-9]{100,400}|CLOJARS_[a-z0-9]{60})(?![A-Za-z0-9_-])`,
      anchors: [
        "ops_eyJ",
        "sntrys_",
        "sntryu_",
        "glc_",
        "glsa_",
        "hvs.",
        "hvb.",
        ".atlasv1.",
        "dapi",
        "shpat_",
        "shpca_",
        "shppa_",
        "shpss_",
        "doo_v1_",
        "dop_v1_",
        "dor_v1_",
        "lin_api_",
        "PMAK-",
        "dp.pt.",
        "ntn_",
        "pplx-",
        "HRKU-AA",
        "fo1_",
        "fm1_",
        "fm2_",
        "fm1a_",
        "fm1r_",
        "fm2a_",
        "fm2r_",
        "AGE-SECRET-KEY-1",
        "v1.0-",
        "sha256~",
        "sqp_",
        "squ_",
        "sqa_",
        "sgp_",
        "ico-",
        "tk-us-",
        "s-s4t2",
        "pnu_",
        "rdme_",
        "pul-",
        "LTAI",
        "EZAK",
        "EZTK",
        "A3-",
        "EAAM",
        "EAAC",
        "CLOJARS_",
      ],
      before: 15,
      after: 2100,
      validate: (value) => notPlaceholder(value) && shannonEntropy(value) > 3,
    }),
    secret({
      id: "connection_string_password",
      type: "connection_string",
      description:
        "Password in a database or broker URL (postgres, mysql, mariadb, mongodb(+srv), redis, amqp, mssql, ...); only the password is masked.",
      source:
        "(?<![A-Za-z0-9+.-])(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\\+srv)?|rediss?|amqps?|mssql|sqlserver|cockroachdb|clickhouse|couchdb|neo4j|jdbc:[a-z]+)(?:\\+[a-z0-9]+)?://([^\\s:@/\"'<>]{1,128}):([^\\s@/\"'<>]{1,256})@[A-Za-z0-9._-]+",
      anchors: ["://"],
      before: 30,
      after: 512,
      group: 2,
      precheck: userInfoFollows,
      validate: (value) => !placeholderValue(value) && !/^(?:pass(?:word)?|pwd|secret)$/i.test(value),
    }),
    secret({
      id: "url_password",
      type: "url_credentials",
      description: "Password in the user-info part of an http, ftp, ssh, git, smtp or ldap URL.",
      source:
        "(?<![A-Za-z0-9+.-])(?:https?|s?ftp|ssh|git|smtps?|ldaps?)://([^\\s:@/\"'<>]{1,128}):([^\\s@/\"'<>]{3,256})@[A-Za-z0-9._-]+",
      anchors: ["://"],
      before: 10,
      after: 512,
      group: 2,
      precheck: userInfoFollows,
      validate: (value) => !placeholderValue(value) && !/^(?:pass(?:word)?|pwd|secret)$/i.test(value),
    }),
    secret({
      id: "authorization_header",
      type: "authorization_credentials",
      description: "Credentials in an Authorization or API-key header (Bearer, Basic, Token).",
      source:
        "(?:[Aa]uthorization|AUTHORIZATION|[Xx]-[Aa]pi-?[Kk]ey|X-API-KEY|[Aa]pi-?[Kk]ey|[Aa]pi-[Tt]oken|X-[A-Za-z]+-Api[Kk]ey)[\"']?\\s{0,3}[:=]\\s{0,3}[\"']?(?:(Bearer|Basic|Token|Api-Token|Bot|token|bearer|basic)\\s+)?([A-Za-z0-9._~+/=:-]{4,1100})",
      anchors: spellings(["authorization"]).concat([
        "apikey",
        "apiKey",
        "ApiKey",
        "api-key",
        "Api-Key",
        "API-KEY",
        "Api-Token",
        "api-token",
        "-ApiKey",
      ]),
      before: 20,
      after: 1200,
      group: 2,
      precheck: (text, start, end) => assignmentFollows(text, start, end),
      validate: (_value, match) => authorizationValue(match),
    }),
    secret({
      id: "basic_auth_option",
      type: "password",
      description: "Password given to curl and similar tools as `-u user:password` / `--user user:password`.",
      source: "(?<![A-Za-z0-9-])(?:-u|--user)\\s+[\"']?[^\\s\"':<>]{1,64}[\"']?:[\"']?([^\\s\"'<>]{4,128})",
      anchors: ["-u ", "--user "],
      after: 200,
      group: 1,
      validate: (value) => !placeholderValue(value) && credentialLike(value, 2.5),
    }),
    secret({
      id: "generic_secret",
      type: "generic_secret",
      description:
        "A high-entropy value assigned to a credential-like name (password, secret, token, api_key, ...), placeholders and references excluded.",
      source: `((?:${SECRET_KEYWORD_SOURCE})(?![a-z])[A-Za-z0-9_.-]{0,30}["'\\]]?)\\s{0,5}(?::=|=>|=|:|,)\\s{0,5}["'\`]?([^\\s"'\`;,<>(){}\\[\\]]{6,300})`,
      anchors: SECRET_KEYWORDS,
      after: 350,
      precheck: (text, start, end) => assignmentFollows(text, start, end) && !referenceAssigned(text, end),
      group: 2,
      validate: (value, match) => genericValue(match[1] ?? "", value),
    }),
    secret({
      id: "xml_config_secret",
      type: "generic_secret",
      description:
        'A credential in an XML key/value setting (`<add key="ClearTextPassword" value="..."/>`: NuGet, .NET appSettings).',
      source: `key="([^"]{0,40}(?:${SECRET_KEYWORD_SOURCE})[^"]{0,30})"\\s{1,5}value="([^"]{6,300})"`,
      anchors: [' value="'],
      before: 90,
      after: 310,
      group: 2,
      precheck: (text, start) => {
        const name = text.slice(Math.max(0, start - 90), start).toLowerCase();
        return /key="[^"]*(?:pass|pwd|secret|token|key|cred|auth)[^"]*"\s*$/.test(name);
      },
      validate: (value, match) => genericValue(match[1] ?? "", value),
    }),
    secret({
      id: "bundler_credentials",
      type: "package_registry_credentials",
      description: "Bundler gem-server credentials in a `BUNDLE_<HOST>` variable (`user:password`).",
      source: "BUNDLE_[A-Z0-9_]*__[A-Z0-9]+[\"']?\\s{0,3}[:=]\\s{0,3}[\"']?([^\\s\"':;&]{1,128}:[^\\s\"';&]{1,128})",
      anchors: ["BUNDLE_"],
      after: 400,
      group: 1,
      validate: (value) => !placeholderValue(value.slice(value.indexOf(":") + 1)),
    }),
    pii({
      id: "email",
      type: "email",
      description: "E-mail address.",
      source:
        "(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.){1,8}([A-Za-z]{2,24})(?![A-Za-z0-9-])",
      anchors: ["@"],
      before: 65,
      after: 260,
      // The local part is the whole run of its characters before the `@` (the look-behind), at most 64 long.
      matchStart: (text, position) => {
        let start = position;
        while (start > 0 && position - start <= 64 && (CHARACTER_CLASS[text.charCodeAt(start - 1)]! & LOCAL_PART) !== 0)
          start--;
        return start === position || position - start > 64 ? -1 : start;
      },
      precheck: (text, start) =>
        start > 0 && isIdentifierCode(text.charCodeAt(start - 1)) && isIdentifierCode(text.charCodeAt(start + 1)),
      validate: (value, match) => !EMAIL_EXTENSION.test(match[1] ?? "") && !value.startsWith("."),
      matchAt: emailMatchAt,
    }),
    pii({
      id: "credit_card",
      type: "credit_card",
      description:
        "Payment card number: 13-19 digits, spaces or dashes between groups, known issuer prefix, Luhn check.",
      source: "(?<![0-9-])\\d(?:[ -]?\\d){12,18}(?![0-9])(?!-\\d)",
      anchors: null,
      numeric: { minimumDigits: 13 },
      before: 1,
      after: 1,
      validate: (value) => {
        const separators = value.replace(/\d/g, "");
        if (separators.length > 0 && new Set(separators).size > 1) return false;
        return cardNumberValid(value.replace(/[ -]/g, ""));
      },
    }),
    pii({
      id: "iban",
      type: "iban",
      description: "International bank account number with its mod-97 check and the country's registered length.",
      source: "(?<![A-Za-z0-9])[A-Z]{2}\\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?(?![A-Za-z0-9])",
      anchors: null,
      numeric: { minimumDigits: 4, shapes: RUN_AFTER_UPPER_OR_SPACE },
      before: 40,
      after: 40,
      precheck: (text, start) => {
        // Walk back over the IBAN alphabet to where it would start: two letters and two check digits.
        let from = start;
        while (from > 0 && start - from < 34) {
          const code = text.charCodeAt(from - 1);
          if (!(isDigitCode(code) || isUpperCode(code) || code === 32)) break;
          from--;
        }
        while (text.charCodeAt(from) === 32) from++;
        for (let index = from; index + 3 < start + 2 && index < start; index++) {
          if (
            isUpperCode(text.charCodeAt(index)) &&
            isUpperCode(text.charCodeAt(index + 1)) &&
            isDigitCode(text.charCodeAt(index + 2)) &&
            isDigitCode(text.charCodeAt(index + 3))
          )
            return true;
        }
        return false;
      },
      validate: (value) => ibanValid(value),
    }),
    pii({
      id: "us_ssn",
      type: "us_ssn",
      description: "US Social Security number written AAA-GG-SSSS, with the SSA's area, group and serial rules.",
      source: "(?<![0-9-])\\d{3}-\\d{2}-\\d{4}(?![0-9])(?!-\\d)",
      anchors: null,
      numeric: { minimumDigits: 9, shapes: RUN_SSN_SHAPE },
      before: 1,
      after: 1,
      precheck: (text, start, end) => end - start === 11 && text.charCodeAt(start + 3) === 45,
      validate: (value) => ssnValid(value),
    }),
    pii({
      id: "phone_number",
      type: "phone_number",
      description:
        "Phone number in E.164 / international form (+ country code, 8-15 digits) or the North American (NXX) NXX-XXXX form; bare digit runs are not matched.",
      source:
        "(?<![A-Za-z0-9+._/-])(?:\\+[1-9]\\d{0,2}(?:[ .-]?\\(\\d{1,4}\\))?(?:[ .-]?\\d{1,5}){2,5}|\\([2-9]\\d{2}\\) ?[2-9]\\d{2}[ .-]\\d{4}|[2-9]\\d{2}([.-])[2-9]\\d{2}\\1\\d{4})(?![A-Za-z0-9_])(?![.-]\\d)",
      anchors: null,
      numeric: { minimumDigits: 7, shapes: RUN_AFTER_PLUS_OR_PARENTHESIS | RUN_PHONE_LENGTH },
      before: 3,
      after: 2,
      precheck: (text, start, end) => {
        const before = text.charCodeAt(start - 1);
        if (before === 43 || before === 40) return true;
        return end - start >= 12 && end - start <= 14 && northAmericanInside(text, start, end);
      },
      validate: (value) => {
        let digits = 0;
        for (let index = 0; index < value.length; index++) if (isDigitCode(value.charCodeAt(index))) digits++;
        return value.charCodeAt(0) === 43 ? digits >= 8 && digits <= 15 : digits === 10;
      },
    }),
    pii({
      id: "ipv4_address",
      type: "ip_address",
      description:
        "Public IPv4 address (private, loopback, link-local, CGNAT and documentation ranges are not flagged).",
      source: "(?<![A-Za-z0-9_.])(?:\\d{1,3}\\.){3}\\d{1,3}(?![A-Za-z0-9_])(?!\\.\\d)",
      anchors: null,
      numeric: { minimumDigits: 4, shapes: RUN_THREE_DOTS },
      before: 1,
      after: 2,
      matchesInRun: ipv4MatchesInRun,
      validate: (value) => !/(?:^|\.)0\d/.test(value) && publicIpv4(value),
    }),
    pii({
      id: "ipv6_address",
      type: "ip_address",
      description: "Public (global unicast) IPv6 address, found near a run of digits; documentation prefix excluded.",
      source: "(?<![A-Za-z0-9_:.])[0-9A-Fa-f]{1,4}(?::{1,2}[0-9A-Fa-f]{1,4}){2,7}(?:::)?(?![A-Za-z0-9_:])",
      anchors: null,
      numeric: { minimumDigits: 4, shapes: RUN_BESIDE_COLON },
      before: 40,
      after: 40,
      precheck: (text, start, end) =>
        (text.charCodeAt(end) === 58 || text.charCodeAt(start - 1) === 58) && globalIpv6Possible(text, start, end),
      validate: (value) => publicIpv6(value),
    }),
  ];
}
