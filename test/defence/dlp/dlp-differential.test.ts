import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { gunzipSync } from "node:zlib";
import { buildCorpus } from "../../../bench/dlp.bench.js";
import { readExamples } from "../../../src/defence/dlp/evaluate-dlp.js";
import { DlpEngine, type DlpMatch, dlpSettingsSchema } from "../../../src/defence/dlp/index.js";
import { DATASETS_MISSING, datasetsFolder } from "../../record/datasets.js";
import { ReferenceDlpEngine } from "./reference/reference-dlp-scanner.js";

// The scanner computes e-mail and IPv4 matches in plain code, keeps candidates in typed arrays and
// resolves overlaps in one pass. None of that may change a result: every string here must give exactly
// the matches (rule, type, action, offsets, order) of the reference, a frozen copy of the engine from
// before those changes, which ran every rule's pattern and validator.

/** A small deterministic generator (mulberry32), so that every run checks the same strings. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(state ^ (state >>> 15), 1 | state);
    mixed = (mixed + Math.imul(mixed ^ (mixed >>> 7), 61 | mixed)) ^ mixed;
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const folder = datasetsFolder();
const plain = dlpSettingsSchema.parse({});
// Allowed values and a rule turned off exercise the selection's other branches.
const withAllowList = dlpSettingsSchema.parse({
  allow: [
    { tool: "*", values: ["jane.doe@example.org", "81.2.69.160", "4111 1111 1111 1111"] },
    { server: "crm", tool: "*", rules: ["email"] },
  ],
});
const engines = [plain, withAllowList].map((settings) => ({
  current: new DlpEngine(settings),
  reference: new ReferenceDlpEngine(settings),
}));
const contexts = [
  undefined,
  { server: "crm", tool: "export", direction: "result" as const },
  { server: "files", tool: "read", direction: "arguments" as const },
];

/** Asserts that both engines give the same matches on every string; returns how many matches there were. */
function compare(texts: Iterable<string>): number {
  let found = 0;
  for (const text of texts) {
    for (const { current, reference } of engines) {
      for (const context of contexts) {
        const actual: DlpMatch[] = current.scanText(text, context);
        const expected: DlpMatch[] = reference.scanText(text, context);
        if (actual.length !== expected.length || actual.some((match, index) => !sameMatch(match, expected[index]!))) {
          assert.deepEqual(
            actual,
            expected,
            `differs on ${JSON.stringify(text.length > 400 ? text.slice(0, 400) : text)}`,
          );
        }
        found += actual.length;
      }
    }
  }
  return found;
}

const sameMatch = (a: DlpMatch, b: DlpMatch): boolean =>
  a.rule === b.rule && a.type === b.type && a.action === b.action && a.start === b.start && a.end === b.end;

