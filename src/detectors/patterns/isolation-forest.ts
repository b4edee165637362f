/**
 * Isolation Forest (Liu, Ting and Zhou, 2008): anomalies are few and different, so random axis-parallel
 * splits isolate them in fewer steps than normal points. Written here because no maintained npm package
 * offers a seeded, serialisable forest without native or TensorFlow dependencies (see docs/attack-patterns.md).
 *
 * Trees are stored flat in typed arrays (one slot per node), which keeps scoring allocation-free and makes the
 * model plain JSON.
 */
import { SeededRandom } from "../../core/seeded-random.js";

export { SeededRandom };

const EULER_GAMMA = 0.5772156649015329;
const FORMAT_VERSION = 1;

/**
 * The average path length of an unsuccessful search in a binary search tree of `n` points, `c(n)`:
 * the normaliser of the anomaly score and the estimate added at a leaf that still holds `n` points.
 */
export function averagePathLength(n: number): number {
  if (n <= 1) return 0;
  if (n === 2) return 1;
  return 2 * (Math.log(n - 1) + EULER_GAMMA) - (2 * (n - 1)) / n;
}

/** Options of {@link IsolationForest.fit}. */
export interface IsolationForestOptions {
  /** Number of trees (default 100, as in the paper). */
  trees?: number;
  /** Points drawn (without replacement) for each tree (default 256, as in the paper). */
  sampleSize?: number;
  /** Seed of the generator (default 1). */
  seed?: number;
}

interface FlatTree {
  /** Split feature per node; -1 marks a leaf. */
  feature: Int16Array;
  /** Split value per node (points with `value < threshold` go left). */
  threshold: Float64Array;
  left: Int32Array;
  right: Int32Array;
  /** Points that reached the node (used at leaves). */
  size: Int32Array;
}

/** The forest as plain JSON. */
export interface IsolationForestJson {
  version: number;
  dimensions: number;
  sampleSize: number;
  trees: Array<{ feature: number[]; threshold: number[]; left: number[]; right: number[]; size: number[] }>;
}

/** A fitted isolation forest over rows of `dimensions` numbers. */
export class IsolationForest {
  // Every tree's nodes in one set of arrays (trees one after another, a node's two children side by side), so
  // that scoring walks contiguous memory. A leaf holds in `value` its depth plus c(size): its whole path length.
  private readonly roots: Int32Array;
  private readonly feature: Int16Array;
  private readonly value: Float64Array;
  private readonly left: Int32Array;
  /** `shortestRest[t]`: the shortest leaf path of tree t plus those of all later trees, the least they can add. */
  private readonly shortestRest: Float64Array;

  private constructor(
    readonly dimensions: number,
    readonly sampleSize: number,
    private readonly trees: FlatTree[],
  ) {
    const total = trees.reduce((sum, tree) => sum + tree.feature.length, 0);
    this.roots = new Int32Array(trees.length);
    this.feature = new Int16Array(total);
    this.value = new Float64Array(total);
    this.left = new Int32Array(total);
    this.shortestRest = new Float64Array(trees.length + 1);
    const shortest = new Float64Array(trees.length).fill(Number.POSITIVE_INFINITY);
    let next = 0;
    trees.forEach((tree, number) => {
      this.roots[number] = next++;
      const place = (node: number, at: number, depth: number): void => {
        const split = tree.feature[node]!;
        this.feature[at] = split;
        if (split < 0) {
          this.value[at] = depth + averagePathLength(tree.size[node]!);
          if (this.value[at]! < shortest[number]!) shortest[number] = this.value[at]!;
          return;
        }
        this.value[at] = tree.threshold[node]!;
        const children = next;
        next += 2;
        this.left[at] = children;
        place(tree.left[node]!, children, depth + 1);
        place(tree.right[node]!, children + 1, depth + 1);
      };
      place(0, this.roots[number]!, 0);
    });
    for (let tree = trees.length - 1; tree >= 0; tree--) {
      this.shortestRest[tree] = this.shortestRest[tree + 1]! + shortest[tree]!;
    }
  }

