// Test-only oracle: a frozen copy of src/defence/dlp as it was before the third speed round (logs and CSV).
// The differential test compares the live engine against it; do not change it to make a test pass.

// Checks that turn a pattern match into a finding. A regular expression says "looks like"; these say
// "is": a checksum, a registry rule, a decodable header, or enough randomness to be a credential.

/** Luhn (mod 10) over a string of digits, the check every payment card number carries. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let index = digits.length - 1; index >= 0; index--) {
    let digit = digits.charCodeAt(index) - 48;
    if (digit < 0 || digit > 9) return false;
    if (double) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
    double = !double;
  }
  return digits.length > 0 && sum % 10 === 0;
}

// Issuer prefixes (IIN ranges) and the lengths each network issues. A Luhn-valid number outside
// these is far more often an order id or a tracking number than a card.
const CARD_NETWORKS: ReadonlyArray<{ prefix: (digits: string) => boolean; lengths: readonly number[] }> = [
  { prefix: (d) => d.startsWith("4"), lengths: [13, 16, 19] }, // Visa
  { prefix: (d) => between(d, 2, 51, 55) || between(d, 4, 2221, 2720), lengths: [16] }, // Mastercard
  { prefix: (d) => d.startsWith("34") || d.startsWith("37"), lengths: [15] }, // American Express
  {
    prefix: (d) => d.startsWith("6011") || d.startsWith("65") || between(d, 3, 644, 649),
    lengths: [16, 19],
  }, // Discover
  {
    prefix: (d) => between(d, 3, 300, 305) || d.startsWith("36") || d.startsWith("38") || d.startsWith("39"),
    lengths: [14, 16, 19],
  }, // Diners Club
  { prefix: (d) => between(d, 4, 3528, 3589), lengths: [16, 17, 18, 19] }, // JCB
  { prefix: (d) => d.startsWith("62"), lengths: [16, 17, 18, 19] }, // UnionPay
  {
    prefix: (d) => d.startsWith("50") || between(d, 2, 56, 58) || d.startsWith("6"),
    lengths: [12, 13, 14, 15, 16, 17, 18, 19],
  }, // Maestro
];

function between(digits: string, length: number, low: number, high: number): boolean {
  const value = Number(digits.slice(0, length));
  return value >= low && value <= high;
}

/** A payment card number: 13 to 19 digits (separators removed), a known issuer prefix and length, and Luhn. */
export function cardNumberValid(digits: string): boolean {
  if (digits.length < 13 || digits.length > 19) return false;
  if (!CARD_NETWORKS.some((network) => network.prefix(digits) && network.lengths.includes(digits.length))) return false;
  // All one digit (4444 4444 4444 4448 style test numbers aside) is filler, not a card.
  if (/^(\d)\1+$/.test(digits.slice(1))) return false;
  return luhnValid(digits);
}

// IBAN lengths per country, from the SWIFT IBAN registry.
const IBAN_LENGTHS: Readonly<Record<string, number>> = {
  AD: 24,
  AE: 23,
  AL: 28,
  AT: 20,
  AZ: 28,
  BA: 20,
  BE: 16,
  BG: 22,
  BH: 22,
  BI: 27,
  BR: 29,
  BY: 28,
  CH: 21,
  CR: 22,
  CY: 28,
  CZ: 24,
  DE: 22,
  DJ: 27,
  DK: 18,
  DO: 28,
  EE: 20,
  EG: 29,
  ES: 24,
  FI: 18,
  FK: 18,
  FO: 18,
  FR: 27,
  GB: 22,
  GE: 22,
  GI: 23,
  GL: 18,
  GR: 27,
  GT: 28,
  HR: 21,
  HU: 28,
  IE: 22,
  IL: 23,
  IQ: 23,
  IS: 26,
  IT: 27,
  JO: 30,
  KW: 30,
  KZ: 20,
  LB: 28,
  LC: 32,
  LI: 21,
  LT: 20,
  LU: 20,
  LV: 21,
  LY: 25,
  MC: 27,
  MD: 24,
  ME: 22,
  MK: 19,
  MN: 20,
  MR: 27,
  MT: 31,
  MU: 30,
  NI: 28,
  NL: 18,
  NO: 15,
  OM: 23,
  PK: 24,
  PL: 28,
  PS: 29,
  PT: 25,
  QA: 29,
  RO: 24,
  RS: 22,
  RU: 33,
  SA: 24,
  SC: 31,
  SD: 18,
  SE: 24,
  SI: 19,
  SK: 24,
  SM: 27,
  SO: 23,
  ST: 25,
  SV: 28,
  TL: 23,
  TN: 24,
  TR: 26,
  UA: 29,
  VA: 22,
  VG: 24,
  XK: 20,
  YE: 30,
};

