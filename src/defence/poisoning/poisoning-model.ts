import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { type DocumentKind, HAND_FEATURE_COUNT } from "./text-features.js";

/** The shipped model's file, relative to the package root. */
export const MODEL_FILE = "models/poisoning-model.json";
const FORMAT = "toolwatch-poisoning-model";

const modelSchema = z.object({
  format: z.literal(FORMAT),
  version: z.literal(1),
  hash_bits: z.number().int().min(8).max(22),
  hand_feature_count: z.literal(HAND_FEATURE_COUNT),
  /** Score at or above which a result is poisoned (set on held-out benign baseline results). */
  threshold: z.number().min(0).max(1),
  /** The same for tool descriptions, which are imperative by nature ("Use this tool to ..."). */
  description_threshold: z.number().min(0).max(1),
  /** Thresholds by document kind, each set on held-out benign documents of that kind; `threshold` otherwise. */
  kind_thresholds: z
    .partialRecord(z.enum(["table", "structured", "code", "prose"]), z.number().min(0).max(1))
    .optional(),
  /** Dense weights: hand-made slots first, then the hashed space. */
  weights: z.array(z.number()),
  training: z.record(z.string(), z.unknown()).optional(),
});

/** A trained linear model over the features of `text-features.ts`. */
export interface PoisoningModel {
  hash_bits: number;
  threshold: number;
  description_threshold: number;
  kind_thresholds?: Partial<Record<DocumentKind, number>>;
  weights: Float64Array;
  /** How it was trained (data sizes, seed, held-out figures); informative only. */
  training?: Record<string, unknown>;
}

/** The JSON written by the training script. */
export type PoisoningModelFile = z.input<typeof modelSchema>;

/** Outcome of reading a model file. */
export type ModelParseResult = { ok: true; value: PoisoningModel } | { ok: false; message: string };

/** Validates a parsed model file (shape, sizes) into a `PoisoningModel`. */
export function parsePoisoningModel(json: unknown): ModelParseResult {
  const parsed = modelSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, message: `invalid poisoning model: ${issue?.path.join(".") ?? ""} ${issue?.message ?? ""}` };
  }
  const file = parsed.data;
  const expected = HAND_FEATURE_COUNT + 2 ** file.hash_bits;
  if (file.weights.length !== expected) {
    return { ok: false, message: `invalid poisoning model: ${file.weights.length} weights, expected ${expected}` };
  }
  const model: PoisoningModel = {
    hash_bits: file.hash_bits,
    threshold: file.threshold,
    description_threshold: file.description_threshold,
    weights: Float64Array.from(file.weights),
  };
  if (file.kind_thresholds !== undefined) model.kind_thresholds = file.kind_thresholds;
  if (file.training !== undefined) model.training = file.training;
  return { ok: true, value: model };
}

/** The package root: the nearest folder above this module that holds package.json. */
export function packageRoot(): string {
  let folder = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      readFileSync(join(folder, "package.json"));
      return folder;
    } catch {
      const parent = dirname(folder);
      if (parent === folder) throw new Error("toolwatch: package.json not found above the poisoning model loader");
      folder = parent;
    }
  }
}

let shipped: PoisoningModel | undefined;

/**
 * The model shipped in `models/poisoning-model.json`, read and validated once per process. Throws when
 * the file is missing or invalid: that is a broken installation, not untrusted input.
 */
export function loadShippedModel(): PoisoningModel {
  if (shipped !== undefined) return shipped;
  const path = join(packageRoot(), MODEL_FILE);
  const result = parsePoisoningModel(JSON.parse(readFileSync(path, "utf8")));
  if (!result.ok) throw new Error(`${path}: ${result.message}`);
  shipped = result.value;
  return shipped;
}

/** Builds the JSON file for a trained model (weights rounded so the file stays small). */
export function serialisePoisoningModel(model: PoisoningModel): PoisoningModelFile {
  const file: PoisoningModelFile = {
    format: FORMAT,
    version: 1,
    hash_bits: model.hash_bits,
    hand_feature_count: HAND_FEATURE_COUNT,
    threshold: model.threshold,
    description_threshold: model.description_threshold,
    weights: Array.from(model.weights, (weight) => Math.round(weight * 1e4) / 1e4),
  };
  if (model.kind_thresholds !== undefined) file.kind_thresholds = model.kind_thresholds;
  if (model.training !== undefined) file.training = model.training;
  return file;
}
