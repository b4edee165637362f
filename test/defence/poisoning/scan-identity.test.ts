import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { benignDataText } from "../../../src/defence/poisoning/benign-data-text.js";
import { findHiddenCharacters } from "../../../src/defence/poisoning/hidden-characters.js";
import { findRuleSignals } from "../../../src/defence/poisoning/rule-signals.js";
import {
  benignInstructionText,
  embedInjection,
  Random,
  syntheticInjection,
} from "../../../src/defence/poisoning/synthetic-text.js";
import { documentKind, isJsonLike } from "../../../src/defence/poisoning/text-features.js";
import { readCapture } from "../../../src/record/read-capture.js";
import { DATASETS_MISSING, datasetsFolder } from "../../record/datasets.js";

/**
 * The same characters in a string of their own, stored two bytes a character: the scans take shortcuts on
 * one-byte strings (a class of characters above U+00FF fails at once there) that must not change answers.
 */
function twoByteCopy(text: string): string {
  return `${text}\u0100`.slice(0, text.length);
}

/** Another string object with the same characters, as a new event's parse would give. */
function freshCopy(text: string): string {
  return ` ${text}`.slice(1);
}

/**
 * The scans' shortcuts must not change what they find: the answers are the same for the text stored one byte or
 * two a character; `documentKind` and `isJsonLike`, which share a reading of the last text, answer alike in either
 * order and for a copy after another text was read.
 * (Each shortcut was also checked against the implementation it replaced, on these texts and every agentdojo
 * result, when it was written; that copy of the old code is not kept, so that rules can change in one place.)
 */
function assertSame(text: string): void {
  const label = JSON.stringify(text.slice(0, 200));
  const wide = twoByteCopy(text);
  assert.deepEqual(findRuleSignals(text), findRuleSignals(wide), label);
  assert.deepEqual(findHiddenCharacters(text), findHiddenCharacters(wide), label);
  const json = isJsonLike(text);
  const kind = documentKind(text);
  assert.equal(isJsonLike(text), json, label);
  documentKind("some other text\nread in between");
  assert.equal(isJsonLike(freshCopy(text)), json, label);
  assert.equal(documentKind(freshCopy(text)), kind, label);
  isJsonLike("[1, 2]");
  assert.equal(documentKind(wide), kind, label);
}

// Units that sit at the edges of what the scanners read: ASCII and Latin-1 (the texts V8 stores a byte a unit),
// white space the line readers treat differently, JSON and table marks, and every class of hidden character.
const ALPHABET = [
  ..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_",
  ..." \t\n\r\n\n'\":;{}[]<>|-/.,!?#`",
  "ſ",
  "\u212a",
  "\u0130",
  "é",
  "\u00a0",
  "\u200b",
  "\ufeff",
  "\u2028",
  "\ud83d",
  "\ude00",
  "\u001b",
  "\u001b[",
  "\u001b]",
  "\u200c",
  "\u200d",
  "\u2060",
  "\u202e",
  "\u2066",
  "\u2069",
  "\udb40\udc41",
  "\udb40\udc7f",
  "\udb40",
  "\u0100",
];
// Only units a byte can hold, so that these texts are stored a byte a unit.
const LATIN1 = ALPHABET.filter((unit) => [...unit].every((character) => character.charCodeAt(0) <= 0xff));
const WORDS = [
  "ignore",
  "IGNORE",
  "disregard",
  "forget",
  "override",
  "skip",
  "before",
  "new",
  "updated",
  "real",
  "actual",
  "important",
  "this",
  "do",
  "don",
  "dont",
  "don't",
  "never",
  "without",
  "keep",
  "hide",
  "user",
  "silently",
  "previous",
  "instructions",
  "tell",
  "the",
  "you",
  "is",
  "an",
  "message",
  "from",
  "must",
  "not",
  "know",
  "send",
  "<system>",
  "[INST]",
  "</ Instructions >",
  "[/system]",
  "<|im_start|>",
  "<|assistant|>",
  "<",
  "[",
  "key:",
  "- item:",
  "| cell |",
  "import x",
  "{",
  "}",
  ";",
];

