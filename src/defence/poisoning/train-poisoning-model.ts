/**
 * Trains the poisoning model and writes `models/poisoning-model.json`:
 *
 *   node dist/src/defence/poisoning/train-poisoning-model.js [--seed 7] [--out models/poisoning-model.json]
 *
 * Training data: the benign `baseline.jsonl.gz` results of the agentdojo and bipia data sets (negatives),
 * synthetic benign instruction-like text (negatives), and synthetic injections embedded at random
 * positions in those documents (positives). No evaluation (`test`) file is read. Logistic regression with
 * AdaGrad over sparse hashed features; 5-fold cross-fitting over baseline sessions gives out-of-fold
 * scores of benign documents, and the threshold is the score that keeps at most 0.5% of them flagged (per data
 * set, among the kinds of document without a threshold of their own).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { benignDataText } from "./benign-data-text.js";
import { datasetsFolder, readSessions } from "./dataset-files.js";
import { type CorpusText, collectMcpBenignCorpus, corpusPart, referenceServersInstalled } from "./mcp-benign-corpus.js";
import { type PoisoningModel, packageRoot, serialisePoisoningModel } from "./poisoning-model.js";
import { benignInstructionText, embedInjection, phrasesOf, Random, syntheticInjection } from "./synthetic-text.js";
import {
  type DocumentKind,
  documentKind,
  extractFeatures,
  FeatureBuffer,
  HAND_FEATURE_COUNT,
  MIN_WORDS,
  segmentText,
} from "./text-features.js";

const HASH_BITS = 16;
const FOLDS = 5;
// At most 0.5% of held-out benign results per data set (TOOLWATCH_TRAIN_BENIGN_RATE=0.0025 makes it the
// highest one: fewer false positives on unseen benign text, lower recall; see docs/poisoning.md).
const TARGET_BENIGN_RATE = Number(process.env.TOOLWATCH_TRAIN_BENIGN_RATE ?? 0.005);
const DROPOUT = 0.5;
// Below 200 documents the 0.5% quantile is the maximum itself: too noisy to trust over the global threshold.
const ENSEMBLE = Number(process.env.TOOLWATCH_TRAIN_ENSEMBLE ?? 4);
const INJECTIONS_PER_HOST = Number(process.env.TOOLWATCH_TRAIN_INJECTIONS ?? 8);
const MIN_KIND_DOCUMENTS = 200;
const SYNTHETIC_DATA_TEXTS = Number(process.env.TOOLWATCH_TRAIN_DATA_TEXTS ?? 1500);
// Tool descriptions address the model by design ("Use this tool when …"): the model alone flags one only
// above this, or above every benign description seen in training, whichever is higher.
const DESCRIPTION_THRESHOLD_FLOOR = 0.97;
const KIND_THRESHOLD_FLOOR = 0.5;

interface Example {
  indices: Int32Array;
  values: Float64Array;
  label: 0 | 1;
}

interface HostDocument {
  text: string;
  fold: number;
  /** Benign documents from the baselines count toward the threshold; synthetic ones only train. */
  baseline: boolean;
  /** The data set a baseline document came from (the threshold must hold on each). */
  source: string;
}

function argument(name: string, fallback: string): string {
  const at = process.argv.indexOf(name);
  return at !== -1 && process.argv[at + 1] !== undefined ? process.argv[at + 1]! : fallback;
}

function foldOf(key: string): number {
  let hash = 2166136261;
  for (let index = 0; index < key.length; index++) hash = Math.imul(hash ^ key.charCodeAt(index), 16777619);
  return (hash >>> 0) % FOLDS;
}

const buffer = new FeatureBuffer(1024);

function example(text: string, start: number, end: number, label: 0 | 1, kind: DocumentKind): Example | null {
  // The classifier scores such segments 0 without the model, so the model never sees them either.
  if (extractFeatures(text, start, end, HASH_BITS, buffer, kind) < MIN_WORDS) return null;
  return { indices: buffer.indices.slice(0, buffer.length), values: buffer.values.slice(0, buffer.length), label };
}