  /** Fits a forest to `rows` (each of the same length). Throws on empty input or rows of different lengths. */
  static fit(rows: readonly (readonly number[])[], options: IsolationForestOptions = {}): IsolationForest {
    const { trees = 100, sampleSize = 256, seed = 1 } = options;
    const first = rows[0];
    if (first === undefined) throw new Error("isolation forest: no rows to fit");
    const dimensions = first.length;
    for (const row of rows) {
      if (row.length !== dimensions) throw new Error("isolation forest: rows differ in length");
    }
    const random = new SeededRandom(seed);
    const size = Math.min(sampleSize, rows.length);
    const heightLimit = Math.ceil(Math.log2(Math.max(2, size)));
    const built: FlatTree[] = [];
    const indexes = Array.from({ length: rows.length }, (_, index) => index);
    // Column by column, so that a node's range of one feature is read from contiguous memory.
    const columns = Array.from({ length: dimensions }, (_, dimension) =>
      Float64Array.from(rows, (row) => row[dimension]!),
    );
    for (let tree = 0; tree < trees; tree++) {
      // Partial Fisher-Yates: the first `size` slots become a sample without replacement.
      for (let slot = 0; slot < size; slot++) {
        const pick = slot + random.integer(indexes.length - slot);
        const held = indexes[slot]!;
        indexes[slot] = indexes[pick]!;
        indexes[pick] = held;
      }
      built.push(buildTree(columns, Int32Array.from(indexes.slice(0, size)), heightLimit, random));
    }
    return new IsolationForest(dimensions, size, built);
  }

  /** The mean path length of `row` over the trees, E(h(x)). */
  pathLength(row: ArrayLike<number>): number {
    let total = 0;
    for (let tree = 0; tree < this.roots.length; tree++) total += this.treePath(tree, row);
    return total / this.roots.length;
  }

  /** The path length of `row` in one tree (a leaf's value holds its depth plus the adjustment for its size). */
  private treePath(tree: number, row: ArrayLike<number>): number {
    const feature = this.feature;
    const value = this.value;
    const left = this.left;
    let node = this.roots[tree]!;
    let split = feature[node]!;
    while (split >= 0) {
      node = left[node]! + ((row[split] ?? 0) < value[node]! ? 0 : 1);
      split = feature[node]!;
    }
    return value[node]!;
  }

  /** The anomaly score 2^(-E(h(x)) / c(ψ)): near 1 for anomalies, about 0.5 or below for normal points. */
  score(row: ArrayLike<number>): number {
    const normaliser = averagePathLength(this.sampleSize);
    if (normaliser === 0) return 0.5;
    return 2 ** (-this.pathLength(row) / normaliser);
  }

  /**
   * {@link score} of `row` when it is at least `threshold`, and some lower number when it is not. Most points are
   * normal: path lengths only add up, so once the trees walked so far make the mean path too long for the score
   * to reach `threshold`, the other trees are skipped.
   */
  scoreReaching(row: ArrayLike<number>, threshold: number): number {
    const normaliser = averagePathLength(this.sampleSize);
    if (normaliser === 0) return 0.5;
    const trees = this.roots.length;
    // score ≥ threshold ⇔ total ≤ -log2(threshold) · normaliser · trees. The walk stops once the trees walked plus the
    // shortest paths of the rest pass that; the margin keeps rounding on the safe side (a call stopped early is
    // certainly below the threshold, a call near it gets its exact score).
    const limit = threshold > 0 ? -Math.log2(threshold) * normaliser * trees * (1 + 1e-9) + 1e-9 : Infinity;
    let total = 0;
    for (let tree = 0; tree < trees; tree++) {
      total += this.treePath(tree, row);
      if (total + this.shortestRest[tree + 1]! > limit) return 0;
    }
    return 2 ** (-(total / trees) / normaliser);
  }

  toJSON(): IsolationForestJson {
    return {
      version: FORMAT_VERSION,
      dimensions: this.dimensions,
      sampleSize: this.sampleSize,
      trees: this.trees.map((tree) => ({
        feature: Array.from(tree.feature),
        threshold: Array.from(tree.threshold),
        left: Array.from(tree.left),
        right: Array.from(tree.right),
        size: Array.from(tree.size),
      })),
    };
  }

  /** Restores a forest from {@link toJSON}; a reason instead when the value is not a forest this code can read. */
  static fromJSON(value: unknown): { ok: true; value: IsolationForest } | { ok: false; message: string } {
    if (typeof value !== "object" || value === null) return { ok: false, message: "not an object" };
    const json = value as Partial<IsolationForestJson>;
    if (json.version !== FORMAT_VERSION)
      return { ok: false, message: `unknown forest version ${String(json.version)}` };
    if (!Number.isInteger(json.dimensions) || !Number.isInteger(json.sampleSize) || !Array.isArray(json.trees)) {
      return { ok: false, message: "dimensions, sampleSize or trees missing" };
    }
    const dimensions = json.dimensions!;
    const trees: FlatTree[] = [];
    for (const [number, tree] of json.trees.entries()) {
      const parsed = parseTree(tree, dimensions);
      if (parsed === null) return { ok: false, message: `tree ${number} is malformed` };
      trees.push(parsed);
    }
    if (trees.length === 0) return { ok: false, message: "the forest has no trees" };
    return { ok: true, value: new IsolationForest(dimensions, json.sampleSize!, trees) };
  }
}