/** An IBAN (spaces allowed): a registered country, that country's length, and the ISO 7064 mod 97-10 check. */
export function ibanValid(candidate: string): boolean {
  const iban = candidate.replace(/ /g, "").toUpperCase();
  const expected = IBAN_LENGTHS[iban.slice(0, 2)];
  if (expected === undefined || iban.length !== expected || !/^[A-Z]{2}\d{2}[A-Z0-9]+$/.test(iban)) return false;
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let remainder = 0;
  for (let index = 0; index < rearranged.length; index++) {
    const code = rearranged.charCodeAt(index);
    // Letters count as two digits (A = 10 ... Z = 35); fold them in digit by digit to stay in range.
    if (code >= 65) {
      const value = code - 55;
      remainder = (remainder * 100 + value) % 97;
    } else {
      remainder = (remainder * 10 + (code - 48)) % 97;
    }
  }
  return remainder === 1;
}

/**
 * A US Social Security number in `AAA-GG-SSSS` form: area 001-899 but not 666, group 01-99, serial
 * 0001-9999 (the SSA's validity rules), and not one of the numbers the SSA lists as published in
 * advertising (078-05-1120, 219-09-9999).
 */
export function ssnValid(text: string): boolean {
  const match = /^(\d{3})[- ](\d{2})[- ](\d{4})$/.exec(text);
  if (!match) return false;
  const area = Number(match[1]);
  const group = Number(match[2]);
  const serial = Number(match[3]);
  if (area === 0 || area === 666 || area >= 900 || group === 0 || serial === 0) return false;
  const compact = `${match[1]}${match[2]}${match[3]}`;
  return compact !== "078051120" && compact !== "219099999";
}

/** Shannon entropy in bits per character. */
export function shannonEntropy(value: string): number {
  if (value.length === 0) return 0;
  const counts = new Map<number, number>();
  for (let index = 0; index < value.length; index++) {
    const code = value.charCodeAt(index);
    counts.set(code, (counts.get(code) ?? 0) + 1);
  }
  let entropy = 0;
  for (const count of counts.values()) {
    const probability = count / value.length;
    entropy -= probability * Math.log2(probability);
  }
  return entropy;
}

/** How many of lower case, upper case, digits and other characters a value mixes. */
export function characterClasses(value: string): number {
  let lower = 0;
  let upper = 0;
  let digit = 0;
  let other = 0;
  for (let index = 0; index < value.length; index++) {
    const code = value.charCodeAt(index);
    if (code >= 97 && code <= 122) lower = 1;
    else if (code >= 65 && code <= 90) upper = 1;
    else if (code >= 48 && code <= 57) digit = 1;
    else other = 1;
  }
  return lower + upper + digit + other;
}

/** Decodes base64 or base64url to a UTF-8 string, or null when it is not base64. */
export function decodeBase64(value: string): string | null {
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(value)) return null;
  return Buffer.from(value.replace(/-/g, "+").replace(/_/g, "/"), "base64").toString("utf8");
}

/**
 * A JWT: three dot-separated base64url segments (the signature may be empty, for `alg: none`) whose
 * header decodes to a JSON object naming `alg` or `typ`. Any `eyJ...` blob is base64 JSON; the
 * header check is what makes it a token.
 */
export function jwtValid(token: string): boolean {
  const parts = token.split(".");
  if (parts.length !== 3) return false;
  const header = decodeBase64(parts[0]!);
  if (header === null || !header.startsWith("{")) return false;
  if (!header.includes('"alg"') && !header.includes('"typ"')) return false;
  return (parts[1]?.length ?? 0) >= 4;
}

/** Public IPv4 only: private (RFC 1918), loopback, link-local, CGNAT, multicast, reserved and documentation ranges are not personal data. */
export function publicIpv4(address: string): boolean {
  // Digits and dots, the form the rule's pattern hands over, parsed without allocating; anything else below.
  let a = 0;
  let b = 0;
  let c = 0;
  let group = 0;
  let value = 0;
  let plain = true;
  for (let index = 0; index < address.length && plain; index++) {
    const code = address.charCodeAt(index);
    if (code === 46) {
      if (group === 0) a = value;
      else if (group === 1) b = value;
      else if (group === 2) c = value;
      group++;
      value = 0;
    } else if (code >= 48 && code <= 57) {
      value = value * 10 + (code - 48);
      if (value > 255) return false;
    } else {
      plain = false;
    }
  }
  if (plain) return group === 3 && publicIpv4Octets(a, b, c);
  const octets = address.split(".").map(Number);
  if (octets.length !== 4 || octets.some((octet) => !Number.isInteger(octet) || octet < 0 || octet > 255)) return false;
  const [first, second, third] = octets as [number, number, number, number];
  return publicIpv4Octets(first, second, third);
}

