import type { Detector } from "../../core/detector.js";
import { BehaviourChangeDetector } from "./behaviour-change-detector.js";
import { FlowAnalysis, type FlowAnalysisOptions } from "./flow-analysis.js";
import { PrivilegeEscalationDetector } from "./privilege-escalation-detector.js";
import { ReadThenExfiltrateDetector } from "./read-then-exfiltrate-detector.js";

export { BehaviourChangeDetector } from "./behaviour-change-detector.js";
export {
  DataFlowTracker,
  type DataFlowTrackerOptions,
  type FlowSourceMatch,
  type FlowTrace,
  type InstructionScorer,
} from "./data-flow-tracker.js";
export {
  type CallAnalysis,
  describeFlowBaseline,
  FlowAnalysis,
  type FlowAnalysisOptions,
  type PoisonedResult,
  type PoisoningVerdictSource,
  RecentPoisoningVerdicts,
  type SensitiveRead,
} from "./flow-analysis.js";
export { PRIVILEGE_ESCALATION_DETECTOR, PrivilegeEscalationDetector } from "./privilege-escalation-detector.js";
export { ReadThenExfiltrateDetector } from "./read-then-exfiltrate-detector.js";
export {
  type RequestSourceStats,
  RequestSources,
  type RequestSourcesState,
  type RoutineRequest,
  type SavedRequestSources,
} from "./request-sources.js";
export { type ToolCapabilities, toolCapabilities } from "./tool-capabilities.js";

/**
 * The three flow detectors sharing one {@link FlowAnalysis}, so each result is classified and fingerprinted
 * once: `privilege_escalation`, `read_then_exfiltrate`, `behaviour_change`. Pass `verdicts` (a
 * {@link RecentPoisoningVerdicts} also given to the poisoning detector) to run the poisoning model once per result,
 * or `analysis` to share one that other detectors ask too (its own options then apply).
 */
export function flowDetectors(options: FlowAnalysisOptions & { analysis?: FlowAnalysis } = {}): Detector[] {
  const analysis = options.analysis ?? new FlowAnalysis(options);
  return [
    new PrivilegeEscalationDetector(analysis),
    new ReadThenExfiltrateDetector(analysis),
    new BehaviourChangeDetector(analysis),
  ];
}
