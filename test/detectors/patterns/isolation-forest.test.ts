import assert from "node:assert/strict";
import { test } from "node:test";
import {
  averagePathLength,
  IsolationForest,
  type IsolationForestJson,
  SeededRandom,
} from "../../../src/detectors/patterns/index.js";

test("c(n) matches the reference values of the paper's formula (as in scikit-learn)", () => {
  // Computed independently: 2 (ln(n - 1) + Euler's gamma) - 2 (n - 1) / n, with c(1) = 0 and c(2) = 1.
  const reference: Array<[number, number]> = [
    [1, 0],
    [2, 1],
    [3, 1.207392357589623],
    [10, 3.748880484475505],
    [100, 8.364671030072245],
    [256, 10.244770920119917],
    [1000, 12.969940887100174],
  ];
  for (const [n, expected] of reference) assert.ok(Math.abs(averagePathLength(n) - expected) < 1e-12, `c(${n})`);
});

/** A standard normal draw (Box-Muller) from a seeded generator. */
function gaussian(random: SeededRandom): number {
  return Math.sqrt(-2 * Math.log(1 - random.next())) * Math.cos(2 * Math.PI * random.next());
}

function cluster(random: SeededRandom, count: number): number[][] {
  return Array.from({ length: count }, () => [gaussian(random), gaussian(random), gaussian(random)]);
}

test("outliers score above every inlier of a Gaussian cluster", () => {
  const random = new SeededRandom(7);
  const inliers = cluster(random, 1000);
  // Far out on every axis: what axis-parallel splits isolate fastest.
  const outliers = [
    [6, 6, 6],
    [5, -5, 5],
    [-6, 6, -6],
    [7, -7, -7],
    [-5, -6, 6],
  ];
  const forest = IsolationForest.fit([...inliers, ...outliers], { trees: 100, sampleSize: 256, seed: 3 });
  const inlierScores = inliers.map((row) => forest.score(row)).sort((a, b) => a - b);
  const outlierScores = outliers.map((row) => forest.score(row));
  const highestInlier = inlierScores[inlierScores.length - 1]!;
  for (const score of outlierScores) assert.ok(score > highestInlier, `${score} > ${highestInlier}`);
  for (const score of outlierScores) assert.ok(score > 0.7, `outlier score ${score}`);
  const meanInlier = inlierScores.reduce((total, score) => total + score, 0) / inlierScores.length;
  assert.ok(meanInlier < 0.5, `mean inlier score ${meanInlier}`);
  // Far out on one axis only (never seen in training): still above 95% of the inliers.
  const p95 = inlierScores[Math.floor(0.95 * inlierScores.length)]!;
  for (const row of [
    [-7, 0, 2],
    [0, 8, -1],
  ])
    assert.ok(forest.score(row) > p95, `${row} above ${p95}`);
  // The centre of the cluster is the least isolated point there is.
  assert.ok(forest.score([0, 0, 0]) < 0.45);
});

test("a fixed seed gives the same forest; another seed another one", () => {
  const rows = cluster(new SeededRandom(11), 500);
  const probe = [1.5, -2, 0.3];
  const first = IsolationForest.fit(rows, { seed: 9 });
  const second = IsolationForest.fit(rows, { seed: 9 });
  const other = IsolationForest.fit(rows, { seed: 10 });
  assert.equal(first.score(probe), second.score(probe));
  assert.deepEqual(first.toJSON(), second.toJSON());
  assert.notEqual(first.score(probe), other.score(probe));
});

test("toJSON and fromJSON round-trip through text and score alike", () => {
  const rows = cluster(new SeededRandom(5), 300);
  const forest = IsolationForest.fit(rows, { trees: 20, sampleSize: 64, seed: 2 });
  const restored = IsolationForest.fromJSON(JSON.parse(JSON.stringify(forest)));
  assert.ok(restored.ok);
  for (const row of [...rows.slice(0, 20), [4, 4, 4]]) assert.equal(restored.value.score(row), forest.score(row));
  assert.equal(restored.value.sampleSize, 64);
});

