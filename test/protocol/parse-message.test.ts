import assert from "node:assert/strict";
import { isUtf8 } from "node:buffer";
import { test } from "node:test";
import { LineSplitter, type SplitLine } from "../../src/protocol/line-splitter.js";
import { parseMessage } from "../../src/protocol/parse-message.js";

const limits = { max_message_bytes: 1024, max_depth: 8 };

test("parses requests, notifications, results and errors", () => {
  const request = parseMessage('{"jsonrpc":"2.0","id":1,"method":"tools/list"}', limits);
  assert.equal(request.ok && request.message?.jsonrpc, "2.0");
  const notification = parseMessage(Buffer.from('{"jsonrpc":"2.0","method":"notifications/initialized"}'), limits);
  assert.ok(notification.ok && notification.message && !("id" in notification.message));
  const result = parseMessage('{"jsonrpc":"2.0","id":"a","result":{}}', limits);
  assert.ok(result.ok);
  const error = parseMessage('{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"x"}}', limits);
  assert.ok(error.ok);
});

test("UTF-8: a genuine U+FFFD passes, every kind of invalid sequence is refused", () => {
  const wrap = (bytes: number[]) =>
    Buffer.concat([
      Buffer.from('{"jsonrpc":"2.0","method":"x","params":{"t":"'),
      Buffer.from(bytes),
      Buffer.from('"}}'),
    ]);
  const genuine = parseMessage(wrap([0xef, 0xbf, 0xbd]), limits);
  assert.ok(genuine.ok && genuine.message !== undefined && "params" in genuine.message);
  assert.deepEqual(genuine.message.params, { t: "\uFFFD" });
  const invalid = [
    [0x80],
    [0xc0, 0xaf],
    [0xe2, 0x82],
    [0xed, 0xa0, 0x80],
    [0xf4, 0x90, 0x80, 0x80],
    [0xef, 0xbf, 0xbd, 0xff],
  ];
  for (const bytes of invalid) {
    const frame = parseMessage(wrap(bytes), limits);
    assert.ok(!frame.ok && frame.code === -32700 && /UTF-8/.test(frame.reason), bytes.join(" "));
  }
  // Whatever the bytes, a message is refused as invalid UTF-8 exactly when it is not UTF-8.
  let seed = 7;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  for (let round = 0; round < 2000; round++) {
    const bytes = Array.from({ length: 1 + Math.floor(random() * 6) }, () => 0x80 + Math.floor(random() * 0x80));
    if (random() < 0.3) bytes.push(0xef, 0xbf, 0xbd);
    const message = wrap(bytes);
    const frame = parseMessage(message, limits);
    assert.equal(!frame.ok && /UTF-8/.test(frame.reason), !isUtf8(message), bytes.join(" "));
  }
});

test("refuses what is not JSON-RPC with the code a peer should be answered with", () => {
  const cases: Array<[string | Buffer, number, RegExp]> = [
    ["{not json", -32700, /invalid JSON/],
    [Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), -32700, /UTF-8/],
    ['{"jsonrpc":"1.0","id":1,"method":"x"}', -32600, /jsonrpc/],
    ['{"jsonrpc":"2.0","id":{},"method":"x"}', -32600, /"id"/],
    ['{"jsonrpc":"2.0","id":1,"method":"x","params":[1]}', -32600, /params/],
    ['{"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"m"}}', -32600, /not both/],
    ['{"jsonrpc":"2.0","id":1,"error":{"code":"1","message":"m"}}', -32600, /numeric/],
    ["[]", -32600, /empty batch/],
    ["42", -32600, /object/],
    [`{"jsonrpc":"2.0","id":7,"method":"x","params":{"a":${"[".repeat(20)}${"]".repeat(20)}}}`, -32600, /deeper/],
    [`{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":"${"x".repeat(2000)}"}}`, -32600, /exceeds/],
  ];
  for (const [input, code, reason] of cases) {
    const frame = parseMessage(input, limits);
    assert.equal(frame.ok, false, String(input).slice(0, 60));
    if (!frame.ok) {
      assert.equal(frame.code, code, String(input).slice(0, 60));
      assert.match(frame.reason, reason);
    }
  }
  const deep = parseMessage(
    `{"jsonrpc":"2.0","id":7,"method":"x","params":{"a":${"[".repeat(20)}${"]".repeat(20)}}}`,
    limits,
  );
  assert.equal(!deep.ok && deep.id, 7, "the id is kept so the refusal can answer the request");
});

test("deep nesting far beyond the stack is refused, not thrown", () => {
  const depth = 200_000;
  const frame = parseMessage("[".repeat(depth) + "]".repeat(depth), { max_message_bytes: 1e7, max_depth: 64 });
  assert.equal(frame.ok, false);
});

test("batches are parsed element by element", () => {
  const frame = parseMessage('[{"jsonrpc":"2.0","id":1,"method":"a"},{"jsonrpc":"2.0","method":"b"}]', limits);
  assert.ok(frame.ok && frame.batch?.length === 2);
  const bad = parseMessage('[{"jsonrpc":"2.0","id":1,"method":"a"},{"jsonrpc":"2.0"}]', limits);
  assert.ok(!bad.ok && /batch element/.test(bad.reason));
});

test("the line splitter reassembles lines across chunks and bounds oversized ones", () => {
  const seen: SplitLine[] = [];
  const splitter = new LineSplitter(10, (line) => seen.push(line));
  splitter.push(Buffer.from("ab"));
  splitter.push(Buffer.from("c\r\nde\n\n"));
  splitter.push(Buffer.from("0123456789ABCDEF"));
  splitter.push(Buffer.from("GH\nok\n"));
  splitter.push(Buffer.from("tail"));
  splitter.end();
  const described = seen.map((line) => (line.kind === "line" ? line.line.toString() : `oversized:${line.bytes}`));
  assert.deepEqual(described, ["abc", "de", "oversized:18", "ok", "tail"]);
});

test("an oversized line ending exactly at a chunk boundary is reported once", () => {
  const seen: SplitLine[] = [];
  const splitter = new LineSplitter(4, (line) => seen.push(line));
  splitter.push(Buffer.from("0123456789\nab\n"));
  assert.deepEqual(
    seen.map((line) => line.kind),
    ["oversized", "line"],
  );
});
