import assert from "node:assert/strict";
import { test } from "node:test";
import { AnchorIndex } from "../../../src/defence/dlp/anchor-index.js";
import {
  digitRunShape,
  RUN_AFTER_UPPER_OR_SPACE,
  RUN_ANY,
  RUN_BESIDE_COLON,
  RUN_THREE_DOTS,
} from "../../../src/defence/dlp/digit-run-shape.js";
import { builtInRules } from "../../../src/defence/dlp/dlp-rules.js";

/** A small deterministic generator, so that every run checks the same strings. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(state ^ (state >>> 15), 1 | state);
    mixed = (mixed + Math.imul(mixed ^ (mixed >>> 7), 61 | mixed)) ^ mixed;
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4_294_967_296;
  };
}

interface Found {
  anchors: Array<[number, number]>;
  runs: Array<[number, number, number]>;
}

function scan(index: AnchorIndex, text: string): Found {
  const found: Found = { anchors: [], runs: [] };
  index.scan(text, {
    anchor: (anchor, position) => found.anchors.push([position, anchor]),
    digits: (start, end, digitCount) => found.runs.push([start, end, digitCount]),
  });
  return found;
}

/** What the index must report, by brute force: the longest anchor at each position, and the digit runs of the old expression. */
function naive(anchors: readonly string[], text: string): Found {
  const found: Found = { anchors: [], runs: [] };
  for (let position = 0; position < text.length; position++) {
    let best = -1;
    anchors.forEach((anchor, index) => {
      if (text.startsWith(anchor, position) && (best < 0 || anchor.length > anchors[best]!.length)) best = index;
    });
    if (best >= 0) found.anchors.push([position, best]);
  }
  for (const run of text.matchAll(/\d(?:[ .()-]{0,2}\d){3,}/g)) {
    found.runs.push([run.index, run.index + run[0].length, run[0].replace(/\D/g, "").length]);
  }
  return found;
}

// Characters whose low byte is an anchor's or a digit's: the index keys on low bytes and must check the real text.
const LOOKALIKES = ["\u0131", "\u0140", "\u0167", "\u016b", "\u0173", "\u2d2d", "\u{1f600}"];

function randomText(random: () => number, pieces: readonly string[], length: number): string {
  let text = "";
  while (text.length < length) {
    const roll = random();
    if (roll < 0.3) text += pieces[Math.floor(random() * pieces.length)];
    else if (roll < 0.55) text += String(Math.floor(random() * 100_000));
    else if (roll < 0.7) text += " .()-:_@~"[Math.floor(random() * 9)];
    else if (roll < 0.8) text += LOOKALIKES[Math.floor(random() * LOOKALIKES.length)];
    else text += "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"[Math.floor(random() * 52)];
  }
  return text;
}

test("the built-in anchors and digit runs are found exactly where a brute-force search finds them", () => {
  const anchors = [...new Set(builtInRules().flatMap((rule) => rule.anchors ?? []))];
  const index = new AnchorIndex(anchors, true);
  const random = seededRandom(7);
  for (let round = 0; round < 400; round++) {
    const text = randomText(random, anchors, 1 + Math.floor(random() * 300));
    assert.deepEqual(scan(index, text), naive(anchors, text), JSON.stringify(text));
  }
});

test("one- and two-character anchors at odd and even positions, prefixes, and anchors that start with a digit", () => {
  // "7x" starts with a digit: the index must not jump over digit runs then.
  const anchors = ["@", "Q~", "SK", "ab", "abc", "abcdef", "7x", "-u "];
  const index = new AnchorIndex(anchors, true);
  const random = seededRandom(11);
  for (let round = 0; round < 400; round++) {
    const text = randomText(random, anchors, 1 + Math.floor(random() * 120));
    assert.deepEqual(scan(index, text), naive(anchors, text), JSON.stringify(text));
  }
  assert.deepEqual(scan(index, "1234567x").anchors, [[6, 6]]);
  assert.deepEqual(scan(index, "xabcdef").anchors, [[1, 5]]);
});

test("anchors whose pairs at one parity are all digit-run characters are found at odd and even starts", () => {
  // The index jumps over measured digit runs: "A3-" and "v1.0-" cannot be keyed on "3-" or "1." then.
  const anchors = ["A3-", "v1.0-", "-----BEGIN", "GR1348941", "@"];
  const index = new AnchorIndex(anchors, true);
  for (const text of [
    "A3-",
    "xA3-",
    "12A3-4",
    "1v1.0-",
    "22v1.0-5",
    "7-----BEGIN",
    "12-----BEGIN",
    "8GR1348941",
    "GR1348941",
  ]) {
    assert.deepEqual(scan(index, text), naive(anchors, text), JSON.stringify(text));
  }
  const random = seededRandom(29);
  for (let round = 0; round < 400; round++) {
    const text = randomText(random, anchors, 1 + Math.floor(random() * 120));
    assert.deepEqual(scan(index, text), naive(anchors, text), JSON.stringify(text));
  }
});

test("a character whose low byte is a digit is not a digit", () => {
  const index = new AnchorIndex([], true);
  // U+0131 has the low byte of "1".
  assert.deepEqual(scan(index, "4\u01311\u0131111").runs, []);
  assert.deepEqual(scan(index, "12\u01313456").runs, [[3, 7, 4]]);
});

test("long strings use a buffer of their own and short ones after them still scan correctly", () => {
  const index = new AnchorIndex(["token"], true);
  const long = `${"x".repeat(3_000_000)} token 1234`;
  assert.deepEqual(scan(index, long), { anchors: [[3_000_001, 0]], runs: [[3_000_007, 3_000_011, 4]] });
  assert.deepEqual(scan(index, "token"), { anchors: [[0, 0]], runs: [] });
  assert.deepEqual(scan(index, "a 12.34"), { anchors: [], runs: [[2, 7, 4]] });
});

test("the pass gives each run the shape digitRunShape computes from the text", () => {
  const index = new AnchorIndex([], true);
  const random = seededRandom(23);
  const pieces = [
    "+",
    "(",
    ")",
    ":",
    ".",
    "-",
    " ",
    "  ",
    "GB",
    "A",
    "x",
    "\n",
    "123",
    "4111",
    "81.2.69.160",
    "415-555-2671",
  ];
  let runs = 0;
  for (let round = 0; round < 2000; round++) {
    const text = randomText(random, pieces, 1 + Math.floor(random() * 80));
    index.scan(text, {
      anchor: () => undefined,
      digits: (start, end, _digitCount, shape) => {
        runs++;
        assert.equal(shape, digitRunShape(text, start, end), `${JSON.stringify(text)} [${start}, ${end})`);
      },
    });
  }
  assert.ok(runs > 1000, `only ${runs} runs`);
});

test("only runs that meet a requirement are reported", () => {
  const index = new AnchorIndex([], true, [
    { minimumDigits: 4, shapes: RUN_THREE_DOTS },
    { minimumDigits: 4, shapes: RUN_BESIDE_COLON | RUN_AFTER_UPPER_OR_SPACE },
    { minimumDigits: 13, shapes: RUN_ANY },
  ]);
  const text = "a 2024-05-01 ip 81.2.69.160 at 12:3456 id 4111111111111 ,9876, DE44 5001";
  assert.deepEqual(scan(index, text).runs, [
    [16, 27, 8],
    [34, 38, 4],
    [42, 55, 13],
    [65, 72, 6],
  ]);
  assert.deepEqual(scan(new AnchorIndex([], true, []), text).runs, []);
});