/** Why fromJSON refuses `value`; fails the test when it does not. */
function refusal(value: unknown): string {
  const restored = IsolationForest.fromJSON(value);
  assert.ok(!restored.ok, "refused");
  return restored.message;
}

test("fromJSON refuses what is not a forest it can walk", () => {
  const json = IsolationForest.fit(cluster(new SeededRandom(1), 50), { trees: 2, sampleSize: 16 }).toJSON();
  assert.equal(refusal(null), "✖ Invalid input: expected object, received null");
  assert.equal(refusal({ ...json, version: 99 }), "✖ Invalid input: expected 1\n  → at version");
  assert.equal(refusal({ ...json, trees: [] }), "✖ the forest has no trees\n  → at trees");
  const looping = structuredClone(json);
  looping.trees[0]!.left[0] = 0;
  assert.equal(
    refusal(looping),
    `✖ child 0 is not after node 0 within the tree's ${json.trees[0]!.feature.length} nodes\n  → at trees[0].left[0]`,
  );
});

test("fromJSON names the field of a forest that is malformed", () => {
  const json = IsolationForest.fit(cluster(new SeededRandom(1), 50), { trees: 2, sampleSize: 16 }).toJSON();
  const nodes = json.trees[0]!.feature.length;
  const leaf = json.trees[0]!.feature.indexOf(-1);
  assert.ok(json.trees[0]!.feature[0]! >= 0 && leaf > 0, "the first tree splits at its root");
  const changed = (change: (forest: IsolationForestJson) => void): IsolationForestJson => {
    const copy = structuredClone(json);
    change(copy);
    return copy;
  };
  const refusals: Array<[IsolationForestJson, string]> = [
    [
      changed((forest) => {
        forest.trees[0]!.right[0] = nodes;
      }),
      `✖ child ${nodes} is not after node 0 within the tree's ${nodes} nodes\n  → at trees[0].right[0]`,
    ],
    [
      changed((forest) => {
        forest.trees[0]!.feature[0] = 3;
      }),
      "✖ splits on feature 3, but the forest has 3 features\n  → at trees[0].feature[0]",
    ],
    [
      changed((forest) => {
        forest.trees[1]!.size.pop();
      }),
      `✖ ${json.trees[1]!.feature.length - 1} entries, but feature has ${json.trees[1]!.feature.length} (one per node)\n  → at trees[1].size`,
    ],
    [
      changed((forest) => {
        forest.trees[0] = { feature: [], threshold: [], left: [], right: [], size: [] };
      }),
      "✖ a tree needs at least one node\n  → at trees[0].feature",
    ],
    [
      changed((forest) => {
        forest.trees[0]!.feature[leaf] = -2;
      }),
      `✖ Too small: expected number to be >=-1\n  → at trees[0].feature[${leaf}]`,
    ],
    [
      changed((forest) => {
        (forest.trees[0]!.threshold as unknown[])[0] = "0.5";
      }),
      "✖ Invalid input: expected number, received string\n  → at trees[0].threshold[0]",
    ],
    [
      changed((forest) => {
        forest.trees[1]!.size[0] = -16;
      }),
      "✖ Too small: expected number to be >=0\n  → at trees[1].size[0]",
    ],
    [
      changed((forest) => {
        delete (forest as Partial<IsolationForestJson>).sampleSize;
      }),
      "✖ Invalid input: expected number, received undefined\n  → at sampleSize",
    ],
  ];
  for (const [forest, issue] of refusals) assert.equal(refusal(forest), issue);
  // Sound trees, but more nodes than a node's code can address beside a feature of 2^20 dimensions.
  const leaves = Array.from({ length: 2048 }, () => -1);
  const wide = { version: 1, dimensions: 2 ** 20, sampleSize: 16, trees: [leafTree(leaves)] };
  assert.equal(refusal(wide), "✖ isolation forest: too many nodes to index");
});

