import { join } from "node:path";
import type { Detector } from "../../../src/core/detector.js";
import type { CapturedExchange } from "../../../src/core/exchange.js";
import type { Finding } from "../../../src/core/finding.js";
import { Pipeline } from "../../../src/pipeline/pipeline.js";
import { replay } from "../../../src/replay/replay.js";
import { repositoryRoot } from "../../record/datasets.js";

/** The synthetic captures of the attack-pattern detectors. */
export const patternCaptures = join(repositoryRoot, "test", "fixtures", "captures", "patterns");

/** Replays capture files (the baseline ones learned first) through `detectors` and returns the findings. */
export async function replayFindings(
  detectors: Detector[],
  files: readonly string[],
  baseline: readonly string[] = [],
): Promise<Finding[]> {
  const findings: Finding[] = [];
  const summary = await replay({
    files: files.map((file) => join(patternCaptures, file)),
    baseline: baseline.map((file) => join(patternCaptures, file)),
    detectors,
    progress: null,
    onBadLine: (message) => {
      throw new Error(message);
    },
    onFinding: (finding) => findings.push(finding),
  });
  if (summary.detector_errors > 0) throw new Error(`${summary.detector_errors} detector errors`);
  return findings;
}

let clock = Date.UTC(2026, 4, 4, 9, 0, 0);

/** A `tools/call` exchange a few seconds after the previous one made here. */
export function call(
  tool: string,
  argumentsValue: Record<string, unknown>,
  options: { session?: string; user?: string; agent?: string; result?: string; time_ms?: number } = {},
): CapturedExchange {
  clock = options.time_ms ?? clock + 3000;
  return {
    time: new Date(clock).toISOString(),
    session: options.session ?? "s",
    user: options.user ?? "user",
    agent: options.agent ?? "agent",
    server: "server",
    method: "tools/call",
    tool,
    arguments: argumentsValue,
    result: options.result ?? "ok",
    error: null,
    duration_ms: 20,
  };
}

/** Runs exchanges through a pipeline with `detector` (learning `baseline` first) and returns the findings. */
export function run(detector: Detector, exchanges: CapturedExchange[], baseline: CapturedExchange[] = []): Finding[] {
  const findings: Finding[] = [];
  const pipeline = new Pipeline({
    store: null,
    detectors: [detector],
    findingSinks: [(finding) => findings.push(finding)],
  });
  for (const exchange of baseline) pipeline.learn(exchange);
  pipeline.finishLearning();
  for (const exchange of exchanges) pipeline.process(exchange);
  for (const exchange of exchanges) pipeline.endSession(exchange.session);
  return findings;
}
