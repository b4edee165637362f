/**
 * Isolation Forest (Liu, Ting and Zhou, 2008): anomalies are few and different, so random axis-parallel
 * splits isolate them in fewer steps than normal points. Written here because no maintained npm package
 * offers a seeded, serialisable forest without native or TensorFlow dependencies (see docs/attack-patterns.md).
 *
 * Trees are stored flat in typed arrays (one slot per node), which keeps scoring allocation-free and makes the
 * model plain JSON.
 */
import { z } from "zod";
import { SeededRandom } from "../../core/seeded-random.js";
import { describeStateError } from "../state-errors.js";

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

const treeJsonSchema = z.object({
  // -1 marks a leaf; read into an Int16Array, so nothing outside its range.
  feature: z.array(z.number().int().min(-1).max(0x7fff)).min(1, "a tree needs at least one node"),
  threshold: z.array(z.number()),
  left: z.array(z.int32()),
  right: z.array(z.int32()),
  size: z.array(z.int32().nonnegative()),
});
type TreeJson = z.infer<typeof treeJsonSchema>;

/**
 * The forest as plain JSON ({@link IsolationForest.toJSON}'s output), checked: beyond the types, every tree's arrays
 * are as long as its `feature`, splits use the forest's features, and children come after their parent, so that
 * every walk ends.
 */
export const isolationForestJsonSchema = z
  .object({
    version: z.literal(FORMAT_VERSION),
    dimensions: z.number().int().nonnegative(),
    // Any integer: fit records min(the option, the rows) whatever the option was.
    sampleSize: z.number().int(),
    trees: z.array(treeJsonSchema).min(1, "the forest has no trees"),
  })
  .superRefine((forest, context) => {
    forest.trees.forEach((tree, number) => {
      const problem = treeProblem(tree, forest.dimensions);
      if (problem !== null) {
        context.addIssue({ code: "custom", path: ["trees", number, ...problem.path], message: problem.message });
      }
    });
  });

/** The forest as plain JSON. */
export type IsolationForestJson = z.infer<typeof isolationForestJsonSchema>;

/** A fitted isolation forest over rows of `dimensions` numbers. */
export class IsolationForest {
  // Every tree's nodes in one set of arrays (trees one after another, a node's two children side by side), so
  // that scoring walks contiguous memory. A leaf holds in `value` its depth plus c(size): its whole path length.
  private readonly roots: Int32Array;
  /**
   * Per node, its split feature in the low {@link featureBits} bits and its first child above them, -1 at a leaf:
   * one load per step of a walk finds both where to look and where to go.
   */
  private readonly codes: Int32Array;
  private readonly featureBits: number;
  private readonly value: Float64Array;
  /**
   * The trees in the order {@link scoreReaching} walks them: those whose paths usually run longest above their
   * shortest leaf come first, so that a normal point is known to stay below the threshold after fewer trees.
   */
  private readonly walkOrder: Int32Array;
  /** `shortestRest[i]`: the shortest leaf paths of the trees walked `i`-th and later, the least they can add. */
  private readonly shortestRest: Float64Array;
  /** The path length of each tree, by tree, of the point being scored: summed in tree order for the exact score. */
  private readonly paths: Float64Array;
  /** The point being scored as the walk reads it, for rows that are not already a long enough Float64Array. */
  private readonly scratch: Float64Array;

