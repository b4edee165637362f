import assert from "node:assert/strict";
import { test } from "node:test";
import { DDSketch, DEFAULT_RELATIVE_ACCURACY } from "../../src/metrics/dd-sketch.js";
import { seededRandom } from "./synthetic-exchanges.js";

const QUANTILES = [0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1];

/** The exact q-quantile the sketch promises to approximate: the element of rank ⌊q·(n − 1)⌋. */
function exactQuantile(sorted: number[], q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))]!;
}

function assertWithinBound(sketch: DDSketch, values: number[], label: string): void {
  const sorted = [...values].sort((a, b) => a - b);
  for (const q of QUANTILES) {
    const exact = exactQuantile(sorted, q);
    const estimate = sketch.quantile(q);
    assert.ok(
      Math.abs(estimate - exact) <= DEFAULT_RELATIVE_ACCURACY * exact + 1e-12,
      `${label}: q=${q} estimate ${estimate} vs exact ${exact}`,
    );
  }
}

test("quantiles stay within the 1% relative error bound of the exact sorted values", () => {
  const random = seededRandom(7);
  const distributions: Record<string, () => number> = {
    uniform: () => random() * 10,
    "log-normal latency": () => Math.exp(-1.5 + random() * 2 + random() * 2),
    "heavy tail": () => 0.001 / (random() + 1e-6),
    "integers 1-20": () => 1 + Math.floor(random() * 20),
  };
  for (const [label, draw] of Object.entries(distributions)) {
    for (const size of [1, 2, 10, 1000, 20_000]) {
      const sketch = new DDSketch();
      const values = Array.from({ length: size }, draw);
      for (const value of values) sketch.add(value);
      assertWithinBound(sketch, values, `${label} n=${size}`);
    }
  }
});

test("count, sum, min and max are exact and zeros are counted as zeros", () => {
  const sketch = new DDSketch();
  for (const value of [0, 0, 0.5, 2, 8]) sketch.add(value);
  assert.equal(sketch.count, 5);
  assert.equal(sketch.sum, 10.5);
  assert.equal(sketch.min, 0);
  assert.equal(sketch.max, 8);
  assert.equal(sketch.quantile(0), 0);
  assert.equal(sketch.quantile(0.25), 0);
  assert.equal(sketch.quantile(1), 8);
  sketch.add(-1);
  sketch.add(Number.NaN);
  sketch.add(Number.POSITIVE_INFINITY);
  assert.equal(sketch.count, 5, "negative and non-finite values are ignored");
});

test("an empty sketch answers NaN", () => {
  const sketch = new DDSketch();
  assert.ok(Number.isNaN(sketch.quantile(0.5)));
  assert.ok(Number.isNaN(sketch.min));
  assert.equal(sketch.count, 0);
});

test("merging sketches answers like one sketch of every value", () => {
  const random = seededRandom(11);
  const parts = [new DDSketch(), new DDSketch(), new DDSketch()];
  const whole = new DDSketch();
  const values: number[] = [];
  for (let index = 0; index < 9000; index++) {
    // Each part covers a different range, so merging must widen the bins.
    const value = 10 ** ((index % 3) - 1) * (0.5 + random());
    parts[index % 3]!.add(value);
    whole.add(value);
    values.push(value);
  }
  const merged = new DDSketch();
  for (const part of parts) merged.merge(part);
  assert.equal(merged.count, whole.count);
  assert.ok(Math.abs(merged.sum - whole.sum) < 1e-6);
  for (const q of QUANTILES) assert.equal(merged.quantile(q), whole.quantile(q), `q=${q}`);
  assertWithinBound(merged, values, "merged");
});

test("a cleared sketch is empty and is reused for values in another range", () => {
  const sketch = new DDSketch();
  for (let value = 1; value <= 100; value++) sketch.add(value);
  sketch.clear();
  assert.equal(sketch.count, 0);
  const values = [1000, 2000, 3000];
  for (const value of values) sketch.add(value);
  assertWithinBound(sketch, values, "after clear");
});

test("past the bin limit the lowest bins fold and the upper quantiles keep the bound", () => {
  const sketch = new DDSketch({ maximum_bins: 64 });
  const values: number[] = [];
  for (let exponent = -6; exponent <= 6; exponent += 0.01) values.push(10 ** exponent);
  for (const value of values) sketch.add(value);
  const sorted = [...values].sort((a, b) => a - b);
  for (const q of [0.99, 0.999, 1]) {
    const exact = exactQuantile(sorted, q);
    assert.ok(Math.abs(sketch.quantile(q) - exact) <= DEFAULT_RELATIVE_ACCURACY * exact, `q=${q}`);
  }
  // 64 bins of 8 bytes, and the list of 16 keys a sketch starts with.
  assert.ok(sketch.binBytes <= 64 * 8 + 16 * 4);
});

test("merging sketches of different accuracy is refused", () => {
  const coarse = new DDSketch({ relative_accuracy: 0.05 });
  coarse.add(1);
  assert.throws(() => new DDSketch().merge(coarse), RangeError);
  assert.throws(() => new DDSketch({ relative_accuracy: 1 }), RangeError);
});