function parseTree(value: unknown, dimensions: number): FlatTree | null {
  if (typeof value !== "object" || value === null) return null;
  const tree = value as Record<string, unknown>;
  const arrays = ["feature", "threshold", "left", "right", "size"].map((key) => tree[key]);
  if (!arrays.every((array) => Array.isArray(array) && array.every((item) => typeof item === "number"))) return null;
  const [feature, threshold, left, right, size] = arrays as number[][];
  const nodes = feature!.length;
  if (nodes === 0 || [threshold, left, right, size].some((array) => array!.length !== nodes)) return null;
  for (let node = 0; node < nodes; node++) {
    const split = feature![node]!;
    if (split >= dimensions) return null;
    // Children come after their parent, so a walk always ends.
    if (split >= 0 && !(left![node]! > node && left![node]! < nodes && right![node]! > node && right![node]! < nodes)) {
      return null;
    }
  }
  return {
    feature: Int16Array.from(feature!),
    threshold: Float64Array.from(threshold!),
    left: Int32Array.from(left!),
    right: Int32Array.from(right!),
    size: Int32Array.from(size!),
  };
}

/**
 * Grows one tree over the sample `members` (row numbers, reordered in place as nodes split them). `columns` holds the
 * rows feature by feature.
 */
function buildTree(
  columns: readonly Float64Array[],
  members: Int32Array,
  heightLimit: number,
  random: SeededRandom,
): FlatTree {
  const dimensions = columns.length;
  const feature: number[] = [];
  const threshold: number[] = [];
  const left: number[] = [];
  const right: number[] = [];
  const size: number[] = [];
  const addNode = (): number => {
    feature.push(-1);
    threshold.push(0);
    left.push(-1);
    right.push(-1);
    size.push(0);
    return feature.length - 1;
  };
  const candidates: number[] = [];
  // The node's points are members[start, end); a split moves the left ones to the front of that range.
  const grow = (node: number, start: number, end: number, depth: number): void => {
    size[node] = end - start;
    if (depth >= heightLimit || end - start <= 1) return;
    // Only features that still vary can split; a node whose points are all equal is a leaf.
    candidates.length = 0;
    for (let dimension = 0; dimension < dimensions; dimension++) {
      if (varies(columns[dimension]!, members, start, end)) candidates.push(dimension);
    }
    if (candidates.length === 0) return;
    const chosen = candidates[random.integer(candidates.length)]!;
    const column = columns[chosen]!;
    let low = Number.POSITIVE_INFINITY;
    let high = Number.NEGATIVE_INFINITY;
    for (let slot = start; slot < end; slot++) {
      const value = column[members[slot]!]!;
      if (value < low) low = value;
      if (value > high) high = value;
    }
    let split = low + random.next() * (high - low);
    if (split <= low) split = (low + high) / 2;
    let boundary = start;
    for (let slot = start; slot < end; slot++) {
      const member = members[slot]!;
      if (column[member]! < split) {
        members[slot] = members[boundary]!;
        members[boundary] = member;
        boundary++;
      }
    }
    feature[node] = chosen;
    threshold[node] = split;
    const leftNode = addNode();
    const rightNode = addNode();
    left[node] = leftNode;
    right[node] = rightNode;
    grow(leftNode, start, boundary, depth + 1);
    grow(rightNode, boundary, end, depth + 1);
  };
  grow(addNode(), 0, members.length, 0);
  return {
    feature: Int16Array.from(feature),
    threshold: Float64Array.from(threshold),
    left: Int32Array.from(left),
    right: Int32Array.from(right),
    size: Int32Array.from(size),
  };
}

/**
 * True when the members[start, end) of `column` hold two different numbers (their maximum is above their minimum;
 * NaN is no number). Stops at the first difference: most features that vary do so among the first few points.
 */
function varies(column: Float64Array, members: Int32Array, start: number, end: number): boolean {
  let slot = start;
  let reference = Number.NaN;
  while (slot < end && Number.isNaN(reference)) reference = column[members[slot++]!]!;
  for (; slot < end; slot++) {
    const value = column[members[slot]!]!;
    if (value !== reference && !Number.isNaN(value)) return true;
  }
  return false;
}
