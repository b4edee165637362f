import { readFileSync, writeFileSync } from "node:fs";
import { z } from "zod";
import type { Detector } from "../core/detector.js";
import type { CapturedExchange } from "../core/exchange.js";
import { describeStateError } from "../detectors/state-errors.js";
import { Pipeline } from "../pipeline/pipeline.js";

/** The `format` every baseline file carries, so a stray JSON file is refused with a clear message. */
export const BASELINE_FORMAT = "toolwatch-baseline";
/** Version of the file's envelope; each detector versions its own state inside. */
export const BASELINE_FILE_VERSION = 1;

const baselineFileSchema = z.object({
  format: z.literal(BASELINE_FORMAT),
  version: z.literal(BASELINE_FILE_VERSION),
  created: z.string(),
  trained_on: z.object({
    files: z.array(z.string()),
    events: z.number().int().nonnegative(),
    sessions: z.number().int().nonnegative(),
    agents: z.array(z.string()),
  }),
  detectors: z.record(z.string(), z.unknown()),
});

/**
 * What `toolwatch baseline train` writes: where the baseline came from and each learning detector's
 * `saveBaseline()` state under the detector's name.
 */
export type BaselineFile = z.infer<typeof baselineFileSchema>;

/** A baseline file read and checked, or why it cannot be used. */
export type BaselineFileResult = { ok: true; value: BaselineFile } | { ok: false; message: string };

/** Checks the JSON text of a baseline file. `file` names it in the message. */
export function parseBaselineFile(text: string, file = "baseline file"): BaselineFileResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, message: `${file}: not JSON (${(error as Error).message})` };
  }
  if (typeof value === "object" && value !== null && (value as { format?: unknown }).format !== BASELINE_FORMAT) {
    return { ok: false, message: `${file}: not a toolwatch baseline (format is not "${BASELINE_FORMAT}")` };
  }
  const parsed = baselineFileSchema.safeParse(value);
  if (!parsed.success)
    return { ok: false, message: `${file}: ${describeStateError(parsed.error).replace(/\n/g, "; ")}` };
  return { ok: true, value: parsed.data };
}

/** Reads and checks a baseline file from disk. */
export function readBaselineFile(file: string): BaselineFileResult {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    return { ok: false, message: `${file}: cannot read (${(error as Error).message})` };
  }
  return parseBaselineFile(text, file);
}

/** Writes a baseline file as JSON (one line: these files are read by programs; `baseline show` is for people). */
export function writeBaselineFile(file: string, baseline: BaselineFile): void {
  writeFileSync(file, `${JSON.stringify(baseline)}\n`);
}

/** Known-normal traffic to learn from: the files' names (for the record) and their exchanges in time order. */
export interface BaselineTrainingInput {
  files: readonly string[];
  /** The exchanges, merged by event time (the CLI uses the replay readers). */
  batches: AsyncIterable<readonly CapturedExchange[]>;
}

/** Options of {@link trainBaseline}. */
export interface TrainBaselineOptions {
  /** The file's `created` time; now by default. */
  created?: string;
}

/**
 * Feeds the training traffic to `detectors` through a {@link Pipeline}'s learn path (the path `replay --baseline`
 * takes) and collects every detector's `saveBaseline()` state. Detectors without one are left out.
 */
export async function trainBaseline(
  input: BaselineTrainingInput,
  detectors: readonly Detector[],
  options: TrainBaselineOptions = {},
): Promise<BaselineFile> {
  const pipeline = new Pipeline({ store: null, detectors: [...detectors] });
  const sessions = new Set<string>();
  const agents = new Set<string>();
  let events = 0;
  for await (const batch of input.batches) {
    for (const exchange of batch) {
      pipeline.learn(exchange);
      events++;
      sessions.add(exchange.session);
      if (exchange.agent !== null) agents.add(exchange.agent);
    }
  }
  pipeline.finishLearning();
  for (const detector of detectors) if (detector.train !== undefined) await detector.train();
  const states: Record<string, unknown> = {};
  for (const detector of detectors) {
    if (detector.saveBaseline === undefined) continue;
    const state = detector.saveBaseline();
    // A detector that learned too little to judge anything (a forest needs enough calls) saves nothing.
    if (state === null || state === undefined) continue;
    states[detector.name] = state;
  }
  return {
    format: BASELINE_FORMAT,
    version: BASELINE_FILE_VERSION,
    created: options.created ?? new Date().toISOString(),
    trained_on: { files: [...input.files], events, sessions: sessions.size, agents: [...agents].sort() },
    detectors: states,
  };
}

/** What loading a baseline into detectors did. */
export type LoadBaselineResult =
  | {
      ok: true;
      /** Detectors that took their state from the file. */
      loaded: string[];
      /** Detectors that can load a baseline but found none for them in the file (they start empty). */
      missing: string[];
    }
  | { ok: false; message: string };

/**
 * Calls `loadBaseline` on every detector that has state in `baseline`. Fails, naming every detector that refused
 * its state (another version, a broken file), so a half-loaded baseline never scores traffic silently.
 */
export function loadBaselineInto(baseline: BaselineFile, detectors: readonly Detector[]): LoadBaselineResult {
  const loaded: string[] = [];
  const missing: string[] = [];
  const problems: string[] = [];
  for (const detector of detectors) {
    if (detector.loadBaseline === undefined) continue;
    if (!Object.hasOwn(baseline.detectors, detector.name)) {
      missing.push(detector.name);
      continue;
    }
    let problem: string | null;
    try {
      problem = detector.loadBaseline(baseline.detectors[detector.name]);
    } catch (error) {
      problem = `failed: ${(error as Error).message}`;
    }
    if (problem === null) loaded.push(detector.name);
    else problems.push(`${detector.name}: ${problem}`);
  }
  if (problems.length > 0) return { ok: false, message: `baseline not loaded: ${problems.join("; ")}` };
  return { ok: true, loaded, missing };
}
