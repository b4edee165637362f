import assert from "node:assert/strict";
import { test } from "node:test";
import { Reservoir, RunningStatistics } from "../../../src/detectors/baseline/running-statistics.js";

test("statistics saved to JSON and loaded again score exactly as the ones trained: no digit is lost", () => {
  // Lengths whose mean and squared deviations do not end after four decimals, as real argument lengths do.
  const lengths = [17, 24, 31, 19, 51, 22, 23, 18, 29, 26, 24, 25, 20];
  const trained = new RunningStatistics();
  for (const length of lengths) trained.add(length);
  const loaded = RunningStatistics.from(JSON.parse(JSON.stringify(trained.toJSON())));
  assert.notEqual(Math.round(trained.mean * 10_000) / 10_000, trained.mean, "the mean needs more than four decimals");
  assert.equal(loaded.mean, trained.mean);
  assert.equal(loaded.m2, trained.m2);
  assert.equal(loaded.standardDeviation, trained.standardDeviation);
  assert.equal((125 - loaded.mean) / loaded.standardDeviation, (125 - trained.mean) / trained.standardDeviation);

  const sample = new Reservoir(8);
  for (const length of lengths) sample.add(Math.log2(length) / 3);
  const restored = Reservoir.from(JSON.parse(JSON.stringify(sample.toJSON())), 8);
  for (const fraction of [0, 0.5, 0.99]) assert.equal(restored.quantile(fraction), sample.quantile(fraction));
  assert.equal(restored.count, sample.count);
});
