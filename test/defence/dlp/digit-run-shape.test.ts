import assert from "node:assert/strict";
import { test } from "node:test";
import {
  digitRunShape,
  RUN_AFTER_PLUS_OR_PARENTHESIS,
  RUN_AFTER_UPPER_OR_SPACE,
  RUN_ANY,
  RUN_BESIDE_COLON,
  RUN_PHONE_LENGTH,
  RUN_SSN_SHAPE,
  RUN_THREE_DOTS,
} from "../../../src/defence/dlp/digit-run-shape.js";

test("digit-run shapes name what sits in and around a run", () => {
  const shape = (text: string, start: number, end: number): number => digitRunShape(text, start, end);
  assert.equal(shape("ip=81.2.69.160 ", 3, 14), RUN_ANY | RUN_THREE_DOTS);
  assert.equal(shape("at 12:34:56", 9, 11), RUN_ANY | RUN_BESIDE_COLON);
  assert.equal(shape("call +44 20 7946", 6, 16), RUN_ANY | RUN_AFTER_PLUS_OR_PARENTHESIS);
  assert.equal(shape(",415-555-2671,", 1, 13), RUN_ANY | RUN_PHONE_LENGTH);
  assert.equal(shape(",123-45-6789,", 1, 12), RUN_ANY | RUN_SSN_SHAPE);
  assert.equal(shape("GB82 WEST 1234 5698", 10, 19), RUN_ANY | RUN_AFTER_UPPER_OR_SPACE);
  assert.equal(shape(",2024-05-01,", 1, 11), RUN_ANY);
  // A space after a comma or a line break cannot sit inside an IBAN; after a group of one it can.
  assert.equal(shape("\n 123456,", 2, 8), RUN_ANY);
  assert.equal(shape(" 1234", 1, 5), RUN_ANY);
  assert.equal(shape("32 1234", 3, 7), RUN_ANY | RUN_AFTER_UPPER_OR_SPACE);
});
