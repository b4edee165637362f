import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { DeferredSink } from "../../src/capture/deferred-sink.js";
import type { CapturedExchange } from "../../src/core/exchange.js";

function exchange(index: number): CapturedExchange {
  return {
    time: new Date(1_700_000_000_000 + index).toISOString(),
    session: "s",
    user: null,
    agent: null,
    server: "test",
    method: `m${index}`,
    error: null,
    duration_ms: null,
  };
}

test("hands exchanges on later, in the order they came", async () => {
  const seen: string[] = [];
  const sink = new DeferredSink((record) => seen.push(record.method!), { delay_ms: 1 });
  for (let index = 0; index < 5; index++) sink.push(exchange(index));
  assert.deepEqual(seen, [], "nothing in the tick that recorded them");
  assert.equal(sink.waiting, 5);
  await sleep(20);
  assert.deepEqual(seen, ["m0", "m1", "m2", "m3", "m4"]);
  assert.equal(sink.waiting, 0);
});

test("drains in slices, letting the event loop turn between them", async () => {
  const seen: number[] = [];
  const sink = new DeferredSink((record) => seen.push(Number(record.method!.slice(1))), { delay_ms: 0, slice: 3 });
  for (let index = 0; index < 10; index++) sink.push(exchange(index));
  const progress: number[] = [];
  // Each turn of the loop takes one slice; a check between turns sees them arrive three at a time.
  for (let turn = 0; turn < 5; turn++) {
    await new Promise((resolve) => setImmediate(resolve));
    progress.push(seen.length);
  }
  assert.deepEqual(seen, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.ok(progress[0]! < 10, `first turn handed on ${progress[0]}`);
  assert.ok(
    progress.every((count) => count % 3 === 0 || count === 10),
    `progress by turn: ${progress.join(", ")}`,
  );
});

test("flush hands on everything at once; a long queue drains without waiting", () => {
  const seen: string[] = [];
  const sink = new DeferredSink((record) => seen.push(record.method!), { delay_ms: 60_000, max_waiting: 4 });
  sink.push(exchange(0));
  sink.push(exchange(1));
  sink.flush();
  assert.deepEqual(seen, ["m0", "m1"]);
  for (let index = 2; index < 6; index++) sink.push(exchange(index));
  assert.deepEqual(seen, ["m0", "m1", "m2", "m3", "m4", "m5"], "the fourth waiting exchange drains the queue");
  assert.equal(sink.waiting, 0);
  sink.flush();
  assert.equal(seen.length, 6);
});

test("a sink that throws is reported and the queue goes on", () => {
  const seen: string[] = [];
  const errors: unknown[] = [];
  const sink = new DeferredSink(
    (record) => {
      if (record.method === "m1") throw new Error("boom");
      seen.push(record.method!);
    },
    { onError: (error) => errors.push(error) },
  );
  for (let index = 0; index < 3; index++) sink.push(exchange(index));
  sink.flush();
  assert.deepEqual(seen, ["m0", "m2"]);
  assert.equal(errors.length, 1);
});