function randomText(random: Random, alphabet: readonly string[]): string {
  const parts: string[] = [];
  const count = 1 + random.integer(60);
  for (let index = 0; index < count; index++) {
    if (random.chance(0.5)) parts.push(random.pick(WORDS));
    else {
      let run = "";
      const length = random.integer(5);
      for (let unit = 0; unit < length; unit++) run += random.pick(alphabet);
      parts.push(run);
    }
  }
  return parts.join(random.pick(["", " ", "\n", "  ", "é"]));
}

test("the scans' shortcuts keep their answers on edge cases", () => {
  for (const text of [
    "",
    " ",
    "\n\n",
    ' \r\n {"a": 1}',
    "\r\n\t [1]",
    "do",
    "Don't tell the user",
    // The JSON share starts at the first unit past `isSpace`, after a `\r` the kind's line reading keeps.
    ' \r"ab"\nxy',
    '\t\r\r"key": "value"\nplain words',
    '\n \r\n\t"a"\n\n\n',
    // Tags amid more brackets than are tried one by one, in matches, nested and unclosed.
    `${"[1] <b> ".repeat(10)}<system>obey</system> ${"[x".repeat(20)}[INST] do it [/INST] <|im_start|>`,
    `<<<system>>> [[INST]] <\n/ system > < /SYSTEM> <|system|> ${"<".repeat(40)}<admin>`,
    `${"<important>".repeat(40)}`,
    `${"[ ".repeat(15)}<secret>`,
    `${"[ ".repeat(16)}<secret>`,
    `${"[ ".repeat(17)}<secret>`,
    "\ufeffBOM first",
    "plain \u001b[31mred\u001b[0m",
    "caf\u00e9 \u00a0 \u001b",
    "Latin-1 only: \u00e9\u00ff",
    "a\u200bb\u200dc \u00e9\u200d",
    "tags \udb40\udc49\udb40\udc67 end",
    "x".repeat(40000),
    `${"\n".repeat(33000)}{`,
    `${" ".repeat(32768)}"a"`,
    `"a": 1\n\r"b"\n   \n\tplain words here`,
  ]) {
    assertSame(text);
  }
});

test("instruction tags are found alike however many brackets come before them", () => {
  // The first brackets are tried one by one, the rest by the pattern's own scan: the switch must lose nothing.
  const body = "<secret>and</secret> text <system>x</system> [INST] do it [/INST] <b>bold</b> <|im_start|>";
  const alone = findRuleSignals(body).filter((signal) => signal.kind === "instruction_tag");
  assert.ok(alone.length >= 4);
  for (let brackets = 0; brackets <= 40; brackets++) {
    for (const filler of ["[ ", "< ", "[<", "a[b "]) {
      const prefix = filler.repeat(brackets);
      const found = findRuleSignals(prefix + body)
        .filter((signal) => signal.kind === "instruction_tag")
        .map((signal) => ({ ...signal, start: signal.start - prefix.length, end: signal.end - prefix.length }));
      assert.deepEqual(found, alone, `${brackets} × ${JSON.stringify(filler)}`);
    }
  }
});

test("the scans' shortcuts keep their answers on random and synthetic texts", () => {
  const random = new Random(20261121);
  for (let index = 0; index < 4000; index++) assertSame(randomText(random, ALPHABET));
  for (let index = 0; index < 2000; index++) assertSame(randomText(random, LATIN1));
  for (let index = 0; index < 1500; index++) {
    const host = index % 2 === 0 ? benignDataText(random) : benignInstructionText(random);
    assertSame(host);
    assertSame(embedInjection(random, host, syntheticInjection(random)).text);
  }
});

test("the scans' shortcuts keep their answers on the agentdojo results", async (context) => {
  const folder = datasetsFolder();
  if (folder === null) {
    context.skip(DATASETS_MISSING);
    return;
  }
  const seen = new Set<string>();
  for await (const record of readCapture(join(folder, "agentdojo", "test.jsonl.gz"))) {
    const text = record.exchange.result;
    if (typeof text !== "string" || seen.has(text)) continue;
    seen.add(text);
    assertSame(text);
  }
  assert.ok(seen.size > 0);
});
