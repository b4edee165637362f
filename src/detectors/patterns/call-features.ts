import type { CapturedExchange } from "../../core/exchange.js";
import { argumentStrings, resourceCounts } from "./call-traits.js";

/** Names of the per-call features, in vector order; findings quote them. */
export const CALL_FEATURE_NAMES = [
  "argument_count",
  "argument_chars_log",
  "longest_string_log",
  "digit_ratio",
  "urls",
  "emails",
  "paths",
  "result_chars_log",
  "gap_seconds_log",
  "call_position_log",
  "tool_new_for_agent",
  "argument_chars_z_for_tool",
  "result_chars_z_for_tool",
  "error",
] as const;

/** Number of features in a vector. */
export const CALL_FEATURE_COUNT = CALL_FEATURE_NAMES.length;

/** What the feature extractor knows about a tool from training: argument and result length moments (log scale). */
export interface ToolLengthStats {
  count: number;
  argumentMean: number;
  argumentM2: number;
  resultMean: number;
  resultM2: number;
}

/** The context a call is read in: when the session's previous exchange was, and what training said of the tool. */
export interface CallContext {
  /** Event-time gap since the session's previous exchange, ms; 0 for the first. */
  gap_ms: number;
  /** 0-based index of the call in its session. */
  call_index: number;
  /** Learned moments of this tool for this agent type, `undefined` when training never saw it. */
  tool: ToolLengthStats | undefined;
  /** True when a baseline exists at all (novelty means nothing without one). */
  trained: boolean;
}

/** The raw lengths of a call on the log scale the features and tool moments use. */
export function callLengths(exchange: CapturedExchange): { argument: number; result: number } {
  let chars = 0;
  for (const entry of argumentStrings(exchange.arguments)) chars += entry.value.length;
  return { argument: Math.log1p(chars), result: Math.log1p(exchange.result?.length ?? 0) };
}

/** Folds one call into a tool's moments (Welford). */
export function addToolLengths(stats: ToolLengthStats, lengths: { argument: number; result: number }): void {
  stats.count++;
  const argumentDelta = lengths.argument - stats.argumentMean;
  stats.argumentMean += argumentDelta / stats.count;
  stats.argumentM2 += argumentDelta * (lengths.argument - stats.argumentMean);
  const resultDelta = lengths.result - stats.resultMean;
  stats.resultMean += resultDelta / stats.count;
  stats.resultM2 += resultDelta * (lengths.result - stats.resultMean);
}

/** Largest |z| a feature reports: one unseen length must not dominate the forest's axis. */
const MAX_Z = 10;
/** Floor of a tool's length deviation (log scale): a tool always called alike still tolerates small changes. */
const MIN_DEVIATION = 0.25;

function zScore(value: number, mean: number, m2: number, count: number): number {
  if (count < 2) return 0;
  const deviation = Math.max(MIN_DEVIATION, Math.sqrt(m2 / (count - 1)));
  return Math.min(MAX_Z, Math.abs(value - mean) / deviation);
}

/** The feature vector of one `tools/call` exchange (see {@link CALL_FEATURE_NAMES}). */
export function callFeatures(exchange: CapturedExchange, context: CallContext): number[] {
  return writeCallFeatures(exchange, context, new Array<number>(CALL_FEATURE_COUNT));
}

/**
 * Writes the feature vector of one `tools/call` exchange into `row` (at least {@link CALL_FEATURE_COUNT} long) and
 * returns it: scoring a call then allocates no vector.
 */
export function writeCallFeatures<Row extends { [feature: number]: number }>(
  exchange: CapturedExchange,
  context: CallContext,
  row: Row,
): Row {
  const strings = argumentStrings(exchange.arguments);
  let chars = 0;
  let longest = 0;
  let digits = 0;
  let urls = 0;
  let emails = 0;
  let paths = 0;
  for (const entry of strings) {
    const value = entry.value;
    chars += value.length;
    if (value.length > longest) longest = value.length;
    // Resource counting is the costly part: values without a character every resource holds ("/", "@" or "\\",
    // noted in the same pass as the digits) are skipped.
    let marked = false;
    for (let index = 0; index < value.length; index++) {
      const code = value.charCodeAt(index);
      if (code >= 48 && code <= 57) digits++;
      else if (code === 47 || code === 64 || code === 92) marked = true;
    }
    if (marked) {
      const counts = resourceCounts(value);
      urls += counts.urls;
      emails += counts.emails;
      paths += counts.paths;
    }
  }
  const argumentLog = Math.log1p(chars);
  const resultLog = Math.log1p(exchange.result?.length ?? 0);
  const tool = context.tool;
  row[0] = exchange.arguments ? Object.keys(exchange.arguments).length : 0;
  row[1] = argumentLog;
  row[2] = Math.log1p(longest);
  row[3] = chars === 0 ? 0 : digits / chars;
  row[4] = urls;
  row[5] = emails;
  row[6] = paths;
  row[7] = resultLog;
  row[8] = Math.log1p(Math.max(0, context.gap_ms) / 1000);
  row[9] = Math.log1p(context.call_index);
  row[10] = context.trained && tool === undefined ? 1 : 0;
  row[11] = tool === undefined ? 0 : zScore(argumentLog, tool.argumentMean, tool.argumentM2, tool.count);
  row[12] = tool === undefined ? 0 : zScore(resultLog, tool.resultMean, tool.resultM2, tool.count);
  row[13] = exchange.error === null ? 0 : 1;
  return row;
}
