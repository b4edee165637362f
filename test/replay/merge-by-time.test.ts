import assert from "node:assert/strict";
import { test } from "node:test";
import { mergeByTime } from "../../src/replay/merge-by-time.js";

interface Item {
  time_ms: number;
  source: number;
  position: number;
}

/** A sorted source served in uneven batches, some empty, as a file reader produces them. */
async function* source(items: Item[], batchSizes: number[]): AsyncGenerator<Item[]> {
  let start = 0;
  let turn = 0;
  while (start < items.length) {
    const size = batchSizes[turn++ % batchSizes.length]!;
    yield items.slice(start, start + size);
    start += size;
  }
}

/** Deterministic pseudo-random numbers, so a failure reproduces. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
}

async function collect(iterable: AsyncIterable<Item[]>): Promise<Item[]> {
  const items: Item[] = [];
  for await (const batch of iterable) items.push(...batch);
  return items;
}

test("a k-way merge of sorted sources is sorted by time, ties in source order, each source in its own order", async () => {
  const next = random(42);
  for (const sourceCount of [2, 3, 7, 16]) {
    const inputs: Item[][] = [];
    for (let index = 0; index < sourceCount; index++) {
      const items: Item[] = [];
      let time = 0;
      const length = Math.floor(next() * 300);
      for (let position = 0; position < length; position++) {
        // Small steps make many equal times across sources.
        time += Math.floor(next() * 3);
        items.push({ time_ms: time, source: index, position });
      }
      inputs.push(items);
    }
    const merged = await collect(
      mergeByTime(
        inputs.map((items, index) => source(items, [1 + index, 0, 17, 5])),
        64,
      ),
    );
    assert.equal(
      merged.length,
      inputs.reduce((total, items) => total + items.length, 0),
    );
    const expected = inputs
      .flat()
      .sort((a, b) => a.time_ms - b.time_ms || a.source - b.source || a.position - b.position);
    assert.deepEqual(merged, expected);
  }
});

test("one source passes through; no source gives nothing", async () => {
  const items = [0, 5, 3].map((time_ms, position) => ({ time_ms, source: 0, position }));
  assert.deepEqual(await collect(mergeByTime([source(items, [2])])), items, "a single source is not reordered");
  assert.deepEqual(await collect(mergeByTime([])), []);
});

test("stopping early closes every source", async () => {
  const closed: number[] = [];
  async function* tracked(index: number): AsyncGenerator<Item[]> {
    try {
      for (let position = 0; position < 100; position++) yield [{ time_ms: position, source: index, position }];
    } finally {
      closed.push(index);
    }
  }
  for await (const batch of mergeByTime([tracked(0), tracked(1), tracked(2)], 1)) {
    if (batch[0]!.time_ms >= 3) break;
  }
  assert.deepEqual(closed.sort(), [0, 1, 2]);
});