/** {@link publicIpv4} on the first three octets of an address whose octets are 0-255 (the fourth never decides). */
export function publicIpv4Octets(a: number, b: number, c: number): boolean {
  if (a === 0 || a === 10 || a === 127 || a >= 224) return false;
  if (a === 172 && b >= 16 && b <= 31) return false;
  if (a === 192 && b === 168) return false;
  if (a === 169 && b === 254) return false;
  if (a === 100 && b >= 64 && b <= 127) return false;
  if (a === 192 && b === 0 && (c === 0 || c === 2)) return false;
  if (a === 198 && (b === 18 || b === 19)) return false;
  if ((a === 198 && b === 51 && c === 100) || (a === 203 && b === 0 && c === 113)) return false;
  return true;
}

/** Public IPv6 only: global unicast (2000::/3) outside the documentation prefix 2001:db8::/32. */
export function publicIpv6(address: string): boolean {
  const groups = expandIpv6(address);
  if (groups === null) return false;
  const first = groups[0]!;
  if (first < 0x2000 || first > 0x3fff) return false;
  return !(first === 0x2001 && groups[1] === 0x0db8);
}

function expandIpv6(address: string): number[] | null {
  const halves = address.split("::");
  if (halves.length > 2) return null;
  const parse = (part: string): number[] | null => {
    if (part === "") return [];
    const groups = part.split(":");
    const values: number[] = [];
    for (const group of groups) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return null;
      values.push(Number.parseInt(group, 16));
    }
    return values;
  };
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  if (head === null || tail === null) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  const missing = 8 - head.length - tail.length;
  if (missing < 1) return null;
  return [...head, ...new Array<number>(missing).fill(0), ...tail];
}

const PLACEHOLDER_WORDS =
  /example|placeholder|redacted|changeme|change_me|your[_-]?(?:api|secret|token|key|password|own)|dummy|sample|insert|replace|fake|<[^>]*>|\$\{|\{\{|\$\(|%[A-Za-z_]+%|^\$[A-Za-z_]|\*{3}|#{4}|\.{3}/i;

/** A run of one character six or more times long: `xxxxxx`, `000000`, `******`. */
export function hasRepeatedRun(value: string, run = 6): boolean {
  let length = 1;
  for (let index = 1; index < value.length; index++) {
    if (value.charCodeAt(index) === value.charCodeAt(index - 1)) {
      length++;
      if (length >= run) return true;
    } else {
      length = 1;
    }
  }
  return false;
}

/** Eight or more consecutive ascending letters or digits (`abcdefgh`, `12345678`): typed by a person, not generated. */
export function hasAscendingRun(value: string, run = 8): boolean {
  let length = 1;
  for (let index = 1; index < value.length; index++) {
    if (value.charCodeAt(index) === value.charCodeAt(index - 1) + 1) {
      length++;
      if (length >= run) return true;
    } else {
      length = 1;
    }
  }
  return false;
}

/** A token body that is filler rather than a credential: long runs of one character, or documentation words. */
export function placeholderToken(value: string): boolean {
  return hasRepeatedRun(value) || /EXAMPLE|example|PLACEHOLDER|placeholder|REDACTED|YOUR_/.test(value);
}

/**
 * A value next to a keyword that is not a credential: a placeholder, a template or environment
 * reference, a code expression, or a sequence a person typed.
 */
export function placeholderValue(value: string): boolean {
  if (PLACEHOLDER_WORDS.test(value) || hasRepeatedRun(value, 5) || hasAscendingRun(value)) return true;
  // Cut short in the text it came from (`ops_eyJzaWduSW5B..`): what is left is not the credential.
  if (value.endsWith("..") || value.endsWith("\u2026")) return true;
  // `config.password`, `process.env.TOKEN`, `var.db_password`: a reference, not a value.
  if (/^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+$/.test(value) && !/\d/.test(value)) return true;
  return /^(?:true|false|null|none|undefined|nil|string|str|int|bool|required|optional|secret|password|token)$/i.test(
    value,
  );
}

/** Enough randomness to be a generated or chosen secret: at least two character classes and `minimumEntropy` bits per character. */
export function credentialLike(value: string, minimumEntropy = 3): boolean {
  return characterClasses(value) >= 2 && shannonEntropy(value) >= minimumEntropy;
}
