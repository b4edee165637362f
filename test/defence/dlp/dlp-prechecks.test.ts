import assert from "node:assert/strict";
import { test } from "node:test";
import { DlpEngine, defaultDlpSettings } from "../../../src/defence/dlp/index.js";

// The scanner settles most anchor hits and digit runs in plain code before any pattern runs. These
// cases sit on the edges of those shortcuts: each must give what the pattern and validator give.
const engine = new DlpEngine(defaultDlpSettings());
const found = (text: string): string[] =>
  engine.scanText(text).map((match) => `${match.rule}:${text.slice(match.start, match.end)}`);

test("IPv4: a public address ending a sentence or followed by a bracket is found; private and 5-part ones are not", () => {
  assert.deepEqual(found("from 81.2.69.160. Then"), ["ipv4_address:81.2.69.160"]);
  assert.deepEqual(found("ip=66.246.152.230.(x)"), ["ipv4_address:66.246.152.230"]);
  assert.deepEqual(found("client=10.0.3.4 at 12:30"), []);
  assert.deepEqual(found("version 1.2.3.4.5 and 8.8.08.8"), []);
  assert.deepEqual(found("2024-05-01 81.2.69.160"), ["ipv4_address:81.2.69.160"]);
});

test("IPv6: global addresses compressed or full; timestamps and documentation addresses are not", () => {
  assert.deepEqual(found("peer 2a00:1450:4001:81b::200e up"), ["ipv6_address:2a00:1450:4001:81b::200e"]);
  assert.deepEqual(found("peer 2001:4860:4860:0:0:0:0:8888 up"), ["ipv6_address:2001:4860:4860:0:0:0:0:8888"]);
  assert.deepEqual(found("at 2024-05-01T12:34:56.789Z and 12:34:56"), []);
  assert.deepEqual(found("doc 2001:db8::1234"), []);
});

test("phone numbers: international and North American forms, not dates or ids", () => {
  assert.deepEqual(found("call +44 20 7946 0958"), ["phone_number:+44 20 7946 0958"]);
  assert.deepEqual(found("call 415-555-2671 now"), ["phone_number:415-555-2671"]);
  assert.deepEqual(found("call (415) 555-2671"), ["phone_number:(415) 555-2671"]);
  assert.deepEqual(found("on 2024-05-01 id 123456789012"), []);
});

test("e-mail: the local part is the whole run before @, at most 64 characters", () => {
  const local = "a".repeat(64);
  assert.deepEqual(found(`to ${local}@example.com`), [`email:${local}@example.com`]);
  assert.deepEqual(found(`to a${local}@example.com`), []);
  assert.deepEqual(found("a@b.co,c.d+e@mail.example.org"), ["email:a@b.co", "email:c.d+e@mail.example.org"]);
});

test("generic secrets: a dotted reference is not a value, a random string is", () => {
  assert.deepEqual(found("const token = request.headers.authorization;"), []);
  assert.deepEqual(found("password: config.db.password"), []);
  assert.deepEqual(found('token = "Zf3D0LXCM3EIMbgJpUNnkRtOfOueHznB"'), [
    "generic_secret:Zf3D0LXCM3EIMbgJpUNnkRtOfOueHznB",
  ]);
  // A digit makes it a value, not a reference.
  assert.deepEqual(found("secret = Qx7.Lm3kP9.Rt7vWz2"), ["generic_secret:Qx7.Lm3kP9.Rt7vWz2"]);
});

test("text around a match with characters outside Latin-1 keeps exact offsets", () => {
  const text = "\u{1F600}\u0131 token=Zf3D0LXCM3EIMbgJpUNnkRtOfOueHznB \u0131 jane.doe@example.org";
  assert.deepEqual(found(text), ["generic_secret:Zf3D0LXCM3EIMbgJpUNnkRtOfOueHznB", "email:jane.doe@example.org"]);
});