function leafTree(feature: number[]): IsolationForestJson["trees"][number] {
  return {
    feature,
    threshold: feature.map(() => 0),
    left: feature.map(() => -1),
    right: feature.map(() => -1),
    size: feature.map(() => 1),
  };
}

test("fit refuses empty input and rows of different lengths", () => {
  assert.throws(() => IsolationForest.fit([]), /no rows/);
  assert.throws(() => IsolationForest.fit([[1, 2], [3]]), /differ/);
  // Identical rows cannot be split: every point is equally normal.
  const flat = IsolationForest.fit(
    Array.from({ length: 50 }, () => [1, 1]),
    { trees: 5, sampleSize: 32 },
  );
  assert.equal(flat.score([1, 1]), flat.score([5, 5]));
});

test("scoreReaching gives the exact score of every point that reaches the threshold and less for the others", () => {
  const random = new SeededRandom(21);
  const rows = cluster(random, 400);
  const forest = IsolationForest.fit(rows, { trees: 60, sampleSize: 128, seed: 6 });
  const probes = [...rows.slice(0, 100), ...cluster(random, 50).map((row) => row.map((value) => value * 3))];
  for (const threshold of [0, 0.3, 0.45, 0.5, 0.55, 0.6, 0.7, 1]) {
    for (const probe of probes) {
      const exact = forest.score(probe);
      const reached = forest.scoreReaching(Float64Array.from(probe), threshold);
      if (exact >= threshold) assert.equal(reached, exact, `${probe} at ${threshold}`);
      else assert.ok(reached < threshold, `${probe} at ${threshold}: ${reached}`);
    }
  }
});

test("a row scores the same whatever array holds it; missing numbers read as 0", () => {
  const forest = IsolationForest.fit(cluster(new SeededRandom(8), 200), { trees: 30, sampleSize: 64, seed: 4 });
  for (const row of [
    [0.5, -1, 2],
    [3, 3, -3],
  ]) {
    assert.equal(forest.score(Float64Array.from(row)), forest.score(row));
    assert.equal(forest.scoreReaching(row, 0), forest.score(row));
  }
  assert.equal(forest.score([1.5]), forest.score([1.5, 0, 0]));
  assert.equal(forest.score(Float64Array.of(1.5)), forest.score([1.5, 0, 0]));
});

test("a saved forest numbered in another order scores exactly as the fitted one", () => {
  const rows = cluster(new SeededRandom(13), 300);
  const forest = IsolationForest.fit(rows, { trees: 10, sampleSize: 64, seed: 7 });
  const json = forest.toJSON();
  // Preorder numbering (a node, its whole left subtree, then its right subtree): siblings no longer side by side.
  const renumbered = {
    ...json,
    trees: json.trees.map((tree) => {
      const order: number[] = [];
      const visit = (node: number): void => {
        order.push(node);
        if (tree.feature[node]! >= 0) {
          visit(tree.left[node]!);
          visit(tree.right[node]!);
        }
      };
      visit(0);
      const number = new Map(order.map((node, index) => [node, index]));
      const pick = (values: number[]): number[] => order.map((node) => values[node]!);
      const child = (values: number[]): number[] => order.map((node) => number.get(values[node]!) ?? -1);
      return {
        feature: pick(tree.feature),
        threshold: pick(tree.threshold),
        left: child(tree.left),
        right: child(tree.right),
        size: pick(tree.size),
      };
    }),
  };
  const restored = IsolationForest.fromJSON(renumbered);
  assert.ok(restored.ok);
  for (const row of [...rows.slice(0, 50), [4, 4, 4], [0, 0, 0]]) {
    assert.equal(restored.value.score(row), forest.score(row));
    assert.equal(restored.value.scoreReaching(row, 0.55), forest.scoreReaching(row, 0.55));
  }
});
