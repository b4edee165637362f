import assert from "node:assert/strict";
import { test } from "node:test";
import { seededRandom } from "../../../src/core/seeded-random.js";
import {
  forEachIdentifier,
  forEachIdentifierHash,
  forEachIdentifierHashAfter,
  forEachShingle,
  forEachShingleAfter,
  hashValue,
  normalizeValue,
} from "../../../src/detectors/flow/value-tokens.js";

// The regex implementation the character scanner replaced, kept here as the reference it must match exactly.
const TOKEN = /[^\s"'<>()[\]{}|\\^`,;]+/g;
const SPACED_NUMBER = /\+?\d[\d ().-]{6,}\d/g;
const QUOTED = /"[^"\n]{3,120}"|'[^'\n]{3,120}'/g;
const TRAILING = /[.,;:!?)\]}>'"]+$/;
const URL_HOST = /^https?:\/\/([^/?#:]+)/i;
const HOST_PATH = /^([\w-]+(?:\.[\w-]+)*\.[a-z][a-z0-9]{1,5})\//i;
const EMAIL = /^[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+$/i;
const DOTTED_NAME = /^[\w-]+(?:\.[\w-]+)*\.[a-z][a-z0-9]{1,5}$/i;

function referenceIdentifierLike(token: string): boolean {
  if (token.length < 4) return false;
  if (token.startsWith("http://") || token.startsWith("https://")) return true;
  const at = token.indexOf("@");
  if (at > 0) return EMAIL.test(token);
  const slash = token.indexOf("/");
  if (slash !== -1 && token.indexOf("/", slash + 1) !== -1) return true;
  if (HOST_PATH.test(token)) return true;
  if (/\d/.test(token) && token.length >= 6) return true;
  return token.includes(".") && DOTTED_NAME.test(token);
}

/** `urlQueryValues` by regular expressions: each `key=value` after `?` and before `#`, decoded, identifier-like. */
function referenceQueryValues(url: string): string[] {
  const query = /\?([^#]*)/.exec(url);
  if (query === null) return [];
  const values: string[] = [];
  for (const match of query[1]!.matchAll(/(?:^|[&;])[^&;=]*=([^&;]*)/g)) {
    const decoded = match[1]!
      .replace(/\+/g, " ")
      .replace(/%([2-7][0-9a-f])/gi, (sequence, hex: string) =>
        Number.parseInt(hex, 16) < 127 ? String.fromCharCode(Number.parseInt(hex, 16)) : sequence,
      );
    const value = normalizeValue(decoded);
    if (value.length >= 4 && !/\s/.test(value) && referenceIdentifierLike(value)) values.push(value);
    if (values.length === 4) break;
  }
  return values;
}

function referenceIdentifiers(text: string, limit: number, maximum: number): [string, number][] {
  const scanned = text.length > limit ? text.slice(0, limit) : text;
  const values: string[] = [];
  const starts: number[] = [];
  const add = (raw: string, start: number): void => {
    const value = normalizeValue(raw);
    if (value.length < 4) return;
    values.push(value);
    starts.push(start);
    const url = URL_HOST.exec(value);
    const host = url ?? HOST_PATH.exec(value);
    if (host !== null && host[1] !== undefined && host[1].length >= 4) {
      values.push(host[1]);
      starts.push(start);
      if (url !== null) {
        for (const queryValue of referenceQueryValues(value)) {
          values.push(queryValue);
          starts.push(start);
        }
      }
    }
  };
  const budget = maximum * 2;
  for (const match of scanned.matchAll(TOKEN)) {
    if (values.length >= budget) break;
    const token = match[0].replace(TRAILING, "");
    if (referenceIdentifierLike(token)) add(token, match.index);
    else {
      const equals = token.lastIndexOf("=");
      if (equals > 0 && equals < token.length - 4 && !token.startsWith("http")) {
        const value = token.slice(equals + 1);
        if (referenceIdentifierLike(value)) add(value, match.index + equals + 1);
      }
    }
  }
  for (const pattern of [SPACED_NUMBER, QUOTED]) {
    for (const match of scanned.matchAll(pattern)) {
      if (values.length >= budget) break;
      if (pattern === SPACED_NUMBER && !/[ ().-]/.test(match[0])) continue;
      add(match[0], match.index);
    }
  }
  const order = values.map((_, index) => index).sort((a, b) => starts[a]! - starts[b]!);
  return order.slice(0, maximum).map((index) => [values[index]!, starts[index]!]);
}

function scanned(text: string, limit: number, maximum: number): [string, number][] {
  const found: [string, number][] = [];
  forEachIdentifier(text, limit, maximum, (value, start) => found.push([value, start]));
  return found;
}

function scannedHashes(text: string, limit: number, maximum: number): [number, number][] {
  const found: [number, number][] = [];
  forEachIdentifierHash(text, limit, maximum, (hash, start) => found.push([hash, start]));
  return found;
}

/** Seeded, so a failure names a case that can be run again. */
const generator = seededRandom;

// Pieces weighted toward what the scanner decides on: delimiters, the characters of e-mail addresses, URLs,
// dotted names, phone numbers and key=value pairs, quotes, Unicode spaces and letters whose case mapping is
// not ASCII's (the Kelvin sign, dotted capital I, sharp s).
const PIECES = [
  ..."abcdefxyzABCXYZ0123456789",
  ..." \t\n\r\v\f.,;:!?()[]{}<>\"'`|\\^@/=+-_%#&*~$",
  "\u00a0",
  "\u2003",
  "\u3000",
  "\ufeff",
  "\u212a",
  "\u0130",
  "ß",
  "é",
  "日本",
  "\ud83d\ude00",
  "http://",
  "https://",
  "HTTPS://Example.COM/",
  "www.",
  ".com",
  ".io",
  "user@",
  "mail.example.org",
  "GB29NWBK60161331926819",
  "+1 (555) 123-4567",
  "555.123.4567",
  "to=",
  "iban=",
  "?user=",
  "&id=",
  "%40",
  "%2F",
  "#top",
  "~/.ssh/id_rsa",
  "report.pdf",
  '"Quarterly Plan"',
  "'the ",
  "the quick brown fox ",
];

function randomText(random: () => number, pieces: number): string {
  let text = "";
  for (let index = 0; index < pieces; index++) text += PIECES[Math.floor(random() * PIECES.length)]!;
  return text;
}

test("the character scanner finds exactly what the regex implementation found, on seeded random text", () => {
  const random = generator(20_240_605);
  let values = 0;
  for (let round = 0; round < 4000; round++) {
    const text = randomText(random, 1 + Math.floor(random() * 120));
    const limit = random() < 0.2 ? Math.floor(random() * text.length) : 65_536;
    const maximum = random() < 0.3 ? 1 + Math.floor(random() * 6) : 256;
    const expected = referenceIdentifiers(text, limit, maximum);
    assert.deepEqual(scanned(text, limit, maximum), expected, `round ${round}: ${JSON.stringify(text)}`);
    assert.deepEqual(
      scannedHashes(text, limit, maximum),
      expected.map(([value, start]) => [hashValue(value), start]),
      `round ${round} (hashes): ${JSON.stringify(text)}`,
    );
    values += expected.length;
  }
  // The cases exercise the scanner: thousands of values found, not empty lists compared.
  assert.ok(values > 5000, `${values} values`);
});

test("the character scanner matches the regex implementation on the shapes it special-cases", () => {
  const cases = [
    'Mail Jane.Roe@Acme.io, pay GB33BUKB20201555555555, see https://docs.example.com/a?b=1, call +1 (555) 123-4567, open ~/.ssh/id_rsa or "Quarterly Plan".',
    "HTTP://Upper.Example.COM/Path and http://abc/ and https://a.b:8080/x",
    "to=attacker@example.com account=GB29NWBK60161331926819 x=short key=report.pdf http=foo.bar.com",
    "@handle a@b.c a@b a@.b.c a@b..c first.last+tag@sub-domain.example.travel",
    "1-------2 +12345678 12 34 56 78 90 (555) 123 4567 .......... 99.99.99.99",
    '"  spaced   out  " \'(((hello)))\' "line\nbreak" "ab" \'x\'y\'z\' "naïve café" "KELVIN \u212a"',
    "file.tar.gz v1.2.3 a.b name.x1 name.toolong7 _under.score -dash.io end.",
    "İstanbul.com straße.de \u212aelvin@example.com x\u00a0y.com",
    "upload to Files.Drop-Box.net/incoming, src/index.ts, x.co/a a.b/c/d 'www.site.io/p' straße.de/x v1.2/api",
    "open https://verify.example.net/check?user=Dana.W%40Mail.example&id=A1234567&q=hello+world&x=1#top=zz9999999 now",
    "https://t.example/r?a=1&b=2&c=3&d=ab12345&e=cd12345&f=ef12345&g=gh12345&h=ij12345;k=x%2Fy%2Fz https://straße.de/?u=ñandú@x.es",
    "",
  ];
  for (const text of cases) {
    for (const maximum of [1, 2, 3, 64]) {
      const expected = referenceIdentifiers(text, 4096, maximum);
      assert.deepEqual(scanned(text, 4096, maximum), expected, JSON.stringify(text));
      assert.deepEqual(
        scannedHashes(text, 4096, maximum),
        expected.map(([value, start]) => [hashValue(value), start]),
      );
    }
  }
  assert.ok(referenceIdentifiers(cases[0]!, 4096, 64).length >= 7);
});

test("a web address without its scheme yields its host, as a URL does, so the two meet", () => {
  const withScheme = scanned("see https://files.drop-box.net/incoming now", 4096, 64).map(([value]) => value);
  const without = scanned("files.drop-box.net/incoming", 4096, 64).map(([value]) => value);
  assert.deepEqual(without, ["files.drop-box.net/incoming", "files.drop-box.net"]);
  assert.ok(withScheme.includes("files.drop-box.net"));
  // A path is not a web address: no host, and no identifier for a path of one slash.
  assert.deepEqual(scanned("src/index.ts", 4096, 64), []);
});

test("a URL's query values are values of their own, decoded, so an e-mail sent out in a link meets its source", () => {
  const link = scanned("open https://verify-shopper.net/check?user=Dana.Whitfield%40mailbox.example&step=2", 4096, 64);
  assert.deepEqual(
    link.map(([value]) => value),
    [
      "https://verify-shopper.net/check?user=dana.whitfield%40mailbox.example&step=2",
      "verify-shopper.net",
      "dana.whitfield@mailbox.example",
    ],
  );
  const page = scanned("Email: dana.whitfield@mailbox.example", 4096, 64).map(([value]) => value);
  assert.ok(page.includes(link[2]![0]));
  // At most four values from one link; plain words and short numbers are no identifiers.
  assert.equal(
    scanned("https://t.example/r?a=ab12345&b=cd12345&c=ef12345&d=gh12345&e=ij12345&f=word&g=12", 4096, 64).length,
    2 + 4,
  );
});

/** The shingles of the regex implementation: hashes of five lower-cased `[\p{L}\p{N}]+` words, one in four kept. */
function referenceShingles(text: string, limit: number, maximum: number): [number, number, number][] {
  const scanned = text.length > limit ? text.slice(0, limit) : text;
  const words = [...scanned.matchAll(/[\p{L}\p{N}]+/gu)].map((match) => ({
    hash: hashValue(match[0].toLowerCase()),
    start: match.index,
    end: match.index + match[0].length,
  }));
  const found: [number, number, number][] = [];
  for (let last = 4; last < words.length && found.length < maximum; last++) {
    let shingle = 0x2f1a3c5b;
    for (let index = last - 4; index <= last; index++) shingle = Math.imul(shingle ^ words[index]!.hash, 0x01000193);
    shingle = (shingle ^ (shingle >>> 15)) & 0x7fffffff;
    if ((shingle & 3) === 0 && shingle !== 0) found.push([shingle, words[last - 4]!.start, words[last]!.end]);
  }
  return found;
}

test("shingles are the regex implementation's, on seeded random text", () => {
  const random = generator(20_240_611);
  let shingles = 0;
  for (let round = 0; round < 3000; round++) {
    const text = randomText(random, 1 + Math.floor(random() * 160));
    const limit = random() < 0.2 ? Math.floor(random() * text.length) : 65_536;
    const maximum = random() < 0.3 ? 1 + Math.floor(random() * 4) : 192;
    const found: [number, number, number][] = [];
    const count = forEachShingle(text, limit, maximum, (hash, start, end) => found.push([hash, start, end]));
    const expected = referenceShingles(text, limit, maximum);
    assert.deepEqual(found, expected, `round ${round}: ${JSON.stringify(text)}`);
    assert.equal(count, expected.length);
    shingles += expected.length;
  }
  assert.ok(shingles > 2000, `${shingles} shingles`);
});

test("a shingle callback that reads shingles of another text does not disturb the outer reading", () => {
  const outer = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen";
  const expected = referenceShingles(outer, 65_536, 192);
  const found: [number, number, number][] = [];
  forEachShingle(outer, 65_536, 192, (hash, start, end) => {
    found.push([hash, start, end]);
    forEachShingle("alpha beta gamma delta epsilon zeta eta theta", 65_536, 192, () => {});
  });
  assert.deepEqual(found, expected);
});

function shinglesOf(text: string, limit: number, maximum: number): [number, number, number][] {
  const found: [number, number, number][] = [];
  forEachShingle(text, limit, maximum, (hash, start, end) => found.push([hash, start, end]));
  return found;
}

/** Lines of random pieces and words: documents that differ from some line on. */
function randomLines(random: () => number, lines: number): string {
  const text: string[] = [];
  for (let line = 0; line < lines; line++) {
    text.push(random() < 0.5 ? randomText(random, Math.floor(random() * 12)) : sentenceOf(random));
  }
  return text.join("\n");
}

function sentenceOf(random: () => number): string {
  const words = ["alpha", "bravo", "Charlie", "delta", "echo", "x1", "2024", "user@example.com", "a.pdf", "'q'"];
  return Array.from({ length: 1 + Math.floor(random() * 9) }, () => words[Math.floor(random() * words.length)]).join(
    " ",
  );
}

test("scanning a text from a line it shares with a text scanned before finds what scanning it whole finds", () => {
  const random = generator(20_240_612);
  let resumedIdentifiers = 0;
  let resumedShingles = 0;
  for (let round = 0; round < 3000; round++) {
    const before = randomLines(random, 1 + Math.floor(random() * 30));
    const cut = Math.floor(random() * (before.length + 1));
    const text = before.slice(0, cut) + randomLines(random, Math.floor(random() * 8));
    const limit = random() < 0.2 ? Math.floor(random() * text.length) : 65_536;
    const maximum = random() < 0.3 ? 1 + Math.floor(random() * 8) : 256;
    let shared = 0;
    const bound = Math.min(before.length, text.length, limit);
    while (shared < bound && before.charCodeAt(shared) === text.charCodeAt(shared)) shared++;
    const from = shared === 0 ? 0 : text.lastIndexOf("\n", shared - 1) + 1;
    if (from === 0) continue;
    const context = `round ${round}: ${JSON.stringify(before)} then ${JSON.stringify(text)} from ${from}`;

    const earlier = scannedHashes(before, limit, maximum);
    if (earlier.length < maximum) {
      const kept = earlier.filter(([, start]) => start < from);
      const rest: [number, number][] = [];
      const count = forEachIdentifierHashAfter(text, limit, maximum, from, kept.length, (hash, start) =>
        rest.push([hash, start]),
      );
      if (count !== -1) {
        assert.equal(count, rest.length);
        assert.deepEqual([...kept, ...rest], scannedHashes(text, limit, maximum), context);
        resumedIdentifiers++;
      } else assert.equal(rest.length, 0);
    }

    const shingleMaximum = maximum === 256 ? 192 : maximum;
    const kept = shinglesOf(before, limit, shingleMaximum).filter(([, , end]) => end < from);
    const rest: [number, number, number][] = [];
    const count = forEachShingleAfter(text, limit, shingleMaximum, from, kept.length, (hash, start, end) =>
      rest.push([hash, start, end]),
    );
    if (count !== -1) {
      const whole = shinglesOf(text, limit, shingleMaximum);
      assert.deepEqual([...kept, ...rest], whole, `${context} (shingles)`);
      assert.equal(count, whole.length);
      resumedShingles++;
    } else assert.equal(rest.length, 0);
  }
  assert.ok(resumedIdentifiers > 1000 && resumedShingles > 500, `${resumedIdentifiers} and ${resumedShingles}`);
});

test("a scan from a shared line gives up when the whole text's scan would have stopped early", () => {
  // Two values at most, four found at most: the whole text's token pass stops before its quoted pass runs, so
  // the quoted value of the shared line is not among them; going on from the line would keep it.
  const before = "'abcd'\nx";
  const text = "'abcd'\n+1 (555) 123-4567 aaaa1111 bbbb2222 cccc3333 dddd4444";
  assert.deepEqual(scannedHashes(before, 4096, 2), [[hashValue("abcd"), 0]]);
  assert.ok(!scannedHashes(text, 4096, 2).some(([, start]) => start === 0));
  assert.equal(
    forEachIdentifierHashAfter(text, 4096, 2, 7, 1, () => assert.fail("reports nothing")),
    -1,
  );
});

/** `normalizeValue` with string functions, as it was first written. */
function referenceNormalize(value: string): string {
  let text = value
    .trim()
    .replace(/^["'([{<]+/, "")
    .replace(TRAILING, "")
    .toLowerCase();
  if (/^\+?\d[\d ().-]{6,}\d$/.test(text)) text = text.replace(/[^\d+]/g, "");
  else if (/\s/.test(text)) text = text.replace(/\s+/g, " ");
  return text;
}

test("normalising long and short values gives what the string functions give", () => {
  const random = generator(20_240_613);
  for (let round = 0; round < 2000; round++) {
    const text = randomText(random, Math.floor(random() * (round % 2 === 0 ? 20 : 200)));
    // Half ASCII only: the character scanner's way, which makes long values' strings another way than short ones'.
    const value = round % 4 < 2 ? [...text].filter((character) => character.charCodeAt(0) < 128).join("") : text;
    assert.equal(normalizeValue(value), referenceNormalize(value), JSON.stringify(value));
  }
  const long = ` "Dear Ana,   PLEASE send the REPORT to ${"x".repeat(300)}@example.com."  `;
  assert.equal(normalizeValue(long), referenceNormalize(long));
});