/** Segments of a benign document, as negatives (deduplicated across documents by text). */
function negatives(text: string, seen: Set<string>, out: Example[]): void {
  const kind = documentKind(text);
  for (const segment of segmentText(text)) {
    const key = `${kind}:${text.slice(segment.start, segment.end)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const item = example(text, segment.start, segment.end, 0, kind);
    if (item !== null) out.push(item);
  }
}

/** Segments of a document with an embedded injection: those holding most of the request are positives. */
function positives(text: string, coreStart: number, coreEnd: number, out: Example[]): void {
  const kind = documentKind(text);
  for (const segment of segmentText(text)) {
    const overlap = Math.min(segment.end, coreEnd) - Math.max(segment.start, coreStart);
    if (overlap <= 0) continue;
    const coreLength = coreEnd - coreStart;
    if (overlap >= 0.6 * coreLength || overlap >= 0.6 * (segment.end - segment.start)) {
      const item = example(text, segment.start, segment.end, 1, kind);
      if (item !== null) out.push(item);
    }
  }
}

function shuffle<T>(random: Random, items: T[]): void {
  for (let index = items.length - 1; index > 0; index--) {
    const other = random.integer(index + 1);
    const item = items[index]!;
    items[index] = items[other]!;
    items[other] = item;
  }
}

/** Logistic regression, AdaGrad, L2, classes weighted to balance. */
function train(examples: Example[], seed: number, epochs = 6): Float64Array {
  const size = HAND_FEATURE_COUNT + 2 ** HASH_BITS;
  const weights = new Float64Array(size);
  const squares = new Float64Array(size).fill(1e-6);
  const positivesCount = examples.filter((item) => item.label === 1).length;
  const positiveWeight = (examples.length - positivesCount) / Math.max(1, positivesCount);
  const random = new Random(seed);
  const order = examples.slice();
  const rate = 0.2;
  const l2 = 1e-5;
  for (let epoch = 0; epoch < epochs; epoch++) {
    shuffle(random, order);
    for (const item of order) {
      // Dropout on hashed n-grams: half of them are hidden at each step, so the model cannot lean on a
      // few memorised phrases of the synthetic generator and must use the general cues as well.
      const mask = new Uint8Array(item.indices.length);
      for (let index = 0; index < mask.length; index++) {
        mask[index] = item.indices[index]! < HAND_FEATURE_COUNT || random.next() >= DROPOUT ? 1 : 0;
      }
      let sum = 0;
      for (let index = 0; index < item.indices.length; index++) {
        if (mask[index] === 1) sum += weights[item.indices[index]!]! * item.values[index]!;
      }
      const probability = 1 / (1 + Math.exp(-sum));
      const classWeight = item.label === 1 ? positiveWeight : 1;
      const gradient = (probability - item.label) * classWeight;
      for (let index = 0; index < item.indices.length; index++) {
        if (mask[index] === 0) continue;
        const slot = item.indices[index]!;
        const step = gradient * item.values[index]! + l2 * weights[slot]!;
        squares[slot]! += step * step;
        weights[slot]! -= (rate * step) / Math.sqrt(squares[slot]!);
      }
    }
  }
  // Inverted dropout at inference time: scale the hashed weights by the keep rate once, here.
  for (let slot = HAND_FEATURE_COUNT; slot < size; slot++) weights[slot]! *= 1 - DROPOUT;
  return weights;
}

function bestSegmentText(weights: Float64Array, text: string): string {
  let best = "";
  let bestScore = Number.NEGATIVE_INFINITY;
  const kind = documentKind(text);
  for (const segment of segmentText(text)) {
    if (extractFeatures(text, segment.start, segment.end, HASH_BITS, buffer, kind) < MIN_WORDS) continue;
    let sum = 0;
    for (let index = 0; index < buffer.length; index++) sum += weights[buffer.indices[index]!]! * buffer.values[index]!;
    if (sum > bestScore) {
      bestScore = sum;
      best = text.slice(segment.start, segment.end);
    }
  }
  return best;
}

/**
 * Averages models trained on differently seeded synthetic sets: the average of linear models is one
 * linear model, and it depends less on which phrasings one seed happened to draw.
 */
function trainEnsemble(hosts: HostDocument[], heldOut: number, seed: number): Float64Array {
  let sum: Float64Array | undefined;
  for (let member = 0; member < ENSEMBLE; member++) {
    const memberSeed = seed * 101 + member;
    const weights = train(buildExamples(hosts, heldOut, memberSeed, INJECTIONS_PER_HOST), memberSeed);
    if (sum === undefined) sum = weights;
    else for (let slot = 0; slot < sum.length; slot++) sum[slot]! += weights[slot]!;
  }
  if (sum === undefined) throw new Error("empty ensemble");
  for (let slot = 0; slot < sum.length; slot++) sum[slot]! /= ENSEMBLE;
  return sum;
}

function scoreDocument(weights: Float64Array, text: string): number {
  let best = 0;
  const kind = documentKind(text);
  for (const segment of segmentText(text)) {
    if (extractFeatures(text, segment.start, segment.end, HASH_BITS, buffer, kind) < MIN_WORDS) continue;
    let sum = 0;
    for (let index = 0; index < buffer.length; index++) sum += weights[buffer.indices[index]!]! * buffer.values[index]!;
    best = Math.max(best, 1 / (1 + Math.exp(-sum)));
  }
  return best;
}

/** Builds the training set for the documents whose fold is not `heldOut` (all documents when -1). */
function buildExamples(hosts: HostDocument[], heldOut: number, seed: number, injectionsPerHost: number): Example[] {
  const random = new Random(seed);
  const seen = new Set<string>();
  const examples: Example[] = [];
  const training = hosts.filter((host) => host.fold !== heldOut);
  for (const host of training) negatives(host.text, seen, examples);
  const count = Math.round(training.length * injectionsPerHost);
  const phrases = phrasesOf(
    training.map((host) => host.text),
    random,
    3000,
  );
  for (let index = 0; index < count; index++) {
    const host = random.pick(training);
    const embedded = embedInjection(random, host.text, syntheticInjection(random, phrases));
    positives(embedded.text, embedded.coreStart, embedded.coreEnd, examples);
  }
  return examples;
}

/** The lowest score that flags at most `TARGET_BENIGN_RATE` of `scores` (benign documents). */
function quantileThreshold(scores: number[]): number {
  const sorted = scores.slice().sort((a, b) => b - a);
  const allowed = Math.floor(scores.length * TARGET_BENIGN_RATE);
  return Math.min(0.995, Math.max(0.5, (sorted[allowed] ?? 0) + 1e-4));
}

async function main(): Promise<void> {
  const started = Date.now();
  const seed = Number(argument("--seed", "7"));
  const root = packageRoot();
  const output = argument("--out", join(root, "models", "poisoning-model.json"));
  const folder = datasetsFolder(root);
  const hosts: HostDocument[] = [];
  const seenResults = new Set<string>();
  for (const name of ["agentdojo", "bipia"]) {
    for (const [session, calls] of readSessions(join(folder, name, "baseline.jsonl.gz"))) {
      for (const call of calls) {
        if (call.result.length === 0 || seenResults.has(call.result)) continue;
        seenResults.add(call.result);
        hosts.push({ text: call.result, fold: foldOf(session), baseline: true, source: name });
      }
    }
  }
  const baselineCount = hosts.length;
  const random = new Random(seed);
  for (let index = 0; index < 1500; index++) {
    hosts.push({
      text: benignInstructionText(random),
      fold: random.integer(FOLDS),
      baseline: false,
      source: "synthetic",
    });
  }
  for (let index = 0; index < SYNTHETIC_DATA_TEXTS; index++) {
    hosts.push({ text: benignDataText(random), fold: random.integer(FOLDS), baseline: false, source: "synthetic" });
  }
  // Real MCP traffic: the training part of the reference servers' corpus (the rest is the held-out
  // zero-flag check in test/defence/poisoning). Its descriptions are scored as descriptions, so they set
  // the description threshold rather than train the model.
  let corpus: CorpusText[] = [];
  if (referenceServersInstalled()) corpus = await collectMcpBenignCorpus();
  else process.stdout.write("MCP reference servers not installed: training without the real-MCP corpus\n");
  const corpusTraining = corpus.filter((item) => corpusPart(item) === "train");
  for (const item of corpusTraining) {
    hosts.push({ text: item.text, fold: random.integer(FOLDS), baseline: false, source: "mcp" });
  }
  const syntheticDescriptions = Array.from({ length: 400 }, () => benignDataText(random));
  process.stdout.write(
    `${baselineCount} distinct baseline results, ${hosts.length - baselineCount - corpusTraining.length} synthetic benign texts, ` +
      `${corpusTraining.length} texts of real MCP servers (of ${corpus.length})\n`,
  );

  // Cross-fitting: out-of-fold scores of benign baseline documents set the threshold; synthetic injections
  // in held-out documents show the recall that threshold leaves.
  const benignScores: number[] = [];
  const benignByKind = new Map<DocumentKind, number[]>();
  const worst: { score: number; text: string }[] = [];
  const injectedScores: { text: string; score: number }[] = [];
  const heldOutBenign: { text: string; score: number; source: string }[] = [];
  for (let fold = 0; fold < FOLDS; fold++) {
    const weights = trainEnsemble(hosts, fold, seed + fold);
    const heldOut = hosts.filter((host) => host.fold === fold);
    const probe = new Random(seed * 31 + fold);
    for (const host of heldOut) {
      if (host.baseline) {
        const score = scoreDocument(weights, host.text);
        heldOutBenign.push({ text: host.text, score, source: host.source });
        benignScores.push(score);
        const kind = documentKind(host.text);
        benignByKind.set(kind, [...(benignByKind.get(kind) ?? []), score]);
        if (process.env.TOOLWATCH_TRAIN_VERBOSE && score > 0.5)
          worst.push({ score, text: bestSegmentText(weights, host.text) });
      }
      const embedded = embedInjection(probe, host.text, syntheticInjection(probe));
      injectedScores.push({ text: embedded.text, score: scoreDocument(weights, embedded.text) });
    }
    process.stdout.write(`fold ${fold + 1}/${FOLDS} done (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
  }
  worst.sort((a, b) => b.score - a.score);
  for (const item of worst.slice(0, 25))
    process.stdout.write(`  benign ${item.score.toFixed(3)} ${JSON.stringify(item.text.slice(0, 160))}\n`);
  // A kind of document with enough held-out benign examples gets its own threshold, never below the floor.
  const kindThresholds: Partial<Record<DocumentKind, number>> = {};
  for (const [kind, scores] of benignByKind) {
    if (scores.length < MIN_KIND_DOCUMENTS) continue;
    const value = Math.max(KIND_THRESHOLD_FLOOR, quantileThreshold(scores));
    kindThresholds[kind] = Math.round(value * 1e4) / 1e4;
    process.stdout.write(`  ${kind}: ${scores.length} held-out benign documents, threshold ${value.toFixed(4)}\n`);
  }
  // The shared threshold applies to the kinds without a threshold of their own, so only those documents
  // set it, at the target rate among them for each data set: counted over all of a set's documents, a
  // large set of easy tables would let its few e-mails and code answers be flagged far above the target.
  let threshold = 0.5;
  for (const source of new Set(heldOutBenign.map((item) => item.source))) {
    const all = heldOutBenign.filter((item) => item.source === source);
    const scores = all
      .filter((item) => kindThresholds[documentKind(item.text)] === undefined)
      .map((item) => item.score);
    if (scores.length === 0) continue;
    const value = quantileThreshold(scores);
    process.stdout.write(
      `  ${source}: ${scores.length} of ${all.length} held-out benign documents under it, threshold ${value.toFixed(4)}\n`,
    );
    threshold = Math.max(threshold, value);
  }
  const thresholdOf = (text: string): number => kindThresholds[documentKind(text)] ?? threshold;
  const flaggedBenign = heldOutBenign.filter((item) => item.score >= thresholdOf(item.text)).length;
  const caught = injectedScores.filter((item) => item.score >= thresholdOf(item.text)).length;
  process.stdout.write(
    `threshold ${threshold.toFixed(4)}: held-out benign flagged ${flaggedBenign}/${benignScores.length}, ` +
      `held-out synthetic injections caught ${caught}/${injectedScores.length}\n`,
  );

  const examples = buildExamples(hosts, -1, seed * 101, INJECTIONS_PER_HOST);
  const weights = trainEnsemble(hosts, -1, seed);
  // Descriptions: the highest score the final model gives a benign description it trained near (the real
  // servers' training part and synthetic descriptions), with a margin, never below the floor.
  let descriptionMaximum = 0;
  for (const text of [
    ...corpusTraining.filter((item) => item.kind === "description").map((item) => item.text),
    ...syntheticDescriptions,
  ]) {
    descriptionMaximum = Math.max(descriptionMaximum, scoreDocument(weights, text));
  }
  const descriptionThreshold = Math.min(
    0.999,
    Math.max(DESCRIPTION_THRESHOLD_FLOOR, threshold, descriptionMaximum + 0.005),
  );
  process.stdout.write(
    `description threshold ${descriptionThreshold.toFixed(4)} (benign maximum ${descriptionMaximum.toFixed(4)})\n`,
  );
  const model: PoisoningModel = {
    hash_bits: HASH_BITS,
    threshold: Math.round(threshold * 1e4) / 1e4,
    description_threshold: Math.round(descriptionThreshold * 1e4) / 1e4,
    kind_thresholds: kindThresholds,
    weights,
    training: {
      seed,
      baseline_results: baselineCount,
      synthetic_benign_texts: hosts.length - baselineCount - corpusTraining.length,
      mcp_corpus_training_texts: corpusTraining.length,
      examples_per_member: examples.length,
      ensemble_members: ENSEMBLE,
      positive_examples: examples.filter((item) => item.label === 1).length,
      held_out_benign_flagged: `${flaggedBenign}/${benignScores.length}`,
      held_out_synthetic_recall: `${caught}/${injectedScores.length}`,
    },
  };
  writeFileSync(output, `${JSON.stringify(serialisePoisoningModel(model))}\n`);
  process.stdout.write(`wrote ${output} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}

await main();
