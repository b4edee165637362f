import assert from "node:assert/strict";
import { test } from "node:test";
import { seededRandom } from "../../../src/core/seeded-random.js";
import {
  forEachIdentifier,
  forEachIdentifierHash,
  hashValue,
  normalizeValue,
} from "../../../src/detectors/flow/value-tokens.js";

// The regex implementation the character scanner replaced, kept here as the reference it must match exactly.
const TOKEN = /[^\s"'<>()[\]{}|\\^`,;]+/g;
const SPACED_NUMBER = /\+?\d[\d ().-]{6,}\d/g;
const QUOTED = /"[^"\n]{3,120}"|'[^'\n]{3,120}'/g;
const TRAILING = /[.,;:!?)\]}>'"]+$/;
const URL_HOST = /^https?:\/\/([^/?#:]+)/i;
const EMAIL = /^[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+$/i;
const DOTTED_NAME = /^[\w-]+(?:\.[\w-]+)*\.[a-z][a-z0-9]{1,5}$/i;

function referenceIdentifierLike(token: string): boolean {
  if (token.length < 4) return false;
  if (token.startsWith("http://") || token.startsWith("https://")) return true;
  const at = token.indexOf("@");
  if (at > 0) return EMAIL.test(token);
  const slash = token.indexOf("/");
  if (slash !== -1 && token.indexOf("/", slash + 1) !== -1) return true;
  if (/\d/.test(token) && token.length >= 6) return true;
  return token.includes(".") && DOTTED_NAME.test(token);
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
    const host = URL_HOST.exec(value);
    if (host !== null && host[1] !== undefined && host[1].length >= 4) {
      values.push(host[1]);
      starts.push(start);
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
