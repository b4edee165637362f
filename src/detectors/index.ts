import type { Detector } from "../core/detector.js";
import type { PoisoningClassifier } from "../defence/poisoning/poisoning-classifier.js";
import {
  type ArgumentProvenance,
  type BaselineDetectorsOptions,
  baselineDetectors,
  describeBaselineState,
} from "./baseline/index.js";
import {
  describeFlowBaseline,
  FlowAnalysis,
  flowDetectors,
  PRIVILEGE_ESCALATION_DETECTOR,
  RecentPoisoningVerdicts,
  RequestSources,
} from "./flow/index.js";
import { InlineDecisionDetector } from "./inline-decision-detector.js";
import { OperationalDetector } from "./operational-detector.js";
import { patternDetectors } from "./patterns/index.js";
import { PoisoningDetector } from "./poisoning-detector.js";

export * from "./baseline/index.js";
export * from "./flow/index.js";
export { InlineDecisionDetector } from "./inline-decision-detector.js";
export { OperationalDetector, type OperationalDetectorOptions } from "./operational-detector.js";
export * from "./patterns/index.js";
export { PoisoningDetector, type PoisoningDetectorOptions, type PoisoningInspector } from "./poisoning-detector.js";

/**
 * The detectors live capture and replay run when nobody chooses: fresh instances, so runs share no state.
 * `classifier` is the poisoning classifier to use (the configured one, shared with inline defence so a result the
 * guard already judged is a memo hit); the shipped model at its own threshold when absent.
 */
export function defaultDetectors(
  options: {
    classifier?: PoisoningClassifier;
    baseline?: BaselineDetectorsOptions;
    /** Where the flow analysis learns request sources: give inline defence the same object (`createDefence`). */
    request_sources?: RequestSources;
  } = {},
): Detector[] {
  // The poisoning detector and the flow detectors ask the classifier about the same results: one verdict each.
  const verdicts = new RecentPoisoningVerdicts(options.classifier);
  // Learned by the flow analysis, read by the poisoning detector too: which tools' results are requests by nature.
  const requestSources = options.request_sources ?? new RequestSources();
  const analysis = new FlowAnalysis({ verdicts, request_sources: requestSources });
  // Novelty alone is weak evidence: the argument model asks the flow analysis where a new destination came from.
  const provenance: ArgumentProvenance = (exchange, position, argument) =>
    analysis.argumentSource(exchange, position, argument);
  return [
    new OperationalDetector(),
    new InlineDecisionDetector(),
    new PoisoningDetector({ classifier: verdicts, request_sources: requestSources }),
    ...baselineDetectors({ provenance, ...options.baseline }),
    ...patternDetectors(),
    ...flowDetectors({ analysis }),
  ];
}

/**
 * Readable lines about a detector's saved baseline state (`toolwatch baseline show`), or `null` for a detector
 * without a summary or a state that does not parse. The flow detectors share one analysis, whose state
 * `privilege_escalation` saves.
 */
export function describeDetectorBaseline(detector: string, state: unknown): string[] | null {
  if (detector === PRIVILEGE_ESCALATION_DETECTOR) return describeFlowBaseline(state);
  return describeBaselineState(detector, state);
}