  private constructor(
    readonly dimensions: number,
    readonly sampleSize: number,
    private readonly trees: FlatTree[],
  ) {
    const total = trees.reduce((sum, tree) => sum + tree.feature.length, 0);
    this.featureBits = 32 - Math.clz32(Math.max(1, dimensions - 1));
    if (total >= 2 ** (31 - this.featureBits)) throw new Error("isolation forest: too many nodes to index");
    this.roots = new Int32Array(trees.length);
    this.codes = new Int32Array(total);
    this.value = new Float64Array(total);
    this.paths = new Float64Array(trees.length);
    this.scratch = new Float64Array(dimensions);
    const shortest = new Float64Array(trees.length).fill(Number.POSITIVE_INFINITY);
    // The mean path of the tree's own sample (leaf paths weighted by the points that reached them), less its
    // shortest leaf: how much a typical point adds towards the early stop.
    const excess = new Float64Array(trees.length);
    let next = 0;
    for (let number = 0; number < trees.length; number++) {
      const tree = trees[number]!;
      const root = next;
      this.roots[number] = root;
      const points = tree.size[0] ?? 0;
      let expected = 0;
      const leaf = (node: number, at: number, depth: number): void => {
        this.codes[at] = -1;
        this.value[at] = depth + averagePathLength(tree.size[node]!);
        if (this.value[at]! < shortest[number]!) shortest[number] = this.value[at]!;
        if (points > 0) expected += (tree.size[node]! / points) * this.value[at]!;
      };
      const depths = simpleTreeDepths(tree);
      if (depths !== null) {
        // Every node has one parent and its children side by side (as fit grows them): the tree keeps its own
        // numbering, copied in one pass.
        next += depths.length;
        for (let node = 0; node < depths.length; node++) {
          const split = tree.feature[node]!;
          if (split < 0) leaf(node, root + node, depths[node]!);
          else {
            this.value[root + node] = tree.threshold[node]!;
            this.codes[root + node] = ((root + tree.left[node]!) << this.featureBits) | split;
          }
        }
      } else {
        next++;
        const place = (node: number, at: number, depth: number): void => {
          const split = tree.feature[node]!;
          if (split < 0) {
            leaf(node, at, depth);
            return;
          }
          this.value[at] = tree.threshold[node]!;
          const children = next;
          next += 2;
          this.codes[at] = (children << this.featureBits) | split;
          place(tree.left[node]!, children, depth + 1);
          place(tree.right[node]!, children + 1, depth + 1);
        };
        place(0, root, 0);
      }
      excess[number] = expected - shortest[number]!;
    }
    const order = Array.from({ length: trees.length }, (_, tree) => tree);
    order.sort((a, b) => excess[b]! - excess[a]! || a - b);
    this.walkOrder = Int32Array.from(order);
    this.shortestRest = new Float64Array(trees.length + 1);
    for (let walked = trees.length - 1; walked >= 0; walked--) {
      this.shortestRest[walked] = this.shortestRest[walked + 1]! + shortest[order[walked]!]!;
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
    // Plain loops and arrays allocated once per forest, not per tree: the forest is fitted once, mostly before V8 has
    // compiled this code, where every callback and reallocation costs.
    const indexes = new Int32Array(rows.length);
    for (let index = 0; index < rows.length; index++) indexes[index] = index;
    // Column by column, so that a node's range of one feature is read from contiguous memory.
    const columns: Float64Array[] = [];
    for (let dimension = 0; dimension < dimensions; dimension++) columns.push(new Float64Array(rows.length));
    for (let index = 0; index < rows.length; index++) {
      const row = rows[index]!;
      for (let dimension = 0; dimension < dimensions; dimension++) columns[dimension]![index] = row[dimension]!;
    }
    // Each tree grows over the first `size` slots, read as a slice reads them (odd sizes included).
    const workspace = new TreeWorkspace(columns, indexes.subarray(0, size).length, heightLimit);
    for (let tree = 0; tree < trees; tree++) {
      // Partial Fisher-Yates: the first `size` slots become a sample without replacement.
      for (let slot = 0; slot < size; slot++) {
        const pick = slot + random.integer(indexes.length - slot);
        const held = indexes[slot]!;
        indexes[slot] = indexes[pick]!;
        indexes[pick] = held;
      }
      built.push(workspace.build(indexes, random));
    }
    return new IsolationForest(dimensions, size, built);
  }

  /** The mean path length of `row` over the trees, E(h(x)). */
  pathLength(row: ArrayLike<number>): number {
    const point = this.point(row);
    let total = 0;
    for (let tree = 0; tree < this.roots.length; tree++) total += this.walk(this.roots[tree]!, point);
    return total / this.roots.length;
  }

  /**
   * `row` as the walk reads it: itself when it is a Float64Array of at least {@link dimensions} numbers, else copied
   * (a missing number read as 0). The walk then only ever sees one kind of array, which V8 compiles far better.
   */
  private point(row: ArrayLike<number>): Float64Array {
    if (row instanceof Float64Array && row.length >= this.dimensions) return row;
    const scratch = this.scratch;
    for (let dimension = 0; dimension < scratch.length; dimension++) scratch[dimension] = row[dimension] ?? 0;
    return scratch;
  }

  /** The path length of `point` in the tree whose root is `node` (a leaf's value holds its depth plus c(size)). */
  private walk(node: number, point: Float64Array): number {
    const codes = this.codes;
    const value = this.value;
    const bits = this.featureBits;
    const mask = (1 << bits) - 1;
    let at = node;
    let code = codes[at]!;
    while (code >= 0) {
      at = (code >>> bits) + (point[code & mask]! < value[at]! ? 0 : 1);
      code = codes[at]!;
    }
    return value[at]!;
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
    const point = this.point(row);
    const trees = this.roots.length;
    const order = this.walkOrder;
    const paths = this.paths;
    // score ≥ threshold ⇔ total ≤ -log2(threshold) · normaliser · trees. The walk stops once the trees walked plus the
    // shortest paths of the rest pass that; the margin keeps rounding on the safe side (a call stopped early is
    // certainly below the threshold, a call near it gets its exact score).
    const limit = threshold > 0 ? -Math.log2(threshold) * normaliser * trees * (1 + 1e-9) + 1e-9 : Infinity;
    let total = 0;
    for (let walked = 0; walked < trees; walked++) {
      const tree = order[walked]!;
      const path = this.walk(this.roots[tree]!, point);
      paths[tree] = path;
      total += path;
      if (total + this.shortestRest[walked + 1]! > limit) return 0;
    }
    // Summed in tree order, as {@link score} does, so that the score is the same to the last bit.
    let exact = 0;
    for (let tree = 0; tree < trees; tree++) exact += paths[tree]!;
    return 2 ** (-(exact / trees) / normaliser);
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

  /**
   * Checks a forest's JSON against {@link isolationForestJsonSchema} and builds the forest from it, so a schema that
   * holds one (a detector's saved baseline) gets the forest with every issue named by its path.
   */
  static readonly schema = isolationForestJsonSchema.transform((json, context): IsolationForest => {
    try {
      return new IsolationForest(json.dimensions, json.sampleSize, json.trees.map(flatTree));
    } catch (error) {
      context.addIssue({ code: "custom", message: (error as Error).message });
      return z.NEVER;
    }
  });

  /** Restores a forest from {@link toJSON}; a reason instead when the value is not a forest this code can read. */
  static fromJSON(value: unknown): { ok: true; value: IsolationForest } | { ok: false; message: string } {
    const parsed = IsolationForest.schema.safeParse(value);
    return parsed.success ? { ok: true, value: parsed.data } : { ok: false, message: describeStateError(parsed.error) };
  }
}

/**
 * The depth of every node of `tree` when each node but the root has exactly one parent, listed before it, and its two
 * children side by side (right = left + 1), as {@link IsolationForest.fit} grows trees; `null` for any other shape.
 */
function simpleTreeDepths(tree: FlatTree): Int32Array | null {
  const nodes = tree.feature.length;
  const depths = new Int32Array(nodes).fill(-1);
  depths[0] = 0;
  for (let node = 0; node < nodes; node++) {
    const depth = depths[node]!;
    // No parent came before this node: it is unreachable, or its parent comes later.
    if (depth < 0) return null;
    if (tree.feature[node]! < 0) continue;
    const left = tree.left[node]!;
    if (left <= node || left + 1 >= nodes || tree.right[node] !== left + 1) return null;
    if (depths[left]! >= 0 || depths[left + 1]! >= 0) return null;
    depths[left] = depth + 1;
    depths[left + 1] = depth + 1;
  }
  return depths;
}

/**
 * Where `tree` breaks what its schema cannot express, relative to the tree, or `null`: an array shorter or longer
 * than `feature`, a split on a feature the forest does not have, a child not after its parent or outside the tree.
 */
function treeProblem(tree: TreeJson, dimensions: number): { path: Array<string | number>; message: string } | null {
  const nodes = tree.feature.length;
  for (const key of ["threshold", "left", "right", "size"] as const) {
    if (tree[key].length !== nodes) {
      return { path: [key], message: `${tree[key].length} entries, but feature has ${nodes} (one per node)` };
    }
  }
  for (let node = 0; node < nodes; node++) {
    const split = tree.feature[node]!;
    if (split >= dimensions) {
      return {
        path: ["feature", node],
        message: `splits on feature ${split}, but the forest has ${dimensions} features`,
      };
    }
    if (split < 0) continue;
    for (const side of ["left", "right"] as const) {
      const child = tree[side][node]!;
      // Children come after their parent, so a walk always ends.
      if (child <= node || child >= nodes) {
        return {
          path: [side, node],
          message: `child ${child} is not after node ${node} within the tree's ${nodes} nodes`,
        };
      }
    }
  }
  return null;
}

function flatTree(tree: TreeJson): FlatTree {
  return {
    feature: Int16Array.from(tree.feature),
    threshold: Float64Array.from(tree.threshold),
    left: Int32Array.from(tree.left),
    right: Int32Array.from(tree.right),
    size: Int32Array.from(tree.size),
  };
}

/**
 * What growing a tree needs besides its random numbers, allocated once per forest: the rows feature by feature, the
 * sample being split, the nodes grown so far, and the features still varying by depth.
 */
class TreeWorkspace {
  private readonly dimensions: number;
  /** The tree's sample (row numbers), reordered in place as nodes split it. */
  private readonly members: Int32Array;
  private readonly feature: Int16Array;
  private readonly threshold: Float64Array;
  private readonly left: Int32Array;
  private readonly right: Int32Array;
  private readonly size: Int32Array;
  private nodes = 0;
  /**
   * The features that vary among a node's points, by depth. A feature constant at a node is constant at every node
   * below it, so a node only tests those that varied at its parent: the same candidates for fewer scans.
   */
  private readonly varying: Int32Array[] = [];
  private readonly varyingCount: Int32Array;

  constructor(
    private readonly columns: readonly Float64Array[],
    sampleSize: number,
    private readonly heightLimit: number,
  ) {
    this.dimensions = columns.length;
    this.members = new Int32Array(sampleSize);
    // A node is at most heightLimit deep, and every split makes two nodes.
    const capacity = Number.isFinite(heightLimit) ? 2 ** (heightLimit + 1) - 1 : 2 * sampleSize + 1;
    this.feature = new Int16Array(capacity);
    this.threshold = new Float64Array(capacity);
    this.left = new Int32Array(capacity);
    this.right = new Int32Array(capacity);
    this.size = new Int32Array(capacity);
    const levels = Number.isFinite(heightLimit) ? heightLimit + 1 : 1;
    for (let depth = 0; depth < levels; depth++) this.varying.push(new Int32Array(this.dimensions));
    this.varyingCount = new Int32Array(levels);
  }

  /** Grows one tree over the rows numbered in the first sample-size slots of `sample`. */
  build(sample: Int32Array, random: SeededRandom): FlatTree {
    const members = this.members;
    for (let slot = 0; slot < members.length; slot++) members[slot] = sample[slot]!;
    this.nodes = 0;
    const roots = this.varying[0]!;
    for (let dimension = 0; dimension < this.dimensions; dimension++) roots[dimension] = dimension;
    this.varyingCount[0] = this.dimensions;
    this.grow(this.addNode(), 0, members.length, 0, random);
    const nodes = this.nodes;
    return {
      feature: this.feature.slice(0, nodes),
      threshold: this.threshold.slice(0, nodes),
      left: this.left.slice(0, nodes),
      right: this.right.slice(0, nodes),
      size: this.size.slice(0, nodes),
    };
  }

  private addNode(): number {
    const node = this.nodes++;
    this.feature[node] = -1;
    this.threshold[node] = 0;
    this.left[node] = -1;
    this.right[node] = -1;
    this.size[node] = 0;
    return node;
  }

  /**
   * Grows `node` over members[start, end); a split moves the left ones to the front of that range. Its parent's
   * varying features are varying[depth]; its own go to varying[depth + 1].
   */
  private grow(node: number, start: number, end: number, depth: number, random: SeededRandom): void {
    this.size[node] = end - start;
    if (depth >= this.heightLimit || end - start <= 1) return;
    const members = this.members;
    const columns = this.columns;
    // Only features that still vary can split; a node whose points are all equal is a leaf.
    const inherited = this.varying[depth]!;
    const candidates = this.varying[depth + 1]!;
    const inheritedCount = this.varyingCount[depth]!;
    let count = 0;
    for (let index = 0; index < inheritedCount; index++) {
      const dimension = inherited[index]!;
      if (varies(columns[dimension]!, members, start, end)) candidates[count++] = dimension;
    }
    this.varyingCount[depth + 1] = count;
    if (count === 0) return;
    const chosen = candidates[random.integer(count)]!;
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
    this.feature[node] = chosen;
    this.threshold[node] = split;
    const leftNode = this.addNode();
    const rightNode = this.addNode();
    this.left[node] = leftNode;
    this.right[node] = rightNode;
    this.grow(leftNode, start, boundary, depth + 1, random);
    this.grow(rightNode, boundary, end, depth + 1, random);
  }
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