const pick = <T>(random: () => number, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const integer = (random: () => number, limit: number): number => Math.floor(random() * limit);
const repeat = (random: () => number, alphabet: string, length: number): string => {
  let text = "";
  for (let index = 0; index < length; index++) text += alphabet[integer(random, alphabet.length)];
  return text;
};

const LOCAL = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-";
const LABEL = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-";
const LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
// Characters around and inside addresses: the look-arounds' edges, separators, non-Latin-1 look-alikes.
const EDGES = [
  "",
  " ",
  ".",
  "-",
  "_",
  ",",
  ":",
  "/",
  "(",
  ")",
  "+",
  "%",
  "@",
  "a",
  "Z",
  "0",
  "9",
  "\n",
  '"',
  "<",
  ">",
  ".5",
  "-x",
  "\u00e9",
  "\u0131",
  "\u0140",
  "\u{1f600}",
  "\u3002",
];
const TOP_LEVEL = [
  "com",
  "org",
  "io",
  "c",
  "co",
  "PNG",
  "png",
  "Json",
  "js",
  "jpeg",
  "JAVA",
  "gz",
  "museum",
  "x1",
  "c-m",
];

function emailLike(random: () => number): string {
  const localLength = pick(random, [1, 2, 5, 20, 63, 64, 65, 70]);
  let local = repeat(random, LOCAL, localLength);
  if (random() < 0.2) local = `.${local}`;
  if (random() < 0.1) local = `\u00fc${local}`;
  const labels: string[] = [];
  const labelCount = pick(random, [0, 1, 1, 2, 3, 7, 8, 9, 10]);
  for (let index = 0; index < labelCount; index++) {
    const length = pick(random, [1, 2, 3, 8, 62, 63, 64]);
    let label = repeat(random, LABEL, length);
    if (random() < 0.05) label = `xn--${label}`;
    if (random() < 0.05) label = "b\u00fccher";
    labels.push(label);
  }
  const top = random() < 0.7 ? pick(random, TOP_LEVEL) : repeat(random, LETTERS, pick(random, [1, 2, 23, 24, 25, 30]));
  const domain = labelCount === 0 ? top : `${labels.join(random() < 0.05 ? ".." : ".")}.${top}`;
  return `${local}@${domain}${random() < 0.3 ? pick(random, EDGES) + pick(random, EDGES) : ""}`;
}

function ipv4Like(random: () => number): string {
  const octet = (): string => {
    const roll = random();
    if (roll < 0.1) return `0${integer(random, 100)}`;
    if (roll < 0.15) return String(256 + integer(random, 800));
    if (roll < 0.2) return "00";
    if (roll < 0.3)
      return pick(random, [
        "0",
        "10",
        "127",
        "172",
        "192",
        "168",
        "100",
        "169",
        "254",
        "255",
        "256",
        "198",
        "203",
        "224",
      ]);
    return String(integer(random, 256));
  };
  const groups = pick(random, [3, 4, 4, 4, 4, 5]);
  const parts: string[] = [];
  for (let index = 0; index < groups; index++) parts.push(octet());
  let address = parts.join(random() < 0.05 ? ".." : ".");
  const suffix = random();
  if (suffix < 0.2) address += `:${integer(random, 65_536)}`;
  else if (suffix < 0.35) address += `/${integer(random, 33)}`;
  else if (suffix < 0.45) address += `.${pick(random, ["", "5", "a", " "])}`;
  return address;
}

function phoneLike(random: () => number): string {
  const digits = (count: number): string => repeat(random, "0123456789", count);
  return pick(random, [
    () => `+${1 + integer(random, 99)} ${digits(2)} ${digits(4)} ${digits(4)}`,
    () => `+1 (${digits(3)}) ${digits(3)}-${digits(4)}`,
    () => `(${digits(3)}) ${digits(3)}-${digits(4)}`,
    () => `${digits(3)}-${digits(3)}-${digits(4)}`,
    () => `${digits(3)}.${digits(3)}.${digits(4)}`,
    () => `${digits(3)}.${digits(3)}-${digits(4)}`,
    () => `+${digits(integer(random, 18))}`,
    () => `${digits(3)}-${digits(2)}-${digits(4)}`,
    () => `${digits(4)} ${digits(4)} ${digits(4)} ${digits(4)}`,
    () => `4111-1111-1111-1111`,
    () => `GB82 WEST 1234 5698 7654 32`,
    () => `2a00:1450:4001:81b::${digits(4)}`,
  ])();
}

const SECRETS = [
  "ghp_R8fK2mQ9xL4vN7pT1wZ6yB3cH5jD0sA8eU2i",
  "postgres://app:S3cr3t-Pa55@db.internal:5432/orders",
  "https://user:hunter2hunter2@example.com/x",
  'password = "Zf3D0LXCM3EIMbgJpUNnkRtOfOueHznB"',
  "token: jane.doe@example.org",
  "AKIAZ7VQ3M5XKJ2WN4PB",
  "user:S3cr3tPass@mail.example.com",
];

function fuzzText(random: () => number): string {
  let text = "";
  const pieces = 1 + integer(random, 8);
  for (let index = 0; index < pieces; index++) {
    const roll = random();
    if (roll < 0.3) text += emailLike(random);
    else if (roll < 0.55) text += ipv4Like(random);
    else if (roll < 0.7) text += phoneLike(random);
    else if (roll < 0.78) text += pick(random, SECRETS);
    else text += repeat(random, `${LETTERS}0123456789 .-_@:`, integer(random, 12));
    text += pick(random, EDGES);
  }
  return text;
}

test("fuzzed e-mail addresses, IPv4 addresses, phone numbers and secrets match the reference exactly", () => {
  const random = seededRandom(20_250_611);
  const texts: string[] = [];
  for (let index = 0; index < 20_000; index++) texts.push(fuzzText(random));
  const found = compare(texts);
  // The fuzz must reach the rules it is about, not only strings that match nothing.
  assert.ok(found > 10_000, `only ${found} matches`);
});

/** An IBAN with correct check digits, grouped by four with one or two spaces or none, or cut short. */
function ibanLike(random: () => number): string {
  const country = pick(random, ["GB", "DE", "FR", "NL", "CH", "ES", "XX"]);
  const lengths: Record<string, number> = { GB: 18, DE: 18, FR: 23, NL: 14, CH: 17, ES: 20, XX: 12 };
  const upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  let account = "";
  for (let index = 0; index < (lengths[country] ?? 16); index++)
    account += random() < 0.8 || country === "DE" ? String(integer(random, 10)) : pick(random, upper.split(""));
  // The mod-97 check digits: letters count as 10 to 35, the country and "00" moved to the end.
  const numeric = `${account}${country}00`.replace(/[A-Z]/g, (letter) => String(letter.charCodeAt(0) - 55));
  let remainder = 0;
  for (const digit of numeric) remainder = (remainder * 10 + Number(digit)) % 97;
  const check = String(98 - remainder).padStart(2, "0");
  const iban = `${country}${random() < 0.1 ? "00" : check}${account}`;
  const separator = pick(random, ["", " ", " ", "  ", "-"]);
  const grouped = iban.match(/.{1,4}/g)?.join(separator) ?? iban;
  return random() < 0.1 ? grouped.slice(0, grouped.length - 3) : grouped;
}

test("fuzzed IBANs after every kind of edge match the reference exactly", () => {
  const random = seededRandom(20_250_612);
  const texts: string[] = [];
  for (let index = 0; index < 5_000; index++) {
    let text = "";
    for (let piece = 0; piece < 1 + integer(random, 4); piece++) {
      text += pick(random, EDGES) + pick(random, EDGES) + pick(random, [" ", "  ", "", "A ", "7 "]);
      text += random() < 0.7 ? ibanLike(random) : phoneLike(random);
    }
    texts.push(text);
  }
  const found = compare(texts);
  assert.ok(found > 3_000, `only ${found} matches`);
});

test("hand-picked edges of the e-mail and IPv4 shortcuts match the reference", () => {
  const local64 = "a".repeat(64);
  const label63 = "b".repeat(63);
  compare([
    `${local64}@example.com`,
    `x${local64}@example.com`,
    `me@${label63}.com`,
    `me@${label63}b.com`,
    "me@a.b.c.d.e.f.g.h.com",
    "me@a.b.c.d.e.f.g.h.i.com",
    "me@a.b.c.d.e.f.g.h.i.j.k",
    `me@example.${"c".repeat(24)}`,
    `me@example.${"c".repeat(25)}`,
    "me@example.c0m.org",
    "me@example.com-x",
    "me@example.com5",
    "me@sub.example.PNG",
    "logo@2x.png and icon@3x.Svg",
    ".me@example.com",
    "a.@example.com",
    "me@-bad.example.com",
    "me@bad-.example.com",
    "me@example..com",
    "me@b\u00fccher.example",
    "me@xn--bcher-kva.example",
    "\u00fcme@example.com",
    "me@example.com.",
    "me@example.com.5",
    "a@b@c.com",
    "1.2.3.4",
    "81.2.69.160",
    "081.2.69.160",
    "81.2.69.160:8080",
    "81.2.69.160/24",
    "81.2.69.160.",
    "81.2.69.160.7",
    "81.2.69.1600",
    "x81.2.69.160",
    "_81.2.69.160",
    ".81.2.69.160",
    "-81.2.69.160",
    "81.2.69.160-",
    "81.2.69.160_",
    "81.2.69.256",
    "8.8.8.8 8.8.4.4,1.1.1.1",
    "81.2.69.160 81.2.69.161 (81.2.69.162)",
    "1.2.3.4.5.6.7.8",
    "client=81.002.69.160",
    "10.0.0.1 172.16.0.1 192.168.1.1 100.64.0.1 169.254.1.1 198.51.100.7 203.0.113.9 192.0.2.1",
  ]);
});

test("the benchmark corpus matches the reference exactly", () => {
  const found = compare(buildCorpus());
  assert.ok(found > 9000, `only ${found} matches`);
});

test("the gitleaks examples and AgentDojo tool results match the reference exactly", {
  skip: folder === null ? DATASETS_MISSING : false,
}, () => {
  compare(readExamples(join(folder!, "dlp", "gitleaks-examples.jsonl.gz")).map((example) => example.text));
  const lines = gunzipSync(readFileSync(join(folder!, "agentdojo", "baseline.jsonl.gz")))
    .toString("utf8")
    .split("\n");
  const texts: string[] = [];
  for (const line of lines) {
    if (line.length === 0) continue;
    const record = JSON.parse(line) as { arguments?: unknown; result?: unknown };
    if (typeof record.result === "string") texts.push(record.result);
    texts.push(JSON.stringify(record.arguments ?? null));
  }
  compare(texts);
});

test("a rule hit often enough to scan the rest of the string at once, among other matches, matches the reference", () => {
  // The 129th `://` makes the URL rules run once over the rest of the string: their candidates then come
  // long before the e-mail addresses between them, and the candidate sort leaves its fast path.
  const parts: string[] = [];
  for (let index = 0; index < 400; index++) {
    parts.push(
      `https://user${index}:Pw${index}x9Q@host${index}.example.com/`,
      `mail${index}@example.org`,
      `81.2.${index % 250}.7`,
    );
  }
  const text = parts.join(" ");
  assert.ok(compare([text, parts.slice(0, 300).join("\n")]) > 2000);
});
